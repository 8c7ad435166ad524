"""RFC 9162 Merkle tree: published vectors, an independent naive implementation, tampered proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phaseroute.audit._merkle import (
    EMPTY_ROOT,
    CompactRange,
    SubtreeSource,
    consistency_proof,
    inclusion_path,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "merkle_vectors.json").read_text(encoding="utf-8")
)
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves_hex"]]


def b64(s: str) -> bytes:
    return base64.b64decode(s)


# --- a second implementation, written straight from the RFC 9162 §2.1 definitions -------------


def naive_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as §2.1.1 defines it, on leaf *data*."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of §2.1.4.1."""

    def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [naive_mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return [*subproof(m, d[:k], b), naive_mth(d[k:])]
        return [*subproof(m - k, d[k:], False), naive_mth(d[:k])]

    return subproof(m, d, True)


def source_for(d: list[bytes]) -> SubtreeSource:
    return SubtreeSource([leaf_hash(x) for x in d])


def data(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


# --- published vectors ---------------------------------------------------------------------------


def test_hasher_vectors() -> None:
    h = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == h["empty_root"]
    assert leaf_hash(b"L123456").hex() == h["leaf_L123456"]
    assert node_hash(b"N123", b"N456").hex() == h["node_N123_N456"]
    # Domain separation: a node is not the leaf of its children's concatenation.
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) != leaf_hash(a + b)


@pytest.mark.parametrize("size", range(9))
def test_ct_reference_roots(size: int) -> None:
    want = VECTORS["roots_hex"][size]
    assert root_of([leaf_hash(x) for x in LEAVES[:size]]).hex() == want
    assert naive_mth(LEAVES[:size]).hex() == want
    compact = CompactRange()
    compact.extend(LEAVES[:size])
    assert compact.root().hex() == want


def test_ct_reference_node_hashes() -> None:
    source = source_for(LEAVES)
    for level, row in enumerate(VECTORS["node_hashes_hex"]):
        width = 1 << level
        for i, want in enumerate(row):
            assert source.subtree(i * width, (i + 1) * width).hex() == want


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: c["source"])
def test_published_inclusion_vectors(case: dict[str, Any]) -> None:
    proof = [b64(p) for p in case["proof"]]
    ok = verify_inclusion(
        b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, b64(case["root"])
    )
    assert ok is not case["wantErr"]
    if not case["wantErr"]:
        tree = LEAVES[: case["treeSize"]]
        assert inclusion_path(case["leafIdx"], case["treeSize"], source_for(tree)) == proof


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: c["source"])
def test_published_consistency_vectors(case: dict[str, Any]) -> None:
    proof = [b64(p) for p in case["proof"]]
    ok = verify_consistency(
        case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof
    )
    assert ok is not case["wantErr"]
    tree = LEAVES[: case["size2"]]
    assert consistency_proof(case["size1"], case["size2"], source_for(tree)) == proof


def test_rfc9162_worked_example() -> None:
    ex = VECTORS["rfc9162_example"]
    tree = LEAVES[: ex["leaves"]]
    source = source_for(tree)
    node = {name: source.subtree(a, b) for name, (a, b) in ex["nodes"].items()}
    root = source.subtree(0, len(tree))
    for case in ex["inclusion"]:
        want = [node[x] for x in case["path"]]
        assert inclusion_path(case["leaf"], len(tree), source) == want
        assert verify_inclusion(leaf_hash(tree[case["leaf"]]), case["leaf"], 7, want, root)
    for case in ex["consistency"]:
        want = [node[x] for x in case["proof"]]
        assert consistency_proof(case["first"], len(tree), source) == want
        first_root = source.subtree(0, case["first"])
        assert verify_consistency(case["first"], 7, first_root, root, want)


# --- cross-check against the naive implementation -------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_paths_and_proofs_match_the_naive_implementation(n: int, draw: st.DataObject) -> None:
    d = data(n)
    source = source_for(d)
    root = naive_mth(d)
    assert source.subtree(0, n) == root
    compact = CompactRange()
    compact.extend(d)
    assert compact.root() == root
    assert CompactRange.decode(n, compact.encode()).root() == root

    m = draw.draw(st.integers(0, n - 1), label="leaf")
    path = inclusion_path(m, n, source)
    assert path == naive_path(m, d)
    assert verify_inclusion(leaf_hash(d[m]), m, n, path, root)

    first = draw.draw(st.integers(1, n), label="first")
    proof = consistency_proof(first, n, source)
    assert proof == naive_proof(first, d) if first < n else proof == []
    assert verify_consistency(first, n, naive_mth(d[:first]), root, proof)


