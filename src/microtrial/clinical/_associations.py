"""Associations of microbiome features with clinical, immune and metabolite measures.

Methods (``method=`` strings, checked against :data:`METHODS`):

``spearman``
    Spearman's rho (Pearson correlation of mid-ranks) over the samples with both values;
    ``p`` from ``t = rho sqrt((n - 2) / (1 - rho^2))`` on ``n - 2`` df (as scipy's
    ``spearmanr``).
``partial_spearman``
    Spearman adjusted for covariates: rank-transform ``x``, ``y`` and the numeric
    covariates (categorical covariates enter as 0/1 indicator columns), residualise the
    ranks of ``x`` and ``y`` on ``[1, covariates]`` by least squares, correlate the
    residuals; ``t`` on ``n - 2 - k`` df for ``k`` covariate columns (as R's
    ``ppcor::pcor.test(method = "spearman")``).
``rmcorr``
    Repeated-measures correlation (Bakdash & Marusich 2017): the ANCOVA
    ``y ~ subject + x`` with a common slope; ``r_rm = sign(b) sqrt(SS_x / (SS_x + SS_res))``,
    which equals the Pearson correlation of the within-subject-centred ``x`` and ``y``;
    ``df = N - k - 1`` (``N`` observations, ``k`` subjects with at least 2 observations),
    ``p`` from ``t = r_rm sqrt(df / (1 - r_rm^2))``.

Multiple testing: Benjamini-Hochberg within each output table (:func:`bh_fdr`).

Written here because scipy has no partial or repeated-measures correlation and a
vectorised version over all features of a table is needed.

References
----------
Bakdash JZ, Marusich LR. Repeated measures correlation. Front Psychol 2017;8:456.
Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B 1995;57:289.
Kim S. ppcor: an R package for a fast calculation to semi-partial correlation coefficients.
Commun Stat Appl Methods 2015;22:665.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.stats import bh

METHODS: tuple[str, ...] = ("spearman", "partial_spearman", "rmcorr")
COLUMNS: tuple[str, ...] = ("feature", "feature_type", "measure", "method", "n", "rho", "df", "p_value", "q_value")


bh_fdr = bh  # the project's one Benjamini-Hochberg correction (microtrial.stats.bh)


def _t_p(r: np.ndarray, df: np.ndarray) -> np.ndarray:
    r = np.asarray(r, dtype=float)
    df = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * np.sqrt(df / np.maximum(1 - r * r, 0.0))
        p = 2 * stats.t.sf(np.abs(t), df)
    p = np.where(np.abs(r) >= 1 - 1e-15, 0.0, p)
    return np.where((df > 0) & ~np.isnan(r), p, np.nan)


def _colcor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``a`` with the vector ``b`` (NaN if constant)."""
    a = a - a.mean(axis=0)
    b = b - b.mean()
    num = a.T @ b
    den = np.sqrt((a * a).sum(axis=0) * (b @ b))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    r = np.where(den > 1e-300, r, np.nan)
    return np.clip(r, -1.0, 1.0)


def _design(covariates: pd.DataFrame) -> np.ndarray:
    """Rank numeric covariates; indicator columns for categorical ones (first level the
    reference); plus intercept. Constant covariates are left out."""
    cols = [np.ones(len(covariates))]
    for c in covariates.columns:
        v = covariates[c]
        if pd.api.types.is_numeric_dtype(v):
            if v.nunique() > 1:  # a constant covariate adjusts nothing (and would cost a df)
                cols.append(stats.rankdata(v.to_numpy(dtype=float)))
        else:
            levels = sorted(v.astype(str).unique())
            cols.extend((v.astype(str) == lev).to_numpy(dtype=float) for lev in levels[1:])
    return np.column_stack(cols)


