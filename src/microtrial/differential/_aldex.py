"""ALDEx2-style differential abundance (Fernandes et al. 2014), written here because
ALDEx2 is an R package; it follows the ALDEx2 documentation (``aldex.clr``, ``aldex.ttest``,
``aldex.effect``).

For each of ``mc_samples`` (128) Monte Carlo instances, every sample's composition is drawn
from :math:`\\mathrm{Dirichlet}(x + 0.5)` (``x`` = its counts), transformed by the
centred log-ratio with base-2 logarithms, and every feature is tested between the levels:
Welch's t test and the Wilcoxon rank-sum test (exact when both groups have fewer than 50
samples, as R's ``wilcox.test``), or, for paired contrasts, the paired t test and the
Wilcoxon signed-rank test on the within-subject CLR differences. The expected p-value
(``we_ep``, ``wi_ep``) is the mean over instances of the p-values and the expected BH
q-value (``we_ebh``, ``wi_ebh``) the mean over instances of their Benjamini-Hochberg
q-values. ``p_value``/``q_value`` are Welch's (paired t for paired contrasts).

Effect sizes (``aldex.effect``): in each instance, random pairs of a test and a reference
sample give between-group differences :math:`d_{btw}`, random pairs within each group give
absolute within-group differences, and :math:`d_{win}` is the larger of the two. Over all
instances, ``effect`` is the median of :math:`d_{btw}` (a log2 fold change of CLR values,
``effect_type = log2_clr_difference``), ``diff_win`` the median of :math:`d_{win}`, and
``aldex_effect`` the median of :math:`d_{btw}/d_{win}`. For paired contrasts :math:`d_{btw}`
is the within-subject difference.

Speed (large studies): each instance's gamma draws are the same calls in the same order as
always (so results do not change with this code), the CLR is one numba pass over the
instance written in place, Welch's moments come from one pass per feature, and the
large-sample rank-sum test sorts each group's values once and counts the pairs by merging
them (the same U, so the same p, as ranking the pooled values); rows with ties still go to
scipy. The effect sizes index the CLR matrix directly instead of copying each group. One
thread draws the next instance's random numbers (one stream, in the original order) while a
second tests the current one.

References
----------
Fernandes AD, Reid JN, Macklaim JM, et al. Unifying the analysis of high-throughput
sequencing datasets: characterizing RNA-seq, 16S rRNA gene sequencing and selective growth
experiments by compositional data analysis. Microbiome. 2014;2:15.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit
from scipy import stats

from microtrial.differential._data import Contrast, bh, result_frame


@njit(cache=True, nogil=True)
def _clr_log2_inplace(g: np.ndarray) -> None:  # pragma: no cover - numba
    """Replace each column of ``g`` (features x samples) by the base-2 CLR of its
    proportions: ``log2(g / sum(g)) - mean(log2(g / sum(g)))``."""
    n_f, n_s = g.shape
    tot = np.zeros(n_s)
    for i in range(n_f):
        for j in range(n_s):
            tot[j] += g[i, j]
    mean = np.zeros(n_s)
    for i in range(n_f):
        for j in range(n_s):
            v = np.log2(g[i, j] / tot[j])
            g[i, j] = v
            mean[j] += v
    for j in range(n_s):
        mean[j] /= n_f
    for i in range(n_f):
        for j in range(n_s):
            g[i, j] -= mean[j]


@njit(cache=True, nogil=True)
def _moments(c: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Per row of ``c``: mean and variance (ddof 1) of the columns ``idx``."""
    n_f = c.shape[0]
    n = idx.size
    mu = np.empty(n_f)
    var = np.empty(n_f)
    for i in range(n_f):
        s = 0.0
        for j in idx:
            s += c[i, j]
        m = s / n
        ss = 0.0
        for j in idx:
            d = c[i, j] - m
            ss += d * d
        mu[i] = m
        var[i] = ss / (n - 1) if n > 1 else np.nan
    return mu, var


