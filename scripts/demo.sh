#!/usr/bin/env bash
# Set up the virtual environment (first run only), then run the embedded demo consortium.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e .
exec .venv/bin/ledger demo "$@"
