"""Methods recover known effects on small simulations; registry; BH; paired designs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.differential import Contrast, bh, called, get_method, run_method
from microtrial.errors import AnalysisError


def test_registry_error_lists_valid_names() -> None:
    with pytest.raises(AnalysisError) as info:
        get_method("deseq2")
    msg = str(info.value)
    for name in ("lefse", "ancombc", "aldex", "lmm", "paired-wilcoxon"):
        assert name in msg


def test_bh_by_hand() -> None:
    # sorted p: 0.01, 0.03, 0.04, 0.5 (m = 4): m p / i = 0.04, 0.06, 0.0533, 0.5;
    # cumulative minimum from the top: 0.04, 0.0533, 0.0533, 0.5
    q = bh(np.array([0.01, 0.04, np.nan, 0.03, 0.5]))
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, np.nan, 0.16 / 3, 0.5])


def _power_fdr(res: pd.DataFrame, truth: np.ndarray) -> tuple[float, float, float]:
    c = called(res)
    true = truth != 0
    power = (c & true).sum() / true.sum()
    false_frac = (c & ~true).sum() / max(c.sum(), 1)
    right_dir = np.mean(np.sign(res["effect"].to_numpy()[c & true]) == np.sign(truth[c & true]))
    return power, false_frac, right_dir


@pytest.mark.parametrize("method", ["lefse", "ancombc", "aldex", "lmm"])
def test_between_methods_recover_strong_effects(sim, method: str) -> None:
    contrast, truth = sim(lfc=2.5, seed=11)
    res = run_method(method, contrast, seed=1)
    assert list(res["feature"]) == list(contrast.counts.index)
    power, false_frac, right_dir = _power_fdr(res, truth)
    assert power >= 0.8
    assert right_dir == 1.0
    if method == "lefse":
        # LEfSe does not control the FDR (relative abundances of null taxa shift too when
        # others change); its strongest scores should still be the true effects
        top = np.argsort(-np.nan_to_num(np.abs(res["effect"].to_numpy())))[: int((truth != 0).sum())]
        # (it ranks by abundance difference, so abundant nulls shifted by composition can
        # come close: 9 of the top 12 are true here)
        assert (truth[top] != 0).mean() >= 0.7
    else:
        assert false_frac <= 0.15


@pytest.mark.parametrize(("method", "lfc"), [("aldex", 2.5), ("lmm", 1.5), ("paired-wilcoxon", 1.5)])
def test_paired_methods_recover_strong_effects(sim, method: str, lfc: float) -> None:
    # ALDEx2's expected BH q (mean over Monte Carlo instances) is conservative: it needs a
    # larger effect for the same power
    contrast, truth = sim(lfc=lfc, paired=True, subject_sd=1.0, n_per_group=12, seed=5)
    res = run_method(method, contrast, seed=1)
    power, false_frac, right_dir = _power_fdr(res, truth)
    assert power >= 0.8
    assert right_dir == 1.0
    assert false_frac <= 0.15


@pytest.mark.parametrize("method", ["ancombc", "aldex", "lmm"])
def test_null_stays_mostly_null(sim, method: str) -> None:
    contrast, _ = sim(n_da=0, seed=3)
    res = run_method(method, contrast, seed=2)
    assert called(res).sum() <= 2


def test_methods_skip_kinds_they_do_not_handle(sim) -> None:
    paired, _ = sim(paired=True, subject_sd=1.0, n_per_group=6, seed=1)
    between, _ = sim(n_per_group=6, seed=1)
    assert run_method("lefse", paired) is None
    assert run_method("aldex", paired) is not None
    assert run_method("ancombc", paired) is not None  # the subject random-intercept version
    assert run_method("paired-wilcoxon", between) is None


def test_ignoring_the_pairing_gives_the_wrong_answer(sim) -> None:
    """Large subject effects, a small consistent within-subject shift: the paired tests
    find the shifted features, the same samples analysed as independent groups do not."""
    contrast, truth = sim(n_features=60, n_da=6, lfc=1.5, paired=True, subject_sd=2.0,
                          noise_sd=0.05, dispersion=200.0, depth_sd=0.05, n_per_group=12, seed=7)
    true = truth != 0
    unpaired = Contrast(contrast.counts, contrast.level, contrast.test, contrast.reference, "between")
    for method in ("lmm", "aldex"):
        wrong = called(run_method(method, unpaired, seed=0))
        assert (wrong & true).sum() <= 1, method
    for method, n_min in (("paired-wilcoxon", 5), ("lmm", 5), ("aldex", 2)):
        right = called(run_method(method, contrast, seed=0))
        assert (right & true).sum() >= n_min, method
        assert (right & ~true).sum() <= 2, method
