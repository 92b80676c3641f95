"""MaAsLin2-style linear (mixed) models per feature (Mallick et al. 2021).

Each feature's abundance is transformed (``transform``):

- ``clr`` (default): base-2 centred log-ratio of counts + 0.5, so the coefficient of the
  level is a log2 fold change relative to the sample's geometric mean
  (``effect_type = log2_clr_difference``);
- ``log`` (MaAsLin2's default, TSS + LOG): :math:`\\log_2 x` of the relative abundance,
  zeros replaced by half the feature's smallest non-zero relative abundance (MaAsLin2's
  rule), a log2 fold change of relative abundance (``log2_fold_change``);
- ``asin``: :math:`\\arcsin\\sqrt{x}` of the relative abundance (``asin_sqrt_difference``).

CLR is the default because relative abundances of unchanged taxa move when others change:
in ``benchmarks/differential.py``'s case-control simulation (300 features, 30 changing by
1-2.5 natural-log units, balanced up and down, 25 vs 25, 8 replicates) ``log`` called
features whose absolute abundance did not change at an empirical FDR of 0.14 (their
relative abundance did change), ``asin`` 0.15, ``clr`` 0.04, with the same power (0.96).

The model is :math:`y = \\beta_0 + \\beta_1 [\\text{test}] + \\text{covariates} + b_s +
\\varepsilon` with a subject random intercept :math:`b_s \\sim N(0, \\tau^2)` when a subject
column is given and subjects repeat; otherwise ordinary least squares.

The random-intercept model is fitted by REML for all features at once instead of one
``statsmodels`` ``MixedLM`` per feature (0.22 s a feature on 500 samples, 250 subjects,
measured under load 6 on 2 cores, i.e. about 7 minutes for 2,000 features): with
:math:`\\gamma = \\tau^2/\\sigma^2` the covariance of subject :math:`s` (:math:`n_s` samples)
is :math:`\\sigma^2(I + \\gamma J)`, whose inverse square root subtracts
:math:`\\theta_s = 1 - (1 + \\gamma n_s)^{-1/2}` times the subject mean. On the transformed
data GLS is OLS and the profiled REML log-likelihood is

.. math:: \\ell(\\gamma) = -\\tfrac12\\left[\\sum_s \\log(1+\\gamma n_s)
          + \\log|X_\\gamma^\\top X_\\gamma| + (N-p)\\log \\mathrm{RSS}_\\gamma\\right].

Because :math:`X_\\gamma` is the same for every feature, :math:`\\ell` is evaluated for all
features on a grid of :math:`\\gamma` (0 and 81 log-spaced values from :math:`10^{-4}` to
:math:`10^{4}`, steps of 26 %), each feature's best :math:`\\gamma` is then refined between
its neighbouring grid points by a golden-section search (all features at once). The tests
compare the estimates with ``statsmodels`` ``MixedLM`` (REML). Wald tests use Student's t
with :math:`\\min(N-p, S-1)` degrees of freedom (:math:`S` subjects; with two visits per
subject this is the paired t test's; for an interaction, at most the number of subjects
sampled at both times minus 2, the two-sample t test of changes), which is more conservative than MixedLM's normal
approximation for small studies. q-values by Benjamini-Hochberg.

References
----------
Mallick H, Rahnavard A, McIver LJ, et al. Multivariable association discovery in
population-scale meta-omics studies. PLoS Comput Biol. 2021;17:e1009442.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.differential._data import Contrast, relative, result_frame
from microtrial.errors import AnalysisError
from microtrial.stats import random_intercept_fit

TRANSFORMS = {"log": "log2_fold_change", "clr": "log2_clr_difference", "asin": "asin_sqrt_difference"}


def transform_abundance(counts: np.ndarray, transform: str) -> np.ndarray:
    """Per-feature transformed abundances (features x samples), see module notes."""
    if transform == "log":
        rel = relative(counts)
        out = np.empty_like(rel)
        for i, row in enumerate(rel):
            nz = row[row > 0]
            floor = nz.min() / 2 if nz.size else 1e-12
            out[i] = np.log2(np.where(row > 0, row, floor))
        return out
    if transform == "clr":
        x = np.log2(np.asarray(counts, dtype=float) + 0.5)
        return x - x.mean(axis=0, keepdims=True)
    if transform == "asin":
        return np.arcsin(np.sqrt(relative(counts)))
    raise AnalysisError(f"unknown transform '{transform}'; choose from {', '.join(TRANSFORMS)}")


def _covariate_columns(contrast: Contrast) -> list[np.ndarray]:
    cols = []
    cov = contrast.covariates
    for name in cov.columns:
        v = cov[name]
        if pd.api.types.is_numeric_dtype(v):
            vals = v.to_numpy(dtype=float)
            if np.isnan(vals).any():
                raise AnalysisError(f"covariate '{name}' has missing values")
            cols.append(vals)
        else:
            if v.isna().any():
                raise AnalysisError(f"covariate '{name}' has missing values")
            levels = sorted(v.astype(str).unique())
            for lev in levels[1:]:
                cols.append((v.astype(str) == lev).to_numpy(dtype=float))
    return cols


def model_terms(contrast: Contrast, *, trend: bool = False
                ) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """The fixed-effects design of a contrast and the columns it tests.

    - ``between``/``paired``: intercept, test indicator, covariates; tests column 1;
    - ``interaction``: intercept, time (test indicator), arm (test arm), time x arm,
      covariates; tests column 3, the difference between arms of the within-subject change;
    - ``longitudinal``: intercept, one indicator per later time point, covariates; tests
      each indicator (term ``<level>``); with ``trend``, intercept, the time point's rank
      (0, 1, 2, ...), covariates; tests the rank (term ``trend``).

    Returns ``(X, [(label, column), ...])``.
    """
    n = len(contrast.level)
    level = contrast.level.astype(str).to_numpy()
    one = np.ones(n)
    if contrast.kind == "longitudinal" and contrast.time_levels:
        tl = list(contrast.time_levels)
        if trend:
            rank = np.array([tl.index(v) for v in level], dtype=float)
            cols, tested = [one, rank], [("trend", 1)]
        else:
            cols = [one] + [(level == lv).astype(float) for lv in tl[1:]]
            tested = [(lv, i + 1) for i, lv in enumerate(tl[1:])]
    elif contrast.kind == "interaction":
        t = contrast.is_test.astype(float)
        a = contrast.is_test_arm.astype(float)
        cols, tested = [one, t, a, t * a], [("interaction", 3)]
    else:
        cols, tested = [one, contrast.is_test.astype(float)], [("level", 1)]
    x = np.column_stack(cols + _covariate_columns(contrast))
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise AnalysisError("the design (level + covariates) is not of full rank")
    return x, tested


def design_matrix(contrast: Contrast) -> np.ndarray:
    """The fixed-effects design of :func:`model_terms` (intercept, test indicator, then
    covariates, numeric as is, categorical as treatment-coded dummies, for two-level
    contrasts)."""
    return model_terms(contrast)[0]


def _fit(y: np.ndarray, x: np.ndarray, contrast: Contrast
         ) -> tuple[np.ndarray, np.ndarray, int, str]:
    n, p = x.shape
    if n <= p:
        raise AnalysisError(f"{n} samples are too few for a model with {p} terms")
    if len(contrast.random.columns) == 1 and not contrast.has_repeated_subjects():
        return _fit_random(y, x, contrast)
    if contrast.has_repeated_subjects():
        assert contrast.subject is not None
        groups = contrast.subject.astype(str).to_numpy()
        beta, se, _ = random_intercept_fit(y, x, groups)
        df = min(n - p, len(np.unique(groups)) - 1)
        if contrast.kind == "interaction":
            # the interaction is a within-subject contrast compared between two arms: the
            # subjects sampled at both times minus two (the two-sample t test of changes)
            df = min(df, len(contrast.pairs()[0]) - 2)
        return beta, se, max(df, 1), "lmm"
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    rss = ((y - x @ beta) ** 2).sum(axis=0)
    se = np.sqrt(np.outer(np.diag(xtx_inv), rss / (n - p)))
    return beta, se, n - p, "ols"


def _fit_random(y: np.ndarray, x: np.ndarray, contrast: Contrast
                ) -> tuple[np.ndarray, np.ndarray, int, str]:
    """``between`` contrasts without repeated subjects and with one ``random`` grouping
    (e.g. cage: mice of a cage share it): the all-features REML random-intercept model of
    that grouping, with its levels minus 2 degrees of freedom (the groups are the units the
    level varies between). Within-subject contrasts keep the subject intercept only (a
    grouping of subjects cancels from within-subject changes; the pipeline says so)."""
    n, p = x.shape
    name = str(contrast.random.columns[0])
    groups = contrast.random[name].astype(str).to_numpy()
    beta, se, _ = random_intercept_fit(y, x, groups)
    df = min(n - p, len(np.unique(groups)) - 2)
    return beta, se, max(df, 1), f"lmm+{name}"


def _wald(beta: np.ndarray, se: np.ndarray, df: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    return np.where(se > 0, 2 * stats.t.sf(np.abs(t), df), np.nan)


def lmm(contrast: Contrast, *, transform: str = "clr", seed: int = 0) -> pd.DataFrame:
    """Linear model (subject random intercept when subjects repeat) of each feature's
    transformed abundance on the design of :func:`model_terms` (see module notes).

    Returns
    -------
    pandas.DataFrame with ``feature, effect, effect_type, p_value, q_value`` (the tested
    coefficient and its Wald test), ``se``, ``model`` (``lmm`` or ``ols``), ``term``.
    ``interaction``: ``effect`` is the test arm's change minus the reference arm's change,
    ``change_test_arm`` and ``change_reference_arm`` the two changes. ``longitudinal``: one
    block of rows per later time point against the first (``test_level`` names it) and one
    for the linear trend over the time points' ranks (term ``<column>:trend``), each with
    its own BH q-values.
    """
    del seed  # deterministic
    y = transform_abundance(contrast.counts.to_numpy(dtype=float), transform).T
    etype = TRANSFORMS[transform]
    feats = contrast.counts.index
    x, tested = model_terms(contrast)
    beta, se, df, model = _fit(y, x, contrast)
    name = contrast.term
    if contrast.kind == "longitudinal" and contrast.time_levels:
        column = name or "time"
        parts = []
        for label, j in tested:
            parts.append(result_frame(feats, beta[j], etype, _wald(beta[j], se[j], df),
                                      se=se[j], model=model, term=f"{column}:{label}",
                                      test_level=label))
        xt, tt = model_terms(contrast, trend=True)
        bt, st, dft, _ = _fit(y, xt, contrast)
        j = tt[0][1]
        parts.append(result_frame(feats, bt[j], etype, _wald(bt[j], st[j], dft), se=st[j],
                                  model=model, term=f"{column}:trend",
                                  test_level=contrast.time_levels[-1]))
        return pd.concat(parts, ignore_index=True)
    j = tested[0][1]
    extra: dict[str, Any] = {"se": se[j], "model": model, "term": name}
    if contrast.kind == "interaction":
        extra["change_test_arm"] = beta[1] + beta[3]
        extra["change_reference_arm"] = beta[1]
    return result_frame(feats, beta[j], etype, _wald(beta[j], se[j], df), **extra)


def omnibus_f(counts: pd.DataFrame, level: pd.Series, levels: tuple[str, ...], *,
              covariates: pd.DataFrame | None = None, transform: str = "clr") -> pd.DataFrame:
    """``between`` with more than two levels: per feature, the F test of all levels at once
    (ordinary least squares of the transformed abundance on the level dummies and the
    covariates, against the covariates alone), before the pairwise tests.

    Returns ``feature, effect`` (the F statistic), ``effect_type`` (``f_statistic``),
    ``p_value, q_value`` (BH), ``df_num, df_den``.
    """
    y = transform_abundance(counts.to_numpy(dtype=float), transform).T
    lv = level.astype(str).to_numpy()
    n = len(lv)
    base = [np.ones(n)]
    if covariates is not None and len(covariates.columns):
        dummy = Contrast(pd.DataFrame(np.zeros((0, n)), columns=level.index),
                         pd.Series(np.where(lv == levels[0], levels[0], levels[1]), index=level.index),
                         levels[0], levels[1], covariates=covariates)
        base += _covariate_columns(dummy)
    x0 = np.column_stack(base)
    x1 = np.column_stack(base + [(lv == v).astype(float) for v in levels[1:]])
    if np.linalg.matrix_rank(x1) < x1.shape[1]:
        raise AnalysisError("the design (levels + covariates) is not of full rank")
    p1, p0 = x1.shape[1], x0.shape[1]
    if n <= p1:
        raise AnalysisError(f"{n} samples are too few for a model with {p1} terms")

    def rss(x: np.ndarray) -> np.ndarray:
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        return ((y - x @ beta) ** 2).sum(axis=0)

    r1, r0 = rss(x1), rss(x0)
    df1, df2 = p1 - p0, n - p1
    with np.errstate(divide="ignore", invalid="ignore"):
        f = ((r0 - r1) / df1) / (r1 / df2)
    pval = np.where(r1 > 0, stats.f.sf(f, df1, df2), np.nan)
    return result_frame(counts.index, f, "f_statistic", pval, df_num=df1, df_den=df2)
