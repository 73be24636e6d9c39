#!/usr/bin/env bash
# Install idgraph with its dev tools into .venv, then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[dev]'
ruff check src tests benchmarks tools
mypy
python -m pytest -q -p no:cacheprovider "$@"
