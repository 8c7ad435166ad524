"""RFC 9162 §2 Merkle trees: hashing, compact ranges, inclusion and consistency proofs.

- leaf hash ``SHA-256(0x00 || d)``, interior node ``SHA-256(0x01 || left || right)``;
  the empty tree's hash is ``SHA-256()``.
- ``MTH(D[n])`` splits at ``k``, the largest power of two smaller than ``n``.
- ``PATH(m, D[n])`` (inclusion) and ``PROOF(m, D[n])`` (consistency) are built from subtree
  hashes; `SubtreeSource` supplies those, so a store can answer from cached subtree roots
  instead of re-hashing every leaf.
- `verify_inclusion` and `verify_consistency` follow the algorithms of RFC 9162 §2.1.3.2 and
  §2.1.4.2 step by step, and need nothing but the proof, the sizes and the roots.

A leaf of the audit tree is the 32-byte record hash (``bytes.fromhex(hash)``); its position
is ``seq - 1``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HashFn = Callable[[bytes], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()
# Perfect subtrees of 2**CACHE_LEVEL leaves and more are cached by the store.
CACHE_LEVEL = 8


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The roots of the perfect subtrees covering leaves ``[0, size)``, left to right.

    Appending a leaf merges equal-sized neighbours, so extending a tree by ``k`` leaves costs
    ``k`` leaf hashes plus at most ``k`` node hashes, and the root of the whole tree is a
    fold of at most ``log2(size)`` stored hashes.
    """

    __slots__ = ("_size", "hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} holds {bin(size).count('1')} hashes")
        self._size = size
        self.hashes: list[bytes] = list(hashes)

    @property
    def size(self) -> int:
        return self._size

    def append_leaf_hash(
        self, h: bytes, completed: list[tuple[int, int, bytes]] | None = None
    ) -> None:
        """Add one leaf, given its leaf hash; perfect subtrees it completes at level
        `CACHE_LEVEL` or above are added to `completed` as (level, index, hash)."""
        size = self._size
        level = 0
        while size & 1:
            h = node_hash(self.hashes.pop(), h)
            size >>= 1
            level += 1
            if completed is not None and level >= CACHE_LEVEL:
                completed.append((level, ((self._size + 1) >> level) - 1, h))
        self.hashes.append(h)
        self._size += 1

    def extend(
        self, leaves: Iterable[bytes], completed: list[tuple[int, int, bytes]] | None = None
    ) -> None:
        """Add leaves given as their data (here: record hashes)."""
        for data in leaves:
            self.append_leaf_hash(leaf_hash(data), completed)

    def extend_hex(
        self,
        record_hashes: Iterable[str],
        completed: list[tuple[int, int, bytes]] | None = None,
        leaves: list[bytes] | None = None,
    ) -> None:
        """`extend` for hex record hashes, in one tight loop (verification walks millions);
        the leaf hashes are also appended to `leaves` when given."""
        sha, fromhex, stack, size = hashlib.sha256, bytes.fromhex, self.hashes, self._size
        for hx in record_hashes:
            h = sha(b"\x00" + fromhex(hx)).digest()
            if leaves is not None:
                leaves.append(h)
            s, level = size, 0
            while s & 1:
                h = sha(b"\x01" + stack.pop() + h).digest()
                s >>= 1
                level += 1
                if completed is not None and level >= CACHE_LEVEL:
                    completed.append((level, ((size + 1) >> level) - 1, h))
            stack.append(h)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """``MTH`` of the leaves so far."""
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            root = node_hash(h, root)
        return root

    def encode(self) -> str:
        """The stored form: hex hashes joined by spaces (size is stored beside it)."""
        return " ".join(h.hex() for h in self.hashes)

    @classmethod
    def decode(cls, size: int, text: str) -> CompactRange:
        return cls(size, [bytes.fromhex(h) for h in text.split()])

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self.hashes)


class SubtreeSource:
    """Subtree hashes ``MTH(D[start:end])`` over a list of leaf hashes.

    The default answers from the leaf hashes it is given; a store overrides `subtree` to
    answer aligned perfect subtrees from its cache.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaf_hashes = leaf_hashes

    def subtree(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaf_hashes[start]
        k = split_point(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))


def inclusion_path(index: int, size: int, source: SubtreeSource) -> list[bytes]:
    """``PATH(index, D[size])`` of RFC 9162 §2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, collecting the sibling of each subtree holding `index`;
    # the RFC lists them from the leaf up, so reverse at the end.
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(source.subtree(start + k, end))
            end = start + k
        else:
            path.append(source.subtree(start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, source: SubtreeSource) -> list[bytes]:
    """``PROOF(first, D[second])`` of RFC 9162 §2.1.4.1."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    return _subproof(first, 0, second, True, source)


def _subproof(m: int, start: int, end: int, whole: bool, source: SubtreeSource) -> list[bytes]:
    """``SUBPROOF(m, D[start:end], b)``: `m` is relative to `start`."""
    n = end - start
    if m == n:
        return [] if whole else [source.subtree(start, end)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, source), source.subtree(start + k, end)]
    return [*_subproof(m - k, start + k, end, False, source), source.subtree(start, start + k)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove the leaf hash `leaf` at `index` under `root`?"""
    if index >= size or index < 0:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if len(p) != 32 or sn == 0:
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
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the tree of size `first` with `first_root` is a
    prefix of the tree of size `second` with `second_root`?"""
    if first < 0 or second < first:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # every tree extends the empty one
    if not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: first_root is the proof's implicit start
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a whole list of leaf hashes."""
    return SubtreeSource(leaf_hashes).subtree(0, len(leaf_hashes))
