"""Rank tests with effect sizes as R's ``wilcox.test``/``kruskal.test``, BH, and a mixed model.

The Hodges-Lehmann confidence intervals of R's ``wilcox.test(conf.int=TRUE)`` are not in
SciPy, so the exact null distributions (Mann-Whitney U, signed rank) are computed here by
the usual counting recursions and the intervals read off the sorted pairwise differences
(Walsh averages for the paired case) as R does (Bauer 1972; Hollander & Wolfe 1999).

Exact p-values and intervals are used when both groups have < 50 values (paired: < 50
non-zero differences) and there are no ties (or zero differences); otherwise the normal
approximation with continuity correction and tie-corrected variance, whose interval ends
are the jumps of the standardised statistic (R finds them with ``uniroot`` to 1e-4; here
they are located exactly among the pairwise differences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from microtrial.errors import AnalysisError


@dataclass(frozen=True)
class RankTest:
    """Result of a two-sample or paired rank test.

    ``statistic`` is R's W (rank sum of the test group minus ``n(n+1)/2``) or V (sum of
    positive signed ranks); ``effect`` the Hodges-Lehmann shift (paired: pseudo-median of
    the differences), ``ci_low``/``ci_high`` its 95 % interval.
    """

    statistic: float
    p_value: float
    effect: float
    ci_low: float
    ci_high: float
    exact: bool


def _mwu_cdf(n: int, m: int) -> np.ndarray:
    """P(U <= u), u = 0..n*m, of the Mann-Whitney U for sizes n, m (no ties)."""
    # counts c[k][u]: arrangements of k "x" among k + m with statistic u; recursion on the
    # generating function prod_{i=1..n} (1 - q^{m+i}) / (1 - q^i)
    size = n * m + 1
    c = np.zeros(size)
    c[0] = 1.0
    for i in range(1, n + 1):
        # multiply by (1 - q^{m+i})
        c[m + i:] = c[m + i:] - c[: size - (m + i)].copy()
        # divide by (1 - q^i): cumulative sum with step i
        for u in range(i, size):
            c[u] += c[u - i]
    c = c / math.comb(n + m, n)
    return np.minimum(np.cumsum(c), 1.0)


def _signrank_cdf(n: int) -> np.ndarray:
    """P(V <= v), v = 0..n(n+1)/2, of the Wilcoxon signed-rank statistic."""
    size = n * (n + 1) // 2 + 1
    c = np.zeros(size)
    c[0] = 1.0
    for k in range(1, n + 1):
        c[k:] = c[k:] + c[:-k].copy() if k < size else c[k:]
    return np.minimum(np.cumsum(c / 2.0**n), 1.0)


def _q(cdf: np.ndarray, p: float) -> int:
    """Smallest q with P(X <= q) >= p (R's qwilcox/qsignrank)."""
    return int(np.searchsorted(cdf, p * (1 - 1e-12), side="left"))


def _exact_p(cdf: np.ndarray, stat: float) -> float:
    s = int(round(stat))
    lower = cdf[s]
    upper = 1.0 - (cdf[s - 1] if s > 0 else 0.0)
    return float(min(1.0, 2.0 * min(lower, upper)))


def mann_whitney(test: np.ndarray, reference: np.ndarray, *, conf_level: float = 0.95) -> RankTest:
    """Two-sided Mann-Whitney U / Wilcoxon rank-sum test of ``test`` vs ``reference``.

    Matches R ``wilcox.test(test, reference, conf.int=TRUE, correct=TRUE)``.
    """
    x = np.asarray(test, dtype=float)
    y = np.asarray(reference, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n, m = x.size, y.size
    if n < 1 or m < 1:
        raise AnalysisError("Mann-Whitney test needs at least one value per group")
    r = stats.rankdata(np.concatenate([x, y]))
    w = float(r[:n].sum() - n * (n + 1) / 2)
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    ties = np.unique(r, return_counts=True)[1]
    exact = n < 50 and m < 50 and np.all(ties == 1)
    alpha = 1 - conf_level
    if exact:
        cdf = _mwu_cdf(n, m)
        p = _exact_p(cdf, w)
        qu = _q(cdf, alpha / 2)
        if qu == 0:
            qu = 1
        ql = n * m - qu
        return RankTest(w, p, float(np.median(diffs)), float(diffs[qu - 1]), float(diffs[ql]), True)
    nt = n + m
    sigma = math.sqrt((n * m / 12) * ((nt + 1) - (ties**3 - ties).sum() / (nt * (nt - 1))))
    z = w - n * m / 2
    z = (z - 0.5 * np.sign(z)) / sigma if sigma > 0 else 0.0
    p = float(2 * min(stats.norm.cdf(z), stats.norm.sf(z))) if sigma > 0 else 1.0
    return RankTest(w, min(p, 1.0), float(np.median(diffs)), *_asymptotic_ci_two(x, y, alpha), False)


def _asymptotic_ci_two(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[float, float]:
    n, m = x.size, y.size
    nt = n + m
    diffs = np.subtract.outer(x, y).ravel()

    def wdiff(d: float, zq: float) -> float:
        r = stats.rankdata(np.concatenate([x - d, y]))
        t = np.unique(r, return_counts=True)[1]
        dz = r[:n].sum() - n * (n + 1) / 2 - n * m / 2
        sig = math.sqrt((n * m / 12) * ((nt + 1) - (t**3 - t).sum() / (nt * (nt - 1))))
        if sig == 0:
            return -zq
        return (dz - np.sign(dz) * 0.5) / sig - zq

    zq = stats.norm.isf(alpha / 2)
    return _root(diffs, lambda d: wdiff(d, zq)), _root(diffs, lambda d: wdiff(d, -zq))


def _root(values: np.ndarray, f) -> float:
    """Where the non-increasing step function ``f`` of ``d`` changes sign, located among
    ``values`` (the points where it jumps); R returns a point within 1e-4 of it."""
    v = np.unique(values)
    eps = 1e-9 * max(1.0, float(np.abs(v).max()))
    if f(v[0] - eps) <= 0:
        return float(v[0])
    if f(v[-1] + eps) >= 0:
        return float(v[-1])
    lo, hi = 0, v.size - 1  # f(v[lo]-eps) > 0, f(v[hi]+eps) < 0
    while hi - lo > 0:
        mid = (lo + hi) // 2
        if f(v[mid] + eps) > 0:
            lo = mid + 1
        else:
            hi = mid
    return float(v[lo])


def wilcoxon_signed_rank(test: np.ndarray, reference: np.ndarray, *, conf_level: float = 0.95) -> RankTest:
    """Paired two-sided Wilcoxon signed-rank test of ``test - reference``.

    Matches R ``wilcox.test(test, reference, paired=TRUE, conf.int=TRUE, correct=TRUE)``;
    zero differences are dropped (R's default).
    """
    x = np.asarray(test, dtype=float)
    y = np.asarray(reference, dtype=float)
    if x.size != y.size:
        raise AnalysisError("paired test needs the same number of values in both conditions")
    d = x - y
    d = d[np.isfinite(d)]
    has_zero = np.any(d == 0)
    d = d[d != 0]
    n = d.size
    if n < 1:
        return RankTest(0.0, 1.0, 0.0, float("nan"), float("nan"), False)
    r = stats.rankdata(np.abs(d))
    v = float(r[d > 0].sum())
    ties = np.unique(r, return_counts=True)[1]
    walsh = np.sort(np.add.outer(d, d)[np.triu_indices(n)] / 2.0)
    alpha = 1 - conf_level
    if n < 50 and not has_zero and np.all(ties == 1):
        cdf = _signrank_cdf(n)
        p = _exact_p(cdf, v)
        qu = _q(cdf, alpha / 2)
        if qu == 0:
            qu = 1
        ql = n * (n + 1) // 2 - qu
        return RankTest(v, p, float(np.median(walsh)), float(walsh[qu - 1]), float(walsh[ql]), True)
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (ties**3 - ties).sum() / 48)
    z = v - n * (n + 1) / 4
    z = (z - 0.5 * np.sign(z)) / sigma if sigma > 0 else 0.0
    p = float(2 * min(stats.norm.cdf(z), stats.norm.sf(z))) if sigma > 0 else 1.0

    def vdiff(mu: float, zq: float) -> float:
        dd = d - mu
        dd = dd[dd != 0]
        k = dd.size
        if k == 0:
            return -zq
        rr = stats.rankdata(np.abs(dd))
        t = np.unique(rr, return_counts=True)[1]
        dz = rr[dd > 0].sum() - k * (k + 1) / 4
        sig = math.sqrt(k * (k + 1) * (2 * k + 1) / 24 - (t**3 - t).sum() / 48)
        return -zq if sig == 0 else (dz - np.sign(dz) * 0.5) / sig - zq

    zq = stats.norm.isf(alpha / 2)
    lo = _root(walsh, lambda mu: vdiff(mu, zq))
    hi = _root(walsh, lambda mu: vdiff(mu, -zq))
    return RankTest(v, min(p, 1.0), float(np.median(walsh)), lo, hi, False)


def kruskal_wallis(*groups: np.ndarray) -> tuple[float, float]:
    """Kruskal-Wallis H (tie-corrected) and chi-square p-value, as R ``kruskal.test``."""
    gs = [np.asarray(g, dtype=float) for g in groups]
    if len(gs) < 2 or any(g.size == 0 for g in gs):
        raise AnalysisError("Kruskal-Wallis needs at least two non-empty groups")
    allv = np.concatenate(gs)
    if np.all(allv == allv[0]):
        return 0.0, 1.0
    res = stats.kruskal(*gs)
    return float(res.statistic), float(res.pvalue)


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN kept), as R ``p.adjust(method="BH")``."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    k = q.size
    if k == 0:
        return out
    order = np.argsort(q)[::-1]
    ranked = q[order] * k / np.arange(k, 0, -1)
    adj = np.minimum.accumulate(ranked)
    res = np.empty(k)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out
