"""Reports over the audit log: subject access, oversight, correction notices.

Public API:

- :func:`subject_report` — what is held about one person, who received it (each with an
  inclusion proof against a signed checkpoint), notices owed and sent.
- :func:`oversight_report` — reads, denials, legal process, notices and patterns over
  a window of days.
- :func:`corrections` / :func:`corrections_report` — recipients owed a correction after
  a merge or split.
- :func:`render` / :func:`write` — HTML (Jinja2, autoescaped) or JSON of any report.

Every report is itself audited (``report.subject``, ``report.oversight``,
``report.corrections``) and refused (and audited) for a user without the role.
"""

from __future__ import annotations

from idgraph.audit.reports.common import (
    DISCLOSURE_ACTIONS,
    CheckpointInfo,
    Disclosure,
    NoticeRow,
    Proof,
    ReportError,
    to_json,
)
from idgraph.audit.reports.corrections import (
    Correction,
    CorrectionsReport,
    corrections,
    corrections_report,
)
from idgraph.audit.reports.oversight import OversightReport, oversight_report
from idgraph.audit.reports.patterns import Pattern, Thresholds
from idgraph.audit.reports.render import format_of, render, render_html, write
from idgraph.audit.reports.subject import SubjectReport, subject_report

__all__ = [
    "DISCLOSURE_ACTIONS",
    "CheckpointInfo",
    "Correction",
    "CorrectionsReport",
    "Disclosure",
    "NoticeRow",
    "OversightReport",
    "Pattern",
    "Proof",
    "ReportError",
    "SubjectReport",
    "Thresholds",
    "corrections",
    "corrections_report",
    "format_of",
    "oversight_report",
    "render",
    "render_html",
    "subject_report",
    "to_json",
    "write",
]
