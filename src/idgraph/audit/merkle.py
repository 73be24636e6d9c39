"""Merkle tree hashing, inclusion and consistency proofs per RFC 9162 §2.1.

Everything here is pure and works on bytes. Leaves are hashed as
``SHA-256(0x00 || entry)`` and interior nodes as ``SHA-256(0x01 || left || right)``.
The tree over ``n`` leaves splits at the largest power of two smaller than ``n``.

:class:`MerkleLevels` keeps every complete (perfect) subtree hash, level by level, so
roots of any prefix, inclusion and consistency proofs cost O(log² n) hashes instead of
rehashing the whole log. The module-level functions are thin wrappers over it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleLevels:
    """Perfect-subtree hashes of a growing tree: ``levels[k][i]`` covers leaves
    ``[i * 2**k, (i + 1) * 2**k)``. Appending is amortised O(1) hashes per leaf."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        self._memo: dict[tuple[int, int], bytes] = {}  # non-perfect subtrees: immutable
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaf hashes at the end and hash every subtree they complete."""
        self.levels[0].extend(leaf_hashes)
        k = 0
        while len(self.levels[k]) >= 2:
            if len(self.levels) == k + 1:
                self.levels.append([])
            below, above = self.levels[k], self.levels[k + 1]
            start = 2 * len(above)
            above.extend(
                hashlib.sha256(b"\x01" + below[i] + below[i + 1]).digest()
                for i in range(start, len(below) - 1, 2)
            )
            k += 1

    def truncate(self, size: int) -> None:
        """Forget leaves from ``size`` on (and every subtree that covered them)."""
        for k, level in enumerate(self.levels):
            del level[size >> k :]
        self._memo = {r: h for r, h in self._memo.items() if r[1] <= size}

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for ranges the RFC recursion produces (``start`` aligned)."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        got = self._memo.get((start, end))
        if got is None:
            k = split_point(n)
            got = node_hash(self.subtree(start, start + k), self.subtree(start + k, end))
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[(start, end)] = got
        return got

    def root(self, size: int | None = None) -> bytes:
        """The tree head of the first ``size`` leaves (default: all)."""
        n = self.size if size is None else size
        self._check_size(n)
        return self.subtree(0, n)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), leaf-most sibling first."""
        n = self.size if size is None else size
        self._check_size(n)
        if not 0 <= index < n:
            raise ValueError(f"index {index} outside tree of size {n}")
        path: list[bytes] = []
        start, end = 0, n
        while end - start > 1:
            k = split_point(end - start)
            if index < start + k:
                path.append(self.subtree(start + k, end))
                end = start + k
            else:
                path.append(self.subtree(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_path(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:size])."""
        n = self.size if size is None else size
        self._check_size(n)
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} not within 0..{n}")
        if old_size in (0, n):
            return []
        path: list[bytes] = []
        start, end, m, complete = 0, n, old_size, True
        while m != end - start:
            k = split_point(end - start)
            if m <= k:
                path.append(self.subtree(start + k, end))
                end = start + k
            else:
                path.append(self.subtree(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            path.append(self.subtree(start, end))
        path.reverse()
        return path

    def _check_size(self, n: int) -> None:
        if not 0 <= n <= self.size:
            raise ValueError(f"size {n} outside 0..{self.size}")


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (RFC 9162 §2.1.1)."""
    return MerkleLevels(leaf_hashes).root()


def inclusion_path(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree over ``leaf_hashes``."""
    return MerkleLevels(leaf_hashes).inclusion_path(index)


def consistency_path(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Proof that the first ``old_size`` leaves are a prefix of ``leaf_hashes``."""
    return MerkleLevels(leaf_hashes).consistency_path(old_size)


def verify_inclusion(
    index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove ``leaf`` at ``index`` under ``root_hash``?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does ``path`` prove tree ``old_size`` is a prefix of ``size``?"""
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path
    if not path:
        return False
    nodes = list(path)
    if old_size & (old_size - 1) == 0:
        nodes.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
