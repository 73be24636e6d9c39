"""The templates and static files: nothing inline (CSP script-src/style-src 'self'), the
vendored htmx as documented, the package data in place."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

import pytest

WEB = resources.files("idgraph.web")
TEMPLATES = sorted(p.name for p in WEB.joinpath("templates").iterdir()
                   if p.name.endswith(".html.j2"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "ui.md"


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_has_nothing_inline(name: str) -> None:
    text = WEB.joinpath("templates", name).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script"
    assert "<style" not in text, "style element"
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\son[a-z]+=", text), "event handler attribute"
    assert not re.search(r"\bhx-on", text), "hx-on (evaluated script)"
    assert "| safe" not in text and "|safe" not in text, "unescaped value"


def test_every_form_posting_carries_a_csrf_token() -> None:
    for name in TEMPLATES:
        text = WEB.joinpath("templates", name).read_text()
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", text, re.S):
            assert 'name="csrf"' in form, (name, form[:120])


def test_vendored_htmx_is_the_documented_one() -> None:
    data = WEB.joinpath("static", "htmx.min.js").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    docs = DOCS.read_text()
    assert digest in docs
    version = re.search(rb'version:"([0-9.]+)"', data)
    assert version is not None and f"htmx **{version.group(1).decode()}**" in docs


def test_static_files_are_package_data() -> None:
    for name in ("app.css", "app.js", "htmx.min.js"):
        assert WEB.joinpath("static", name).is_file(), name
    css = WEB.joinpath("static", "app.css").read_text()
    assert "@media print" in css and ":focus-visible" in css
