"""The append-only publication folder oversight bodies mirror.

Layout (every file written once, never overwritten)::

    checkpoints/00000042.txt              the signed note of checkpoint 42 (log signature)
    checkpoints/00000042.<witness>.txt    the same note with a witness's cosignature added
    keys/<origin>.<keyid>.vkey            the log's verifier key(s): name+keyid+base64 key
    keys/<origin>.<keyid>.pem             the same public key as PEM
    witnesses/<name>.<keyid>.vkey         witness verifier keys

A mirror that copies new files and never deletes any keeps every checkpoint the log
ever published; a later rewrite or rollback of the log is then inconsistent with the
mirror (``tools/verify_audit.py --checkpoint FILE``). Writing a file that exists with
different content raises: the folder never changes what it once said.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from idgraph.audit import note
from idgraph.audit.checkpoint import Checkpoint
from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.keys import public_pem

FOLDER = "audit-publication"
_NAME = re.compile(r"^(\d{8,})\.txt$")


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def write_once(path: Path, text: str) -> bool:
    """Create ``path`` with ``text``; False if it already holds exactly that text.

    The file appears whole or not at all (written beside it, then hard-linked into
    place): processes publishing the same checkpoint at once never read a half-written
    file as "different content"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return _same(path, text)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _same(path, text)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _same(path: Path, text: str) -> bool:
    if path.read_text(encoding="utf-8") == text:
        return False
    raise AuditIntegrityError(
        f"{path} exists with different content: the publication folder is append-only"
    )


def checkpoint_path(folder: Path, cid: int, witness: str | None = None) -> Path:
    suffix = f".{safe(witness)}" if witness else ""
    return folder / "checkpoints" / f"{cid:08d}{suffix}.txt"


def publish_key(folder: Path, name: str, key: Ed25519PublicKey, kind: int = note.ED25519) -> None:
    sub = "keys" if kind == note.ED25519 else "witnesses"
    stem = f"{safe(name)}.{note.key_id(name, key, kind).hex()}"
    write_once(folder / sub / f"{stem}.vkey", note.vkey(name, key, kind) + "\n")
    write_once(folder / sub / f"{stem}.pem", public_pem(key))


def publish_checkpoints(folder: Path, cps: list[Checkpoint]) -> int:
    """Write every signed-note checkpoint not yet in the folder; return how many.

    The published file holds the log's signature only; cosignatures go to their own
    files (:func:`publish_cosigned`), so no published file ever changes.
    """
    written = 0
    for cp in cps:
        n = cp.parsed()
        if n is None:
            continue  # legacy checkpoints predate the folder
        path = checkpoint_path(folder, cp.id)
        if path.exists():
            continue
        own = tuple(s for s in n.signatures if s.name == n.origin)
        written += write_once(path, note.Note(n.body, n.origin, n.size, n.root, n.time, own).text())
    return written


def publish_cosigned(folder: Path, cid: int, witness: str, text: str) -> Path:
    path = checkpoint_path(folder, cid, witness)
    write_once(path, text)
    return path


def published_ids(folder: Path) -> list[int]:
    """Ids of the checkpoints in the folder (log-signed files only), ascending."""
    sub = folder / "checkpoints"
    if not sub.is_dir():
        return []
    return sorted(int(m.group(1)) for p in sub.iterdir() if (m := _NAME.match(p.name)))


def read_published(folder: Path, cid: int) -> note.Note:
    """Checkpoint ``cid`` as published; :class:`AuditIntegrityError` if it is not a note."""
    path = checkpoint_path(folder, cid)
    try:
        return note.parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # NoteError, UnicodeDecodeError are ValueErrors
        raise AuditIntegrityError(
            f"published checkpoint {cid}: {path} is not a readable checkpoint note ({exc}): "
            "the publication folder was altered"
        ) from None


def latest_published(folder: Path) -> tuple[int, note.Note] | None:
    """The highest-numbered checkpoint in the folder (id and parsed note), if any."""
    ids = published_ids(folder)
    if not ids:
        return None
    return ids[-1], read_published(folder, ids[-1])
