"""Acts on the audit log: verify, checkpoint, prove, export, keys, witness.

Every act is decided by Cedar (``audit.verify``: any active user; ``audit.read``: an
overseer; ``audit.checkpoint`` and ``audit.keys``: an admin) through
:func:`~idgraph.app.gate.authorise_and_audit`. **Every read of the audit log is itself
logged**, and before the read: the entry of a proof is appended in the same
transaction as the proof is made, the entry of an export is committed before the
first entry is read (an export killed half-way has still left its trace, and contains
it). ``verify`` logs its result. The public key is public (no act); a witness is an
outside party with its own key and state, not a user.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Invalid, NotFound
from idgraph.app.gate import authorise_and_audit
from idgraph.audit import AuditIntegrityError, AuditLog, record
from idgraph.audit import note as notes
from idgraph.audit.checkpoint import Checkpoint
from idgraph.audit.export import ExportSummary, export_log
from idgraph.audit.keys import AuditKeyError, public_hex, public_pem
from idgraph.audit.note import NoteError
from idgraph.audit.publish import publish_key
from idgraph.audit.setup import log_for
from idgraph.audit.witness import Witness, WitnessRefused

__all__ = [
    "audit_checkpoint",
    "audit_export",
    "audit_export_file",
    "audit_prove",
    "audit_pubkey",
    "audit_rotate_key",
    "audit_sign_checkpoint",
    "audit_verify",
    "audit_witness",
    "log_of",
]

_LOG_ERRORS = (AuditIntegrityError, AuditKeyError)


class LogRefused(AppError):
    """The audit log refused the act (a signer that will not sign, edited tables, a key
    that does not load): the user's to fix, not a crash."""

    status = 409
    title = "The audit log refused"


def log_of(env: Env) -> AuditLog:
    """The deployment's audit log over the environment's store."""
    return log_for(env.store, env.settings)


def _refused(exc: Exception) -> LogRefused:
    return LogRefused(str(exc) or type(exc).__name__)


def audit_verify(env: Env, caller: Caller, *, pubkeys: Sequence[Path] = ()) -> dict[str, Any]:
    """Recompute every leaf and the tree; check every checkpoint (act ``audit.verify``:
    counts and problems, no entry). The result (``ok``, ``size``, ``root``,
    ``problems``, ``summary``, ...) is logged (outcome ``ok`` or ``fail``)."""
    log = log_of(env)
    with authorise_and_audit(env, caller, "audit.verify", target="verify") as rec:
        try:
            result = log.verify(list(pubkeys) or None)
        except AuditKeyError as exc:
            raise _refused(exc) from exc
        rec.outcome = "ok" if result.ok else "fail"
        rec.detail.update({
            "size": result.size,
            "root": result.root.hex(),
            "first_bad_index": result.first_bad_index,
            "first_bad_checkpoint": result.first_bad_checkpoint,
            "problems": len(result.problems),
        })
    return {**result.to_json(), "summary": result.summary()}


def audit_sign_checkpoint(env: Env, caller: Caller) -> Checkpoint:
    """Check that the log extends every signed checkpoint, then sign its head (act
    ``audit.checkpoint``); the act's entry is inside the checkpoint it signs."""
    log = log_of(env)
    with authorise_and_audit(env, caller, "audit.checkpoint", target="checkpoint") as rec:
        try:
            record(env.store, rec.entry("ok", detail={"size_before": log.size()}))
            cp = log.checkpoint()
        except _LOG_ERRORS as exc:
            raise _refused(exc) from exc
    try:
        log.publish()
    except _LOG_ERRORS as exc:
        raise _refused(exc) from exc
    return cp


def audit_checkpoint(env: Env, caller: Caller) -> str:
    """:func:`audit_sign_checkpoint`, as the signed note (C2SP)."""
    cp = audit_sign_checkpoint(env, caller)
    return cp.note or ""


def audit_prove(env: Env, caller: Caller, index: int) -> dict[str, Any]:
    """Inclusion proof of entry ``index`` against the latest checkpoint covering it (act
    ``audit.read``: the proof quotes the entry). The read is logged in the transaction
    that makes the proof. Returns the proof as JSON data plus ``verified`` (checked with
    the log's own key, never the key the checkpoint row names)."""
    log = log_of(env)
    with authorise_and_audit(env, caller, "audit.read", target="prove") as rec:
        rec.detail.update({"read": "prove", "index": index})
        size = log.size()
        if index < 0 or index >= size:
            raise NotFound(f"no entry {index}: the log has {size} entries")
        try:
            record(env.store, rec.entry("ok"))
            proof = log.prove(index)
        except _LOG_ERRORS as exc:
            raise _refused(exc) from exc
    try:
        log.publish()
        ok = proof.verify(log.public_key)
    except _LOG_ERRORS as exc:
        raise _refused(exc) from exc
    return {**proof.to_json(), "verified": ok}


