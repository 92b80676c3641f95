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
features on a grid of :math:`\\gamma` (0 and 241 log-spaced values from :math:`10^{-4}` to
:math:`10^{4}`, steps of 8 %), and each feature keeps its best :math:`\\gamma`. The tests
compare the estimates with ``statsmodels`` ``MixedLM`` (REML). Wald tests use Student's t
with :math:`\\min(N-p, S-1)` degrees of freedom (:math:`S` subjects; with two visits per
subject this is the paired t test's), which is more conservative than MixedLM's normal
approximation for small studies. q-values by Benjamini-Hochberg.

References
----------
Mallick H, Rahnavard A, McIver LJ, et al. Multivariable association discovery in
population-scale meta-omics studies. PLoS Comput Biol. 2021;17:e1009442.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from microtrial.differential._data import Contrast, relative, result_frame
from microtrial.errors import AnalysisError

TRANSFORMS = {"log": "log2_fold_change", "clr": "log2_clr_difference", "asin": "asin_sqrt_difference"}
_GAMMAS = np.concatenate([[0.0], np.logspace(-4, 4, 241)])


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


def design_matrix(contrast: Contrast) -> np.ndarray:
    """Intercept, test indicator, then covariates (numeric as is, categorical as
    treatment-coded dummies)."""
    cols = [np.ones(len(contrast.level)), contrast.is_test.astype(float)]
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
    x = np.column_stack(cols)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise AnalysisError("the design (level + covariates) is not of full rank")
    return x


def _group_means(a: np.ndarray, groups: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per-group column means of ``a`` (samples x k) -> (groups x k)."""
    avg = sp.csr_matrix((1.0 / sizes[groups], (groups, np.arange(len(groups)))),
                        shape=(len(sizes), len(groups)))
    return np.asarray(avg @ a)


def random_intercept_fit(y: np.ndarray, x: np.ndarray, groups: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """REML random-intercept fit of every column of ``y`` (samples x features).

    For each :math:`\\gamma` on the grid, the transformed data are
    :math:`y^*_{sj} = y_{sj} - \\theta_s \\bar y_s`; :math:`Q^\\top y^*` and
    :math:`\\|y^*\\|^2` are computed from :math:`Q^\\top y` and the subject means without
    forming :math:`y^*`.

    Returns
    -------
    beta : ndarray (p x features), fixed effects
    se : ndarray (p x features), their standard errors (GLS, as lme4's ``vcov``)
    gamma : ndarray (features,), the variance ratio tau^2 / sigma^2
    """
    _, groups = np.unique(groups, return_inverse=True)
    sizes = np.bincount(groups).astype(float)
    n, p = x.shape
    y = np.ascontiguousarray(y)
    ybar = np.ascontiguousarray(_group_means(y, groups, sizes).T)  # features x groups
    xbar = _group_means(x, groups, sizes)
    xty = np.ascontiguousarray((x.T @ y).T)  # features x p
    ysq = (y**2).sum(axis=0)
    nybar2 = (ybar**2) * sizes[None, :]
    best = np.full(y.shape[1], -np.inf)
    best_g = np.zeros(y.shape[1], dtype=np.int64)
    for gi, gamma in enumerate(_GAMMAS):
        theta = 1.0 - 1.0 / np.sqrt(1.0 + gamma * sizes)
        xs = x - (theta[:, None] * xbar)[groups]
        r = np.asarray(np.linalg.qr(xs, mode="r"))
        # X*' y* = X'y - sum_s n_s theta_s (2 - theta_s) xbar_s ybar_s'
        xsy = xty - ybar @ ((sizes * theta * (2.0 - theta))[:, None] * xbar)
        proj = np.linalg.solve(r.T, xsy.T)  # Q' y* = R^-T X*' y*
        yss = ysq - nybar2 @ (2.0 * theta - theta**2)
        rss = np.maximum(yss - (proj**2).sum(axis=0), 1e-300)
        ll = -0.5 * (np.log1p(gamma * sizes).sum() + 2 * np.log(np.abs(np.diag(r))).sum()
                     + (n - p) * np.log(rss))
        better = ll > best
        best[better] = ll[better]
        best_g[better] = gi
    ybar = ybar.T
    beta = np.empty((p, y.shape[1]))
    se = np.empty_like(beta)
    for gi in np.unique(best_g):
        cols = best_g == gi
        theta = 1.0 - 1.0 / np.sqrt(1.0 + _GAMMAS[gi] * sizes)
        xs = x - (theta[:, None] * xbar)[groups]
        ys = y[:, cols] - (theta[:, None] * ybar[:, cols])[groups]
        xtx_inv = np.linalg.inv(xs.T @ xs)
        b = xtx_inv @ xs.T @ ys
        rss = ((ys - xs @ b) ** 2).sum(axis=0)
        beta[:, cols] = b
        se[:, cols] = np.sqrt(np.outer(np.diag(xtx_inv), rss / (n - p)))
    return beta, se, _GAMMAS[best_g]


def lmm(contrast: Contrast, *, transform: str = "clr", seed: int = 0) -> pd.DataFrame:
    """Linear model (subject random intercept when subjects repeat) of each feature's
    transformed abundance on the level and covariates (see module notes).

    Returns
    -------
    pandas.DataFrame with ``feature, effect, effect_type, p_value, q_value`` (the level's
    coefficient and its Wald test), ``se``, ``model`` (``lmm`` or ``ols``).
    """
    del seed  # deterministic
    y = transform_abundance(contrast.counts.to_numpy(dtype=float), transform).T
    x = design_matrix(contrast)
    n, p = x.shape
    if n <= p:
        raise AnalysisError(f"{n} samples are too few for a model with {p} terms")
    if contrast.has_repeated_subjects():
        assert contrast.subject is not None
        groups = contrast.subject.astype(str).to_numpy()
        beta, se, _ = random_intercept_fit(y, x, groups)
        df = max(min(n - p, len(np.unique(groups)) - 1), 1)
        model = "lmm"
    else:
        xtx_inv = np.linalg.inv(x.T @ x)
        beta = xtx_inv @ x.T @ y
        rss = ((y - x @ beta) ** 2).sum(axis=0)
        se = np.sqrt(np.outer(np.diag(xtx_inv), rss / (n - p)))
        df = n - p
        model = "ols"
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta[1] / se[1]
    pval = np.where(se[1] > 0, 2 * stats.t.sf(np.abs(t), df), np.nan)
    return result_frame(contrast.counts.index, beta[1], TRANSFORMS[transform], pval,
                        se=se[1], model=model)
