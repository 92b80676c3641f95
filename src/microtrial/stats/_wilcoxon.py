"""Paired Wilcoxon signed-rank test with Hodges-Lehmann estimate and confidence interval,
matching R's ``wilcox.test(x, y, paired = TRUE, exact = ..., conf.int = TRUE)``.

Written here rather than taken from scipy because scipy's ``wilcoxon`` has no
Hodges-Lehmann estimate or confidence interval, and its normal approximation differs from
R's in the handling of zeros (R drops zero differences before ranking, Pratt does not) and
of the continuity correction; the study's reviewers expect R's numbers.

Rules (R's documented behaviour, ``?wilcox.test``):

* ``d = x - y``; zero differences are dropped; ``n`` = non-zero differences; ``V`` = sum of
  the ranks of ``|d|`` (mid-ranks for ties) over positive ``d``.
* Exact test when requested (here: ``n <= 25``) and there are neither ties nor zeros:
  two-sided ``p = min(1, 2 * P(V' <= V))`` (or the upper tail when ``V > n(n+1)/4``) from
  the exact null distribution of the signed-rank statistic. The estimate is the median of
  the Walsh averages ``(d_i + d_j)/2, i <= j``; the interval is
  ``[w_(q), w_(N - q + 1)]`` with ``q = qsignrank(alpha/2, n)`` (1 if 0), ``N = n(n+1)/2``,
  achieved level ``1 - 2 P(V <= q - 1)``.
* Otherwise the normal approximation with continuity correction:
  ``z = (V - n(n+1)/4 - sign(.) 0.5) / sigma``,
  ``sigma^2 = n(n+1)(2n+1)/24 - sum(t^3 - t)/48`` over tie groups ``t``; the estimate and
  interval are the roots in ``d`` of the same standardised statistic of ``x - y - d``
  (``z(d) = +-z_{1-alpha/2}`` for the interval; ``z(d) = 0`` without the continuity
  correction for the estimate, as R does). ``z(d)`` is a step function that is
  exactly 0 on whole intervals (continuity correction), so the root is not unique; to give
  R's numbers we search it as R's ``uniroot`` does: Brent's (1973) zeroin with tolerance
  1e-4 between the smallest and largest difference (:func:`zeroin`, written from Brent's
  published algorithm). The limits then equal R's to floating-point precision except when
  scipy's normal quantile and R's (AS 241) differ in the last bit and steer the search to
  another point of the same step: then they differ by less than R's tolerance (1e-4); see
  ``benchmarks/clinical.py``.

References
----------
Brent RP. Algorithms for Minimization without Derivatives. Prentice-Hall, 1973, ch. 4.
Hollander M, Wolfe DA. Nonparametric Statistical Methods. Wiley, 1973 (signed-rank test,
Hodges-Lehmann estimator and interval). Bauer DF. Constructing confidence sets using rank
statistics. J Am Stat Assoc 1972;67:687-690. R Core Team, ``stats::wilcox.test``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

EXACT_MAX_N = 25
_FUZZ = 1e-7  # relative fuzz for quantile searches (R uses 10 * DBL_EPSILON on p)


@dataclass(frozen=True)
class WilcoxonResult:
    """Result of :func:`wilcoxon_paired` (``x - y``)."""

    n: int
    statistic: float
    p_value: float
    method: str
    estimate: float
    ci_low: float
    ci_high: float
    conf_level: float


def signrank_counts(n: int) -> np.ndarray:
    """Number of subsets of ``{1..n}`` with each sum ``0..n(n+1)/2`` (exact, as Python ints
    held in float64: exact up to n ~ 60)."""
    top = n * (n + 1) // 2
    c = np.zeros(top + 1, dtype=np.float64)
    c[0] = 1.0
    for k in range(1, n + 1):
        c[k:] = c[k:] + c[: top + 1 - k].copy()
    return c


def psignrank(q: float, n: int) -> float:
    """``P(V <= q)`` under the null (R's ``psignrank``)."""
    c = signrank_counts(n)
    q = math.floor(q + 1e-7)
    if q < 0:
        return 0.0
    return float(min(1.0, c[: q + 1].sum() / 2.0**n))


def qsignrank(p: float, n: int) -> int:
    """Smallest ``q`` with ``P(V <= q) >= p`` (R's ``qsignrank``, lower tail)."""
    c = signrank_counts(n) / 2.0**n
    cum = np.cumsum(c)
    target = p - 10 * np.finfo(float).eps
    return int(np.searchsorted(cum, target, side="left"))


def _rank_abs(d: np.ndarray) -> np.ndarray:
    return stats.rankdata(np.abs(d), method="average")


def _z(d: np.ndarray, *, correct: bool = True) -> float:
    """R's standardised signed-rank statistic of ``d`` (zeros dropped)."""
    d = d[d != 0]
    n = d.size
    if n == 0:
        return math.nan
    r = _rank_abs(d)
    z = r[d > 0].sum() - n * (n + 1) / 4
    _, t = np.unique(r, return_counts=True)
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - float((t**3 - t).sum()) / 48)
    if sigma == 0:
        return math.nan
    corr = math.copysign(0.5, z) if (correct and z != 0) else 0.0
    return (z - corr) / sigma


