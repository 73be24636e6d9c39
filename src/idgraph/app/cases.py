"""Case management: open, close, list; members (assign, reassign); subjects and notes;
the case's activity from the audit log; the supplements closing makes due.

Every function takes ``(env, caller, ...)`` and is one act decided by Cedar in
:func:`~idgraph.app.gate.authorise_and_audit`: ``cases.open``/``cases.close``/
``cases.list`` as before, ``cases.assign`` (supervisors), ``cases.read`` (the case's
page: members, subjects, notes, activity) and ``cases.material`` (subjects, notes).
Need-to-know is Cedar's too: the gate hands ``context.case_member`` (the caller is a
member of the case the act names, read from the tables now) and
``act.case_need_to_know`` refuses a non-member who is not a supervisor or overseer.
What only the tables know stays here and in ``idgraph.cases``: the case is the
caller's organisation's (an overseer's every one), notes only for members and the
organisation's supervisors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from idgraph import cases as cases_mod
from idgraph.app.context import Caller, Env
from idgraph.app.errors import Conflict, Invalid, NotFound
from idgraph.app.gate import authorise_and_audit, library_errors
from idgraph.cases import Case
from idgraph.cases import activity as activity_mod
from idgraph.cases import material as material_mod
from idgraph.cases import members as members_mod
from idgraph.cases import release as release_mod
from idgraph.cases.activity import ActivityPage
from idgraph.cases.material import Note, Subject
from idgraph.cases.members import Membership
from idgraph.cases.release import Supplement
from idgraph.policy import listing
from idgraph.policy.acts import ActRecord

__all__ = [
    "CaseFile",
    "activity",
    "add_note",
    "add_subject",
    "assign",
    "case_file",
    "close_case",
    "get_case",
    "list_cases",
    "members",
    "notes",
    "open_case",
    "subjects",
    "supplement_sent",
    "supplements_due",
]


# -- open, close, list (moved from app/admin.py) -----------------------------------------
def open_case(env: Env, caller: Caller, case_id: str, *, title: str, kind: str) -> Case:
    """Open a case of the caller's organisation (act ``cases.open``); the caller is its
    first member."""
    with authorise_and_audit(env, caller, "cases.open", target=case_id,
                             case_id=case_id) as rec, library_errors():
        return cases_mod.open_case(env.store, case_id, title=title, kind=kind, decision=rec)


def close_case(env: Env, caller: Caller, case_id: str) -> None:
    """Close a case of the caller's organisation (act ``cases.close``; its owner or a
    supervisor of the organisation): no read can use it afterwards, its watches stop, and
    subject-access requests owed what it withheld are flagged (``supplements_due``)."""
    with authorise_and_audit(env, caller, "cases.close", target=case_id,
                             case_id=case_id) as rec, library_errors():
        cases_mod.close_case(env.store, case_id, decision=rec)


def list_cases(
    env: Env, caller: Caller, *, status: str | None = None, org: str | None = None
) -> list[Case]:
    """Cases the caller may see (act ``cases.list``: an overseer every organisation's,
    others their own), optionally by status and organisation."""
    if status not in (None, "open", "closed"):
        raise Invalid(f"status {status!r}: one of open, closed", field="status")
    with authorise_and_audit(env, caller, "cases.list") as rec, library_errors():
        return listing.list_cases(env.store, org=org, status=status, decision=rec,
                                  registry=env.registry())


def get_case(env: Env, caller: Caller, case_id: str) -> Case:
    """One case the caller may see (act ``cases.list``); :class:`NotFound` otherwise."""
    with authorise_and_audit(env, caller, "cases.list", target=case_id) as rec, \
            library_errors():
        case = listing.visible_case(env.store, case_id, decision=rec, registry=env.registry())
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


# -- members -----------------------------------------------------------------------------
def assign(
    env: Env, caller: Caller, case_id: str, *, add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> tuple[str, ...]:
    """Assign ``add`` to the case and remove ``remove`` from it, at once (a reassignment
    names both; act ``cases.assign``: a supervisor of the case's organisation). Returns
    the members after; from now on only they (and supervisors) read under the case."""
    with authorise_and_audit(env, caller, "cases.assign", target=case_id,
                             case_id=case_id) as rec, library_errors():
        rec.detail.update({"added": list(add), "removed": list(remove)})
        after = members_mod.change(env.store, case_id, add=tuple(add), remove=tuple(remove),
                                   decision=rec)
        rec.detail["members"] = list(after)
        return after


def _visible(env: Env, rec: ActRecord, case_id: str) -> Case:
    """The case, if the deciding user's organisation's (an overseer: any); NotFound
    otherwise, the same answer whether it exists elsewhere or not."""
    case = cases_mod.get_case(env.store, case_id)
    if case is None or (rec.user.role != "overseer" and case.org != rec.user.org):
        raise NotFound(f"no case {case_id!r}")
    return case


def _sees_notes(rec: ActRecord, case: Case) -> bool:
    """Notes are case material: its members and its organisation's supervisors."""
    return rec.actor in case.members or (
        rec.user.role == "supervisor" and rec.user.org == case.org)


def members(env: Env, caller: Caller, case_id: str) -> list[Membership]:
    """Every assignment of the case, current and ended (act ``cases.read``)."""
    with authorise_and_audit(env, caller, "cases.read", target=case_id, case_id=case_id,
                             variant="members") as rec, library_errors():
        _visible(env, rec, case_id)
        found = members_mod.history(env.store, case_id)
        rec.detail["count"] = len(found)
        return found


# -- subjects and notes ------------------------------------------------------------------
def _open_for_work(env: Env, rec: ActRecord, case_id: str) -> Case:
    case = _visible(env, rec, case_id)
    if not case.is_open:
        raise Conflict(f"case {case_id!r} is closed")
    return case


def add_subject(env: Env, caller: Caller, case_id: str, identity_id: str) -> Subject:
    """Name an identity a subject of the case (act ``cases.material``)."""
    with authorise_and_audit(env, caller, "cases.material", target=case_id, case_id=case_id,
                             action="cases.subject") as rec, library_errors():
        _open_for_work(env, rec, case_id)
        rec.identity_ids = [identity_id]
        return material_mod.add_subject(env.store, case_id, identity_id, actor=caller.actor)


def subjects(env: Env, caller: Caller, case_id: str) -> list[Subject]:
    """The case's subjects (act ``cases.read``)."""
    with authorise_and_audit(env, caller, "cases.read", target=case_id, case_id=case_id,
                             variant="subjects") as rec, library_errors():
        _visible(env, rec, case_id)
        found = material_mod.subjects(env.store, case_id)
        rec.identity_ids = [s.identity_id for s in found]
        return found


def add_note(
    env: Env, caller: Caller, case_id: str, text: str, *, identity_id: str | None = None
) -> Note:
    """Append a note to the case, about one of its subjects or the case (act
    ``cases.material``). The entry keeps the note's id and length, not its text."""
    with authorise_and_audit(env, caller, "cases.material", target=case_id, case_id=case_id,
                             action="cases.note") as rec, library_errors():
        _open_for_work(env, rec, case_id)
        note = material_mod.add_note(env.store, case_id, text, actor=caller.actor,
                                     identity_id=identity_id)
        rec.detail.update({"note_id": note.note_id, "length": len(text)})
        if identity_id:
            rec.identity_ids = [identity_id]
        return note


def notes(env: Env, caller: Caller, case_id: str) -> list[Note]:
    """The case's notes (act ``cases.read``): to its members and the organisation's
    supervisors only; anyone else is refused (audited)."""
    with authorise_and_audit(env, caller, "cases.read", target=case_id, case_id=case_id,
                             variant="notes") as rec, library_errors():
        case = _visible(env, rec, case_id)
        if not _sees_notes(rec, case):
            raise cases_mod.CaseRefused(
                f"the notes of {case_id!r} are for its members and supervisors")
        found = material_mod.notes(env.store, case_id)
        rec.detail["count"] = len(found)
        return found


# -- activity ----------------------------------------------------------------------------
def activity(
    env: Env, caller: Caller, case_id: str, *, offset: int = 0, limit: int = 50
) -> ActivityPage:
    """Every audited act under the case, newest first, paged (act ``cases.read``;
    reading it is itself an entry of the case's activity)."""
    if offset < 0:
        raise Invalid("offset: 0 or more", field="offset")
    if not 1 <= limit <= activity_mod.PAGE_MAX:
        raise Invalid(f"limit: 1 to {activity_mod.PAGE_MAX}", field="limit")
    with authorise_and_audit(env, caller, "cases.read", target=case_id, case_id=case_id,
                             variant="activity") as rec, library_errors():
        _visible(env, rec, case_id)
        page = activity_mod.activity(env.store, case_id, offset=offset, limit=limit)
        rec.detail.update({"offset": offset, "count": len(page.items)})
        return page


# -- the case's page ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CaseFile:
    """What a case's page shows, read under one ``cases.read`` act."""

    case: Case
    members: tuple[Membership, ...]
    subjects: tuple[Subject, ...]
    notes: tuple[Note, ...] | None  # None: withheld from this caller
    activity: ActivityPage


def case_file(
    env: Env, caller: Caller, case_id: str, *, offset: int = 0, limit: int = 50
) -> CaseFile:
    """The case with its members, subjects, notes (members and supervisors only) and a
    page of its activity (act ``cases.read``)."""
    if offset < 0:
        raise Invalid("offset: 0 or more", field="offset")
    if not 1 <= limit <= activity_mod.PAGE_MAX:
        raise Invalid(f"limit: 1 to {activity_mod.PAGE_MAX}", field="limit")
    with authorise_and_audit(env, caller, "cases.read", target=case_id, case_id=case_id,
                             variant="file") as rec, library_errors():
        case = _visible(env, rec, case_id)
        shown = _sees_notes(rec, case)
        found = material_mod.subjects(env.store, case_id)
        rec.identity_ids = [s.identity_id for s in found]
        rec.detail["notes"] = "shown" if shown else "withheld"
        return CaseFile(
            case=case,
            members=tuple(members_mod.history(env.store, case_id)),
            subjects=tuple(found),
            notes=tuple(material_mod.notes(env.store, case_id)) if shown else None,
            activity=activity_mod.activity(env.store, case_id, offset=offset, limit=limit),
        )


# -- what closing released ---------------------------------------------------------------
def supplements_due(env: Env, caller: Caller) -> list[Supplement]:
    """Subject-access requests owed a supplement because a case that withheld their
    disclosures closed (act ``sar.list``: a records officer their organisation's, an
    overseer every one)."""
    with authorise_and_audit(env, caller, "sar.list", action="sar.supplements") as rec, \
            library_errors():
        org = None if rec.user.role == "overseer" else rec.user.org
        found = release_mod.supplements_due(env.store, org)
        rec.detail["shown"] = [s.sar_id for s in found]
        return found


def supplement_sent(env: Env, caller: Caller, sar_id: str, case_id: str) -> None:
    """Record that the supplement owed to ``sar_id`` for ``case_id`` was sent (act
    ``sar.close``, entry ``sar.supplement``: the records officer answering requests of
    their organisation)."""
    with authorise_and_audit(env, caller, "sar.close", target=sar_id, case_id=case_id,
                             action="sar.supplement") as rec, library_errors():
        rec.detail["sar_id"] = sar_id
        release_mod.mark_sent(env.store, sar_id, case_id, org=rec.user.org,
                              actor=caller.actor)
