"""Exact substring search of many queries in many reference sequences.

A query is found through its first 32 bases, packed 2 bits a base into a uint64: every
position of every reference is rolled into the same code and looked up by binary search in
the sorted query codes, and candidate positions are confirmed by comparing the strings.
Queries shorter than 32 bases or with an ambiguous base there fall back to ``str.find``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from microtrial.taxonomy._kernels import encode_many

_PREFIX = 32


@njit(cache=True, nogil=True)
def _scan(codes, offsets, keys, out_ref, out_pos):
    """Positions where a reference's 32-mer equals one of the sorted ``keys``."""
    n = 0
    mask = np.uint64(0xFFFFFFFFFFFFFFFF)
    for r in range(offsets.shape[0] - 1):
        word = np.uint64(0)
        valid = 0
        for p in range(offsets[r], offsets[r + 1]):
            c = codes[p]
            if c > 3:
                valid = 0
                word = np.uint64(0)
                continue
            word = ((word << np.uint64(2)) | np.uint64(c)) & mask
            valid += 1
            if valid >= 32:
                j = np.searchsorted(keys, word)
                if j < keys.shape[0] and keys[j] == word:
                    if n < out_ref.shape[0]:
                        out_ref[n] = r
                        out_pos[n] = p - offsets[r] - 31
                    n += 1
    return n


def _pack(seq: str) -> int | None:
    code = 0
    for ch in seq[:_PREFIX]:
        v = "ACGT".find(ch)
        if v < 0:
            return None
        code = (code << 2) | v
    return code


def _plain_dna(seq: str) -> str:
    """Upper case, alignment gaps (``-``, ``.``) removed, ``U`` as ``T``."""
    return seq.upper().replace("-", "").replace(".", "").replace("U", "T")


def find_exact_hits(queries: Sequence[str], refs: Sequence[str]) -> list[list[int]]:
    """For each query, the indices of references that contain it exactly.

    Queries and references are compared as plain DNA: case, alignment gaps (``-``, ``.``)
    and ``U``/``T`` make no difference (as in the reference readers and
    :func:`microtrial.io.fasta.read_fasta` with ``as_dna``). A query that is empty as plain
    DNA has no hits.
    """
    qs = [_plain_dna(q) for q in queries]
    refs_u = [_plain_dna(r) for r in refs]
    hits: list[set[int]] = [set() for _ in qs]
    by_key: dict[int, list[int]] = {}
    slow: list[int] = []
    for i, q in enumerate(qs):
        key = _pack(q) if len(q) >= _PREFIX else None
        if key is None:
            slow.append(i)
        else:
            by_key.setdefault(key, []).append(i)
    if by_key:
        keys = np.array(sorted(by_key), dtype=np.uint64)
        codes, offsets = encode_many(refs_u)
        size = 1 << 16
        while True:
            out_ref = np.empty(size, dtype=np.int64)
            out_pos = np.empty(size, dtype=np.int64)
            n = _scan(codes, offsets, keys, out_ref, out_pos)
            if n <= size:
                break
            size = n
        for r, p in zip(out_ref[:n].tolist(), out_pos[:n].tolist(), strict=True):
            key = _pack(refs_u[r][p : p + _PREFIX])
            for i in by_key.get(key, ()):  # type: ignore[arg-type]
                if refs_u[r].startswith(qs[i], p):
                    hits[i].add(r)
    for i in slow:
        for r, ref in enumerate(refs_u):
            if qs[i] and qs[i] in ref:
                hits[i].add(r)
    return [sorted(h) for h in hits]
