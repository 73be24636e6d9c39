"""Administrative acts: users, legal process, notices, retention, judgements,
subject-access requests and the policy set (cases: ``idgraph.app.cases``).

Every function takes ``(env, caller, ...)``, is decided by Cedar through
:func:`~idgraph.app.gate.authorise_and_audit` (the acts of ``policies/acts.cedar``),
and is audited there: a refusal as ``deny`` with the rules, a failure as ``error``,
success with the rules and the policy-set digest in the act's own transaction. The
library modules below do the data work and the object-level checks (the same
organisation, a second person, a case's owner); they hold no role lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from idgraph import clock
from idgraph.app.context import Caller, Env
from idgraph.app.errors import Conflict, Invalid
from idgraph.app.gate import authorise_and_audit, library_errors
from idgraph.link.judge import Judgement, Verdict
from idgraph.link.judge import judge as judge_pair
from idgraph.policy import install as install_mod
from idgraph.policy import legal as legal_mod
from idgraph.policy import listing
from idgraph.policy import notices as notices_mod
from idgraph.policy import retention as retention_mod
from idgraph.policy import sar as sar_mod
from idgraph.policy import users as users_mod
from idgraph.policy.acts import decide_act
from idgraph.policy.cedar import PolicySetError
from idgraph.policy.legal import LegalProcess
from idgraph.policy.notices import Notice
from idgraph.policy.retention import RetentionRun
from idgraph.policy.sar import SubjectAccessRequest
from idgraph.policy.users import User

__all__ = [
    "add_legal",
    "add_user",
    "apply_retention",
    "close_sar",
    "disable_user",
    "judge",
    "list_legal",
    "list_notices",
    "list_retention_runs",
    "list_sars",
    "list_users",
    "mark_notice_sent",
    "open_sar",
    "policy_install",
    "policy_show",
    "verify_legal",
]


# -- users -------------------------------------------------------------------------------
def add_user(
    env: Env,
    caller: Caller,
    name: str,
    role: str,
    org: str,
    *,
    org_type: str = "private",
    immigration_agency: bool = False,
) -> User:
    """Add a user (act ``users.manage``: an admin). The first user of an empty table is
    added without a decision (bootstrap), by no one or by that user themself."""
    store = env.store
    if users_mod.count(store) == 0 and caller.actor in ("", name):
        with library_errors():
            user = users_mod.add_user(store, name, role, org, org_type=org_type,
                                      immigration_agency=immigration_agency)
        env.refresh()
        return user
    with authorise_and_audit(env, caller, "users.manage", target=name,
                             action="users.add") as rec, library_errors():
        return users_mod.add_user(store, name, role, org, org_type=org_type,
                                  immigration_agency=immigration_agency, decision=rec)


def list_users(env: Env, caller: Caller) -> list[User]:
    """Users the caller may see (act ``users.list``; an admin or overseer every one, a
    supervisor their organisation's)."""
    with authorise_and_audit(env, caller, "users.list") as rec, library_errors():
        return listing.list_users(env.store, decision=rec, registry=env.registry())


def disable_user(env: Env, caller: Caller, name: str) -> None:
    """Disable ``name`` (act ``users.manage``): every later request of theirs is denied,
    their sessions and tokens stop at once. The last active admin is not disabled
    (:class:`Conflict`, audited): nobody could then add users, reset passwords or install
    policy short of editing the database."""
    with authorise_and_audit(env, caller, "users.manage", target=name,
                             action="users.disable") as rec, library_errors():
        target = users_mod.get_user(env.store, name)
        if target is not None and _manages_users(env, target) and not any(
                _manages_users(env, u) for u in users_mod.list_users(env.store)
                if u.name != name):
            rec.detail["user"] = name
            raise Conflict(f"{name!r} is the last active admin: add another admin first",
                           field="name")
        users_mod.disable_user(env.store, name, decision=rec)


def _manages_users(env: Env, user: User) -> bool:
    """Whether ``user`` (as stored) is an active admin: may ``users.manage`` (asked of
    Cedar, as the gate would on the command line: no role list here)."""
    if not user.active:
        return False
    allowed, _ = decide_act(env.registry(), user.name, "users.manage", via="cli", user=user)
    return allowed


# -- legal process -----------------------------------------------------------------------
def add_legal(
    env: Env,
    caller: Caller,
    *,
    type: str,
    number: str,
    issued: date,
    expires: date | None = None,
    court: str | None = None,
    judge: str | None = None,
    judge_appointment: str | None = None,
    level: str | None = None,
    issuer: str | None = None,
    scope_identities: Sequence[str] = (),
    scope_sources: Sequence[str] = (),
    case_id: str,
) -> LegalProcess:
    """Register a legal-process document under an open case of the caller's organisation
    (act ``legal.add``); it counts once verified by someone else."""
    with authorise_and_audit(env, caller, "legal.add", target=number,
                             case_id=case_id or None) as rec, library_errors():
        return legal_mod.add_legal(
            env.store, type=type, number=number, issued=issued, expires=expires,
            court=court, judge=judge, judge_appointment=judge_appointment, level=level,
            issuer=issuer, scope_identities=tuple(scope_identities),
            scope_sources=tuple(scope_sources), case_id=case_id, decision=rec,
        )


def verify_legal(env: Env, caller: Caller, legal_id: str, *, sha256: str) -> LegalProcess:
    """Record that the caller checked the paper of ``legal_id`` (act ``legal.verify``:
    supervisors and counsel of its organisation, not its registrant)."""
    with authorise_and_audit(env, caller, "legal.verify", target=legal_id) as rec, \
            library_errors():
        rec.basis = legal_id
        return legal_mod.verify_legal(env.store, legal_id, sha256=sha256, decision=rec)


def list_legal(env: Env, caller: Caller, *, case_id: str | None = None) -> list[LegalProcess]:
    """Legal process the caller may see (act ``legal.list``)."""
    with authorise_and_audit(env, caller, "legal.list", case_id=case_id) as rec, \
            library_errors():
        return listing.list_legal(env.store, case_id=case_id, decision=rec,
                                  registry=env.registry())


# -- notices -----------------------------------------------------------------------------
def list_notices(
    env: Env, caller: Caller, *, overdue: bool = False, today: date | None = None
) -> list[Notice]:
    """Unsent notices the caller may see (act ``notices.list``), due and overdue as of
    ``today`` (default: today, UTC)."""
    with authorise_and_audit(env, caller, "notices.list") as rec, library_errors():
        return listing.list_notices(env.store, today=today, overdue=overdue, decision=rec,
                                    registry=env.registry())


def mark_notice_sent(env: Env, caller: Caller, notice_id: str) -> None:
    """Record that a notice owed by the caller's organisation was sent (act
    ``notices.send``)."""
    with authorise_and_audit(env, caller, "notices.send", target=notice_id,
                             action="notices.sent") as rec, library_errors():
        notices_mod.mark_sent(env.store, notice_id, decision=rec)


# -- retention ---------------------------------------------------------------------------
def apply_retention(
    env: Env, caller: Caller, *, as_of: datetime | None = None
) -> RetentionRun:
    """Remove every record past its source's retention as of ``as_of`` (act
    ``retention.apply``); ``as_of`` may not lie in the future."""
    if as_of is not None and as_of.date() > clock.today():
        # a date to come would remove records before their retention ends: destruction,
        # not retention (tests move the clock with idgraph.clock.frozen instead)
        raise Invalid(f"--now {as_of.date()} is in the future (today is {clock.today()}, UTC)",
                      field="as_of")
    from idgraph.search.sync import install_hooks  # the index forgets removed records

    install_hooks()
    from idgraph.audit import record
    from idgraph.monitor.upkeep import remove_alerts_of_records

    with authorise_and_audit(env, caller, "retention.apply") as rec, library_errors():
        run = retention_mod.apply_retention(env.store, as_of=as_of, decision=rec)
        # an alert keeps a minimised copy of its record: it goes with the record, in the
        # same transaction, and the act's entry names the alerts removed
        gone = remove_alerts_of_records(env.store, run.record_ids)
        if gone:
            record(env.store, rec.entry("ok", detail={
                "run_id": run.run_id, "alerts_removed": len(gone), "alert_ids": gone}))
        return run


def list_retention_runs(env: Env, caller: Caller) -> list[RetentionRun]:
    """Past retention runs (act ``retention.list``; removed ids only as hashes)."""
    with authorise_and_audit(env, caller, "retention.list") as rec, library_errors():
        runs = retention_mod.list_runs(env.store)
        rec.detail["shown"] = [r.run_id for r in runs]
        return runs


# -- judgements --------------------------------------------------------------------------
def judge(
    env: Env, caller: Caller, record_a: str, record_b: str, verdict: str, *, reason: str = ""
) -> Judgement:
    """Record the caller's judgement on a record pair (act ``link.judge``: supervisors and
    records officers); it applies at the next resolve."""
    if verdict not in {v.value for v in Verdict}:
        raise Invalid(f"'{verdict}' is not a valid Verdict", field="verdict")
    with authorise_and_audit(env, caller, "link.judge", target=f"{record_a} {record_b}") as rec, \
            library_errors():
        rec.record_ids = [record_a, record_b]
        return judge_pair(env.store, record_a, record_b, verdict, reason=reason,
                               decision=rec)


# -- subject-access requests ---------------------------------------------------------------
def open_sar(
    env: Env, caller: Caller, identity_id: str, *, case_id: str, requester: str,
    received: date,
) -> SubjectAccessRequest:
    """Register a person's request to see what is held about them (act ``sar.open``)."""
    with authorise_and_audit(env, caller, "sar.open", target=identity_id,
                             case_id=case_id) as rec, library_errors():
        return sar_mod.open_sar(env.store, identity_id, case_id=case_id, requester=requester,
                                received=received, decision=rec)


def close_sar(env: Env, caller: Caller, sar_id: str) -> SubjectAccessRequest:
    """Close a request of the caller's organisation (act ``sar.close``)."""
    with authorise_and_audit(env, caller, "sar.close", target=sar_id) as rec, \
            library_errors():
        return sar_mod.close_sar(env.store, sar_id, decision=rec)


def list_sars(
    env: Env, caller: Caller, *, status: str | None = None
) -> list[SubjectAccessRequest]:
    """The requests of the caller's organisation (act ``sar.list``)."""
    if status not in (None, "open", "closed"):
        raise Invalid(f"--status {status!r}: one of open, closed", field="status")
    with authorise_and_audit(env, caller, "sar.list") as rec, library_errors():
        return sar_mod.read_sars(env.store, status=status, decision=rec)


# -- the policy set ----------------------------------------------------------------------
def _info(info: install_mod.PolicySetInfo) -> dict[str, Any]:
    rec = info.recorded
    return {
        "digest": info.digest,
        "folder": info.folder,
        "files": list(info.files),
        "ids": list(info.ids),
        "recorded_at": rec.recorded_at.isoformat() if rec else None,
        "recorded_by": rec.recorded_by if rec else None,
        "recorded_how": rec.how if rec else None,
    }


def policy_show(env: Env, caller: Caller) -> dict[str, Any]:
    """The policy set in force: its digest (named in every audit entry), folder, files,
    rule ids and when it was recorded. Public: the rules are published (no act)."""
    try:
        return _info(install_mod.show(env.store, env.settings))
    except PolicySetError as exc:
        raise Invalid(f"the deployment's policy set does not load: {exc}") from exc
    except (ValueError, FileNotFoundError) as exc:
        raise Invalid(str(exc)) from exc


def policy_install(env: Env, caller: Caller, folder: Path) -> str:
    """Validate ``folder``'s ``*.cedar`` files and install them as the deployment's own
    (act ``policy.install``: an admin, decided under the set in force); returns the
    new digest."""
    with library_errors():
        if not folder.is_dir():
            raise install_mod.PolicyInstallError(f"{folder} is not a folder")
        reg = install_mod.in_force(env.store, env.settings)
    with authorise_and_audit(env, caller, "policy.install", target=str(folder),
                             registry=reg) as rec, library_errors():
        info = install_mod.install_policies(env.store, folder, settings=env.settings,
                                            decision=rec)
    env.reload()
    return info.digest
