"""LEfSe: linear discriminant analysis effect size (Segata et al. 2011).

LEfSe does not control the false discovery rate: its tests are uncorrected (alpha 0.05)
and the LDA threshold is an effect-size filter, so its list mixes true and false calls at
a rate nobody sets (``benchmarks/differential.py`` prints its empirical FDR beside the
methods that do control it: ANCOM-BC, ALDEx2-style and the mixed model, BH q < 0.05).
Report it, as clinical papers do, but weigh it with the consensus table.

Written here (LEfSe itself runs R through rpy2, which is not a dependency) from the paper
and the documented behaviour of LEfSe 1.1.2 (``lefse_format_input.py -o 1000000``,
``lefse_run.py`` defaults), step by step:

1. Relative abundances scaled to :math:`10^6` per sample (LEfSe's ``-o 1000000``; the
   sample total is the sum of the top-level clades, i.e. all reads).
2. Kruskal-Wallis test between the classes (chi-square approximation with the tie
   correction, as R's ``kruskal.test``); features with :math:`p \\ge \\alpha` (0.05) stop.
3. With subclasses: every subclass of one class against every subclass of the other with
   the Wilcoxon rank-sum test (normal approximation with tie-corrected variance and no
   continuity correction, as ``coin::wilcox_test``; LEfSe compares its two-sided p with
   :math:`2\\alpha`); all comparisons must agree in the direction of the medians.
   Subclasses with fewer than ``min_c`` (10) samples are only compared by medians. Without
   subclasses each class is its own subclass, so this step only checks that the two classes
   are not identical constants and (for classes of 10 or more samples) repeats the rank test.
4. Features that pass enter one linear discriminant analysis together (MASS ``lda``,
   moment estimator, ``tol = 1e-10``), fitted on 30 bootstrap subsamples of
   :math:`\\lfloor 2n/3 \\rfloor` samples drawn with replacement (redrawn, up to 1,000
   times, until every class has enough samples and every feature varies within every
   class). Before that, features with few distinct values in a class get LEfSe's jitter
   :math:`|x + N(0, \\max(0.05x, 0.01))|`. For each bootstrap and feature :math:`j`,

   .. math:: s_j = \\tfrac12\\left(|\\bar x_{aj} - \\bar x_{bj}| + |u_j|\\,
             |u^\\top(\\bar x_a - \\bar x_b)|\\right)

   with :math:`u` the unit first discriminant direction. The LDA score is
   :math:`\\log_{10}(1 + \\operatorname{mean}_{boot} s_j)`; we sign it by direction
   (positive when the test level has the higher mean). Features with score above the
   threshold (2) are LEfSe's discriminative features.

LEfSe does **not** control the false discovery rate: the Kruskal-Wallis alpha is applied
to unadjusted p-values and the LDA threshold is an effect-size cut. The ``q_value`` column
we report is the Benjamini-Hochberg adjustment of the Kruskal-Wallis p-values, for
information only; the call (``lefse_called``) does not use it.

Our random numbers (numpy, ``seed``) differ from LEfSe's (Python ``random`` seeded 1982), so
LDA scores differ slightly from LEfSe's near the threshold.

References
----------
Segata N, Izard J, Waldron L, et al. Metagenomic biomarker discovery and explanation.
Genome Biol. 2011;12:R60. LEfSe 1.1.2 (https://github.com/SegataLab/lefse).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.differential._data import Contrast, bh, result_frame

_TOL = 1e-10


def kruskal_wallis(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Kruskal-Wallis p-value of each row of ``values`` (features x samples) between the
    classes, chi-square approximation with tie correction (R ``kruskal.test``); NaN when a
    row is constant."""
    n = values.shape[1]
    ranks = stats.rankdata(values, axis=1)
    labels = np.unique(classes)
    h = np.zeros(values.shape[0])
    for c in labels:
        m = classes == c
        h += m.sum() * (ranks[:, m].mean(axis=1) - (n + 1) / 2.0) ** 2
    h *= 12.0 / (n * (n + 1))
    tie = np.ones(values.shape[0])
    srt = np.sort(values, axis=1)
    for i in range(values.shape[0]):
        _, t = np.unique(srt[i], return_counts=True)
        tie[i] = 1.0 - (t**3 - t).sum() / (n**3 - n)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(tie > 0, h / tie, np.nan)
    return stats.chi2.sf(h, len(labels) - 1)