def wilcoxon_paired(
    x: np.ndarray, y: np.ndarray, *, conf_level: float = 0.95, exact_max_n: int = EXACT_MAX_N
) -> WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank test of ``x - y`` with Hodges-Lehmann estimate.

    Parameters
    ----------
    x, y : array_like
        Paired values (e.g. follow-up and baseline); pairs with a NaN are dropped.
    conf_level : float
        Confidence level of the interval.
    exact_max_n : int
        Use the exact distribution when ``n <= exact_max_n`` and there are no ties or zeros.

    Returns
    -------
    WilcoxonResult
        ``statistic`` is R's ``V``; ``method`` names exact or normal approximation (with
        continuity correction, and why); ``conf_level`` is the achieved level.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    d_all = x[keep] - y[keep]
    zeros = bool((d_all == 0).any())
    d = d_all[d_all != 0]
    n = int(d.size)
    alpha = 1 - conf_level
    if n == 0:
        return WilcoxonResult(0, math.nan, math.nan, "not computed: no non-zero differences",
                              math.nan, math.nan, math.nan, math.nan)
    r = _rank_abs(d)
    v = float(r[d > 0].sum())
    ties = np.unique(r).size != n
    if n <= exact_max_n and not ties and not zeros:
        counts = signrank_counts(n)
        total = 2.0**n
        cum = np.cumsum(counts) / total
        if v > n * (n + 1) / 4:
            p = 1 - cum[int(v) - 1]  # P(V >= v)
        else:
            p = cum[int(v)]
        p = min(1.0, 2 * p)
        walsh = np.add.outer(d, d)[np.triu_indices(n)] / 2
        walsh.sort()
        qu = qsignrank(alpha / 2, n)
        if qu == 0:
            qu = 1
        ql = n * (n + 1) // 2 - qu
        achieved = 2 * (cum[qu - 1] if qu >= 1 else 0.0)
        level = conf_level
        if achieved - alpha > alpha / 2:
            level = 1 - float(f"{achieved:.2g}")
        return WilcoxonResult(n, v, float(p), "exact", float(np.median(walsh)),
                              float(walsh[qu - 1]), float(walsh[ql]), level)
    why = [w for w, flag in (("ties", ties), ("zeros", zeros), (f"n > {exact_max_n}", n > exact_max_n)) if flag]
    method = f"normal approximation with continuity correction ({', '.join(why)})"
    z = _z(d)
    p = 2 * min(stats.norm.cdf(z), stats.norm.sf(z)) if not math.isnan(z) else math.nan
    est, lo, hi, level = _normal_ci(d, alpha, conf_level)
    return WilcoxonResult(n, v, float(p), method, est, lo, hi, level)


def _normal_ci(d: np.ndarray, alpha: float, conf_level: float) -> tuple[float, float, float, float]:
    """Estimate and interval by inverting the normal-approximation statistic (R's rules)."""
    mumin, mumax = float(d.min()), float(d.max())

    def w(mu: float) -> float:
        return _z(d - mu)

    wmin, wmax = w(mumin), w(mumax)
    if math.isnan(wmin) or math.isnan(wmax):
        return math.nan, math.nan, math.nan, math.nan

    def root(zq: float) -> float:
        f_lo, f_hi = wmin - zq, wmax - zq
        if f_lo <= 0:
            return mumin
        if f_hi >= 0:
            return mumax
        return zeroin(lambda m: w(m) - zq, mumin, mumax, f_lo, f_hi, tol=1e-4)

    while True:
        if wmin - stats.norm.isf(alpha / 2) < 0 or wmax - stats.norm.ppf(alpha / 2) > 0:
            alpha *= 2
        else:
            break
        if alpha >= 1:
            break
    level = conf_level
    if alpha >= 1 or 1 - conf_level < alpha * 0.75:
        level = 1 - min(1.0, alpha)
    if alpha < 1:
        lo, hi = root(stats.norm.isf(alpha / 2)), root(stats.norm.ppf(alpha / 2))
    else:
        lo = hi = float(np.median(d))
    # R drops the continuity correction for the point estimate (``correct <- FALSE``)
    def w0(mu: float) -> float:
        return _z(d - mu, correct=False)

    est = zeroin(w0, mumin, mumax, w0(mumin), w0(mumax), tol=1e-4)
    return est, lo, hi, level


def zeroin(
    f: Callable[[float], float], ax: float, bx: float, fa: float, fb: float, *,
    tol: float = 1e-4, maxiter: int = 1000,
) -> float:
    """Brent's zeroin: a root of ``f`` in ``[ax, bx]`` (``fa = f(ax)``, ``fb = f(bx)`` of
    opposite signs) by bisection, secant and inverse quadratic interpolation.

    Notes
    -----
    Brent (1973), ch. 4: keep ``b`` the best estimate, ``c`` the contrapoint
    (``f(b) f(c) <= 0``), ``a`` the previous ``b``; stop when ``|c - b| / 2 <= tol_act``
    with ``tol_act = 2 eps |b| + tol / 2``; interpolate only while the step stays inside
    3/4 of the bracket and shrinks faster than bisection would.
    """
    eps = float(np.finfo(float).eps)
    a, b = ax, bx
    if fa == 0:
        return a
    if fb == 0:
        return b
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b
