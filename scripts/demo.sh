#!/usr/bin/env bash
# Install, load the demo library into instance/ and serve the web app on 127.0.0.1:5000.
#   HOST / PORT / WORKERS override the address and the number of gunicorn workers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
tandem demo
exec tandem serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}" --workers "${WORKERS:-2}"
