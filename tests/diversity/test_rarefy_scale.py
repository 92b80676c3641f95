"""Rarefaction at scale: one kernel call for the whole table, checked against the
hypergeometric law (independent of the sampler) and against the rarefaction curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microtrial.diversity import rarefaction_curves, rarefy
from microtrial.table import FeatureTable


def _copies(counts: list[int], n: int) -> FeatureTable:
    x = np.repeat(np.asarray(counts, dtype=np.int64)[:, None], n, axis=1)
    return FeatureTable(x, [f"f{i}" for i in range(len(counts))], [f"s{j}" for j in range(n)])


def test_rarefied_counts_follow_the_hypergeometric_law() -> None:
    # every sample [6, 3, 1] drawn to 4 reads: feature 0 ~ Hypergeometric(N=10, K=6, n=4)
    n = 4000
    rt = rarefy(_copies([6, 3, 1], n), 4, seed=11)
    x = rt.to_dataframe().reindex(["f0", "f1", "f2"]).fillna(0).to_numpy()
    assert (x.sum(axis=0) == 4).all() and (x <= np.array([[6], [3], [1]])).all()
    for k in range(5):
        pmf = math.comb(6, k) * math.comb(4, 4 - k) / math.comb(10, 4)
        assert np.mean(x[0] == k) == pytest.approx(pmf, abs=0.025)
    # the rare read: P(kept) = 4/10
    assert np.mean(x[2]) == pytest.approx(0.4, abs=0.025)


def test_observed_after_rarefying_matches_hurlbert() -> None:
    counts = [30, 10, 5, 3, 1, 1]
    total = sum(counts)
    rt = rarefy(_copies(counts, 3000), 12, seed=5)
    observed = (rt.to_dataframe() > 0).sum(axis=0).to_numpy()
    expected = sum(1 - math.comb(total - c, 12) / math.comb(total, 12) for c in counts)
    assert observed.mean() == pytest.approx(expected, abs=0.05)


def test_full_depth_returns_the_sample_and_shallow_samples_are_dropped() -> None:
    x = np.array([[5, 1], [7, 0], [0, 2]])
    t = FeatureTable(x, ["a", "b", "c"], ["s0", "s1"])
    rt = rarefy(t, 12, seed=0)
    assert rt.sample_ids == ("s0",)
    assert rt.to_dataframe()["s0"].to_dict() == {"a": 5, "b": 7}


def test_rarefying_to_d_is_the_first_curve_iteration_at_d() -> None:
    rng = np.random.default_rng(2)
    x = rng.poisson(4, (40, 25)) * (rng.random((40, 25)) < 0.6)
    x[0] += 60  # every sample has >= 60 reads: all kept, so both draw with the same seeds
    t = FeatureTable(x, [f"f{i}" for i in range(40)], [f"s{j}" for j in range(25)])
    for d in (7, 60):
        rt = rarefy(t, d, seed=9)
        obs = (rt.to_dataframe().reindex(columns=list(t.sample_ids)) > 0).sum(axis=0)
        curve = rarefaction_curves(t, depths=[d], iterations=1, seed=9).set_index("sample-id")
        assert np.array_equal(obs.to_numpy(), curve.loc[list(t.sample_ids), "observed_features"].to_numpy())


def test_averaged_iterations_are_even_and_seeded() -> None:
    t = _copies([20, 10, 5, 5], 30)
    a = rarefy(t, 10, seed=3, iterations=5)
    b = rarefy(t, 10, seed=3, iterations=5)
    assert np.array_equal(a.data.toarray(), b.data.toarray())
    np.testing.assert_allclose(a.sample_totals().to_numpy(), 10)
    assert a.data.dtype.kind == "f" or np.all(a.data.data == np.round(a.data.data))
