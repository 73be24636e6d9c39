"""The checked-in OpenAPI document (``docs/openapi.json``): made from the routes, so that
a test can tell when the file is stale. Regenerate with ``python tools/openapi.py``."""

from __future__ import annotations

import json
from typing import Any

from idgraph.api.app import build_app
from idgraph.settings import Settings


def document() -> dict[str, Any]:
    """The API's OpenAPI document (default settings; no store is opened)."""
    return build_app(Settings(), with_web=False).openapi()


def text() -> str:
    """``document()`` as deterministic JSON (sorted keys, two-space indent, final newline)."""
    return json.dumps(document(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
