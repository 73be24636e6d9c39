"""Which key may sign which checkpoint, given key rotations recorded in the log.

A rotation is an ``audit.key_rotate`` entry at index ``r`` naming the old and the new
public key, with both keys' signatures over :func:`rotation_message` (a row someone
wrote into the database without the old key does not count). It counts once a
checkpoint of size > ``r`` is validly signed by a key already trusted (the old key's
handover, or any later checkpoint of the new key). Then the old key may sign trees of
size <= r + 1 only, and the new key trees of size >= r + 1. Starting from the keys a
verifier trusts (the original key or the current one), the windows of every key in the
chain follow. ``tools/verify_audit.py`` repeats this logic
without importing idgraph.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ROTATE_ACTION = "audit.key_rotate"
ROTATE_TAG = "idgraph-audit-key-rotate/v1"
Window = tuple[int, int | None]


@dataclass(frozen=True)
class Rotation:
    index: int
    old: str
    new: str


def rotation_message(origin: str, old: str, new: str) -> bytes:
    """What both keys sign in a rotation entry (``old_sig``, ``new_sig``, hex): the old
    key hands over to the new one, and the new key's holder accepts. Without them a row
    written into the log by someone without the old key would hand trust to their key."""
    return f"{ROTATE_TAG}\n{origin}\n{old}\n{new}\n".encode()


def rotation_of(index: int, entry: str) -> Rotation | None:
    """The rotation an entry records, if it is a well-formed ``audit.key_rotate`` signed
    by both the old and the new key (:func:`rotation_message`)."""
    try:
        data = json.loads(entry)
        detail = data["detail"]
        if data["action"] != ROTATE_ACTION:
            return None
        old, new = str(detail["old_pubkey"]), str(detail["new_pubkey"])
        msg = rotation_message(str(detail.get("origin", "")), old, new)
        for key, sig in ((old, detail["old_sig"]), (new, detail["new_sig"])):
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(
                bytes.fromhex(str(sig)), msg
            )
        return Rotation(index, old, new)
    except (ValueError, KeyError, TypeError, InvalidSignature):
        return None


def in_window(windows: dict[str, Window], key: str, size: int) -> bool:
    w = windows.get(key)
    return w is not None and w[0] <= size and (w[1] is None or size <= w[1])


def key_windows(
    initial: Iterable[str], rotations: Sequence[Rotation], signed: Sequence[tuple[int, str]]
) -> dict[str, Window]:
    """Hex key -> (min size, max size or None) it may sign.

    ``signed`` lists ``(size, hex key)`` of checkpoints whose signature verifies with the
    key they name (whether that key is trusted is decided here).
    """
    windows: dict[str, Window] = {k: (0, None) for k in initial}
    done: set[int] = set()
    progress = True
    while progress:
        progress = False
        for i, r in enumerate(rotations):
            if i in done or (r.old not in windows and r.new not in windows):
                continue
            if not any(size > r.index and in_window(windows, k, size) for size, k in signed):
                continue
            windows[r.old] = (windows.get(r.old, (0, None))[0], r.index + 1)
            windows[r.new] = (r.index + 1, windows.get(r.new, (0, None))[1])
            done.add(i)
            progress = True
    return windows
