#!/usr/bin/env bash
# Install idgraph into .venv and run the demo on the embedded default store.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# Pinned versions (requirements/main.lock, made by `uv pip compile`; see README).
python -m pip install -q -r requirements/main.lock
python -m pip install -q --no-deps -e .
idgraph demo "$@"
