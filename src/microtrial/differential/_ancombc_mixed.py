"""ANCOM-BC with a subject random intercept, for within-subject designs (paired,
longitudinal, interaction).

scikit-bio 0.7.4's ``ancombc``/``ancombc2`` fit fixed effects only (``ancombc2``'s
``grouping`` is for post-hoc tests, not a random effect), so for designs whose samples
repeat within subjects we follow ANCOM-BC2's structure (Lin & Peddada 2024) with the
mixed model of :mod:`microtrial.differential._lmm`:

1. :math:`y_{ij} = \\log(o_{ij} + 1)`; the sample-specific sampling fractions
   :math:`\\theta_j` are removed by centring each sample over features (the least-squares
   estimate of :math:`\\theta_j` given the coefficients, as ANCOM-BC's first step), which
   leaves every coefficient biased by the same unknown shift :math:`\\delta` (the mean of the
   true coefficients over features);
2. per feature, the REML random-intercept model (subject) of the design
   (:func:`~microtrial.differential._lmm.model_terms`: the level, or time x arm for an
   interaction) gives :math:`\\hat\\beta_i` and its standard error :math:`s_i`;
3. the bias :math:`\\delta` is estimated as ANCOM-BC does, by EM on a three-component
   Gaussian mixture of the :math:`\\hat\\beta_i`: null features centred at :math:`\\delta`
   with variance :math:`s_i^2`, and features going down / up centred at
   :math:`\\delta + l_1` / :math:`\\delta + l_2` with variances :math:`s_i^2 + \\kappa_k`;
4. :math:`W_i = (\\hat\\beta_i - \\hat\\delta) / \\sqrt{s_i^2 + \\mathrm{Var}(\\hat\\delta)}`
   is referred to Student's t with the mixed model's degrees of freedom (as our ANCOM-BC's
   small-sample correction); q-values by BH. Effects are natural-log coefficients reported
   in log2.

Not checked against R's ANCOMBC (the R package is not available here). With one sample
per subject the mixed model is ordinary least squares and the bias-corrected estimates
equal scikit-bio's ``ancombc`` (an independent implementation) to 1e-7 with the same calls
(tests/differential/test_designs.py); the tests also check the bias correction on a paired
simulation with known truth.

References
----------
Lin H, Peddada SD. Analysis of compositions of microbiomes with bias correction. Nat Commun.
2020;11:3514. Lin H, Peddada SD. Multigroup analysis of compositions of microbiomes with
covariate adjustments and repeated measures. Nat Methods. 2024;21:83-91.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.differential._data import Contrast, result_frame
from microtrial.differential._lmm import _fit, model_terms
from microtrial.errors import AnalysisError


def bias_em(beta: np.ndarray, se: np.ndarray, *, iterations: int = 200,
            tol: float = 1e-8) -> tuple[float, float]:
    """ANCOM-BC's estimate of the shared bias :math:`\\delta` of ``beta`` and its variance:
    EM on a three-component normal mixture (null at delta with variance se^2; down and up
    components at delta + l1 < delta < delta + l2 with variance se^2 + kappa)."""
    ok = np.isfinite(beta) & np.isfinite(se) & (se > 0)
    b, v = beta[ok], se[ok] ** 2
    if b.size < 3:
        raise AnalysisError("ANCOM-BC's bias estimate needs at least three features")
    delta = float(np.median(b))
    q1, q3 = np.percentile(b - delta, [25, 75])
    l1, l2 = min(q1, -1e-3), max(q3, 1e-3)
    k1 = k2 = float(np.var(b)) + 1e-6
    pi = np.array([0.75, 0.125, 0.125])
    for _ in range(iterations):
        dens = np.column_stack([
            stats.norm.pdf(b, delta, np.sqrt(v)),
            stats.norm.pdf(b, delta + l1, np.sqrt(v + k1)),
            stats.norm.pdf(b, delta + l2, np.sqrt(v + k2)),
        ]) * pi[None, :]
        tot = dens.sum(axis=1, keepdims=True)
        r = np.divide(dens, tot, out=np.full_like(dens, 1 / 3), where=tot > 0)
        pi = np.clip(r.mean(axis=0), 1e-6, None)
        pi /= pi.sum()
        w0, w1, w2 = r[:, 0] / v, r[:, 1] / (v + k1), r[:, 2] / (v + k2)
        new_delta = float(((w0 * b).sum() + (w1 * (b - l1)).sum() + (w2 * (b - l2)).sum())
                          / max(w0.sum() + w1.sum() + w2.sum(), 1e-300))
        l1 = min(float((w1 * (b - new_delta)).sum() / max(w1.sum(), 1e-300)), -1e-3)
        l2 = max(float((w2 * (b - new_delta)).sum() / max(w2.sum(), 1e-300)), 1e-3)
        k1 = max(float((r[:, 1] * ((b - new_delta - l1) ** 2 - v)).sum()
                       / max(r[:, 1].sum(), 1e-300)), 1e-6)
        k2 = max(float((r[:, 2] * ((b - new_delta - l2) ** 2 - v)).sum()
                       / max(r[:, 2].sum(), 1e-300)), 1e-6)
        done = abs(new_delta - delta) < tol
        delta = new_delta
        if done:
            break
    var_delta = 1.0 / max(float((r[:, 0] / v).sum()), 1e-300)
    return delta, var_delta


def ancombc_mixed(contrast: Contrast, *, seed: int = 0) -> pd.DataFrame:
    """ANCOM-BC with a subject random intercept (see module notes) for paired,
    longitudinal and interaction contrasts.

    Returns ``feature, effect`` (bias-corrected log2 coefficient of the tested term),
    ``effect_type``, ``p_value, q_value``, ``se`` (log2), ``W``, ``bias`` (the estimated
    delta, log2), ``term``; interactions also ``change_test_arm``, ``change_reference_arm``
    (bias-corrected, log2).
    """
    del seed
    counts = contrast.counts.to_numpy(dtype=float)
    if counts.shape[0] < 3:
        raise AnalysisError("ANCOM-BC needs at least three features")
    y = np.log(counts + 1.0)
    y = (y - y.mean(axis=0, keepdims=True)).T  # samples x features, sampling fractions out
    x, tested = model_terms(contrast)
    beta, se, df, model = _fit(y, x, contrast)
    ln2 = np.log(2.0)
    parts = []
    for label, j in tested:
        delta, var_delta = bias_em(beta[j], se[j])
        b = beta[j] - delta
        s = np.sqrt(se[j] ** 2 + var_delta)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = b / s
        p = np.where(s > 0, 2 * stats.t.sf(np.abs(w), df), np.nan)
        extra: dict[str, object] = {"se": s / ln2, "W": w, "bias": delta / ln2, "model": model}
        if contrast.kind == "longitudinal":
            extra["term"] = f"{contrast.term or 'time'}:{label}"
            extra["test_level"] = label
        else:
            extra["term"] = contrast.term
        if contrast.kind == "interaction":
            d1, _ = bias_em(beta[1], se[1])
            extra["change_reference_arm"] = (beta[1] - d1) / ln2
            extra["change_test_arm"] = (beta[1] - d1 + b) / ln2
        parts.append(result_frame(contrast.counts.index, b / ln2, "log2_fold_change", p,
                                  **extra))  # type: ignore[arg-type]
    return pd.concat(parts, ignore_index=True)
