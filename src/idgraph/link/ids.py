"""Persistent identity ids: maximum-overlap mapping from the previous clustering.

A new cluster takes the id of the old identity with which it shares the most records
(ties: the smaller old id, then the cluster's smallest record id); each old id goes to
at most one new cluster. Clusters left without an id get a fresh one derived from
their smallest record id under the deployment's key (``Store.secret("identity-ids")``):
an id shown to a reader must not tell which record is an identity's smallest, since
record ids (``source/local id``) are often guessable and the record may be one the
reader's purpose may not use. Lineage events are returned for ``identity_lineage``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class LineageEvent:
    identity_id: str
    event: str  # new | kept | merged | split | retired
    related: tuple[str, ...]


_BASE32: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE32_PAIRS: Final = [a + b for a in _BASE32 for b in _BASE32]  # by 10-bit value


def _base32_head(digest: bytes) -> str:
    """``base64.b32encode(digest)[:10]``: the top 50 bits, 5 per character (the
    standard library's encoder is pure Python and builds all 52 characters)."""
    bits = int.from_bytes(digest[:8], "big") >> 14
    pairs = _BASE32_PAIRS
    return (pairs[bits >> 40] + pairs[(bits >> 30) & 1023] + pairs[(bits >> 20) & 1023]
            + pairs[(bits >> 10) & 1023] + pairs[bits & 1023])


# callers without a store (tests) key with one drawn for the process
_PROCESS_KEY: Final = secrets.token_bytes(32)
ID_KEY: Final = "identity-ids"  # Store.secret name


def new_id(seed: str, taken: set[str], key: bytes = _PROCESS_KEY) -> str:
    """'P-' + 10 base32 characters, deterministic from ``seed`` under ``key`` (HMAC-
    SHA256), never in ``taken``."""
    salt = 0
    while True:
        digest = hmac.new(key, f"{seed}#{salt}".encode(), hashlib.sha256).digest()
        ident = "P-" + _base32_head(digest)
        if ident not in taken:
            return ident
        salt += 1


def _old_ids_per_cluster(
    clusters: Sequence[Sequence[str]], old: Mapping[str, str]
) -> list[Counter[str]]:
    if not old:
        return [Counter() for _ in clusters]
    return [Counter(old[r] for r in members if r in old) for members in clusters]


def assign_ids(
    clusters: Sequence[Sequence[str]], old: Mapping[str, str], key: bytes = _PROCESS_KEY
) -> tuple[list[str], list[LineageEvent]]:
    """Ids for ``clusters`` (lists of record ids) given ``old`` record -> identity id."""
    overlaps = _old_ids_per_cluster(clusters, old)
    keys = [min(members) for members in clusters]
    candidates = sorted(
        ((-n, old_id, keys[c], c) for c, counts in enumerate(overlaps)
         for old_id, n in counts.items()),
    )
    ids: list[str | None] = [None] * len(clusters)
    used: set[str] = set()
    for _neg, old_id, _key, c in candidates:
        if ids[c] is None and old_id not in used:
            ids[c] = old_id
            used.add(old_id)
    taken = set(old.values()) | used
    for c in sorted(range(len(clusters)), key=keys.__getitem__):
        if ids[c] is None:
            ident = new_id(keys[c], taken, key)
            ids[c] = ident
            taken.add(ident)
    final = [i for i in ids if i is not None]
    return final, _lineage(clusters, final, overlaps, old)


def _lineage(
    clusters: Sequence[Sequence[str]],
    ids: list[str],
    overlaps: list[Counter[str]],
    old: Mapping[str, str],
) -> list[LineageEvent]:
    old_sizes = Counter(old.values())
    pieces: dict[str, list[str]] = defaultdict(list)  # old id -> new ids holding its records
    for c, counts in enumerate(overlaps):
        for old_id in counts:
            pieces[old_id].append(ids[c])
    events: list[LineageEvent] = []
    for c, counts in enumerate(overlaps):
        ident = ids[c]
        others = tuple(sorted(o for o in counts if o != ident))
        if not counts:
            events.append(LineageEvent(ident, "new", ()))
        elif ident not in counts:
            events.append(LineageEvent(ident, "split", tuple(sorted(counts))))
        elif others:
            events.append(LineageEvent(ident, "merged", others))
        elif counts[ident] != old_sizes[ident] or len(clusters[c]) != counts[ident]:
            events.append(LineageEvent(ident, "kept", ()))
    kept = set(ids)
    for old_id in sorted(old_sizes):
        if old_id not in kept:
            events.append(LineageEvent(old_id, "retired", tuple(sorted(set(pieces[old_id])))))
    return events
