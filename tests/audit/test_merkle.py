"""RFC 9162 Merkle hashing, checked against a naive recursive reference and known vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.audit import merkle


# -- the naive reference: RFC 9162 §2.1 definitions, transcribed recursively ----------
def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = 1
    while k * 2 < len(d):
        k *= 2
    return _h(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def _entries(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def _leaves(d: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(x) for x in d]


# -- known values --------------------------------------------------------------------
CASES = [
    # (entries, expected root hex) — RFC 6962/9162 test vectors use these leaf inputs
    ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ([b""], "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    ([b"\x00"], "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
    (
        [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            bytes(range(0x50, 0x58)),
            bytes(range(0x60, 0x70)),
        ],
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ),
]


@pytest.mark.parametrize(("entries", "root_hex"), CASES)
def test_known_roots(entries: list[bytes], root_hex: str) -> None:
    assert merkle.root(_leaves(entries)).hex() == root_hex
    assert ref_mth(entries).hex() == root_hex


SPLIT_CASES = [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)]


@pytest.mark.parametrize(("n", "k"), SPLIT_CASES)
def test_split_point(n: int, k: int) -> None:
    assert merkle.split_point(n) == k


# -- properties against the reference --------------------------------------------------
sizes = st.integers(min_value=1, max_value=70)


@settings(max_examples=60, deadline=None)
@given(n=sizes, data=st.data())
def test_inclusion_matches_reference_and_verifies(n: int, data: st.DataObject) -> None:
    d = _entries(n)
    leaves = _leaves(d)
    m = data.draw(st.integers(0, n - 1))
    path = merkle.inclusion_path(m, leaves)
    assert path == ref_path(m, d)
    root = ref_mth(d)
    assert merkle.root(leaves) == root
    assert merkle.verify_inclusion(m, n, leaves[m], path, root)
    # a wrong leaf, index or path element fails
    assert not merkle.verify_inclusion(m, n, merkle.leaf_hash(b"forged"), path, root)
    if n > 1:
        assert not merkle.verify_inclusion((m + 1) % n, n, leaves[m], path, root)
        bad = [*path]
        bad[0] = bytes(32)
        assert not merkle.verify_inclusion(m, n, leaves[m], bad, root)


@settings(max_examples=60, deadline=None)
@given(n=sizes, data=st.data())
def test_consistency_matches_reference_and_verifies(n: int, data: st.DataObject) -> None:
    d = _entries(n)
    leaves = _leaves(d)
    m = data.draw(st.integers(1, n))
    path = merkle.consistency_path(m, leaves)
    assert path == (ref_subproof(m, d, True) if m < n else [])
    old, new = ref_mth(d[:m]), ref_mth(d)
    assert merkle.verify_consistency(m, n, old, new, path)
    forged_old = ref_mth([*d[: m - 1], b"forged"])
    assert not merkle.verify_consistency(m, n, forged_old, new, path)
    if m < n:
        assert not merkle.verify_consistency(m, n, old, ref_mth([*d[:-1], b"x"]), path)


@settings(max_examples=40, deadline=None)
@given(n=sizes, data=st.data())
def test_levels_prefix_roots_and_incremental_growth(n: int, data: st.DataObject) -> None:
    d = _entries(n)
    leaves = _leaves(d)
    cut = data.draw(st.integers(0, n))
    levels = merkle.MerkleLevels(leaves[:cut])
    levels.extend(leaves[cut:])
    size = data.draw(st.integers(0, n))
    assert levels.root(size) == ref_mth(d[:size])
    levels.truncate(size)
    assert levels.size == size
    assert levels.root() == ref_mth(d[:size])


ERROR_CASES = [
    ("inclusion_path", (5, 5)),
    ("inclusion_path", (-1, 5)),
    ("consistency_path", (6, 5)),
    ("root", (6,)),
]


@pytest.mark.parametrize(("method", "args"), ERROR_CASES)
def test_out_of_range_arguments_raise(method: str, args: tuple[int, ...]) -> None:
    levels = merkle.MerkleLevels(_leaves(_entries(5)))
    with pytest.raises(ValueError):
        getattr(levels, method)(*args)


VERIFY_EDGE_CASES: list[tuple[int, int, bool, list[bytes], bool]] = [
    # (old, new, same roots?, path, expected)
    (3, 3, True, [], True),
    (3, 3, False, [], False),
    (0, 4, False, [], True),
    (2, 4, False, [], False),
    (5, 3, True, [], False),
]


@pytest.mark.parametrize(("old", "new", "same", "path", "expected"), VERIFY_EDGE_CASES)
def test_consistency_edge_cases(
    old: int, new: int, same: bool, path: list[bytes], expected: bool
) -> None:
    a = merkle.root(_leaves(_entries(3)))
    b = a if same else merkle.root(_leaves(_entries(4)))
    assert merkle.verify_consistency(old, new, a, b, path) is expected
