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
from microtrial.stats import bh, wilcoxon_paired

__all__ = ["RankTest", "bh", "kruskal_wallis", "mann_whitney", "wilcoxon_signed_rank"]


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

    Matches R ``wilcox.test(test, reference, paired=TRUE, conf.int=TRUE, correct=TRUE)``
    with R's default choice of the exact test (fewer than 50 non-zero differences, no ties
    or zeros); zero differences are dropped. The computation is the project's one
    signed-rank test, :func:`microtrial.stats.wilcoxon_paired`.
    """
    x = np.asarray(test, dtype=float)
    y = np.asarray(reference, dtype=float)
    if x.size != y.size:
        raise AnalysisError("paired test needs the same number of values in both conditions")
    keep = np.isfinite(x) & np.isfinite(y)
    res = wilcoxon_paired(x[keep], y[keep], conf_level=conf_level, exact_max_n=49)
    if res.n == 0:
        return RankTest(0.0, 1.0, 0.0, float("nan"), float("nan"), False)
    return RankTest(res.statistic, min(res.p_value, 1.0), res.estimate, res.ci_low, res.ci_high,
                    res.method == "exact")


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


