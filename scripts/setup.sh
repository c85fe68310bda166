#!/usr/bin/env bash
# Install Tandem into .venv (created if missing), with the development tools and the research
# package bench/ (tandem bench, eval, match-eval; not part of the product's wheel). Safe to run
# again: when neither pyproject.toml has changed since the last successful install, it does
# nothing.
#
# torch is installed FIRST and pinned: a plain "torch" requirement resolved by pip would pull
# a multi-GB CUDA build; 2.13.0 is the CPU build this machine keeps on disk.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${TANDEM_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.tandem-installed"

hash_of() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(b"".join(open(p,"rb").read() for p in sys.argv[1:])).hexdigest())' "$@"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

want="$(hash_of pyproject.toml bench/pyproject.toml)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] \
    && "$VENV/bin/python" -c "import importlib.metadata as m, flask_login, flask_wtf, torch
m.version('tandem'); m.version('tandem-bench')" 2>/dev/null; then
  echo "setup: .venv is up to date"
  exit 0
fi

echo "setup: installing dependencies into $VENV (first time takes a few minutes)"
pip_install() {
  # This machine's pip configuration lists local indexes that may not exist; hide that noise.
  "$VENV/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
pip_install --upgrade pip
pip_install "torch==2.13.0"
pip_install -e ".[dev]"
pip_install -e ./bench
echo "$want" > "$STAMP"
echo "setup: done"
