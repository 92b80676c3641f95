"""The error model: fitting substitution rates by quality, and learning them self-consistently.

The error matrix has 16 rows (A2A, A2C, A2G, A2T, C2A, ..., T2T: true base -> read base) and
41 columns (Phred 0..40).  Following DADA2's ``learnErrors``/``loessErrfun`` documentation
(Callahan et al. 2016): the transitions observed between partition centres and their
members are counted by quality; for each of the 12 off-diagonal transitions ``x -> y`` the
rate ``(count(x -> y) + 1) / count(x -> *)`` is fitted on a log10 scale against quality by a
loess curve weighted by ``count(x -> *)``; rates are clamped to ``[1e-7, 0.25]`` and the
diagonal is one minus the other three.  The partition is recomputed with the new matrix
until the matrix stops changing (at most ``max_consist`` rounds).

The loess is written here (:func:`loess`) rather than taken from statsmodels because
statsmodels' ``lowess`` is local-linear and takes no prior weights, while the fit needs R's
default ``loess``: local quadratic, tricube kernel over the nearest ``span = 0.75`` of the
points, multiplied by the prior weights, no robustness iterations, and R's default
``surface = "interpolate"`` (:func:`loess_interpolate`): the fit is computed exactly only at
the vertices of a k-d tree over the qualities (cells split at the median until they hold at
most ``floor(n * span * cell)`` points, ``cell = 0.2``; the outer vertices 0.5% of the range
beyond the data) and interpolated between them by cubic Hermite polynomials from the
vertex values and slopes (Cleveland & Grosse 1991, Statistics and Computing 1:47-62).  The
interpolation changes rates by up to ~20% against exact evaluation when few qualities are
observed, enough to change which reads DADA2 corrects on small inputs; with it, the error
matrices of R DADA2 1.26 are reproduced to ~1e-14 from the same transition counts.

The first round starts, as DADA2 does, from maximal error rates (every entry 1), not from
the quality scores' promise ``10^(-Q/10) / 3`` that DENOISE.md suggests: Illumina's real
rates exceed the nominal ones, so a start from below splits errors off as variants, whose
transitions then no longer count as errors, and the loop can settle on rates that are too
low.  From above, the first rounds form few partitions and cost little; the alignments are
cached, so later rounds cost only lambda updates and the reassignment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from microtrial.denoise import _dada as D
from microtrial.denoise._types import Derep

log = logging.getLogger(__name__)

N_QUAL = D.N_QUAL
MIN_RATE = 1e-7
MAX_RATE = 0.25
BASES = "ACGT"
ROW_NAMES = tuple(f"{x}2{y}" for x in BASES for y in BASES)


def loess(x, y, w, xout, *, span: float = 0.75, degree: int = 2) -> np.ndarray:
    """Weighted local polynomial regression (R ``loess`` defaults, exact evaluation).

    At each ``x0`` the fit minimises ``sum_i w_i T(|x_i - x0| / h) (y_i - P(x_i - x0))^2``
    with ``P`` a polynomial of ``degree``, ``T(u) = (1 - u^3)^3`` for ``u < 1`` (else 0) and
    ``h`` the distance to the ``floor(span * n)``-th nearest ``x_i``; returns ``P(0)``.
    Points outside the range of ``x`` get NaN (as R's interpolating surface does).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    w = np.asarray(w, np.float64)
    xout = np.asarray(xout, np.float64)
    n = x.shape[0]
    out = np.full(xout.shape[0], np.nan)
    if n == 0:
        return out
    q = max(int(math.floor(span * n)), 1)
    lo, hi = x.min(), x.max()
    for t, x0 in enumerate(xout):
        if x0 < lo or x0 > hi:
            continue
        out[t] = _local_fit(x, y, w, float(x0), q, degree)[0]
    return out


def _local_fit(x, y, w, x0: float, q: int, degree: int) -> tuple[float, float]:
    """Value and slope at ``x0`` of the weighted local polynomial (see :func:`loess`)."""
    d = np.abs(x - x0)
    h = np.sort(d)[q - 1]
    if h <= 0:
        h = 1e-12
    u = d / h
    k = np.where(u < 1, (1 - u**3) ** 3, 0.0) * w
    deg = min(degree, int(np.count_nonzero(k > 0)) - 1)
    if deg < 0:
        return math.nan, math.nan
    X = np.vander(x - x0, deg + 1, increasing=True)
    sw = np.sqrt(k)
    coef, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    return float(coef[0]), float(coef[1]) if deg >= 1 else 0.0


def loess_interpolate(x, y, w, xout, *, span: float = 0.75, degree: int = 2,
                      cell: float = 0.2) -> np.ndarray:
    """R's ``loess(y ~ x, weights = w)`` then ``predict`` at ``xout`` (one predictor).

    R's default ``surface = "interpolate"``: a k-d tree is built over the sorted ``x``
    (``n`` points): a cell holding more than ``floor(n * span * cell)`` points is split at
    its ``floor((l + u) / 2)``-th point (unless that equals a cell bound); the bounding
    vertices lie ``0.005 * range`` beyond the data.  At every vertex the local fit of
    :func:`loess` gives a value and a slope; inside a leaf cell the surface is the cubic
    Hermite interpolant of its two vertices.  Points outside ``[min(x), max(x)]`` get NaN.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    w = np.asarray(w, np.float64)
    xout = np.asarray(xout, np.float64)
    out = np.full(xout.shape[0], np.nan)
    n = x.shape[0]
    if n == 0:
        return out
    order = np.argsort(x, kind="stable")
    x, y, w = x[order], y[order], w[order]
    q = max(min(n, int(math.floor(n * span + 1e-5))), 1)
    fc = int(math.floor(n * span * cell))
    lo, hi = float(x[0]), float(x[-1])
    mu = 0.005 * max(hi - lo, 1e-10 * max(abs(lo), abs(hi)) + 1e-30)
    verts = {lo - mu, hi + mu}
    cells = [(1, n, lo - mu, hi + mu)]  # 1-based point ranges l..u and their bounds
    while cells:
        l, u, vl, vu = cells.pop()
        if u - l + 1 <= fc:
            continue
        m = (l + u) // 2
        split = float(x[m - 1])
        if split in (vl, vu):
            continue
        verts.add(split)
        cells.append((l, m, vl, split))
        cells.append((m + 1, u, split, vu))
    vs = np.array(sorted(verts))
    vals = np.array([_local_fit(x, y, w, v, q, degree) for v in vs])
    for t, z in enumerate(xout):
        if z < lo or z > hi:
            continue
        k = int(np.searchsorted(vs, z, side="left"))
        if vs[k] == z:
            out[t] = vals[k, 0]
            continue
        v0, v1 = vs[k - 1], vs[k]
        (f0, d0), (f1, d1) = vals[k - 1], vals[k]
        hh = v1 - v0
        s = (z - v0) / hh
        out[t] = ((1 - s) ** 2 * (1 + 2 * s) * f0 + s**2 * (3 - 2 * s) * f1
                  + (s * (1 - s) ** 2 * d0 - s**2 * (1 - s) * d1) * hh)
    return out


def fit_errors(trans: np.ndarray) -> np.ndarray:
    """Error matrix (16 x 41) from transition counts (16 x 41) by per-transition loess.

    ``rate(x->y, q) = 10^loess(log10((n_xy(q) + 1) / n_x(q)))`` weighted by
    ``n_x(q) = sum_y n_xy(q)`` (R's interpolated loess surface, :func:`loess_interpolate`,
    as DADA2's ``loessErrfun``); qualities without observations are excluded from the fit
    and take the fitted value of the nearest observed quality.
    """
    trans = np.asarray(trans, np.float64)
    nq = trans.shape[1]
    qq = np.arange(nq, dtype=np.float64)
    err = np.zeros((16, nq))
    for x in range(4):
        tot = trans[4 * x : 4 * x + 4].sum(axis=0)
        for y in range(4):
            if x == y:
                continue
            errs = trans[4 * x + y]
            ok = tot > 0
            if not ok.any():
                err[4 * x + y] = MAX_RATE / 3
                continue
            rlogp = np.log10((errs[ok] + 1) / tot[ok])
            pred = loess_interpolate(qq[ok], rlogp, tot[ok], qq)
            good = np.flatnonzero(np.isfinite(pred))
            if good.size == 0:
                pred[:] = np.average(rlogp, weights=tot[ok])
            else:
                pred[: good[0]] = pred[good[0]]
                pred[good[-1] + 1 :] = pred[good[-1]]
            err[4 * x + y] = 10.0**pred
    err = np.clip(err, MIN_RATE, MAX_RATE)
    for x in range(4):
        off = [4 * x + y for y in range(4) if y != x]
        err[5 * x] = 1.0 - err[off].sum(axis=0)
    return err


def _pava_decreasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-increasing fit of ``y`` (pool adjacent violators)."""
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for yi, wi in zip(y, w):
        vals.append(float(yi))
        wts.append(float(wi))
        sizes.append(1)
        while len(vals) > 1 and vals[-2] < vals[-1]:
            wsum = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wsum
            size = sizes[-2] + sizes[-1]
            del vals[-1], wts[-1], sizes[-1]
            vals[-1], wts[-1], sizes[-1] = v, wsum, size
    return np.repeat(np.asarray(vals), sizes)


def fit_errors_monotone(trans: np.ndarray) -> np.ndarray:
    """Error matrix (16 x 41) whose substitution rates never rise with quality.

    For binned quality scores (NovaSeq/NextSeq: about 4 distinct values) the loess fit of
    :func:`fit_errors` has too few points and can make rates rise with quality.  Here, for
    each of the 12 off-diagonal transitions, ``log10((n_xy(q) + 1) / n_x(q))`` at the
    observed qualities is fitted by a weighted non-increasing (isotonic) regression, weights
    ``n_x(q)``; between observed qualities the fit is interpolated linearly (in log10), and
    outside them held constant.  Rates are clamped to ``[1e-7, 0.25]`` and the diagonal is
    one minus the other three, as in :func:`fit_errors`.  Every substitution rate is then
    non-increasing in quality (interpolating and clamping keep a non-increasing fit so).
    """
    trans = np.asarray(trans, np.float64)
    nq = trans.shape[1]
    qq = np.arange(nq, dtype=np.float64)
    err = np.zeros((16, nq))
    for x in range(4):
        tot = trans[4 * x : 4 * x + 4].sum(axis=0)
        ok = tot > 0
        for y in range(4):
            if x == y:
                continue
            if not ok.any():
                err[4 * x + y] = MAX_RATE / 3
                continue
            rlogp = np.log10((trans[4 * x + y][ok] + 1) / tot[ok])
            fitted = _pava_decreasing(rlogp, tot[ok])
            err[4 * x + y] = 10.0 ** np.interp(qq, qq[ok], fitted)
    err = np.clip(err, MIN_RATE, MAX_RATE)
    for x in range(4):
        off = [4 * x + y for y in range(4) if y != x]
        err[5 * x] = 1.0 - err[off].sum(axis=0)
    return err


def quality_errors(n_qual: int = N_QUAL) -> np.ndarray:
    """Starting matrix: each substitution ``10^(-Q/10) / 3`` (clamped to [1e-7, 0.25])."""
    q = np.arange(n_qual, dtype=np.float64)
    sub = np.clip(10.0 ** (-q / 10) / 3, MIN_RATE, MAX_RATE)
    err = np.tile(sub, (16, 1))
    for x in range(4):
        err[5 * x] = 1.0 - 3 * sub
    return err


def check_err(err: np.ndarray) -> np.ndarray:
    err = np.asarray(err, np.float64)
    if err.shape != (16, N_QUAL):
        raise ValueError(f"error matrix must have shape (16, {N_QUAL}), got {err.shape}")
    if not np.all(np.isfinite(err)) or (err < 0).any() or (err > 1).any():
        raise ValueError("error matrix entries must be probabilities in [0, 1]")
    return err


def log_err(err: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.ascontiguousarray(np.log(err))


def learn_errors(
    dereps: Sequence[Derep],
    *,
    nbases: float = 1e8,
    nreads: int | None = None,
    max_consist: int = 10,
    omega_a: float = 1e-40,
    omega_c: float = 0.0,
    threads: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    band_size: int = 16,
    kdist_cutoff: float = 0.42,
    error_model: str = "loess",
) -> np.ndarray:
    """Learn the error matrix (16 x 41) from samples by DADA2's self-consistency loop.

    Whole samples are used in order until more than ``nbases`` bases (reads x length) are
    included, or, with ``nreads`` (q2-dada2's ``--p-n-reads-learn``), more than ``nreads``
    reads; as R's ``learnErrors``, the sample that crosses the limit is included.

    The loop follows DADA2's ``dada(selfConsist=TRUE)``: a first round with every error
    rate 1 and a single partition per sample; its fit, with the diagonal (no-error
    transitions) set to 1, starts the next round.  Each further round partitions every
    sample (``omega_a``, ``omega_c`` 0 as ``learnErrors``' default: every member counts,
    singletons not detected), sums the transitions of the corrected members and refits
    (:func:`fit_errors`, or :func:`fit_errors_monotone` with ``error_model="monotone"``).
    It stops when a fit repeats a matrix already used (exact equality, so cycles end too)
    or after ``max_consist`` rounds (logging a warning).  Alignments are cached across
    rounds.

    References
    ----------
    Callahan BJ et al. (2016) DADA2: High-resolution sample inference from Illumina amplicon
    data. Nat Methods 13:581-583.
    """
    chosen: list[Derep] = []
    total = 0.0
    n_reads = 0
    for d in dereps:
        chosen.append(d)
        total += float(sum(int(a) * len(s) for s, a in zip(d.sequences, d.abundances)))
        n_reads += d.n_reads
        if (nreads is None and total > nbases) or (nreads is not None and n_reads > nreads):
            break
    if not chosen or total == 0:
        raise ValueError("learn_errors needs at least one read")
    log.info("learning errors from %d samples, %d reads, %.3g bases", len(chosen), n_reads, total)
    fit = fit_errors_monotone if error_model == "monotone" else fit_errors
    preps = [D.derep_prepare(d) for d in chosen]
    err = np.ones((16, N_QUAL))  # DADA2's start: maximal error rates
    nthreads = max(1, int(threads))

    def run(prep, logerr, max_clust):
        part = D.partition(prep, logerr, omega_a=omega_a, omega_p=0.0, omega_c=omega_c,
                           detect_singletons=False, band=band_size, kdist_cutoff=kdist_cutoff,
                           max_clust=max_clust)
        return D.transitions(prep, part)

    used: list[np.ndarray] = []
    converged = False
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        for rnd in range(max_consist + 1):
            logerr = log_err(err)
            max_clust = 1 if rnd == 0 else 0
            if nthreads > 1:
                parts = list(pool.map(run, preps, [logerr] * len(preps), [max_clust] * len(preps)))
            else:
                parts = [run(p, logerr, max_clust) for p in preps]
            trans = np.zeros((16, N_QUAL))
            for t in parts:  # fixed order: identical for any thread count
                trans += t
            new = fit(trans)
            if rnd == 0:
                new[[0, 5, 10, 15]] = 1.0  # as DADA2 after its initialising round
            else:
                used.append(err)
            if progress is not None:
                progress("learn errors", rnd + 1, max_consist + 1)
            err = new
            if any(np.array_equal(new, u) for u in used):
                converged = True
                break
    if not converged:
        log.warning("error model not converged after %d rounds", max_consist)
    return err