@njit(cache=True, nogil=True)
def _merge_u(sa: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Per row of the row-sorted ``sa`` and ``sb``: the number of pairs with ``a > b``
    (the Mann-Whitney U of ``a``; exact when the row has no ties) and whether the pooled
    row has any tie (within either group or between them)."""
    n_f, n1 = sa.shape
    n2 = sb.shape[1]
    u = np.zeros(n_f)
    tied = np.zeros(n_f, dtype=np.bool_)
    for i in range(n_f):
        t = False
        for k in range(1, n1):
            if sa[i, k] == sa[i, k - 1]:
                t = True
        for k in range(1, n2):
            if sb[i, k] == sb[i, k - 1]:
                t = True
        below = 0
        cnt = 0
        for k in range(n1):
            v = sa[i, k]
            while below < n2 and sb[i, below] < v:
                below += 1
            if below < n2 and sb[i, below] == v:
                t = True
            cnt += below
        u[i] = cnt
        tied[i] = t
    return u, tied


def _welch_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _welch_from_moments(a.mean(axis=1), a.var(axis=1, ddof=1), a.shape[1],
                               b.mean(axis=1), b.var(axis=1, ddof=1), b.shape[1])


def _welch_from_moments(ma: np.ndarray, vara: np.ndarray, na: int, mb: np.ndarray,
                        varb: np.ndarray, nb: int) -> np.ndarray:
    """Welch's two-sided p per row from each group's mean and variance (ddof 1)."""
    va, vb = vara / na, varb / nb
    se2 = va + vb
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ma - mb) / np.sqrt(se2)
        df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    p = 2 * stats.t.sf(np.abs(t), df)
    return np.where(se2 > 0, p, np.nan)


def _paired_t_p(d: np.ndarray) -> np.ndarray:
    n = d.shape[1]
    sd = d.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = d.mean(axis=1) / (sd / np.sqrt(n))
    p = 2 * stats.t.sf(np.abs(t), n - 1)
    return np.where(sd > 0, p, np.nan)


def _ranksum_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sided Wilcoxon rank-sum p per row: exact when both groups have fewer than 50
    samples, otherwise the normal approximation with continuity correction (R's
    ``wilcox.test`` defaults); rows with ties use scipy's tie-corrected version."""
    n1, n2 = a.shape[1], b.shape[1]
    if n1 < 50 and n2 < 50:
        res = stats.mannwhitneyu(a, b, axis=1, alternative="two-sided", method="exact")
        return np.asarray(res.pvalue, dtype=float)
    # U of the first group = pairs (a > b), counted by merging each group's sorted values
    # (the same number as the pooled rank sum minus n1 (n1 + 1) / 2 when a row has no tie;
    # rows with ties are recomputed below)
    u, tied = _merge_u(np.sort(a, axis=1), np.sort(b, axis=1))
    z = (np.abs(u - n1 * n2 / 2.0) - 0.5) / np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0)
    p = np.minimum(2 * stats.norm.sf(np.maximum(z, 0.0)), 1.0)
    if tied.any():
        res = stats.mannwhitneyu(a[tied], b[tied], axis=1, alternative="two-sided",
                                 method="asymptotic")
        p[tied] = res.pvalue
    return p


def _ranksum_p_large(c: np.ndarray, ti: np.ndarray, ri: np.ndarray, chunk: int = 256) -> np.ndarray:
    """:func:`_ranksum_p` for groups of 50 or more (the normal approximation) on the columns
    ``ti`` and ``ri`` of ``c``, sorting the groups ``chunk`` features at a time (the sorted
    copies stay small however many samples there are)."""
    out = np.empty(c.shape[0])
    for lo in range(0, c.shape[0], chunk):
        rows = c[lo:lo + chunk]
        out[lo:lo + chunk] = _ranksum_p(rows[:, ti], rows[:, ri])
    return out


