"""Which key may sign which checkpoint, given key rotations recorded in the log.

A rotation is an ``audit.key_rotate`` entry at index ``r`` naming the old and the new
public key. It counts once a checkpoint of size > ``r`` is validly signed by a key
already trusted (the old key's handover, or any later checkpoint of the new key). Then
the old key may sign trees of size <= r + 1 only, and the new key trees of size >= r + 1.
Starting from the keys a verifier trusts (the original key or the current one), the
windows of every key in the chain follow. ``tools/verify_audit.py`` repeats this logic
without importing idgraph.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ROTATE_ACTION = "audit.key_rotate"
Window = tuple[int, int | None]


@dataclass(frozen=True)
class Rotation:
    index: int
    old: str
    new: str


def rotation_of(index: int, entry: str) -> Rotation | None:
    """The rotation an entry records, if it is a well-formed ``audit.key_rotate``."""
    try:
        data = json.loads(entry)
        detail = data["detail"]
        if data["action"] != ROTATE_ACTION:
            return None
        return Rotation(index, str(detail["old_pubkey"]), str(detail["new_pubkey"]))
    except (ValueError, KeyError, TypeError):
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
