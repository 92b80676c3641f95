"""Slow, obviously correct versions of the placement kernels."""

from __future__ import annotations


def semiglobal_cost(q: str, r: str) -> int:
    """Unit-cost edit distance of all of q against the best substring of r."""
    prev = [0] * (len(r) + 1)
    for i in range(1, len(q) + 1):
        cur = [i] + [0] * len(r)
        for j in range(1, len(r) + 1):
            cur[j] = min(prev[j - 1] + (q[i - 1] != r[j - 1] or q[i - 1] not in "ACGT"),
                         prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return min(prev)
