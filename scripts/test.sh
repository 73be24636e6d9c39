#!/usr/bin/env bash
# Install idgraph with its dev tools into .venv, then lint, type-check and test.
# Chromium (Debian package `chromium`) renders the HTML reports and runs the browser
# tests (Playwright drives /usr/bin/chromium); it is installed here when missing and we
# may use apt (root). Without it the browser tests fail, they are never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/dev/null 2>&1 || echo "warning: could not install chromium; the browser tests will fail"
fi
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# Pinned versions (requirements/dev.lock, made by `uv pip compile`; see README).
python -m pip install -q -r requirements/dev.lock
python -m pip install -q --no-deps -e .
ruff check src tests benchmarks tools
mypy
python -m pytest -p no:cacheprovider "$@"