@pytest.mark.parametrize("n", range(1, 18))
def test_every_proof_of_small_trees_verifies(n: int) -> None:
    d = data(n)
    source = source_for(d)
    for size in range(1, n + 1):
        root = source.subtree(0, size)
        for i in range(size):
            assert verify_inclusion(leaf_hash(d[i]), i, size, inclusion_path(i, size, source), root)
        for first in range(1, size + 1):
            proof = consistency_proof(first, size, source)
            assert verify_consistency(first, size, source.subtree(0, first), root, proof)


# --- tampered proofs -----------------------------------------------------------------------------


def flip(h: bytes, bit: int) -> bytes:
    return bytes([h[0] ^ (1 << bit), *h[1:]])


@settings(max_examples=120, deadline=None)
@given(st.integers(2, 300), st.data())
def test_tampered_inclusion_proofs_fail(n: int, draw: st.DataObject) -> None:
    d = data(n)
    source = source_for(d)
    root = source.subtree(0, n)
    m = draw.draw(st.integers(0, n - 1), label="leaf")
    path = inclusion_path(m, n, source)
    leaf = leaf_hash(d[m])
    other = (m + 1) % n
    assert not verify_inclusion(leaf_hash(d[other]), m, n, path, root)  # wrong leaf
    assert not verify_inclusion(d[m], m, n, path, root)  # leaf data, not leaf hash
    assert not verify_inclusion(leaf, m + 1, n, path, root)  # off-by-one index
    if m > 0:
        assert not verify_inclusion(leaf, m - 1, n, path, root)
    assert not verify_inclusion(leaf, m, n, path, flip(root, 0))  # wrong root
    # Wrong size. A bare path binds the size only through its shape (for the leftmost leaf
    # of a tree of 3, sizes 3 and 4 walk alike): the signed head binds size and root together,
    # and the proof-file tests change the size there. A size one level up always fails here.
    assert not verify_inclusion(leaf, m, 2 * n, path, root)
    if path:
        i = draw.draw(st.integers(0, len(path) - 1), label="element")
        bit = draw.draw(st.integers(0, 7), label="bit")
        bad = [*path[:i], flip(path[i], bit), *path[i + 1 :]]
        assert not verify_inclusion(leaf, m, n, bad, root)  # flipped bit
        assert not verify_inclusion(leaf, m, n, path[:-1], root)  # truncated
        assert not verify_inclusion(leaf, m, n, [*path, path[-1]], root)  # trailing garbage


@settings(max_examples=120, deadline=None)
@given(st.integers(3, 300), st.data())
def test_tampered_consistency_proofs_fail(n: int, draw: st.DataObject) -> None:
    d = data(n)
    source = source_for(d)
    root = source.subtree(0, n)
    first = draw.draw(st.integers(1, n - 1), label="first")
    first_root = source.subtree(0, first)
    proof = consistency_proof(first, n, source)
    assert verify_consistency(first, n, first_root, root, proof)
    assert not verify_consistency(first, n, flip(first_root, 1), root, proof)  # wrong old root
    assert not verify_consistency(first, n, first_root, flip(root, 2), proof)  # wrong new root
    assert not verify_consistency(first, n, root, first_root, proof)  # swapped roots
    assert not verify_consistency(first, 2 * n, first_root, root, proof)  # wrong size
    if first > 1:
        assert not verify_consistency(first - 1, n, first_root, root, proof)  # off by one
    assert not verify_consistency(first, n, first_root, root, [])  # empty proof
    i = draw.draw(st.integers(0, len(proof) - 1), label="element")
    bit = draw.draw(st.integers(0, 7), label="bit")
    bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
    assert not verify_consistency(first, n, first_root, root, bad)  # flipped bit
    assert not verify_consistency(first, n, first_root, root, proof[:-1])  # truncated
    # A tree that differs in one old leaf is not an extension of the first.
    forged = data(n)
    forged[first - 1] = b"forged"
    assert not verify_consistency(
        first, n, first_root, root_of([leaf_hash(x) for x in forged]), proof
    )
