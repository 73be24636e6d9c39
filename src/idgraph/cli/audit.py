"""CLI: ``idgraph audit ...`` — verify, checkpoint, prove, export, pubkey.

Every read of the log is itself logged: ``verify`` appends an ``audit.verify`` entry
after verifying; ``prove`` and ``export`` append ``audit.read`` before reading (so an
export contains its own read); ``checkpoint`` appends ``audit.checkpoint`` first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from idgraph.audit import AuditEntry, AuditIntegrityError, AuditLog
from idgraph.audit.export import export_log
from idgraph.audit.keys import AuditKeyError, load_private_key, public_hex, public_pem
from idgraph.cli.common import console, err_console, fail, settings_of, store_of

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify, checkpoint, prove, export.",
    no_args_is_help=True,
)

AsOption = typer.Option(
    "cli", "--as", envvar="IDGRAPH_USER", help="Principal recorded for this act."
)


def _note(log: AuditLog, who: str, action: str, outcome: str, detail: dict[str, Any]) -> int:
    return log.append(AuditEntry(principal=who, action=action, outcome=outcome, detail=detail))


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    pubkey: Path | None = typer.Option(None, "--pubkey", help="Trusted public key (PEM)."),
    as_user: str = AsOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute every leaf and the tree; check every checkpoint. Exit 1 on failure."""
    data_dir = settings_of(ctx).data_dir
    with store_of(ctx) as store:
        log = AuditLog(store, data_dir)
        with err_console.status(f"verifying {log.size():,} entries"):
            try:
                result = log.verify(pubkey)
            except AuditKeyError as exc:
                raise fail(str(exc)) from exc
        detail = {
            "size": result.size,
            "root": result.root.hex(),
            "first_bad_index": result.first_bad_index,
            "first_bad_checkpoint": result.first_bad_checkpoint,
            "problems": len(result.problems),
        }
        _note(log, as_user, "audit.verify", "ok" if result.ok else "fail", detail)
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
    """Sign the current tree head (size, root, time) with the data dir's Ed25519 key."""
    with store_of(ctx) as store:
        log = AuditLog(store, settings_of(ctx).data_dir)
        try:
            _note(log, as_user, "audit.checkpoint", "ok", {"size_before": log.size()})
            cp = log.checkpoint()
        except (AuditIntegrityError, AuditKeyError) as exc:
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
        log = AuditLog(store, settings_of(ctx).data_dir)
        if index >= log.size():
            raise fail(f"no entry {index}: the log has {log.size()} entries")
        try:
            _note(log, as_user, "audit.read", "ok", {"read": "prove", "index": index})
            proof = log.prove(index)
        except (AuditIntegrityError, AuditKeyError) as exc:
            raise fail(str(exc)) from exc
        ok = proof.verify(log.public_key)
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
        log = AuditLog(store, settings_of(ctx).data_dir)
        try:
            _note(log, as_user, "audit.read", "ok", {"read": "export", "out": str(out)})
            with err_console.status(f"exporting {log.size():,} entries"):
                summary = export_log(log, out, proofs=proofs)
        except (AuditIntegrityError, AuditKeyError) as exc:
            raise fail(str(exc)) from exc
    console.print(
        f"wrote {summary.entries:,} entries, {summary.checkpoints} checkpoints, "
        f"{summary.proofs:,} proofs to {summary.path} (root {summary.root})",
        soft_wrap=True,
    )


@audit_app.command("pubkey")
def pubkey_command(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", help="Write the PEM here."),
    raw_hex: bool = typer.Option(False, "--hex", help="Print 64 hex chars, not PEM."),
) -> None:
    """The public key that checks checkpoint signatures (made at first use)."""
    key = load_private_key(settings_of(ctx).data_dir).public_key()
    text = public_hex(key) if raw_hex else public_pem(key)
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n")
        console.print(f"wrote {out}")
    else:
        console.print(text.rstrip("\n"), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the root app."""
    app.add_typer(audit_app, name="audit")
