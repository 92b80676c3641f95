"""Alpha diversity indices (per sample), matching vegan's ``diversity`` and ``estimateR``.

The indices are written here (a few lines each) instead of taken from scikit-bio because
vegan's ``estimateR`` Chao1 and ACE differ in detail from scikit-bio's (bias correction,
rare threshold), and we match vegan to 1e-9. Faith's PD uses our tree walk (checked against
``skbio.diversity.alpha.faith_pd`` in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from microtrial.errors import AnalysisError
from microtrial.table import FeatureTable

ALPHA_METRICS: tuple[str, ...] = (
    "observed_features", "shannon", "simpson", "chao1", "ace", "pielou_evenness",
    "goods_coverage", "faith_pd",
)


def _check_counts(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if np.any(x < 0):
        raise AnalysisError("counts must be non-negative")
    return x


def shannon(counts: np.ndarray) -> float:
    """Shannon entropy ``H = -sum p_i ln p_i`` (natural log), as vegan ``diversity()``."""
    x = _check_counts(counts)
    n = x.sum()
    if n == 0:
        return float("nan")
    p = x[x > 0] / n
    return float(-(p * np.log(p)).sum())


def simpson(counts: np.ndarray) -> float:
    """Gini-Simpson ``1 - sum p_i^2``, as vegan ``diversity(index="simpson")``."""
    x = _check_counts(counts)
    n = x.sum()
    if n == 0:
        return float("nan")
    p = x / n
    return float(1.0 - (p * p).sum())


def chao1(counts: np.ndarray) -> float:
    """Bias-corrected Chao1, as vegan ``estimateR`` ``S.chao1``.

    Notes
    -----
    ``S_chao1 = S_obs + F1 (F1 - 1) / (2 (F2 + 1))`` with ``F1``/``F2`` the numbers of
    singletons/doubletons (Chao 1987; vegan 2.6 ``estimateR.default``).
    """
    x = np.rint(_check_counts(counts)).astype(np.int64)
    s_obs = int((x > 0).sum())
    f1 = int((x == 1).sum())
    f2 = int((x == 2).sum())
    return s_obs + f1 * (f1 - 1) / (f2 + 1) / 2


def ace(counts: np.ndarray, *, rare_threshold: int = 10) -> float:
    """Abundance-based coverage estimator, as vegan ``estimateR`` ``S.ACE`` (threshold 10).

    Notes
    -----
    With ``S_rare``/``S_abund`` the features with counts ``<= 10`` / ``> 10``,
    ``N_rare`` the reads in rare features, ``C = 1 - F1 / N_rare`` and
    ``gamma^2 = max(S_rare / C * sum_i i (i-1) F_i / (N_rare (N_rare - 1)) - 1, 0)``:
    ``S_ACE = S_abund + S_rare / C + F1 / C * gamma^2`` (Chao & Lee 1992).
    NaN when there are no rare features or all rare reads are singletons (C = 0), where
    vegan returns NaN or Inf.
    """
    x = np.rint(_check_counts(counts)).astype(np.int64)
    x = x[x > 0]
    rare = x[x <= rare_threshold]
    s_rare = rare.size
    s_abund = int((x > rare_threshold).sum())
    n_rare = int(rare.sum())
    f = np.bincount(rare, minlength=rare_threshold + 1)
    if n_rare == 0:
        return float("nan")
    c_ace = 1.0 - f[1] / n_rare
    if c_ace <= 0 or n_rare < 2:
        return float("nan")
    i = np.arange(rare_threshold + 1)
    gam = (i * (i - 1) * f).sum() * s_rare / (c_ace * n_rare * (n_rare - 1)) - 1
    return float(s_abund + s_rare / c_ace + max(gam, 0.0) * f[1] / c_ace)


def goods_coverage(counts: np.ndarray) -> float:
    """Good's coverage ``1 - F1 / N`` (Good 1953)."""
    x = np.rint(_check_counts(counts))
    n = x.sum()
    return float("nan") if n == 0 else float(1.0 - (x == 1).sum() / n)


def pielou_evenness(counts: np.ndarray) -> float:
    """Pielou's evenness ``J = H / ln(S_obs)`` (NaN when fewer than two features)."""
    s = int((np.asarray(counts) > 0).sum())
    return float("nan") if s < 2 else shannon(counts) / np.log(s)


_FUNCS = {
    "observed_features": lambda x: float((np.asarray(x) > 0).sum()),
    "shannon": shannon, "simpson": simpson, "chao1": chao1, "ace": ace,
    "pielou_evenness": pielou_evenness, "goods_coverage": goods_coverage,
}


def alpha_diversity(
    table: FeatureTable, *, metrics: Sequence[str] = ALPHA_METRICS, tree: object | None = None,
) -> pd.DataFrame:
    """Alpha diversity of every sample.

    Parameters
    ----------
    table : FeatureTable
        Counts (features x samples); Chao1, ACE and Good's coverage need integer counts.
    metrics : sequence of str
        Names from :data:`ALPHA_METRICS`; ``faith_pd`` needs ``tree`` and is skipped
        without one.
    tree : skbio.TreeNode, optional
        Rooted tree whose tips include every feature id.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id (index name ``sample-id``), one column per metric.
    """
    unknown = [m for m in metrics if m not in ALPHA_METRICS]
    if unknown:
        raise AnalysisError(f"unknown alpha metric(s) {unknown}; choose from {list(ALPHA_METRICS)}")
    dense = np.asarray(table.data.T.toarray(), dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for m in metrics:
        if m == "faith_pd":
            if tree is None:
                continue
            from microtrial.diversity._unifrac import faith_pd

            out[m] = faith_pd(table, tree)
            continue
        out[m] = np.array([_FUNCS[m](row) for row in dense], dtype=np.float64)
    df = pd.DataFrame(out, index=pd.Index(table.sample_ids, name="sample-id"))
    return df