def audit_export_file(
    env: Env, caller: Caller, out: Path, *, proofs: bool = True
) -> ExportSummary:
    """Write entries, checkpoints and proofs to ``out`` (JSON lines, for
    tools/verify_audit.py; act ``audit.read``). The read is committed before the first
    byte is written, so the export contains its own read."""
    log = log_of(env)
    with authorise_and_audit(env, caller, "audit.read", target="export", atomic=False) as rec:
        rec.detail.update({"read": "export", "out": out.name})
        try:
            with env.store.transaction():
                record(env.store, rec.entry("ok"))
            with env.store.transaction():
                summary = export_log(log, out, proofs=proofs)
            log.publish()
        except _LOG_ERRORS as exc:
            raise _refused(exc) from exc
    return summary


def audit_export(
    env: Env, caller: Caller, *, start: int | None = None, end: int | None = None
) -> list[dict[str, Any]]:
    """Entries ``start`` (default 0) up to ``end`` (exclusive; default the log's size,
    this read's own entry included), each with its ``index`` (act ``audit.read``)."""
    if start is not None and end is not None and end < start:
        raise Invalid("the range ends before it starts", field="end")
    log = log_of(env)
    with authorise_and_audit(env, caller, "audit.read", target="export", atomic=False) as rec:
        with env.store.transaction():
            record(env.store, rec.entry("ok", detail={"read": "entries", "start": start,
                                                      "end": end}))
        try:
            stored = log.entries(start or 0, end)
        except _LOG_ERRORS as exc:
            raise _refused(exc) from exc
    return [{"index": s.index, **s.entry.model_dump(mode="json")} for s in stored]


def audit_pubkey(
    env: Env, caller: Caller, *, form: Literal["vkey", "pem", "hex"] = "vkey"
) -> str:
    """The public key that checks checkpoint signatures: the signed-note verifier key,
    PEM or 64 hex characters. Public: no act, not logged."""
    log = log_of(env)
    try:
        key = log.public_key
    except AuditKeyError as exc:
        raise _refused(exc) from exc
    if form == "hex":
        return public_hex(key)
    if form == "pem":
        return public_pem(key)
    return notes.vkey(log.origin, key)


def audit_rotate_key(env: Env, caller: Caller) -> str:
    """Replace the signing key (act ``audit.keys``): the old key signs an
    ``audit.key_rotate`` entry naming both keys, then the new key (encrypted if a
    passphrase is set) takes over. Returns what happened, in one line."""
    log = log_of(env)
    with authorise_and_audit(env, caller, "audit.keys", target="rotate-key",
                             atomic=False) as rec:
        if log.key_path is None:
            raise Invalid("no key path")
        try:
            # replaces the key file once committed (staged first: a crash loses nothing)
            handover, cross = log.rotate_key(Ed25519PrivateKey.generate(), rec.entry("ok"))
        except _LOG_ERRORS as exc:
            raise _refused(exc) from exc
    return (f"rotated: checkpoint {handover.id} signed by the old key {handover.pubkey}, "
            f"checkpoint {cross.id} by the new key {cross.pubkey}")


def audit_witness(env: Env, witness: Witness) -> dict[str, Any]:
    """Have ``witness`` cosign the latest checkpoint (signing one if none has a note)
    if it is consistent with the last one this witness cosigned; publish its key.
    The witness is an outside party, not a user: no act."""
    log = log_of(env)
    try:
        cp = log.latest_checkpoint()
        if cp is None or cp.note is None:
            cp = log.checkpoint()
        # before cosigning: a second witness under a name another key uses is refused
        log.check_cosigner(cp.id, witness.name,
                           notes.key_id(witness.name, witness.public_key,
                                        notes.COSIGNATURE_V1))
        seen = witness.seen(log.origin)
        old = seen.size if seen is not None and seen.size <= cp.size else 0
        proof = log.consistency(old, cp.size).path if seen is not None else ()
        sig = witness.cosign(cp.note or "", proof)
        merged = log.add_cosignature(cp.id, witness.name, sig.line())
        if log.publication is not None:
            publish_key(log.publication, witness.name, witness.public_key,
                        notes.COSIGNATURE_V1)
    except (WitnessRefused, NoteError, *_LOG_ERRORS) as exc:
        raise _refused(exc) from exc
    return {"checkpoint": cp.id, "size": cp.size, "witness": witness.name, "note": merged.note}
