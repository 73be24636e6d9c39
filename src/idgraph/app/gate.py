"""The one place a non-read act is decided by Cedar and audited.

:func:`authorise_and_audit` asks :func:`idgraph.policy.acts.decide_act` (the rules of
``policies/acts.cedar``) whether the caller may do the act. A refusal is audited and
raised as :class:`~idgraph.app.errors.Denied` naming the rules. On a permit the body
runs inside one store transaction with an :class:`~idgraph.policy.acts.ActRecord`, on
which it sets ``detail``, ``identity_ids``, ``record_ids``, ``sources``; on normal exit
the act's entry (outcome, rules, policy-set digest, ``via``) is appended in that same
transaction, so the act and its trace commit together or not at all. When the body
fails, its work is rolled back and an entry saying so (``deny`` for a refusal by an
object-level rule, else ``error``, with the reason) is appended; the exception then
propagates.

:func:`library_errors` turns the library's own exceptions into the application's
(:mod:`idgraph.app.errors`), so a shell maps one family of errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Conflict, Denied, Invalid, NotFound, Unavailable
from idgraph.audit import AuditIntegrityError, record
from idgraph.audit.keys import AuditKeyError
from idgraph.audit.reports import ReportError
from idgraph.cases import CaseError, CaseRefused, is_member
from idgraph.policy import users as users_mod
from idgraph.policy.acts import ActDenied, ActRecord, decide_act, deny_entry, principal_of
from idgraph.policy.cedar import PolicySetError
from idgraph.policy.install import PolicyInstallError
from idgraph.policy.legal import LegalError, LegalRefused
from idgraph.policy.notices import NoticeError, NoticeRefused
from idgraph.policy.registry import Registry
from idgraph.policy.retention import RetentionError, RetentionRefused
from idgraph.policy.sar import SarError, SarRefused
from idgraph.policy.users import UserError, UserRefused

# Refusals by an object-level rule of the library (the same organisation, a second
# person, the case's owner): a Denied, exit 3 on the CLI, 403 over the API.
REFUSALS: tuple[type[Exception], ...] = (
    ActDenied, UserRefused, CaseRefused, LegalRefused, SarRefused, NoticeRefused,
    RetentionRefused, ReportError,
)
# The library's "this input cannot be used" errors: Invalid, NotFound or Conflict.
INPUT_ERRORS: tuple[type[Exception], ...] = (
    UserError, CaseError, LegalError, SarError, NoticeError, RetentionError,
    PolicyInstallError,
)

_CAUGHT: tuple[type[Exception], ...] = (*REFUSALS, *INPUT_ERRORS, KeyError, LookupError,
                                       ValueError)
_NOT_FOUND = ("no user ", "no case ", "no document ", "no request ", "no notice ", "unknown record",
              "no entry ")
_CONFLICT = (" exists", "already ")


def as_app_error(exc: Exception) -> AppError:
    """The application error for one of the library's exceptions (``exc`` itself when it
    is one already)."""
    if isinstance(exc, AppError):
        return exc
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = text or type(exc).__name__
    if isinstance(exc, REFUSALS):
        return Denied(text, rules=tuple(getattr(exc, "rules", ()) or ()))
    if isinstance(exc, KeyError | LookupError):
        return NotFound(text)
    low = text.lower()
    if any(low.startswith(p) or f": {p}" in low for p in _NOT_FOUND):
        return NotFound(text)
    if any(p in low for p in _CONFLICT):
        return Conflict(text)
    return Invalid(text)


@contextmanager
def library_errors() -> Iterator[None]:
    """Raise the library's refusals and input errors as :class:`AppError`."""
    try:
        yield
    except AppError:
        raise
    except _CAUGHT as exc:
        raise as_app_error(exc) from exc


def _outcome(exc: BaseException) -> str:
    """``deny`` for a refusal by a rule, ``refused`` when the audit log itself refused
    (a signer that will not sign, a log whose tables were edited), else ``error``."""
    if isinstance(exc, (Denied, *REFUSALS)):
        return "deny"
    if isinstance(exc, AuditIntegrityError | AuditKeyError):
        return "refused"
    if isinstance(exc, AppError) and isinstance(exc.__cause__, AuditIntegrityError | AuditKeyError):
        return "refused"
    return "error"