@njit(cache=True, nogil=True)
def _positive_rank_sums(d: np.ndarray, order: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Per row: the sum of the ranks of ``|d|`` (``order`` sorts them) of the positive values."""
    out = np.zeros(d.shape[0])
    for i in range(d.shape[0]):
        s = 0.0
        for k in range(d.shape[1]):
            if d[i, order[i, k]] > 0:
                s += k + 1
        out[i] = s
    return out


def _signed_rank_p_clean(d: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Two-sided signed-rank p of rows without zeros or ties, normal approximation with
    continuity correction: the same formula as scipy's ``wilcoxon(method="approx",
    correction=True)`` (``z = (R+ - n(n+1)/4 - sign * 0.5) / sqrt(n(n+1)(2n+1)/24)``,
    ``p = 2 Phi(-|z|)``) without its per-row ranking."""
    from scipy import special

    n = float(d.shape[1])
    r_plus = _positive_rank_sums(d, order)
    mn = n * (n + 1.0) * 0.25
    se = np.sqrt(n * (n + 1.0) * (2.0 * n + 1.0) / 24)
    z = (r_plus - mn) / se
    z = z - np.sign(z) * 0.5 / se
    return 2 * special.ndtr(-np.abs(z))

def signed_rank_p(d: np.ndarray) -> np.ndarray:
    """Two-sided Wilcoxon signed-rank p of each row of ``d`` (exact for n <= 50 without
    ties or zeros, normal approximation otherwise, as R's ``wilcox.test``); NaN when a
    row is all zero."""
    out = np.full(d.shape[0], np.nan)
    nonzero = np.any(d != 0, axis=1)
    if not nonzero.any():
        return out
    sub = d[nonzero]
    n = sub.shape[1]
    order = np.argsort(np.abs(sub), axis=1)
    srt = np.take_along_axis(np.abs(sub), order, axis=1)
    clean = np.all(srt[:, 1:] != srt[:, :-1], axis=1) & np.all(sub != 0, axis=1)
    del srt
    res = np.full(sub.shape[0], np.nan)
    if n <= 50 and clean.any():
        res[clean] = stats.wilcoxon(sub[clean], axis=1, method="exact").pvalue
    if n > 50 and clean.any():  # no ties or zeros: the normal approximation, ranks counted here
        res[clean] = _signed_rank_p_clean(sub[clean], order[clean])
    rest = ~clean
    if rest.any():
        res[rest] = stats.wilcoxon(sub[rest], axis=1, method="approx",
                                   zero_method="wilcox", correction=True).pvalue
    out[nonzero] = res
    return out


def aldex(contrast: Contrast, *, mc_samples: int = 128, prior: float = 0.5,
          seed: int = 0) -> pd.DataFrame:
    """ALDEx2-style test of every feature (see module notes).

    Parameters
    ----------
    contrast : Contrast
        ``between`` (Welch + Wilcoxon rank-sum) or ``paired`` (paired t + signed-rank).
    mc_samples : int
        Monte Carlo Dirichlet instances (ALDEx2's ``mc.samples``, 128).
    prior : float
        Dirichlet prior added to every count (0.5).
    seed : int
        Seed of the Dirichlet draws and the random pairs.

    Returns
    -------
    pandas.DataFrame with ``feature, effect, effect_type, p_value, q_value`` and ALDEx2's
    ``we_ep, we_ebh, wi_ep, wi_ebh, aldex_effect, diff_win``.
    """
    rng = np.random.default_rng(seed)
    x = contrast.counts.to_numpy(dtype=float) + prior
    n_feat = x.shape[0]
    is_t = contrast.is_test
    paired = contrast.kind == "paired"
    if paired:
        ti, ri = contrast.pairs()
    else:
        ti, ri = np.flatnonzero(is_t), np.flatnonzero(~is_t)
    sums = {k: np.zeros(n_feat) for k in ("we_ep", "we_ebh", "wi_ep", "wi_ebh")}
    # random pairs per instance for the effect sizes (ALDEx2 uses max(n_test, n_reference)
    # per instance; capped so that 128 instances keep at most 4,096 values per feature)
    n_pairs = min(len(ti) if paired else max(len(ti), len(ri)), max(1, 4096 // mc_samples))
    btw = np.empty((n_feat, mc_samples * n_pairs))
    win = np.empty_like(btw)
    small = len(ti) < 50 and len(ri) < 50  # exact rank-sum p: scipy on the group copies

    def draw() -> tuple[np.ndarray, list[np.ndarray]]:
        """One instance's random numbers, in the order the tests have always drawn them:
        the gamma draws, then the random pairs of the effect sizes."""
        g = rng.standard_gamma(x)
        if paired:
            picks = [rng.integers(0, len(ti), n_pairs)]
        else:
            picks = [rng.integers(0, len(ti), n_pairs), rng.integers(0, len(ri), n_pairs)]
        picks += [rng.integers(0, len(ti), n_pairs), rng.integers(0, len(ti), n_pairs),
                  rng.integers(0, len(ri), n_pairs), rng.integers(0, len(ri), n_pairs)]
        return g, picks

    def tests(c: np.ndarray, picks: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """CLR (in place), the two tests and the instance's effect-size differences."""
        _clr_log2_inplace(c)
        if paired:
            d = c[:, ti] - c[:, ri]
            p_t = _paired_t_p(d)
            p_w = signed_rank_p(d)
            del d
            bt = c[:, ti[picks[0]]] - c[:, ri[picks[0]]]
        else:
            if small:
                a, b = c[:, ti], c[:, ri]
                p_t = _welch_p(a, b)
                p_w = _ranksum_p(a, b)
                del a, b
            else:
                ma, va = _moments(c, ti)
                mb, vb = _moments(c, ri)
                p_t = _welch_from_moments(ma, va, len(ti), mb, vb, len(ri))
                p_w = _ranksum_p_large(c, ti, ri)
            bt = c[:, ti[picks[0]]] - c[:, ri[picks[1]]]
        w1, w2, w3, w4 = picks[-4:]
        wa = np.abs(c[:, ti[w1]] - c[:, ti[w2]])
        wb = np.abs(c[:, ri[w3]] - c[:, ri[w4]])
        return p_t, p_w, bt, np.maximum(wa, wb)

    # the next instance is drawn (one random stream, in order) while a second thread tests
    # the current one (numba kernels, sorts and scipy's ufuncs release the GIL)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(tests, *draw())
        for k in range(mc_samples):
            nxt = draw() if k + 1 < mc_samples else None
            p_t, p_w, bt, wn = pending.result()
            if nxt is not None:
                pending = pool.submit(tests, *nxt)
                del nxt
            btw[:, k * n_pairs:(k + 1) * n_pairs] = bt
            win[:, k * n_pairs:(k + 1) * n_pairs] = wn
            sums["we_ep"] += p_t
            sums["we_ebh"] += bh(p_t)
            sums["wi_ep"] += p_w
            sums["wi_ebh"] += bh(p_w)
    mean = {k: v / mc_samples for k, v in sums.items()}
    effect_size = np.full(n_feat, np.nan)
    for i in range(n_feat):
        ok = win[i] > 0
        if ok.any():
            effect_size[i] = np.median(btw[i, ok] / win[i, ok])
    return result_frame(
        contrast.counts.index, np.median(btw, axis=1), "log2_clr_difference",
        mean["we_ep"], mean["we_ebh"], we_ep=mean["we_ep"], we_ebh=mean["we_ebh"],
        wi_ep=mean["wi_ep"], wi_ebh=mean["wi_ebh"], aldex_effect=effect_size,
        diff_win=np.median(win, axis=1),
    )
