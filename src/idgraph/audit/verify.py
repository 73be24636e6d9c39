"""Full verification of the stored audit log.

Recomputes every leaf hash from the stored entry bytes, checks the sequence is gapless,
the hash chain unbroken and times non-decreasing, rebuilds the Merkle tree, and checks
every checkpoint's signature, root, size and time and the consistency between
consecutive checkpoints. Each problem names the entry index (or checkpoint id) it is
about; :attr:`VerifyResult.first_bad_index` is the first altered, removed or inserted
entry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from idgraph.audit import merkle, publish, trust
from idgraph.audit.checkpoint import Checkpoint, load_checkpoints
from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.keys import load_public_key, public_hex
from idgraph.audit.log import GENESIS_CHAIN, ensure_tables
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo

MAX_PROBLEMS = 1000
_CHUNK = 50_000


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``kind`` (e.g. ``leaf``, ``chain``, ``time``, ``checkpoint.root``)."""

    kind: str
    message: str
    index: int | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = f"entry {self.index}" if self.index is not None else ""
        if self.checkpoint is not None:
            where = f"{where}{', ' if where else ''}checkpoint {self.checkpoint}"
        return f"{where}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify_log`."""

    size: int
    root: bytes
    checkpoints: int
    problems: tuple[Problem, ...]
    seconds: float
    signed: int = 0  # entries covered by the latest checkpoint that verified

    @property
    def unsigned(self) -> int:
        """Entries after the latest good checkpoint: not yet committed to by a signature."""
        return self.size - self.signed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        found = [p.index for p in self.problems if p.index is not None]
        return min(found) if found else None

    @property
    def first_bad_checkpoint(self) -> int | None:
        found = [p.checkpoint for p in self.problems if p.checkpoint is not None]
        return min(found) if found else None

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        if self.ok:
            tail = (
                f"; {self.unsigned} after the last checkpoint, not yet signed"
                if self.unsigned
                else ""
            )
            return (
                f"OK: {self.size} entries, {self.checkpoints} checkpoints, root "
                f"{self.root.hex()}{tail}"
            )
        return f"FAIL: {self.first_problem} ({len(self.problems)} problems)"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "checkpoints": self.checkpoints,
            "signed": self.signed,
            "unsigned": self.unsigned,
            "first_bad_index": self.first_bad_index,
            "first_bad_checkpoint": self.first_bad_checkpoint,
            "problems": [str(p) for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


def _parse_time(text: str | None) -> datetime | None:
    """The entry's time (extracted from its JSON by DuckDB; None when unreadable)."""
    try:
        t = datetime.fromisoformat(text) if text is not None else None
    except ValueError:
        return None
    return t if t is not None and t.tzinfo is not None else None


@dataclass
class _Scanner:
    """Walks stored rows in seq order, recomputing leaves and checking chain and time."""

    floors: list[tuple[int, datetime, int]]  # (size, time, checkpoint id), by size
    needed: set[int]  # indexes whose time a checkpoint check needs
    leaves: list[bytes] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    times: dict[int, datetime] = field(default_factory=dict)
    expected: int = 0
    chain: bytes = GENESIS_CHAIN
    chain_before: bytes | None = None
    last_time: datetime | None = None
    floor: tuple[datetime, int] | None = None

    def add(self, kind: str, index: int, message: str) -> None:
        self.problems.append(Problem(kind, message, index=index))

    def feed(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Check rows ``(seq, entry, leaf_hex, chain_hex, time_text)`` in seq order."""
        sha = hashlib.sha256
        leaves, expected, chain, before = self.leaves, self.expected, self.chain, self.chain_before
        for seq, entry, leaf_hex, chain_hex, when in rows:
            pos = len(leaves)
            if seq != expected:
                self._sequence(pos, expected, seq)
            expected = seq + 1
            leaf = sha(b"\x00" + entry.encode()).digest()
            if leaf.hex() != leaf_hex:
                self.add("leaf", pos, "entry bytes do not hash to the stored leaf hash")
            want = sha(chain + leaf).digest()
            if chain_hex == want.hex():
                before, chain = chain, want
            else:
                before, chain = chain, self._chain_problem(pos, leaf, chain_hex, before, want)
            self._check_time(pos, when)
            leaves.append(leaf)
        self.expected, self.chain, self.chain_before = expected, chain, before

    def _sequence(self, pos: int, expected: int, seq: int) -> None:
        if seq > expected:
            self.add("sequence", expected, f"entries {expected}..{seq - 1} missing")
        else:
            self.add("sequence", pos, f"sequence number {seq} repeated")

    def _chain_problem(
        self, pos: int, leaf: bytes, chain_hex: str | None, before: bytes | None, want: bytes
    ) -> bytes:
        """Record a broken link; return the chain value the next row should build on."""
        try:
            stored = bytes.fromhex(chain_hex or "")
        except ValueError:
            stored = b""
        if before is not None and stored == hashlib.sha256(before + leaf).digest():
            msg = f"not in the hash chain: entry {pos} follows {pos - 2}"
            self.add("inserted", pos - 1, msg)
        else:
            self.add("chain", pos, "hash chain broken (row altered, moved or inserted)")
        return stored if len(stored) == 32 else want

    def _check_time(self, pos: int, when: str | None) -> None:
        t = _parse_time(when)
        if t is None:
            self.add("time", pos, "time missing or unreadable")
            return
        if pos in self.needed:
            self.times[pos] = t
        if self.last_time is not None and t < self.last_time:
            self.add("time", pos, f"back-dated: {t.isoformat()} is before entry {pos - 1}")
        while self.floors and self.floors[0][0] <= pos:
            _, ftime, fid = self.floors.pop(0)
            if self.floor is None or ftime >= self.floor[0]:
                self.floor = (ftime, fid)
        if self.floor is not None and t < self.floor[0]:
            self.add("time", pos, f"back-dated: before checkpoint {self.floor[1]} was signed")
        self.last_time = t


def _own_signature(cp: Checkpoint) -> bool:
    try:
        return cp.signed_by(Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.pubkey)))
    except ValueError:
        return False


def _signed(
    cps: list[Checkpoint], keys: list[Ed25519PublicKey], rotations: list[trust.Rotation]
) -> list[Problem]:
    """Signature problems: each checkpoint must verify with a trusted key, within the
    sizes that key may sign (key rotations recorded in the log extend the trust)."""
    problems: list[Problem] = []
    given = [public_hex(k) for k in keys]
    windows = trust.key_windows(
        given, rotations, [(cp.size, cp.pubkey) for cp in cps if _own_signature(cp)]
    )
    for pos, cp in enumerate(cps):
        if cp.id != pos:
            problems.append(
                Problem("checkpoint.order", f"id {cp.id} at position {pos}", checkpoint=cp.id)
            )
        signer = cp.pubkey if cp.pubkey in windows else (given[0] if len(given) == 1 else None)
        if not keys:
            problems.append(Problem("checkpoint.signature", "no public key", checkpoint=cp.id))
        elif signer is None or not cp.signed_by(load_public_key(signer)):
            problems.append(Problem("checkpoint.signature", "bad signature", checkpoint=cp.id))
        elif not trust.in_window(windows, signer, cp.size):
            msg = f"signed by key {signer[:16]}... outside the sizes it may sign (rotated)"
            problems.append(Problem("checkpoint.key", msg, checkpoint=cp.id))
        elif signer != cp.pubkey:
            msg = f"the row names key {cp.pubkey[:16]}... but {signer[:16]}... signed it (edited)"
            problems.append(Problem("checkpoint.pubkey", msg, checkpoint=cp.id))
    return problems


def _rotations(repo: AuditRepo) -> tuple[list[trust.Rotation], list[Problem]]:
    """Rotations recorded in the log; a rotation entry not signed by both keys is a
    problem (it hands over nothing)."""
    found, problems = [], []
    for seq, e in repo.entries_with_action(trust.ROTATE_ACTION):
        r = trust.rotation_of(int(seq), e)
        if r is None:
            msg = "a key rotation not signed by both keys: it hands over nothing"
            problems.append(Problem("rotation", msg, index=int(seq)))
        else:
            found.append(r)
    return found, problems


def _check_checkpoint(
    cp: Checkpoint,
    prev: Checkpoint | None,
    levels: merkle.MerkleLevels,
    times: dict[int, datetime],
) -> Problem | None:
    """Check one validly signed checkpoint against the recomputed tree and its
    predecessor; return the first problem."""
    n, lo = levels.size, prev.size if prev else 0
    if cp.size > n:
        msg = f"signed {cp.size} entries but the log holds {n}: entries from {n} removed"
        return Problem("checkpoint.size", msg, index=n, checkpoint=cp.id)
    if levels.root(cp.size) != cp.root:
        msg = f"entries in [{lo}, {cp.size}) differ from the signed tree head"
        return Problem("checkpoint.root", msg, checkpoint=cp.id)
    signed_at = datetime.fromisoformat(cp.time)
    last = times.get(cp.size - 1)
    if last is not None and last > signed_at:
        msg = f"entry {cp.size - 1} is dated after the checkpoint was signed"
        return Problem("checkpoint.time", msg, checkpoint=cp.id)
    if prev is None:
        return None
    if cp.size < prev.size or signed_at < datetime.fromisoformat(prev.time):
        msg = f"smaller or older than checkpoint {prev.id}"
        return Problem("checkpoint.order", msg, checkpoint=cp.id)
    path = levels.consistency_path(prev.size, cp.size)
    if not merkle.verify_consistency(prev.size, cp.size, prev.root, cp.root, path):
        msg = f"not consistent with checkpoint {prev.id}"
        return Problem("checkpoint.consistency", msg, checkpoint=cp.id)
    return None


def _published(folder: Path, cps: list[Checkpoint]) -> list[Problem]:
    """Every checkpoint in the publication folder is in the database, unchanged."""
    problems: list[Problem] = []
    stored = {cp.id: cp for cp in cps}
    for cid in publish.published_ids(folder):
        try:
            n = publish.read_published(folder, cid)
        except AuditIntegrityError as exc:
            problems.append(Problem("checkpoint.published", str(exc), checkpoint=cid))
            continue
        cp = stored.get(cid)
        mine = cp.parsed() if cp is not None else None
        if cp is None:
            msg = "published, but not in the database: checkpoint rows were deleted"
        elif mine is None or mine.body != n.body:
            msg = "the database row differs from the published checkpoint (edited)"
        else:
            continue
        problems.append(Problem("checkpoint.published", msg, checkpoint=cid))
    return problems


KeySpec = Ed25519PublicKey | Path | str | bytes


def verify_log(
    store: Store,
    pubkey: KeySpec | list[KeySpec] | None = None,
    *,
    publication: Path | None = None,
) -> VerifyResult:
    """Verify the whole log in ``store`` against the trusted checkpoint key(s) ``pubkey``
    (the original or the current key; rotations recorded in the log link the others),
    and, given the ``publication`` folder, that every checkpoint published is stored."""
    started = time.perf_counter()
    ensure_tables(store)
    specs = pubkey if isinstance(pubkey, list) else [] if pubkey is None else [pubkey]
    keys = [load_public_key(k) for k in specs]
    malformed: list[tuple[int, str]] = []
    repo = AuditRepo(store)
    fresh = not store.in_transaction
    with store.transaction():  # one snapshot for entries and checkpoints
        if fresh:
            repo.snapshot()
        cps = load_checkpoints(store, malformed)
        rotations, rotation_problems = _rotations(repo)
        sig_problems = rotation_problems + _signed(cps, keys, rotations)
        bad_sig = {
            p.checkpoint
            for p in sig_problems
            if p.kind in ("checkpoint.signature", "checkpoint.key")
        }
        good = [cp for cp in cps if cp.id not in bad_sig]
        floors = sorted((cp.size, datetime.fromisoformat(cp.time), cp.id) for cp in good)
        scan = _Scanner(floors=floors, needed={cp.size - 1 for cp in good})
        for rows in repo.scan(_CHUNK):
            scan.feed(rows)
    levels = merkle.MerkleLevels(scan.leaves)
    cp_problems = [
        Problem("checkpoint.malformed", m.split(": ", 1)[-1], checkpoint=c) for c, m in malformed
    ]
    cp_problems += sig_problems
    if publication is not None:
        cp_problems += _published(publication, cps)
    prev: Checkpoint | None = None
    for cp in good:
        problem = _check_checkpoint(cp, prev, levels, scan.times)
        if problem is not None:
            cp_problems.append(problem)
        else:
            prev = cp
    entry_problems = sorted(scan.problems, key=lambda p: p.index or 0)
    problems = (entry_problems + cp_problems)[:MAX_PROBLEMS]
    return VerifyResult(
        size=levels.size,
        root=levels.root(),
        checkpoints=len(cps),
        problems=tuple(problems),
        seconds=time.perf_counter() - started,
        signed=prev.size if prev is not None else 0,
    )
