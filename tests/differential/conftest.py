"""A small count simulator with known truth for the differential tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from microtrial.differential import Contrast


def simulate(*, n_features: int = 120, n_per_group: int = 15, n_da: int = 12,
             lfc: float = 2.0, paired: bool = False, subject_sd: float = 0.0,
             noise_sd: float = 0.3, dispersion: float = 5.0, depth_sd: float = 0.3,
             seed: int = 0) -> tuple[Contrast, np.ndarray]:
    """Negative binomial counts; the first half of the ``n_da`` differential features go up
    by ``lfc`` (natural log) in the test level, the rest go down. Paired designs sample each
    subject at both levels with a per-subject, per-feature effect of sd ``subject_sd``.

    Returns the contrast and the true log fold change per feature.
    """
    rng = np.random.default_rng(seed)
    base = rng.normal(3.0, 1.2, n_features)
    truth = np.zeros(n_features)
    da = rng.choice(n_features, n_da, replace=False)
    truth[da[: n_da // 2]] = lfc
    truth[da[n_da // 2:]] = -lfc
    n = 2 * n_per_group
    test = np.r_[np.zeros(n_per_group), np.ones(n_per_group)]
    if paired:
        subj = np.r_[np.arange(n_per_group), np.arange(n_per_group)]
    else:
        subj = np.arange(n)
    subj_eff = rng.normal(0.0, subject_sd, (n_features, n_per_group if paired else n))[:, subj]
    log_mu = (base[:, None] + truth[:, None] * test[None, :] + subj_eff
              + rng.normal(0.0, noise_sd, (n_features, n)) + rng.normal(0.0, depth_sd, (1, n)))
    mu = np.exp(log_mu)
    counts = rng.negative_binomial(dispersion, dispersion / (dispersion + mu))
    cols = [f"S{i:03d}" for i in range(n)]
    contrast = Contrast(
        pd.DataFrame(counts, index=[f"F{j:03d}" for j in range(n_features)], columns=cols),
        pd.Series(np.where(test == 1, "treated", "control"), index=cols), "treated", "control",
        "paired" if paired else "between",
        pd.Series([f"P{s:03d}" for s in subj], index=cols) if paired else None,
    )
    return contrast, truth


@pytest.fixture(scope="session")
def sim() -> Callable[..., tuple[Contrast, np.ndarray]]:
    return simulate
