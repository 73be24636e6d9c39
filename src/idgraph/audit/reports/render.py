"""Render reports as HTML (Jinja2, autoescape on) or JSON (the same data model)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from idgraph.audit.reports import svg
from idgraph.audit.reports.common import to_json, to_jsonable
from idgraph.audit.reports.corrections import CorrectionsReport
from idgraph.audit.reports.oversight import OversightReport
from idgraph.audit.reports.subject import SubjectReport

_TEMPLATES = {
    SubjectReport: "subject.html.j2",
    OversightReport: "oversight.html.j2",
    CorrectionsReport: "corrections.html.j2",
}


def environment() -> Environment:
    """The template environment: every value escaped unless marked safe."""
    env = Environment(
        loader=PackageLoader("idgraph.audit.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["hbar"] = svg.hbar
    env.globals["columns"] = svg.columns
    env.filters["pairs"] = _pairs
    env.filters["rule_pairs"] = _rule_pairs
    env.filters["when"] = _when
    return env


def _when(value: str | None) -> str:
    """ISO UTC time as ``YYYY-MM-DD HH:MM[:SS] UTC`` (dates unchanged, None as a dash)."""
    if not value:
        return "—"
    if len(value) <= 10:
        return value
    t = datetime.fromisoformat(value).astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S" if t.second else "%Y-%m-%d %H:%M") + " UTC"


def _pairs(counts: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(c["key"], int(c["count"])) for c in counts]


def _rule_pairs(denials: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(d["rule"], int(d["source_decisions"]) + int(d["requests"])) for d in denials]


def render_html(report: SubjectReport | OversightReport | CorrectionsReport) -> str:
    template = _TEMPLATES.get(type(report))
    if template is None:
        raise TypeError(f"no template for {type(report).__name__}")
    return environment().get_template(template).render(r=to_jsonable(report))


def render(report: SubjectReport | OversightReport | CorrectionsReport, fmt: str) -> str:
    """``fmt`` is ``html`` or ``json``."""
    if fmt == "json":
        return to_json(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown format {fmt!r}: html or json")


def format_of(path: Path) -> str:
    """``html`` or ``json`` from the file name's suffix."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("html", "htm"):
        return "html"
    if suffix == "json":
        return "json"
    raise ValueError(f"{path.name}: the output must end in .html or .json")


def write(report: SubjectReport | OversightReport | CorrectionsReport, path: Path) -> Path:
    """Write ``report`` to ``path`` in the format its suffix names."""
    text = render(report, format_of(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