def refuse(env: Env, caller: Caller, act: str, reason: str, *, rules: tuple[str, ...] = (),
           target: str = "", case_id: str | None = None, action: str | None = None) -> Denied:
    """Audit a refusal decided by the application (an object-level rule: another user's
    password, ...) and return the :class:`Denied` to raise."""
    reg = env.registry()
    entry = deny_entry(reg, caller.actor, act, rules, target=target, via=caller.via,
                       case_id=case_id, action=action,
                       detail={**_detail(caller, ""), "reason": reason})
    with env.store.transaction():
        record(env.store, entry)
    return Denied(reason, rules=rules)


def _detail(caller: Caller, variant: str) -> dict[str, str]:
    """What every entry of the act names besides the rules: the form of the act, the API
    token the caller came with (a token an admin minted for another user is traceable)."""
    out = {"variant": variant} if variant else {}
    if caller.token_id:
        out["token_id"] = caller.token_id
    return out


@contextmanager
def authorise_and_audit(
    env: Env,
    caller: Caller,
    act: str,
    *,
    target: str = "",
    case_id: str | None = None,
    action: str | None = None,
    variant: str = "",
    atomic: bool = True,
    registry: Registry | None = None,
) -> Iterator[ActRecord]:
    """Decide ``act`` for ``caller`` with Cedar; audit a refusal and raise
    :class:`Denied`; on a permit yield the :class:`ActRecord` and append its entry on
    exit (or an ``error``/``deny`` entry when the body raises).

    ``action`` names the entry when it differs from the act (``users.add`` under
    ``users.manage``); ``variant`` is the act's form where rules differ
    (``report.subject``: the copy); ``atomic=False`` runs the body outside one
    transaction (an export commits its own read before writing a byte); ``registry``
    decides under another policy set than the environment's (``policy.install`` when the
    deployment's folder moves).
    """
    store = env.store
    try:
        reg = registry or env.registry()
    except PolicySetError as exc:
        raise Unavailable(f"the deployment's policy set does not load: {exc}") from exc
    # the actor as stored now: a user disabled by another process is refused at once
    fresh = users_mod.get_user(store, caller.actor) if caller.actor else None
    # need-to-know (act.case_need_to_know): membership as stored now, like the user
    member = not case_id or bool(caller.actor and is_member(store, case_id, caller.actor))
    allowed, rules = decide_act(reg, caller.actor, act, target, via=caller.via,
                                variant=variant, user=fresh, case_member=member)
    who = principal_of(reg, caller.actor, fresh)
    if not allowed or who is None:
        entry = deny_entry(reg, caller.actor, act, rules, target=target, via=caller.via,
                           case_id=case_id, action=action, detail=_detail(caller, variant))
        with store.transaction():
            record(store, entry)
        shown = caller.actor or "anonymous"
        raise Denied(f"{shown!r} may not {act}: denied by {', '.join(rules)}", rules=rules)
    rec = ActRecord(
        act, caller.actor, who, rules, reg.policies.digest, target, caller.via,
        action=action or act, case_id=case_id,
    )
    rec.detail.update(_detail(caller, variant))
    try:
        if atomic:
            with store.transaction():
                yield rec
                if not rec.written:
                    record(store, rec.entry(rec.outcome))
        else:
            yield rec
            if not rec.written:
                with store.transaction():
                    record(store, rec.entry(rec.outcome))
    except BaseException as exc:
        if isinstance(exc, GeneratorExit):
            raise
        failed = rec.entry(_outcome(exc), detail={"reason": str(exc) or type(exc).__name__})
        try:
            with store.transaction():
                record(store, failed)
        except Exception as also:  # the log refuses every append: the act's error says why
            exc.add_note(f"its audit entry could not be appended either: {also}")
        raise
    if rec.act in _CHANGES_REGISTRY:
        env.refresh()


# Acts after which the registry's tables (users, cases, legal process, requests) changed.
_CHANGES_REGISTRY = frozenset({
    "users.manage", "cases.open", "cases.close", "cases.assign", "legal.add",
    "legal.verify", "sar.open", "sar.close", "retention.apply", "ingest.run",
    "resolve.run", "link.judge",
})


__all__ = [
    "INPUT_ERRORS",
    "REFUSALS",
    "ActRecord",
    "as_app_error",
    "authorise_and_audit",
    "library_errors",
    "refuse",
]
