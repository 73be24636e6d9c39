"""The Ed25519 key that signs audit checkpoints.

The private key is made at first use in ``data_dir/audit_ed25519.pem`` (or at the
``IDGRAPH_AUDIT_KEY_PATH`` a deployment sets, e.g. outside the data dir) with mode 0600
and never leaves that file (it is never logged or exported). With a passphrase
(``IDGRAPH_AUDIT_KEY_PASSPHRASE`` or a prompt) the PEM is encrypted
(``BestAvailableEncryption``). The public key is what an outside party needs to check
checkpoints: as PEM, as 64 hex characters or as a signed-note verifier key.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_FILE = "audit_ed25519.pem"


class AuditKeyError(Exception):
    """The signing key is missing, unreadable or too widely readable."""


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE


def load_private_key(
    data_dir: Path | None = None,
    *,
    create: bool = True,
    path: Path | None = None,
    passphrase: bytes | None = None,
) -> Ed25519PrivateKey:
    """The signing key at ``path`` (default: the data dir's), made (0600) on first use
    when ``create``; encrypted with ``passphrase`` when one is given."""
    if path is None:
        if data_dir is None:
            raise AuditKeyError("no audit key path and no data dir")
        path = key_path(data_dir)
    if not path.exists():
        if not create:
            raise AuditKeyError(f"no audit signing key at {path}")
        return _create(path, passphrase)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the key ({exc.strerror or exc})") from None
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError as exc:  # encrypted without a passphrase, or the reverse
        raise AuditKeyError(
            f"{path}: {'a passphrase is needed' if passphrase is None else 'not encrypted'} "
            "(IDGRAPH_AUDIT_KEY_PASSPHRASE)"
        ) from exc
    except ValueError as exc:
        raise AuditKeyError(f"{path}: cannot decrypt or parse the key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path} does not hold an Ed25519 private key")
    return key


def private_pem(key: Ed25519PrivateKey, passphrase: bytes | None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _create(path: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    """Make the key file whole or not at all (written beside it, then hard-linked into
    place): processes starting at once all use the one key that landed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem(key, passphrase))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: use theirs
            return load_private_key(path=path, create=False, passphrase=passphrase)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def pending_path(path: Path) -> Path:
    """Where a rotation stages the new key before the database commits it."""
    return path.with_name(path.name + ".next")


def stage_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> Path:
    """Write ``key`` (0600, encrypted with ``passphrase``) next to the key file, before a
    rotation commits: a crash between the commit and the key file's replacement then
    leaves the new key on disk (:meth:`AuditLog.key` adopts it), never lost."""
    pending = pending_path(path)
    pending.unlink(missing_ok=True)
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem(key, passphrase))
        fh.flush()
        os.fsync(fh.fileno())
    return pending


def replace_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    """Atomically replace the key file at ``path`` with ``key`` (mode 0600)."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem(key, passphrase))
    os.replace(tmp, path)


def public_pem(key: Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM of ``key``."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_hex(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key as 64 hex characters."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def load_public_key(spec: Ed25519PublicKey | Path | str | bytes) -> Ed25519PublicKey:
    """A public key from a key object, a PEM file path, PEM text, raw bytes or hex."""
    if isinstance(spec, Ed25519PublicKey):
        return spec
    if isinstance(spec, Path):
        return load_public_key(spec.read_bytes())
    data = spec.encode() if isinstance(spec, str) else spec
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise AuditKeyError("PEM does not hold an Ed25519 public key")
        return key
    if len(text) == 64:
        try:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode()))
        except ValueError:
            pass
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    if isinstance(spec, str) and Path(spec).is_file():
        return load_public_key(Path(spec))
    raise AuditKeyError("not an Ed25519 public key (expected PEM, a PEM file, or 64 hex chars)")
