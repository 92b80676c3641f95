"""The ALDEx2-style test as it was before its speed work (microtrial commit 31c0e0d), kept
unchanged as the reference the faster code must reproduce (tests/differential/test_aldex_fast.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.differential._data import Contrast, bh, result_frame


def _welch_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = a.shape[1], b.shape[1]
    va, vb = a.var(axis=1, ddof=1) / na, b.var(axis=1, ddof=1) / nb
    se2 = va + vb
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (a.mean(axis=1) - b.mean(axis=1)) / np.sqrt(se2)
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
    x = np.concatenate([a, b], axis=1)
    # rows with ties are recomputed below, so any sort order of the untied rows is the same
    order = np.argsort(x, axis=1, kind="quicksort")
    srt = np.take_along_axis(x, order, axis=1)
    tied = np.any(srt[:, 1:] == srt[:, :-1], axis=1)
    ranks = np.arange(1, n1 + n2 + 1, dtype=float)
    r1 = ((order < n1) * ranks[None, :]).sum(axis=1)
    u = r1 - n1 * (n1 + 1) / 2.0
    z = (np.abs(u - n1 * n2 / 2.0) - 0.5) / np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0)
    p = np.minimum(2 * stats.norm.sf(np.maximum(z, 0.0)), 1.0)
    if tied.any():
        res = stats.mannwhitneyu(a[tied], b[tied], axis=1, alternative="two-sided",
                                 method="asymptotic")
        p[tied] = res.pvalue
    return p


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
    srt = np.sort(np.abs(sub), axis=1)
    clean = np.all(srt[:, 1:] != srt[:, :-1], axis=1) & np.all(sub != 0, axis=1)
    res = np.full(sub.shape[0], np.nan)
    if n <= 50 and clean.any():
        res[clean] = stats.wilcoxon(sub[clean], axis=1, method="exact").pvalue
    rest = ~clean if n <= 50 else np.ones(sub.shape[0], dtype=bool)
    if rest.any():
        res[rest] = stats.wilcoxon(sub[rest], axis=1, method="approx",
                                   zero_method="wilcox", correction=True).pvalue
    out[nonzero] = res
    return out


def aldex_reference(contrast: Contrast, *, mc_samples: int = 128, prior: float = 0.5,
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
    for k in range(mc_samples):
        g = rng.standard_gamma(x)
        logp = np.log2(g / g.sum(axis=0, keepdims=True))
        c = logp - logp.mean(axis=0, keepdims=True)
        a, b = c[:, ti], c[:, ri]
        if paired:
            d = a - b
            p_t = _paired_t_p(d)
            p_w = signed_rank_p(d)
            bt = d[:, rng.integers(0, d.shape[1], n_pairs)]
        else:
            p_t = _welch_p(a, b)
            p_w = _ranksum_p(a, b)
            bt = a[:, rng.integers(0, a.shape[1], n_pairs)] - b[:, rng.integers(0, b.shape[1], n_pairs)]
        wa = np.abs(a[:, rng.integers(0, a.shape[1], n_pairs)] - a[:, rng.integers(0, a.shape[1], n_pairs)])
        wb = np.abs(b[:, rng.integers(0, b.shape[1], n_pairs)] - b[:, rng.integers(0, b.shape[1], n_pairs)])
        btw[:, k * n_pairs:(k + 1) * n_pairs] = bt
        win[:, k * n_pairs:(k + 1) * n_pairs] = np.maximum(wa, wb)
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
