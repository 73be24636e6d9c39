"""docs/openapi.json is the document the routes make: regenerate it when this fails."""

from __future__ import annotations

import json
from pathlib import Path

from idgraph.api.openapi import document, text

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_checked_in_openapi_is_current() -> None:
    assert DOC.exists(), "docs/openapi.json is missing: run python tools/openapi.py"
    assert DOC.read_text(encoding="utf-8") == text(), (
        "docs/openapi.json is stale: run python tools/openapi.py")


def test_every_operation_is_authenticated_and_documents_problems() -> None:
    doc = document()
    for path, ops in doc["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, op in ops.items():
            if path == "/api/v1/health":
                continue
            assert op.get("security") == [{"bearer": []}], (method, path)
            assert "401" in op["responses"], (method, path)
            assert "application/problem+json" in op["responses"]["401"]["content"]


def test_request_bodies_have_examples() -> None:
    schemas = document()["components"]["schemas"]
    for name, schema in schemas.items():
        if name.endswith(("In", "Out")):
            assert schema.get("examples"), f"{name} has no example"
    json.dumps(schemas)  # serialisable
