"""CLI: ``idgraph audit ...`` — verify, checkpoint, prove, export, pubkey, rotate-key, witness.

Every act on the log is decided by the policy layer (``authorise_act``: ``audit.verify``,
``audit.read``, ``audit.checkpoint``, ``audit.keys``) for the user named by ``--as``
(or ``IDGRAPH_USER``); an unknown or unauthorised user gets nothing and the refusal is
logged. The acting user's entry is appended in the same transaction as the act: before
the read for ``prove`` and ``export`` (so an export contains its own read), with the
result for ``verify``. ``witness`` is run by an outside party with its own key and
state folder; it reads only the latest checkpoint and a consistency proof.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from idgraph.audit import AuditIntegrityError, AuditLog
from idgraph.audit import note as notes
from idgraph.audit.export import export_log
from idgraph.audit.keys import AuditKeyError, load_public_key, public_hex, public_pem
from idgraph.audit.note import NoteError
from idgraph.audit.publish import publish_key
from idgraph.audit.setup import log_for
from idgraph.audit.witness import Witness, WitnessRefused
from idgraph.cli.common import (
    DENIED,
    USER_ERRORS,
    console,
    describe,
    err_console,
    fail,
    settings_of,
    store_of,
)
from idgraph.policy.acts import ActDecision, ActDenied, authorise_act
from idgraph.policy.registry import Registry
from idgraph.store import Store

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify, checkpoint, prove, export, witness.",
    no_args_is_help=True,
)

AsOption = typer.Option(..., "--as", envvar="IDGRAPH_USER", help="Act as this user.")
_ERRORS = (AuditIntegrityError, AuditKeyError)


def _authorise(ctx: typer.Context, store: Store, actor: str, act: str, target: str) -> ActDecision:
    """The policy decision for ``act``; a refusal is audited by ``authorise_act``."""
    try:
        reg = Registry(store, settings=settings_of(ctx))
        return authorise_act(store, actor, act, registry=reg, target=target)
    except ActDenied as exc:
        raise fail(str(exc), code=DENIED) from exc


def _log(ctx: typer.Context, store: Store) -> AuditLog:
    return log_for(store, settings_of(ctx))


def _public_keys(paths: list[Path], option: str) -> list[Ed25519PublicKey]:
    """Each file's Ed25519 public key; a missing or unreadable file, or one that holds
    no such key, ends the command naming the file."""
    keys = []
    for p in paths:
        try:
            keys.append(load_public_key(p))
        except OSError as exc:
            raise fail(f"{option} {describe(exc)}") from exc
        except AuditKeyError as exc:
            raise fail(f"{option} {p}: {exc}") from exc
        except ValueError as exc:  # cryptography's, for a PEM block that does not parse
            raise fail(f"{option} {p}: not an Ed25519 public key (the PEM does not parse)") \
                from exc
    return keys


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    pubkey: list[Path] = typer.Option([], "--pubkey", help="Trusted public key(s) (PEM)."),
    as_user: str = AsOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute every leaf and the tree; check every checkpoint. Exit 1 on failure."""
    _public_keys(pubkey, "--pubkey")  # each file names a key, before anything is read
    with store_of(ctx) as store:
        dec = _authorise(ctx, store, as_user, "audit.verify", "verify")
        log = _log(ctx, store)
        with store.transaction(), err_console.status(f"verifying {log.size():,} entries"):
            try:
                result = log.verify(list(pubkey) or None)
            except AuditKeyError as exc:
                raise fail(str(exc)) from exc
            detail = {
                "size": result.size,
                "root": result.root.hex(),
                "first_bad_index": result.first_bad_index,
                "first_bad_checkpoint": result.first_bad_checkpoint,
                "problems": len(result.problems),
            }
            log.append(dec.entry("ok" if result.ok else "fail", detail=detail))
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        console.print(result.summary(), markup=False, highlight=False, soft_wrap=True)
        for problem in result.problems[1:10]:
            console.print(f"  {problem}", markup=False, highlight=False)
        console.print(f"({result.seconds:.2f} s)")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context, as_user: str = AsOption) -> None:
    """Check that the log extends every signed checkpoint, then sign its head."""
    with store_of(ctx) as store:
        dec = _authorise(ctx, store, as_user, "audit.checkpoint", "checkpoint")
        log = _log(ctx, store)
        try:
            with store.transaction():
                log.append(dec.entry("ok", detail={"size_before": log.size()}))
                cp = log.checkpoint()
            log.publish()
        except _ERRORS as exc:
            log.append(dec.entry("refused", detail={"reason": str(exc)}))
            raise fail(str(exc)) from exc
    typer.echo(json.dumps(cp.to_json(), indent=2))


@audit_app.command("prove")
def prove_command(
    ctx: typer.Context,
    index: int = typer.Argument(..., min=0, help="Entry index (0-based)."),
    as_user: str = AsOption,
    as_json: bool = typer.Option(False, "--json", help="Print the proof as JSON."),
) -> None:
    """Inclusion proof of one entry against the latest checkpoint covering it."""
    with store_of(ctx) as store:
        dec = _authorise(ctx, store, as_user, "audit.read", "prove")
        log = _log(ctx, store)
        if index >= log.size():
            raise fail(f"no entry {index}: the log has {log.size()} entries")
        try:
            with store.transaction():
                log.append(dec.entry("ok", detail={"read": "prove", "index": index}))
                proof = log.prove(index)
            log.publish()
        except _ERRORS as exc:
            raise fail(str(exc)) from exc
        try:  # the log's own key, never the key the checkpoint row names
            ok = proof.verify(log.public_key)
        except AuditKeyError as exc:
            raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps({**proof.to_json(), "verified": ok}, indent=2))
    else:
        cp = proof.checkpoint
        console.print(
            f"entry {index} in checkpoint {cp.id} (size {cp.size}, root "
            f"{cp.root.hex()}): {'verified' if ok else 'DOES NOT VERIFY'}",
            soft_wrap=True,
        )
        for step in proof.path:
            console.print(f"  {step.hex()}")
    if not ok:
        raise typer.Exit(1)


