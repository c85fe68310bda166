#!/usr/bin/env bash
# What the browser tests (tests/browser) need, installed from the registries this machine
# reaches: Debian's chromium and chromium-driver (as root, with apt-get), the playwright
# Python package (the dev extra, already in .venv) and npm's axe-core for the accessibility
# checks, into .cache/axe. Playwright's own browser download is never used (it cannot reach
# its servers here); the tests start /usr/bin/chromium. Safe to run again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "browser-deps: $*" >&2; }

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
      || { timeout 300 apt-get update -q >/dev/null 2>&1 \
           && timeout 600 apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } \
      || { say "could not install chromium"; exit 1; }
  else
    say "chromium is missing: run 'apt-get install -y chromium chromium-driver' as root"
    exit 1
  fi
fi

AXE_DIR="$ROOT/.cache/axe"
if [[ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]]; then
  command -v npm >/dev/null 2>&1 || { say "npm is missing (needed for axe-core)"; exit 1; }
  say "installing axe-core from npm into $AXE_DIR"
  mkdir -p "$AXE_DIR"
  # A pinned major version, installed in its own folder so the repository has no package.json.
  (cd "$AXE_DIR" && npm install --silent --no-audit --no-fund --prefix "$AXE_DIR" "axe-core@4" >/dev/null)
fi
say "ready: $(/usr/bin/chromium --version 2>/dev/null | head -n 1), axe-core $(cd "$AXE_DIR" && node -p "require('axe-core/package.json').version")"
