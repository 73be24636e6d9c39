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
from idgraph.cases import CaseError
from idgraph.store import Store
from idgraph.store.registry import NoteRow, RegistryRepo, SubjectRow

NOTE_MAX: Final[int] = 10_000
ID_MAX: Final[int] = 200
# control characters other than tab and line ends: terminal escapes, NUL
_CONTROL: Final[re.Pattern[str]] = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

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
    problem = _identity_problem(identity_id)
    if problem:
        raise CaseError(problem)
    repo = RegistryRepo(store)
    with store.transaction():
        store.lock("cases")  # named once, though two workers name it at once
        if repo.is_subject(case_id, identity_id):
            raise CaseError(f"{identity_id!r} is already a subject of {case_id!r}")
        subject = Subject(case_id, identity_id, actor, clock.now_naive())
        repo.insert_subject(SubjectRow(case_id, identity_id, actor, subject.added_at))
    return subject


def subjects(store: Store, case_id: str) -> list[Subject]:
    return [Subject(*r) for r in RegistryRepo(store).subjects(case_id)]


def add_note(
    store: Store, case_id: str, text: str, *, actor: str, identity_id: str | None = None
) -> Note:
    """Append a note to ``case_id`` (about one of its subjects, or the case)."""
    if not text.strip():
        raise CaseError("a note needs text")
    if len(text) > NOTE_MAX:
        raise CaseError(f"a note is at most {NOTE_MAX} characters")
    if _CONTROL.search(text):
        raise CaseError("a note may not hold control characters")
    repo = RegistryRepo(store)
    if identity_id is not None and not repo.is_subject(case_id, identity_id):
        raise CaseError(f"{identity_id!r} is not a subject of {case_id!r}: add it first")
    at = clock.now_naive()
    count = repo.note_count(case_id)
    key = f"{case_id}\x1f{count}\x1f{at.isoformat()}\x1f{actor}"
    note = Note("N-" + hashlib.sha256(key.encode()).hexdigest()[:12], case_id, identity_id,
                actor, at, text)
    repo.insert_note(NoteRow(note.note_id, case_id, identity_id, actor, at, text))
    return note


def notes(store: Store, case_id: str) -> list[Note]:
    return [Note(*r) for r in RegistryRepo(store).notes(case_id)]


__all__ = ["NOTE_MAX", "Note", "Subject", "add_note", "add_subject", "notes", "subjects"]
