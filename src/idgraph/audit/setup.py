"""The audit log of a deployment, configured from :class:`~idgraph.settings.Settings`.

:func:`log_for` builds the :class:`AuditLog` (key path, passphrase, origin, publication
folder); :func:`attach` also turns on automatic checkpoints for the store, so every
shell that opens the store with settings signs checkpoints at least every
``checkpoint_every_entries`` entries or ``checkpoint_every_seconds`` seconds.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from idgraph.audit.auditlog import AuditLog
from idgraph.audit.keys import key_path
from idgraph.audit.log import enable_auto_checkpoints
from idgraph.audit.publish import FOLDER
from idgraph.settings import Settings
from idgraph.store import Store


def _passphrase(settings: Settings, path: Path, prompt: bool) -> bytes | None:
    if settings.audit_key_passphrase is not None:
        return settings.audit_key_passphrase.get_secret_value().encode()
    encrypted = path.exists() and b"ENCRYPTED" in path.read_bytes()[:64]
    if encrypted and prompt and sys.stdin.isatty():
        return getpass.getpass(f"passphrase for {path}: ").encode()
    return None


def log_for(store: Store, settings: Settings, *, prompt: bool = True) -> AuditLog:
    """The deployment's audit log over ``store``."""
    path = settings.audit_key_path or key_path(settings.data_dir)
    return AuditLog(
        store,
        settings.data_dir,
        key_path=path,
        passphrase=lambda: _passphrase(settings, path, prompt),
        origin=settings.audit_origin,
        publication=settings.audit_publication_dir or settings.data_dir / FOLDER,
    )


def attach(store: Store, settings: Settings) -> AuditLog:
    """:func:`log_for`, with automatic checkpoints on append turned on."""
    log = log_for(store, settings, prompt=False)
    enable_auto_checkpoints(
        store,
        log,
        every_entries=settings.checkpoint_every_entries,
        every_seconds=settings.checkpoint_every_seconds,
    )
    return log