def _ranksum_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided asymptotic Wilcoxon rank-sum p (tie-corrected variance, no continuity
    correction), as coin's ``wilcox_test``."""
    allv = np.concatenate([x, y])
    r = stats.rankdata(allv)
    n1, n = len(x), len(allv)
    w = r[:n1].sum()
    e = n1 * (n + 1) / 2.0
    var = n1 * (n - n1) / (n * (n - 1.0)) * ((r - r.mean()) ** 2).sum()
    if var <= 0:
        return 1.0
    return float(2 * stats.norm.sf(abs(w - e) / np.sqrt(var)))


def _subclass_ok(x: np.ndarray, sub_a: list[np.ndarray], sub_b: list[np.ndarray],
                 alpha: float, min_c: int) -> bool:
    """LEfSe's pairwise subclass Wilcoxon step for two classes (see module notes)."""
    direction = None
    first = True
    for ia in sub_a:
        for ib in sub_b:
            c1, c2 = x[ia], x[ib]
            if c1[0] == c2[0] and np.all(c1 == c1[0]) and np.all(c2 == c2[0]):
                return False
            sx, sy = np.median(c1), np.median(c2)
            med_comp = len(c1) < min_c or len(c2) < min_c
            tres = False if med_comp else _ranksum_p(c1, c2) < alpha * 2.0
            if first:
                first = False
                if med_comp or tres:
                    direction = sx < sy
                else:
                    return False
            elif med_comp:
                if (sx < sy) != direction or sx == sy:
                    return False
            elif not tres or (sx < sy) != direction or sx == sy:
                return False
    return True


