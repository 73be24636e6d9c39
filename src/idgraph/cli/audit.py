"""CLI: ``idgraph audit ...`` — verify, checkpoint, prove, export, pubkey, rotate-key, witness.

Thin shells over :mod:`idgraph.app.audit`: every act on the log is decided there
(Cedar: ``audit.verify``, ``audit.read``, ``audit.checkpoint``, ``audit.keys``) for the
user named by ``--as`` (or ``IDGRAPH_USER``); an unknown or unauthorised user gets
nothing and the refusal is logged; every read of the log is itself logged, before the
read. ``witness`` is run by an outside party with its own key and state folder; it
reads only the latest checkpoint and a consistency proof.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from idgraph.app import audit as audit_acts
from idgraph.app.errors import AppError
from idgraph.audit.keys import AuditKeyError, load_public_key
from idgraph.audit.note import NoteError
from idgraph.audit.witness import Witness, WitnessRefused
from idgraph.cli.access import cli_caller
from idgraph.cli.common import (
    USER_ERRORS,
    console,
    describe,
    err_console,
    fail,
)
from idgraph.cli.shell import app_exit, env_of

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify, checkpoint, prove, export, witness.",
    no_args_is_help=True,
)

AsOption = typer.Option(..., "--as", envvar="IDGRAPH_USER", help="Act as this user.")


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
    with env_of(ctx) as env:
        try:
            with err_console.status("verifying the log"):
                result = audit_acts.audit_verify(env, cli_caller(as_user), pubkeys=pubkey)
        except AppError as exc:
            raise app_exit(exc) from exc
    summary = result.pop("summary")
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        console.print(summary, markup=False, highlight=False, soft_wrap=True)
        for problem in result["problems"][1:10]:
            console.print(f"  {problem}", markup=False, highlight=False)
        console.print(f"({result['seconds']:.2f} s)")
    if not result["ok"]:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context, as_user: str = AsOption) -> None:
    """Check that the log extends every signed checkpoint, then sign its head."""
    with env_of(ctx) as env:
        try:
            cp = audit_acts.audit_sign_checkpoint(env, cli_caller(as_user))
        except AppError as exc:
            raise app_exit(exc) from exc
    typer.echo(json.dumps(cp.to_json(), indent=2))


@audit_app.command("prove")
def prove_command(
    ctx: typer.Context,
    index: int = typer.Argument(..., min=0, help="Entry index (0-based)."),
    as_user: str = AsOption,
    as_json: bool = typer.Option(False, "--json", help="Print the proof as JSON."),
) -> None:
    """Inclusion proof of one entry against the latest checkpoint covering it."""
    with env_of(ctx) as env:
        try:
            proof = audit_acts.audit_prove(env, cli_caller(as_user), index)
        except AppError as exc:
            raise app_exit(exc) from exc
    ok = bool(proof["verified"])
    if as_json:
        typer.echo(json.dumps(proof, indent=2))
    else:
        cp = proof["checkpoint"]
        console.print(
            f"entry {index} in checkpoint {cp['id']} (size {cp['size']}, root "
            f"{cp['root']}): {'verified' if ok else 'DOES NOT VERIFY'}",
            soft_wrap=True,
        )
        for step in proof["path"]:
            console.print(f"  {step}")
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
    with env_of(ctx) as env:
        try:
            with err_console.status("exporting the log"):
                summary = audit_acts.audit_export_file(env, cli_caller(as_user), out,
                                                       proofs=proofs)
        except AppError as exc:
            raise app_exit(exc) from exc
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
    form: Literal["vkey", "pem", "hex"] = "hex" if raw_hex else "vkey" if vkey else "pem"
    with env_of(ctx) as env:
        try:
            text = audit_acts.audit_pubkey(env, cli_caller(None), form=form)
        except AppError as exc:
            raise app_exit(exc) from exc
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n")
        console.print(f"wrote {out}", markup=False)
    else:
        console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)


@audit_app.command("rotate-key")
def rotate_key_command(ctx: typer.Context, as_user: str = AsOption) -> None:
    """Replace the signing key: the old key signs an ``audit.key_rotate`` entry naming
    both keys; then the new key (encrypted if a passphrase is set) takes over."""
    with env_of(ctx) as env:
        try:
            said = audit_acts.audit_rotate_key(env, cli_caller(as_user))
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(said, soft_wrap=True)


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
        with env_of(ctx) as env:
            result = audit_acts.audit_witness(env, w)
    except AppError as exc:
        raise fail(str(exc)) from exc
    except (WitnessRefused, NoteError, AuditKeyError) as exc:
        raise fail(str(exc)) from exc
    except USER_ERRORS as exc:
        raise fail(describe(exc)) from exc
    typer.echo(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the root app."""
    app.add_typer(audit_app, name="audit")
