"""Response rates with exact confidence intervals, and paired immune-measure summaries."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.design import RESPONSE_COLUMN, RESPONSE_LEVELS
from microtrial.stats import EXACT_MAX_N, wilcoxon_paired

RATE_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("imacs_doi", "IMACS DOI met"),
    ("tis_minimal", "TIS at least minimal"),
    ("tis_moderate", "TIS at least moderate"),
    ("tis_major", "TIS major"),
)
_AT_LEAST = {"tis_minimal": ("minimal", "moderate", "major"), "tis_moderate": ("moderate", "major"),
             "tis_major": ("major",)}


def clopper_pearson(k: int, n: int, *, conf_level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion ``k / n``.

    Notes
    -----
    ``lower = B^{-1}(alpha/2; k, n - k + 1)`` (0 when k = 0),
    ``upper = B^{-1}(1 - alpha/2; k + 1, n - k)`` (1 when k = n), with ``B^{-1}`` the beta
    quantile function (Clopper & Pearson 1934, Biometrika 26:404; R's ``binom.test``).
    """
    if n <= 0:
        return math.nan, math.nan
    a = 1 - conf_level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def response_rates(response: pd.DataFrame, *, conf_level: float = 0.95) -> pd.DataFrame:
    """Response rates n/N (%) with exact CI, overall and by ``group`` (when present).

    N counts the subjects evaluable for the endpoint (``imacs_doi`` or ``tis_category``
    non-missing); subjects not evaluable are reported in ``not_evaluable``.
    """
    parts: list[tuple[str, pd.DataFrame]] = [("all", response)]
    if "group" in response.columns:
        for g, sub in response.groupby(response["group"].astype(str), sort=True):
            if g:
                parts.append((str(g), sub))
    rows = []
    for group, sub in parts:
        for key, label in RATE_ENDPOINTS:
            if key == "imacs_doi":
                ok = sub["imacs_doi"].notna()
                k = int(sub.loc[ok, "imacs_doi"].astype(bool).sum())
            else:
                ok = sub["tis_category"].notna() & (sub["tis_category"].astype(str) != "")
                k = int(sub.loc[ok, "tis_category"].isin(_AT_LEAST[key]).sum())
            n = int(ok.sum())
            lo, hi = clopper_pearson(k, n, conf_level=conf_level)
            pct = 100 * k / n if n else math.nan
            rows.append({
                "group": group, "endpoint": key, "description": label, "responders": k,
                "evaluable": n, "not_evaluable": int(len(sub) - n), "percent": pct,
                "ci_low": 100 * lo, "ci_high": 100 * hi,
                "summary": f"{k}/{n} ({pct:.1f}%, 95% CI {100 * lo:.1f}-{100 * hi:.1f})" if n else "0/0",
            })
    return pd.DataFrame(rows)


def quantiles7(values: np.ndarray) -> tuple[float, float, float]:
    """Median, Q1, Q3 by R's default ``quantile(type = 7)`` (linear interpolation)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75], method="linear")
    return float(med), float(q1), float(q3)


def immune_paired(
    immune: pd.DataFrame,
    *,
    baseline: str = "baseline",
    followup: str = "week12",
    conf_level: float = 0.95,
    exact_max_n: int = EXACT_MAX_N,
) -> pd.DataFrame:
    """Baseline vs follow-up of each immune measure in the subjects measured at both.

    Returns one row per measure: ``n`` pairs; baseline and follow-up median, Q1, Q3 (R type
    7); ``median_difference`` (median of follow-up - baseline); Wilcoxon signed-rank ``V``,
    ``p_value`` and ``method``; Hodges-Lehmann ``hl_estimate`` with ``ci_low``/``ci_high``
    at the achieved ``conf_level`` (see :func:`wilcoxon_paired`).
    """
    measures = [c for c in immune.columns if c not in ("subject", "visit", "group")]
    base = immune[immune["visit"] == baseline].set_index("subject")
    fup = immune[immune["visit"] == followup].set_index("subject")
    subjects = [s for s in base.index if s in fup.index]
    rows = []
    for m in measures:
        b = base.loc[subjects, m].to_numpy(dtype=float)
        f = fup.loc[subjects, m].to_numpy(dtype=float)
        ok = ~(np.isnan(b) | np.isnan(f))
        b, f = b[ok], f[ok]
        bm, bq1, bq3 = quantiles7(b)
        fm, fq1, fq3 = quantiles7(f)
        res = wilcoxon_paired(f, b, conf_level=conf_level, exact_max_n=exact_max_n)
        method = res.method
        if not ok.any():  # not "no non-zero differences": there is nothing to difference
            method = f"not computed: no subject measured at both {baseline} and {followup}"
        rows.append({
            "measure": m, "n": int(ok.sum()),
            "baseline_median": bm, "baseline_q1": bq1, "baseline_q3": bq3,
            "followup_median": fm, "followup_q1": fq1, "followup_q3": fq3,
            "median_difference": quantiles7(f - b)[0],
            "statistic_v": res.statistic, "p_value": res.p_value, "method": method,
            "hl_estimate": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high,
            "conf_level": res.conf_level,
            "summary": (f"{fm:.3g} [{fq1:.3g}, {fq3:.3g}] vs {bm:.3g} [{bq1:.3g}, {bq3:.3g}]"
                        if ok.any() else ""),
        })
    return pd.DataFrame(rows)


def responders_metadata(
    response: pd.DataFrame | Mapping[str, bool | None], metadata: pd.DataFrame, subject_col: str
) -> pd.DataFrame:
    """Sample metadata with a ``response`` column (:data:`microtrial.design.RESPONSE_COLUMN`):
    ``responder`` (IMACS DOI met), ``non-responder`` (not met; :data:`~microtrial.design.
    RESPONSE_LEVELS`), missing for subjects not evaluable or without a score.

    Parameters
    ----------
    response : DataFrame (indexed by subject, with ``imacs_doi``) or mapping subject -> bool
    metadata : DataFrame
        Sample metadata (one row per sample).
    subject_col : str
        Column of ``metadata`` holding the subject id.
    """
    if subject_col not in metadata.columns:
        raise KeyError(f"metadata has no column '{subject_col}'")
    if isinstance(response, pd.DataFrame):
        mapping = {str(s): (None if pd.isna(v) else bool(v)) for s, v in response["imacs_doi"].items()}
    else:
        mapping = {str(s): v for s, v in response.items()}
    responder, non_responder = RESPONSE_LEVELS
    labels = {s: (responder if v else non_responder) for s, v in mapping.items() if v is not None}
    out = metadata.copy()

    def label(s: object) -> object:
        if s is None or (isinstance(s, float) and s != s) or s is pd.NA:
            return pd.NA
        key = str(int(s)) if isinstance(s, float) and s.is_integer() else str(s)
        return labels.get(key, pd.NA)

    out[RESPONSE_COLUMN] = out[subject_col].map(label)
    out[RESPONSE_COLUMN] = out[RESPONSE_COLUMN].astype("object")
    return out
