"""Rendering pages: one Jinja2 environment (autoescape on) and the layout's context.

The web templates come first; the report templates of ``audit/reports`` follow, so the
oversight dashboard and the subject-access page render the reports' own templates
(``oversight.html.j2``, ``subject.html.j2``) inside the site layout: their
``{% extends "base.html.j2" %}`` finds the web ``base.html.j2``, which has the same
``title`` and ``body`` blocks, and the charts come from ``audit/reports/svg.py``. Nothing
is marked safe here except the SVG those functions and :mod:`idgraph.web.graph` build
from escaped text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from idgraph.app.auth import SessionState
from idgraph.audit.reports.render import environment as report_environment
from idgraph.schema import PROVENANCE_COLUMNS

_ISO_STAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _value(v: object) -> str:
    """A cell's text: dates as ISO, sequences joined, None as a dash."""
    if v is None or v == "" or v == () or v == []:
        return "—"
    if isinstance(v, str) and _ISO_STAMP.match(v):
        try:
            stamp = datetime.fromisoformat(v)
        except ValueError:
            return v
        if stamp.time() == datetime.min.time():
            return stamp.date().isoformat()  # a day, stored as a time stamp
        v = stamp
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M") + " UTC"  # every stamp idgraph keeps is UTC
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, list | tuple | set | frozenset):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, Mapping):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _attrs(obj: object) -> dict[str, Any]:
    """A dataclass (or mapping) as a dict of its fields (not deep: values kept)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return dict(obj)
    return dict(vars(obj))


_HIDDEN_SUFFIXES: Final = ("_phonetic", "_canon", "_parts")


def _held_values(record: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A record's values as a profile shows them: provenance and the matcher's derived
    keys (phonetic codes, canonical given names) left out (provenance has its badges)."""
    return [(k, v) for k, v in record.items()
            if k not in PROVENANCE_COLUMNS and k != "unverified"
            and not k.endswith(_HIDDEN_SUFFIXES) and v not in (None, "", [])]


def _signed(v: float | None) -> str:
    return "—" if v is None else f"{v:+.2f}"


def _percent(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


# (path, label, roles that see the link; empty: everyone). Hiding a link decides
# nothing: every page's act is decided by the app layer whoever asks.
NAV: Final[tuple[tuple[str, str, frozenset[str]], ...]] = (
    ("/search", "Search", frozenset()),
    ("/match", "Bulk match", frozenset({"investigator", "supervisor"})),
    ("/cases", "Cases", frozenset()),
    ("/legal", "Legal process", frozenset()),
    ("/watches", "Watches", frozenset({"investigator", "supervisor", "overseer"})),
    ("/alerts", "Alerts", frozenset({"investigator", "supervisor"})),
    ("/feeds", "Feeds", frozenset({"admin", "records_officer", "supervisor", "overseer"})),
    ("/records", "Records officer", frozenset({"records_officer", "admin"})),
    ("/oversight", "Oversight", frozenset({"overseer"})),
    ("/users", "Users", frozenset({"admin"})),
    ("/purpose", "Purpose", frozenset()),
)


def nav_links(role: str) -> list[tuple[str, str]]:
    return [(href, label) for href, label, roles in NAV if not roles or role in roles]


@lru_cache(maxsize=1)
def environment() -> Environment:
    reports = report_environment()
    env = Environment(
        loader=ChoiceLoader([
            PackageLoader("idgraph.web", "templates"),
            PackageLoader("idgraph.audit.reports", "templates"),
        ]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(hbar=reports.globals["hbar"], columns=reports.globals["columns"])
    for name in ("pairs", "rule_pairs", "when"):
        env.filters[name] = reports.filters[name]
    env.globals["nav_links"] = nav_links
    env.filters["value"] = _value
    env.filters["held_values"] = _held_values
    env.filters["attrs"] = _attrs
    env.filters["signed"] = _signed
    env.filters["percent"] = _percent
    return env


def layout(request: Request, state: SessionState | None) -> dict[str, Any]:
    """What the layout shows: the user, the current purpose/case banner, the CSRF token."""
    caller = state.caller if state else None
    return {
        "path": request.url.path,
        "user": state.user if state else None,
        "caller": caller,
        "csrf": state.csrf if state else "",
    }


def page(
    request: Request,
    template: str,
    state: SessionState | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the layout (``Cache-Control: no-store`` is set on every page
    by the API's security middleware)."""
    html = environment().get_template(template).render(**layout(request, state), **context)
    return HTMLResponse(html, status_code=status)


def fragment(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A template without the layout (an htmx swap)."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)