def _jitter(x: np.ndarray, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """LEfSe's jitter of features with few distinct values within a class."""
    x = x.copy()
    for c in np.unique(classes):
        m = classes == c
        limit = max(m.sum() * 0.5, 4)
        sub = x[:, m]
        srt = np.sort(sub, axis=1)
        n_unique = 1 + (np.diff(srt, axis=1) != 0).sum(axis=1)
        rows = np.flatnonzero(n_unique <= limit)
        if rows.size:
            block = sub[rows]
            sd = np.maximum(block * 0.05, 0.01)
            sub[rows] = np.abs(block + rng.normal(0.0, 1.0, block.shape) * sd)
            x[:, m] = sub
    return x


def _acceptable(x: np.ndarray, cls: np.ndarray, idx: np.ndarray, min_cl: int,
                n_classes: int) -> bool:
    sub_cls = cls[idx]
    if len(np.unique(sub_cls)) < n_classes:
        return False
    for c in np.unique(sub_cls):
        m = idx[sub_cls == c]
        if len(m) < min_cl:
            return False
        srt = np.sort(x[:, m], axis=1)
        n_unique = 1 + (np.diff(srt, axis=1) != 0).sum(axis=1)
        if np.any(n_unique <= min_cl):
            return False
    return True


def lda_direction(x: np.ndarray, is_a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First linear discriminant of MASS ``lda`` (moment method, ``tol=1e-10``).

    Parameters
    ----------
    x : ndarray (samples x features)
    is_a : boolean ndarray, the first class

    Returns
    -------
    scaling : ndarray (features,), the first column of ``lda(...)$scaling`` (up to sign);
        zero for features constant within groups (where MASS would stop with an error)
    mean_a, mean_b : ndarray, class means
    """
    n, p = x.shape
    mean_a = x[is_a].mean(axis=0)
    mean_b = x[~is_a].mean(axis=0)
    resid = x - np.where(is_a[:, None], mean_a, mean_b)
    f1 = resid.std(axis=0, ddof=1)
    keep = f1 >= _TOL
    w = np.zeros(p)
    if not keep.any():
        return w, mean_a, mean_b
    n_a = is_a.sum()
    prior = np.array([n_a, n - n_a]) / n
    xs = np.sqrt(1.0 / (n - 2)) * resid[:, keep] / f1[keep]
    _, d, vt = np.linalg.svd(xs, full_matrices=False)
    rank = int((d > _TOL).sum())
    if rank == 0:
        return w, mean_a, mean_b
    scaling = (vt[:rank].T / d[:rank]) / f1[keep][:, None]
    means = np.vstack([mean_a[keep], mean_b[keep]])
    xbar = prior @ means
    xb = np.sqrt(n * prior)[:, None] * (means - xbar) @ scaling
    _, db, vbt = np.linalg.svd(xb, full_matrices=False)
    if db[0] <= 0:
        return w, mean_a, mean_b
    w[keep] = scaling @ vbt[0]
    return w, mean_a, mean_b


def lda_scores(x: np.ndarray, cls: np.ndarray, *, n_boots: int = 30, fraction: float = 2 / 3,
               rng: np.random.Generator) -> np.ndarray:
    """LEfSe's bootstrapped LDA effect size (log10 scale, unsigned) of every row of ``x``
    (features x samples, already scaled and jittered) between two classes."""
    n = x.shape[1]
    labels = np.unique(cls)
    is_first = cls == labels[0]
    n_sub = int(n * fraction)
    min_cl = max(int(min(is_first.sum(), (~is_first).sum()) * fraction * fraction * 0.5), 1)
    acc = np.zeros(x.shape[0])
    for _ in range(n_boots):
        idx = rng.integers(0, n, n_sub)
        for _try in range(1000):
            if _acceptable(x, cls, idx, min_cl, len(labels)):
                break
            idx = rng.integers(0, n, n_sub)
        sub = x[:, idx].T
        a = is_first[idx]
        if a.all() or not a.any():
            continue
        w, ma, mb = lda_direction(sub, a)
        norm = np.sqrt((w**2).sum())
        unit = w / norm if norm > 0 else w
        effect = abs(unit @ (ma - mb))
        coeff = np.nan_to_num(np.abs(unit) * effect)
        acc += (np.abs(ma - mb) + coeff) * 0.5
    return np.log10(1.0 + acc / n_boots)


def lefse(contrast: Contrast, *, totals: np.ndarray | None = None,
          subclass: pd.Series | None = None, alpha: float = 0.05,
          wilcoxon_alpha: float = 0.05, lda_threshold: float = 2.0, n_boots: int = 30,
          fraction: float = 2 / 3, min_c: int = 10, normalization: float = 1e6,
          seed: int = 0) -> pd.DataFrame:
    """LEfSe between the two levels of ``contrast`` (see the module notes).

    Parameters
    ----------
    contrast : Contrast
        Counts of every clade to test (a whole taxonomic hierarchy, all ranks together, as
        LEfSe's cladogram input), samples of both levels.
    totals : ndarray, optional
        Reads per sample used for the :math:`10^6` scaling; default: column sums of the
        counts (right for a flat table; pass the sample totals for a hierarchy).
    subclass : pandas.Series, optional
        Subclass of each sample for the pairwise Wilcoxon step.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``effect`` (signed LDA score, NaN when the feature did not pass the
        tests), ``effect_type`` (``lda_log10``), ``p_value`` (Kruskal-Wallis), ``q_value``
        (BH of the Kruskal-Wallis p, not used for the call), ``lda_score`` (unsigned, NaN
        when not computed) and ``lefse_called``.
    """
    counts = contrast.counts.to_numpy(dtype=float)
    tot = counts.sum(axis=0) if totals is None else np.asarray(totals, dtype=float)
    mul = np.divide(normalization, tot, out=np.zeros_like(tot), where=tot > 0)
    x = counts * mul[None, :]
    cls = contrast.level.astype(str).to_numpy()
    kw_p = kruskal_wallis(x, cls) if x.shape[0] else np.zeros(0)
    passed = np.nan_to_num(kw_p, nan=1.0) < alpha
    classes = sorted({contrast.test, contrast.reference})
    if subclass is None:
        sub_a = [np.flatnonzero(cls == classes[0])]
        sub_b = [np.flatnonzero(cls == classes[1])]
    else:
        sc = subclass.astype(str).to_numpy()
        sub_a = [np.flatnonzero((cls == classes[0]) & (sc == s)) for s in dict.fromkeys(sc[cls == classes[0]])]
        sub_b = [np.flatnonzero((cls == classes[1]) & (sc == s)) for s in dict.fromkeys(sc[cls == classes[1]])]
    for i in np.flatnonzero(passed):
        passed[i] = _subclass_ok(x[i], sub_a, sub_b, wilcoxon_alpha, min_c)
    rng = np.random.default_rng(seed)
    score = np.full(x.shape[0], np.nan)
    if passed.any():
        xs = _jitter(x[passed], cls, rng)
        score[passed] = lda_scores(xs, cls, n_boots=n_boots, fraction=fraction, rng=rng)
    is_t = contrast.is_test
    direction = np.sign(x[:, is_t].mean(axis=1) - x[:, ~is_t].mean(axis=1))
    direction[direction == 0] = 1.0
    return result_frame(
        contrast.counts.index, score * direction, "lda_log10", kw_p, bh(kw_p),
        lda_score=score, lefse_called=np.nan_to_num(score, nan=0.0) > lda_threshold,
    )
