"""Multiple-testing correction shared by every stage."""

from __future__ import annotations

import numpy as np


def bh(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN p-values stay NaN and are not counted.

    Notes
    -----
    :math:`q_{(i)} = \\min_{j \\ge i} \\min(1, m\\,p_{(j)}/j)` over the :math:`m`
    non-missing p-values sorted increasingly; the same numbers as R's
    ``p.adjust(p, method = "BH")`` and statsmodels' ``multipletests(method="fdr_bh")``.

    References
    ----------
    Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B
    1995;57:289-300.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")[::-1]
    adj = np.minimum.accumulate(pv[order] * m / np.arange(m, 0, -1))
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out