def _residualise(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return y - x @ beta


def _within_centre(v: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Subtract each subject's mean (rows of ``v``, subject index ``codes``)."""
    counts = np.bincount(codes, minlength=k).astype(float)
    if v.ndim == 1:
        means = np.bincount(codes, weights=v, minlength=k) / counts
        return v - means[codes]
    from scipy import sparse

    # per-subject sums as one sparse (subjects x samples) product (np.add.at is unbuffered)
    member = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(k, len(codes)))
    sums = np.asarray(member @ v)
    return v - (sums / counts[:, None])[codes]


def associate(
    features: pd.DataFrame,
    measures: pd.DataFrame,
    *,
    method: str = "spearman",
    subjects: pd.Series | None = None,
    covariates: pd.DataFrame | None = None,
    feature_types: pd.Series | None = None,
) -> pd.DataFrame:
    """Correlate every feature with every measure over the shared samples.

    Parameters
    ----------
    features : DataFrame
        Samples x features (e.g. relative abundances, alpha diversity).
    measures : DataFrame
        Samples x measures (same index; NaN = not measured).
    method : {"spearman", "partial_spearman", "rmcorr"}
    subjects : Series, optional
        Subject of each sample (required for ``rmcorr``).
    covariates : DataFrame, optional
        Covariates per sample (required for ``partial_spearman``).
    feature_types : Series, optional
        A label per feature (e.g. ``genus``, ``alpha``) copied to ``feature_type``.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`; ``rho`` is Spearman's rho, the partial rho or ``r_rm``;
        ``q_value`` is BH over the whole returned table.
    """
    if method not in METHODS:
        raise ValueError(f"unknown association method '{method}'; choose from {', '.join(METHODS)}")
    if method == "rmcorr" and subjects is None:
        raise ValueError("rmcorr needs subjects")
    if method == "partial_spearman" and (covariates is None or covariates.shape[1] == 0):
        raise ValueError("partial_spearman needs covariates")
    samples = features.index.intersection(measures.index)
    if covariates is not None:
        samples = samples[covariates.loc[samples].notna().all(axis=1).to_numpy()]
    fx = features.loc[samples].to_numpy(dtype=float)
    parts = []
    ranked: dict[bytes, np.ndarray] = {}  # feature ranks per set of samples (measures share them)
    centred: dict[bytes, np.ndarray] = {}  # features centred within subject, per set of samples

    def feature_ranks(ok: np.ndarray) -> np.ndarray:
        key = np.packbits(ok).tobytes()
        if key not in ranked:
            xs = fx[ok]
            ranked[key] = stats.rankdata(xs, axis=0) if xs.size else xs
        return ranked[key]

    for m in measures.columns:
        y = measures.loc[samples, m].to_numpy(dtype=float)
        ok = ~np.isnan(y)
        xs, ys = fx[ok], y[ok]
        n = int(ok.sum())
        r = np.full(fx.shape[1], np.nan)
        df = float("nan")
        if method == "spearman" and n >= 3:
            r = _colcor(feature_ranks(ok), stats.rankdata(ys))
            df = n - 2
        elif method == "partial_spearman":
            z = _design(covariates.loc[samples[ok]])  # type: ignore[union-attr]
            k = z.shape[1] - 1
            df = n - 2 - k
            if df > 0:
                r = _colcor(_residualise(feature_ranks(ok), z), _residualise(stats.rankdata(ys), z))
        elif method == "rmcorr":
            subj = subjects.loc[samples[ok]].astype(str).to_numpy()  # type: ignore[union-attr]
            uniq, counts = np.unique(subj, return_counts=True)
            multi = set(uniq[counts >= 2])
            keep = np.array([s in multi for s in subj], dtype=bool)
            n = int(keep.sum())
            k = len(multi)
            df = n - k - 1
            if df > 0:
                _, codes = np.unique(subj[keep], return_inverse=True)
                used = ok.copy()
                used[ok] = keep
                key = np.packbits(used).tobytes()  # the samples used (subjects follow from them)
                if key not in centred:
                    centred[key] = _within_centre(xs[keep], codes, k)
                xc = centred[key]
                yc = _within_centre(ys[keep], codes, k)
                r = _colcor(xc, yc)
        p = _t_p(r, np.full(r.shape, df))
        parts.append(pd.DataFrame({
            "feature": features.columns, "measure": m, "method": method, "n": n, "rho": r,
            "df": df, "p_value": p,
        }))
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    out["feature_type"] = (out["feature"].map(feature_types) if feature_types is not None else "")
    out["q_value"] = bh_fdr(out["p_value"].to_numpy())
    return out[list(COLUMNS)]


def rmcorr_anova(x: np.ndarray, y: np.ndarray, subjects: np.ndarray) -> tuple[float, int, float]:
    """Repeated-measures correlation of one pair of variables: ``(r_rm, df, p)``.

    See :func:`associate` (``method="rmcorr"``); subjects with one observation are dropped.
    """
    df_ = pd.DataFrame({"x": x, "y": y, "s": np.asarray(subjects).astype(str)}).dropna()
    res = associate(df_[["x"]], df_[["y"]], method="rmcorr", subjects=df_["s"])
    row = res.iloc[0]
    return float(row["rho"]), int(row["df"]) if not math.isnan(row["df"]) else -1, float(row["p_value"])