@audit_app.command("export")
def export_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="JSON-lines file to write."),
    proofs: bool = typer.Option(True, "--proofs/--no-proofs", help="Inclusion proofs."),
    as_user: str = AsOption,
) -> None:
    """Write entries, checkpoints and proofs for tools/verify_audit.py."""
    with store_of(ctx) as store:
        dec = _authorise(ctx, store, as_user, "audit.read", "export")
        log = _log(ctx, store)
        try:
            # the read is committed before the first byte is written: an export that is
            # killed or fails half-way has still left its trace (and contains it)
            log.append(dec.entry("ok", detail={"read": "export", "out": out.name}))
            with store.transaction(), err_console.status(f"exporting {log.size():,} entries"):
                summary = export_log(log, out, proofs=proofs)
            log.publish()
        except _ERRORS as exc:
            raise fail(str(exc)) from exc
    console.print(
        f"wrote {summary.entries:,} entries, {summary.checkpoints} checkpoints, "
        f"{summary.proofs:,} proofs to {summary.path} (root {summary.root})",
        soft_wrap=True,
    )


@audit_app.command("pubkey")
def pubkey_command(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", help="Write the key here."),
    raw_hex: bool = typer.Option(False, "--hex", help="Print 64 hex chars, not PEM."),
    vkey: bool = typer.Option(False, "--vkey", help="Print the signed-note verifier key."),
) -> None:
    """The public key that checks checkpoint signatures (public: no --as needed)."""
    with store_of(ctx) as store:
        log = _log(ctx, store)
        try:
            key = log.public_key
        except AuditKeyError as exc:
            raise fail(str(exc)) from exc
    text = public_hex(key) if raw_hex else notes.vkey(log.origin, key) if vkey else public_pem(key)
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n")
        console.print(f"wrote {out}", markup=False)
    else:
        console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)


@audit_app.command("rotate-key")
def rotate_key_command(ctx: typer.Context, as_user: str = AsOption) -> None:
    """Replace the signing key: the old key signs an ``audit.key_rotate`` entry naming
    both keys; then the new key (encrypted if a passphrase is set) takes over."""
    with store_of(ctx) as store:
        dec = _authorise(ctx, store, as_user, "audit.keys", "rotate-key")
        log = _log(ctx, store)
        path = log.key_path
        if path is None:
            raise fail("no key path")
        new = Ed25519PrivateKey.generate()
        try:
            # replaces the key file once committed (staged first: a crash loses nothing)
            handover, cross = log.rotate_key(new, dec.entry("ok"))
        except _ERRORS as exc:
            log.append(dec.entry("refused", detail={"reason": str(exc)}))
            raise fail(str(exc)) from exc
    console.print(
        f"rotated: checkpoint {handover.id} signed by the old key {handover.pubkey}, "
        f"checkpoint {cross.id} by the new key {cross.pubkey}",
        soft_wrap=True,
    )


def _witness_run(log: AuditLog, w: Witness) -> dict[str, Any]:
    cp = log.latest_checkpoint()
    if cp is None or cp.note is None:
        cp = log.checkpoint()
    # before cosigning: a second witness under a name another key uses is refused
    log.check_cosigner(cp.id, w.name, notes.key_id(w.name, w.public_key, notes.COSIGNATURE_V1))
    seen = w.seen(log.origin)
    old = seen.size if seen is not None and seen.size <= cp.size else 0
    proof = log.consistency(old, cp.size).path if seen is not None else ()
    sig = w.cosign(cp.note or "", proof)
    merged = log.add_cosignature(cp.id, w.name, sig.line())
    return {"checkpoint": cp.id, "size": cp.size, "witness": w.name, "note": merged.note}


@audit_app.command("witness")
def witness_command(
    ctx: typer.Context,
    state: Path = typer.Option(..., "--state", help="The witness's own state folder."),
    init: bool = typer.Option(False, "--init", help="Make a new witness (key and state)."),
    name: str = typer.Option("witness.local/w1", "--name", help="Witness key name (--init)."),
    log_key: list[Path] = typer.Option([], "--log-key", help="Trust this log key (PEM)."),
) -> None:
    """Run an independent witness: cosign the latest checkpoint if it is consistent with
    the last one this witness cosigned; refuse (exit 1) otherwise."""
    keys = _public_keys(log_key, "--log-key")
    try:
        if init:
            w = Witness.init(state, name, keys)
            console.print(w.vkey(), markup=False, highlight=False, soft_wrap=True)
            return
        w = Witness(state)
        for key in keys:
            w.trust_log_key(key)
        with store_of(ctx) as store:
            log = _log(ctx, store)
            result = _witness_run(log, w)
            if log.publication is not None:
                publish_key(log.publication, w.name, w.public_key, notes.COSIGNATURE_V1)
    except (WitnessRefused, NoteError, *_ERRORS) as exc:
        raise fail(str(exc)) from exc
    except USER_ERRORS as exc:
        raise fail(describe(exc)) from exc
    typer.echo(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the root app."""
    app.add_typer(audit_app, name="audit")
