"""Slow, obviously correct reference versions of the denoiser's numba kernels."""

from __future__ import annotations

import math
from collections import Counter

MATCH, MISMATCH, GAP = 5, -4, -8
NEG = float("-inf")


def kmer_dist(a: str, b: str, k: int = 5) -> float:
    """1 - sum_w min(count_a(w), count_b(w)) / (min(len) - k + 1)."""
    ca = Counter(a[i : i + k] for i in range(len(a) - k + 1))
    cb = Counter(b[i : i + k] for i in range(len(b) - k + 1))
    dot = sum(min(c, cb[w]) for w, c in ca.items())
    denom = min(len(a), len(b)) - k + 1
    return 1.0 if denom <= 0 else 1.0 - dot / denom


def nw_banded(a: str, b: str, band: int):
    """Full (unpruned) banded ends-free NW with the kernel's tie-break rules.

    Returns (score, [(read_pos, centre_base, read_base), ...]).
    """
    m, n = len(a), len(b)

    def inband(i, j):
        return abs(i - j) <= band

    D = [[NEG] * (n + 1) for _ in range(m + 1)]
    T = [[0] * (n + 1) for _ in range(m + 1)]
    for j in range(n + 1):
        if inband(0, j):
            D[0][j] = 0
    for i in range(m + 1):
        if inband(i, 0):
            D[i][0] = 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            if not inband(i, j):
                continue
            best, tb = NEG, 0
            if D[i - 1][j - 1] > NEG:
                best = D[i - 1][j - 1] + (MATCH if a[i - 1] == b[j - 1] else MISMATCH)
                tb = 1
            if D[i - 1][j] > NEG and D[i - 1][j] + GAP > best:
                best, tb = D[i - 1][j] + GAP, 2
            if D[i][j - 1] > NEG and D[i][j - 1] + GAP > best:
                best, tb = D[i][j - 1] + GAP, 3
            D[i][j], T[i][j] = best, tb
    best, bi, bj = NEG, -1, -1
    if D[m][n] > NEG:
        best, bi, bj = D[m][n], m, n
    for j in range(n + 1):
        if D[m][j] > best:
            best, bi, bj = D[m][j], m, j
    for i in range(m + 1):
        if D[i][n] > best:
            best, bi, bj = D[i][n], i, n
    subs = []
    i, j = bi, bj
    while i > 0 and j > 0:
        if T[i][j] == 1:
            if a[i - 1] != b[j - 1]:
                subs.append((j - 1, a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif T[i][j] == 2:
            i -= 1
        else:
            j -= 1
    return best, subs[::-1]


def lambda_(read: str, quals, subs, err) -> float:
    """prod_p err[centre base -> read base, q_p]; centre base = read base except at subs.

    ``err`` is indexed ``err[(from, to)][q]`` with bases as letters.
    """
    centre_base = list(read)
    for pos, frm, _to in subs:
        centre_base[pos] = frm
    lam = 1.0
    for p, rb in enumerate(read):
        lam *= err[(centre_base[p], rb)][quals[p]]
    return lam


def poisson_pval(a: int, e: float) -> float:
    """P(X >= a | X >= 1) for X ~ Poisson(e), by direct summation of the lower tail."""
    if a <= 1:
        return 1.0
    lower = sum(math.exp(-e) * e**k / math.factorial(k) for k in range(a))
    return (1.0 - lower) / (1.0 - math.exp(-e))
