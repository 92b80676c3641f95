"""Slow, obviously correct reference versions of the denoiser's numba kernels, and small
read simulations for its tests (truth known by construction)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from microtrial.denoise import Derep

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
    """Full banded ends-free NW with DADA2's vectorised aligner's rules (see
    ``_kernels.align_banded``): the shorter sequence is s1; gaps win ties against the
    diagonal, the gap in s2 ("up") against the gap in s1; free end gaps along the last row
    and column (preferred on ties); traceback from the corner.

    Returns (score, [(read_pos, centre_base, read_base), ...]).
    """
    swap = len(a) > len(b)
    s1, s2 = (b, a) if swap else (a, b)
    m, n = len(s1), len(s2)

    def inband(i, j):
        return -band <= j - i <= band + (n - m)

    D = [[NEG] * (n + 1) for _ in range(m + 1)]
    T = [[""] * (n + 1) for _ in range(m + 1)]
    D[0][0] = 0
    for j in range(1, n + 1):
        if inband(0, j):
            D[0][j], T[0][j] = 0, "left"
    for i in range(1, m + 1):
        if inband(i, 0):
            D[i][0], T[i][0] = 0, "up"
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            if not inband(i, j):
                continue
            diag = D[i - 1][j - 1] + (MATCH if s1[i - 1] == s2[j - 1] else MISMATCH)
            up = D[i - 1][j] + GAP
            left = D[i][j - 1] + GAP
            cands = [(up, "up"), (left, "left"), (diag, "diag")]  # ties: the first listed
            val = max(c[0] for c in cands)
            tb = next(name for v, name in cands if v == val)
            if i == m and D[i][j - 1] >= val and (D[i][j - 1] > val or tb == "diag"):
                val, tb = D[i][j - 1], "left"
            if j == n and D[i - 1][j] >= val:
                val, tb = D[i - 1][j], "up"
            D[i][j], T[i][j] = val, tb
    subs = []
    i, j = m, n
    while i > 0 or j > 0:
        if T[i][j] == "diag":
            if s1[i - 1] != s2[j - 1]:
                subs.append((i - 1, s2[j - 1], s1[i - 1]) if swap else (j - 1, s1[i - 1], s2[j - 1]))
            i, j = i - 1, j - 1
        elif T[i][j] == "up":
            i -= 1
        else:
            j -= 1
    return D[m][n], subs[::-1]


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
    """P(X >= a | X >= 1) for X ~ Poisson(e): the upper-tail terms summed directly."""
    if a <= 1:
        return 1.0
    upper = sum(math.exp(-e + k * math.log(e) - math.lgamma(k + 1)) for k in range(a, a + 2000))
    return upper / -math.expm1(-e)


# --- simulations ------------------------------------------------------------------------

BASES = np.array(list("ACGT"))


def known_err(n_qual: int = 41) -> np.ndarray:
    """A known error matrix: substitution x->y at quality q = 10^(-q/10) * f_xy, with
    transition-type factors f_xy between 0.2 and 0.6 (so rows differ)."""
    q = np.arange(n_qual, dtype=float)
    err = np.zeros((16, n_qual))
    for x in range(4):
        for y in range(4):
            if x != y:
                f = 0.2 + 0.1 * ((x + 2 * y) % 5)
                err[4 * x + y] = np.minimum(10 ** (-q / 10) * f, 0.2)
        err[5 * x] = 1 - sum(err[4 * x + y] for y in range(4) if y != x)
    return err


def random_seq(rng, n: int) -> str:
    return "".join(rng.choice(BASES, n))


def mutate(rng, seq: str, n_sub: int) -> str:
    s = list(seq)
    for p in rng.choice(len(s), n_sub, replace=False):
        s[p] = rng.choice([b for b in "ACGT" if b != s[p]])
    return "".join(s)


def simulate_reads(rng, parents, counts, err, qlo=25, qhi=39, *, fixed_profile=False):
    """Reads of each parent with per-position quality uniform in [qlo, qhi] (or, with
    ``fixed_profile``, the same for every read: position p has ``qhi - p % (qhi - qlo + 1)``,
    so that per-unique mean qualities equal the true ones) and substitution errors drawn
    from ``err``.  Returns (list of (seq, qual array), parent index per read)."""
    reads = []
    truth = []
    for k, (par, n) in enumerate(zip(parents, counts)):
        codes = np.searchsorted(BASES, np.array(list(par)))
        for _ in range(n):
            if fixed_profile:
                q = qhi - np.arange(len(par)) % (qhi - qlo + 1)
            else:
                q = rng.integers(qlo, qhi + 1, len(par))
            probs = err[4 * codes[:, None] + np.arange(4)[None, :], q[:, None]]
            u = rng.random(len(par))[:, None]
            out = (u > np.cumsum(probs, axis=1)).sum(axis=1)
            reads.append(("".join(BASES[np.minimum(out, 3)]), q.astype(float)))
            truth.append(k)
    return reads, np.array(truth)


def derep(reads) -> Derep:
    """Dereplicate (seq, qual) reads: most abundant first, then first occurrence."""
    index: dict[str, int] = {}
    seqs, cnt, qs = [], [], []
    r2u = np.empty(len(reads), np.int64)
    for r, (s, q) in enumerate(reads):
        i = index.get(s)
        if i is None:
            i = index[s] = len(seqs)
            seqs.append(s)
            cnt.append(0)
            qs.append(np.zeros(len(s)))
        cnt[i] += 1
        qs[i] = qs[i] + q
        r2u[r] = i
    cnt = np.array(cnt, np.int64)
    order = np.lexsort((np.arange(len(cnt)), -cnt))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return Derep(tuple(seqs[i] for i in order), cnt[order],
                 tuple(qs[i] / cnt[i] for i in order), rank[r2u])
