"""The Ed25519 key that signs audit checkpoints.

The private key is made at first use in ``data_dir/audit_ed25519.pem`` with mode 0600
and never leaves that file (it is never logged or exported). The public key is what an
outside party needs to check checkpoints: as PEM or as 64 hex characters.
"""

from __future__ import annotations

import os
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


def load_private_key(data_dir: Path, *, create: bool = True) -> Ed25519PrivateKey:
    """The data dir's signing key, made (0600) on first use when ``create``."""
    path = key_path(data_dir)
    if not path.exists():
        if not create:
            raise AuditKeyError(f"no audit signing key at {path}")
        return _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path} does not hold an Ed25519 private key")
    return key


def _create(path: Path) -> Ed25519PrivateKey:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load_private_key(path.parent, create=False)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


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
