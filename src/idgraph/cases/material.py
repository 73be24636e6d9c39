"""Case material: the case's subjects (identity ids) and the notes on them.

Both are append-only: a subject once named stays on the case's record and a note is
never edited or deleted (a correction is a later note). Notes are case material: the
application shows them only to the case's members and the supervisors of its
organisation (``act.case_need_to_know`` and the check in ``idgraph.app.cases``). Their
text is stored as written and only ever rendered escaped (Jinja autoescape, JSON).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from idgraph import clock
from idgraph.cases import CaseError, ensure
from idgraph.store import Store

NOTE_MAX: Final[int] = 10_000
ID_MAX: Final[int] = 200
# control characters other than tab and line ends: terminal escapes, NUL
_CONTROL: Final[re.Pattern[str]] = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS case_subjects (
        case_id VARCHAR NOT NULL, identity_id VARCHAR NOT NULL, added_by VARCHAR NOT NULL,
        added_at TIMESTAMP NOT NULL, PRIMARY KEY (case_id, identity_id))""",
    """CREATE TABLE IF NOT EXISTS case_notes (
        note_id VARCHAR PRIMARY KEY, case_id VARCHAR NOT NULL, identity_id VARCHAR,
        author VARCHAR NOT NULL, noted_at TIMESTAMP NOT NULL, text VARCHAR NOT NULL)""",
)


@dataclass(frozen=True, slots=True)
class Subject:
    case_id: str
    identity_id: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Note:
    note_id: str
    case_id: str
    identity_id: str | None  # the subject it is about (None: the case as a whole)
    author: str
    at: datetime
    text: str


def ensure_material(store: Store) -> None:
    ensure(store)
    store.ensure("cases.material", DDL)


def _identity_problem(identity_id: str) -> str | None:
    if not identity_id.strip():
        return "an identity id is required"
    if len(identity_id) > ID_MAX or _CONTROL.search(identity_id) or identity_id != \
            identity_id.strip():
        return "not an identity id"
    return None


def add_subject(store: Store, case_id: str, identity_id: str, *, actor: str) -> Subject:
    """Name ``identity_id`` a subject of ``case_id`` (the caller decided and checked the
    case); naming it twice is refused."""
    ensure_material(store)
    problem = _identity_problem(identity_id)
    if problem:
        raise CaseError(problem)
    if store.fetchone("SELECT 1 FROM case_subjects WHERE case_id = ? AND identity_id = ?",
                      [case_id, identity_id]):
        raise CaseError(f"{identity_id!r} is already a subject of {case_id!r}")
    subject = Subject(case_id, identity_id, actor, clock.now_naive())
    store.execute("INSERT INTO case_subjects VALUES (?, ?, ?, ?)",
                  [case_id, identity_id, actor, subject.added_at])
    return subject


def subjects(store: Store, case_id: str) -> list[Subject]:
    ensure_material(store)
    rows = store.fetchall(
        "SELECT case_id, identity_id, added_by, added_at FROM case_subjects "
        "WHERE case_id = ? ORDER BY added_at, identity_id", [case_id])
    return [Subject(*r) for r in rows]


def add_note(
    store: Store, case_id: str, text: str, *, actor: str, identity_id: str | None = None
) -> Note:
    """Append a note to ``case_id`` (about one of its subjects, or the case)."""
    ensure_material(store)
    if not text.strip():
        raise CaseError("a note needs text")
    if len(text) > NOTE_MAX:
        raise CaseError(f"a note is at most {NOTE_MAX} characters")
    if _CONTROL.search(text):
        raise CaseError("a note may not hold control characters")
    if identity_id is not None and not store.fetchone(
        "SELECT 1 FROM case_subjects WHERE case_id = ? AND identity_id = ?",
        [case_id, identity_id],
    ):
        raise CaseError(f"{identity_id!r} is not a subject of {case_id!r}: add it first")
    at = clock.now_naive()
    count = store.scalar("SELECT count(*) FROM case_notes WHERE case_id = ?", [case_id])
    key = f"{case_id}\x1f{count}\x1f{at.isoformat()}\x1f{actor}"
    note = Note("N-" + hashlib.sha256(key.encode()).hexdigest()[:12], case_id, identity_id,
                actor, at, text)
    store.execute("INSERT INTO case_notes VALUES (?, ?, ?, ?, ?, ?)",
                  [note.note_id, case_id, identity_id, actor, at, text])
    return note


def notes(store: Store, case_id: str) -> list[Note]:
    ensure_material(store)
    rows = store.fetchall(
        "SELECT note_id, case_id, identity_id, author, noted_at, text FROM case_notes "
        "WHERE case_id = ? ORDER BY noted_at, note_id", [case_id])
    return [Note(*r) for r in rows]


__all__ = ["NOTE_MAX", "Note", "Subject", "add_note", "add_subject", "notes", "subjects"]
