#!/usr/bin/env bash
# Install, start a throwaway PostgreSQL, lint, and run every test (SQLite and PostgreSQL).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k search -x`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate

started_pg=""
cleanup() {
  if [[ -n "$started_pg" ]]; then
    bash scripts/postgres.sh stop || true
  fi
}
trap cleanup EXIT

if [[ -z "${TANDEM_TEST_POSTGRES_URL:-}" ]]; then
  # A server that was already running (someone else's) is left running at the end.
  if bash scripts/postgres.sh status >/dev/null 2>&1; then
    url="$(bash scripts/postgres.sh url)"
    export TANDEM_TEST_POSTGRES_URL="$url"
    echo "test: PostgreSQL tests use the running $TANDEM_TEST_POSTGRES_URL"
  elif url="$(bash scripts/postgres.sh start)"; then
    started_pg=1
    export TANDEM_TEST_POSTGRES_URL="$url"
    echo "test: PostgreSQL tests use $TANDEM_TEST_POSTGRES_URL"
  elif [[ "${CI:-}" == "true" ]]; then
    echo "test: FAILED to start PostgreSQL; CI must test storage and search against it" >&2
    exit 1
  else
    echo "test: WARNING: no PostgreSQL; running the SQLite tests only" >&2
  fi
fi

# The bench smoke test (tests/benchmarks/test_smoke.py) drives the web part with wrk.
if ! command -v wrk >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing wrk (the web benchmark's load generator)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get install -y -q wrk >/dev/null 2>&1 \
      || { timeout 300 apt-get update -q >/dev/null 2>&1 \
           && timeout 300 apt-get install -y -q wrk >/dev/null 2>&1; } \
      || echo "test: WARNING: could not install wrk; the bench smoke test will fail" >&2
  else
    echo "test: WARNING: wrk is missing (apt-get install -y wrk); the bench smoke test will fail" >&2
  fi
fi

# The browser tests (tests/browser) drive Debian's Chromium; axe-core checks accessibility.
if ! bash scripts/browser-deps.sh; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "test: FAILED to install the browser test dependencies; CI must run them" >&2
    exit 1
  fi
  echo "test: WARNING: browser tests will be skipped (see scripts/browser-deps.sh)" >&2
fi

echo "test: ruff check"
ruff check .
echo "test: ruff format --check"
ruff format --check .
echo "test: mypy"
mypy
echo "test: pytest"
pytest -q -p no:cacheprovider "$@"
