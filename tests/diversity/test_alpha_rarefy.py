"""Alpha indices by hand calculation; rarefaction and depth choice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microtrial.diversity import (
    ace,
    alpha_diversity,
    chao1,
    choose_depth,
    goods_coverage,
    pielou_evenness,
    rarefaction_curves,
    rarefy,
    shannon,
    simpson,
    suggest_depth,
)
from microtrial.errors import AnalysisError
from microtrial.table import FeatureTable


def test_indices_by_hand() -> None:
    x = np.array([1, 1, 2, 4, 0])  # N = 8, S = 4, F1 = 2, F2 = 1
    p = np.array([1, 1, 2, 4]) / 8
    assert shannon(x) == pytest.approx(-(p * np.log(p)).sum(), abs=1e-15)
    assert simpson(x) == pytest.approx(1 - (1 + 1 + 4 + 16) / 64, abs=1e-15)
    assert chao1(x) == pytest.approx(4 + 2 * 1 / (2 * 2))  # S + F1(F1-1)/(2(F2+1))
    assert goods_coverage(x) == pytest.approx(1 - 2 / 8)
    assert pielou_evenness(x) == pytest.approx(shannon(x) / math.log(4))
    # ACE: all rare; N_rare = 8, C = 1 - 2/8 = 0.75, sum i(i-1)F_i = 2*1 + 12*1 = 14
    gamma = 4 / 0.75 * 14 / (8 * 7) - 1
    assert ace(x) == pytest.approx(4 / 0.75 + 2 / 0.75 * gamma)


def test_ace_degenerate_cases_are_nan() -> None:
    assert math.isnan(ace(np.array([1, 1, 1])))  # all rare reads are singletons: C = 0
    assert math.isnan(ace(np.array([50, 60])))  # no rare features


def _table() -> FeatureTable:
    rng = np.random.default_rng(0)
    x = rng.poisson(5, (30, 6))
    x[:, 2] = 0
    x[0, 2] = 40  # a shallow sample: 40 reads
    return FeatureTable(x, [f"f{i}" for i in range(30)], [f"s{i}" for i in range(6)])


def test_rarefy_is_seeded_and_even() -> None:
    t = _table()
    a = rarefy(t, 100, seed=1)
    b = rarefy(t, 100, seed=1)
    c = rarefy(t, 100, seed=2)
    assert np.array_equal(a.data.toarray(), b.data.toarray())
    assert not np.array_equal(a.data.toarray(), c.data.toarray())
    assert set(a.sample_totals()) == {100}
    assert "s2" not in a.sample_ids  # 40 reads < 100
    avg = rarefy(t, 100, seed=1, iterations=20)
    np.testing.assert_allclose(avg.sample_totals().to_numpy(), 100)


def test_depth_choice() -> None:
    t = _table()
    assert choose_depth(t, "auto") == 40
    assert choose_depth(t, None) is None and choose_depth(t, "none") is None
    assert choose_depth(t, 120) == 120
    s = suggest_depth(t, 100)
    assert s.lost == ("s2",) and len(s.kept) == 5
    with pytest.raises(AnalysisError, match="not a number"):
        choose_depth(t, "lots")


def test_rarefaction_curve_reaches_observed_at_full_depth() -> None:
    t = _table()
    full = int(t.sample_totals()["s0"])
    curves = rarefaction_curves(t, depths=[1, 20, full], iterations=2)
    row = curves[(curves["sample-id"] == "s0") & (curves["depth"] == full)].iloc[0]
    assert row["observed_features"] == (t.data.toarray()[:, 0] > 0).sum()
    assert curves[curves["depth"] == 1]["observed_features"].eq(1).all()
    assert not ((curves["sample-id"] == "s2") & (curves["depth"] == full)).any() or full <= 40


def test_unknown_metric_is_named() -> None:
    with pytest.raises(AnalysisError, match="unknown alpha metric"):
        alpha_diversity(_table(), metrics=["shanon"])


def test_rarefaction_curve_matches_hurlbert_expectation() -> None:
    # E[S_d] = sum_i 1 - C(N - N_i, d) / C(N, d)  (Hurlbert 1971), independent of the sampler
    counts = np.array([[30], [10], [5], [3], [1], [1]])
    t = FeatureTable(counts, [f"f{i}" for i in range(6)], ["s"])
    n = int(counts.sum())
    curves = rarefaction_curves(t, depths=[5, 20], iterations=4000, seed=3).set_index("depth")
    for d in (5, 20):
        expected = sum(1 - math.comb(n - int(c), d) / math.comb(n, d) for c in counts[:, 0])
        assert curves.at[d, "observed_features"] == pytest.approx(expected, abs=0.05)
