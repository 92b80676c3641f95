"""Slow, obviously correct versions of the read-filtering kernels (for the tests)."""

from __future__ import annotations


def trim_stats(seq: str, qual: list[int], trunc_q: int, trunc_len: int) -> tuple[int, bool, int, float]:
    """(length, keep, n_N, expected errors) of one read, step by step as the docs say."""
    ln = len(seq)
    if trunc_q >= 0:
        for j, q in enumerate(qual):
            if q <= trunc_q:
                ln = j
                break
    keep = True
    if trunc_len > 0:
        if ln < trunc_len:
            keep = False
        else:
            ln = trunc_len
    kept = seq[:ln]
    ee = sum(10 ** (-q / 10) for q in qual[:ln])
    return ln, keep, kept.count("N"), ee


def phix_hits(read: str, words: set[str], k: int, min_matches: int) -> bool:
    """Greedy non-overlapping count of k-mers of ``read`` found in ``words``."""
    count, nxt = 0, 0
    for i in range(len(read) - k + 1):
        w = read[i : i + k]
        if i >= nxt and w in words:
            count += 1
            nxt = i + k
    return count >= min_matches
