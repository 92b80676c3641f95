"""Linear mixed models fitted by REML, shared by the differential stage (per feature) and the
diversity stage's comparisons (per index): a random intercept for many responses at once,
and several nested random intercepts for a few responses.

The random-intercept fit profiles the REML likelihood over the variance ratio
:math:`\\gamma = \\tau^2/\\sigma^2` on a grid for all responses at once and refines each
response's optimum by golden-section search; the derivation is in
:mod:`microtrial.differential._lmm`'s notes.  Estimates agree with lme4's REML fit to about
1e-9 (``tests/data/designs``, ``tests/study/test_design_goldens.py``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["random_intercept_fit", "variance_components_fit"]

_GAMMAS = np.concatenate([[0.0], np.logspace(-4, 4, 81)])


def _group_means(a: np.ndarray, groups: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per-group column means of ``a`` (samples x k) -> (groups x k)."""
    avg = sp.csr_matrix((1.0 / sizes[groups], (groups, np.arange(len(groups)))),
                        shape=(len(sizes), len(groups)))
    return np.asarray(avg @ a)


def random_intercept_fit(y: np.ndarray, x: np.ndarray, groups: np.ndarray, *,
                         refine: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """REML random-intercept fit of every column of ``y`` (samples x features).

    For each :math:`\\gamma` on the grid, the transformed data are
    :math:`y^*_{sj} = y_{sj} - \\theta_s \\bar y_s`; :math:`Q^\\top y^*` and
    :math:`\\|y^*\\|^2` are computed from :math:`Q^\\top y` and the subject means without
    forming :math:`y^*`.

    With ``refine`` (default) each feature's :math:`\\gamma` is then optimised between the
    grid points around its best one (golden-section search on :math:`\\sqrt\\gamma`, all
    features at once), so estimates and standard errors agree with lme4's REML fit to
    about 1e-9 (tests/data/designs).

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
    gammas = _GAMMAS[best_g].copy()
    xtx = x.T @ x
    outer = np.einsum("gi,gj->gij", xbar, xbar).reshape(len(sizes), p * p)

    def evaluate(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """REML log-likelihood, fixed effects, (X*'X*)^-1 and RSS at one gamma per feature
        (from the subject sums: X*'X* = X'X - sum_s n_s theta_s (2 - theta_s) xbar_s
        xbar_s', and likewise X*'y*, y*'y*)."""
        theta = 1.0 - 1.0 / np.sqrt(1.0 + g[:, None] * sizes[None, :])
        w = sizes[None, :] * theta * (2.0 - theta)
        a = xtx[None, :, :] - (w @ outer).reshape(len(g), p, p)
        bvec = xty - (w * ybar) @ xbar
        yss = ysq - (w * ybar**2).sum(axis=1)
        a_inv = np.linalg.inv(a)
        beta_ = np.einsum("fij,fj->fi", a_inv, bvec)
        rss_ = np.maximum(yss - (bvec * beta_).sum(axis=1), 1e-300)
        ll_ = -0.5 * (np.log1p(g[:, None] * sizes[None, :]).sum(axis=1)
                      + np.linalg.slogdet(a)[1] + (n - p) * np.log(rss_))
        return ll_, beta_, a_inv, rss_

    if refine:
        # golden-section search on sqrt(gamma) between the grid points around the best one,
        # every feature at once; gamma = 0 stays reachable (lme4's singular fits)
        lo = np.where(best_g > 1, _GAMMAS[np.maximum(best_g - 1, 0)], 0.0)
        hi = _GAMMAS[np.minimum(best_g + 1, len(_GAMMAS) - 1)]
        a_, b_ = np.sqrt(lo), np.sqrt(hi)
        ratio = (np.sqrt(5.0) - 1.0) / 2.0
        c_ = b_ - ratio * (b_ - a_)
        d_ = a_ + ratio * (b_ - a_)
        fc, fd = evaluate(c_**2)[0], evaluate(d_**2)[0]
        for _ in range(48):  # bracket / 1e10
            left = fc > fd  # the maximum lies in [a, d]
            b_ = np.where(left, d_, b_)
            a_ = np.where(left, a_, c_)
            new_c = b_ - ratio * (b_ - a_)
            new_d = a_ + ratio * (b_ - a_)
            c_, d_ = np.where(left, new_c, d_), np.where(left, c_, new_d)
            f_new = evaluate(np.where(left, c_, d_) ** 2)[0]
            fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        cand = ((a_ + b_) / 2.0) ** 2
        f_cand = evaluate(cand)[0]
        gammas = np.where(f_cand > best, cand, gammas)
    _, beta_f, a_inv, rss = evaluate(gammas)
    beta = beta_f.T
    se = np.sqrt(np.diagonal(a_inv, axis1=1, axis2=2) * (rss / (n - p))[:, None]).T
    return beta, se, gammas


def variance_components_fit(y: np.ndarray, x: np.ndarray, groupings: list[np.ndarray]
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """REML fit of one response with several random intercepts (e.g. cage and subject
    within cage), for a few responses such as alpha-diversity indices (dense ``n x n``).

    With :math:`V = \\sigma^2 (I + \\sum_k \\gamma_k Z_k Z_k^\\top)` the profiled REML
    log-likelihood :math:`-\\tfrac12[\\log|H| + \\log|X^\\top H^{-1} X| + (n-p)\\log r^\\top
    H^{-1} r]` is maximised over :math:`\\gamma_k = \\theta_k^2 \\ge 0` (L-BFGS-B from several
    starts; a variance on the boundary is 0, as lme4's singular fits).

    Returns ``beta``, ``se`` (GLS, lme4's ``vcov``) and the variance ratios ``gamma``.
    """
    from scipy.optimize import minimize

    n, p = x.shape
    zs = []
    for g in groupings:
        _, codes = np.unique(np.asarray(g).astype(str), return_inverse=True)
        z = np.zeros((n, codes.max() + 1))
        z[np.arange(n), codes] = 1.0
        zs.append(z @ z.T)

    def parts(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
        h = np.eye(n) + sum(t * t * zz for t, zz in zip(theta, zs))
        c = np.linalg.cholesky(h)
        xi = np.linalg.solve(c, x)
        yi = np.linalg.solve(c, y)
        xtx = xi.T @ xi
        beta = np.linalg.solve(xtx, xi.T @ yi)
        r = yi - xi @ beta
        rss = max(float(r @ r), 1e-300)
        nll = 0.5 * (2 * np.log(np.diag(c)).sum() + np.linalg.slogdet(xtx)[1]
                     + (n - p) * np.log(rss))
        return nll, beta, xtx, rss

    best = None
    for start in (0.3, 2.0):
        res = minimize(lambda t: parts(t)[0], np.full(len(zs), start), method="L-BFGS-B",
                       bounds=[(0.0, 1e3)] * len(zs), options={"ftol": 1e-13, "gtol": 1e-9})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    _, beta, xtx, rss = parts(best.x)
    se = np.sqrt(np.diag(np.linalg.inv(xtx)) * rss / (n - p))
    return beta, se, best.x ** 2
