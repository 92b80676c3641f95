"""numba kernels against slow references (naive_diversity.py) and scikit-bio."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_diversity import braycurtis, jaccard, pseudo_f
from skbio import DistanceMatrix, TreeNode
from skbio.diversity.alpha import faith_pd as sk_faith_pd
from skbio.diversity.beta import unweighted_unifrac, weighted_unifrac
from skbio.stats.distance import permanova as sk_permanova

from microtrial.diversity import beta_diversity, faith_pd, permanova, unifrac
from microtrial.diversity._kernels import subsample_counts
from microtrial.table import FeatureTable


def _random_tree(n_tips: int, rng: np.random.Generator, root_length: float | None) -> TreeNode:
    nodes = [TreeNode(name=f"f{i}", length=float(rng.uniform(0.01, 1.0))) for i in range(n_tips)]
    while len(nodes) > 1:
        i, j = sorted(rng.choice(len(nodes), 2, replace=False))
        b, a = nodes.pop(j), nodes.pop(i)
        nodes.append(TreeNode(children=[a, b], length=float(rng.uniform(0.0, 1.0))))
    root = nodes[0]
    root.length = root_length
    return root


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_tips=st.integers(2, 12), n_samples=st.integers(2, 6),
       root_length=st.sampled_from([None, 0.5]))
def test_unifrac_and_faith_match_skbio(seed: int, n_tips: int, n_samples: int, root_length) -> None:
    rng = np.random.default_rng(seed)
    tree = _random_tree(n_tips, rng, root_length)
    ids = [f"f{i}" for i in range(n_tips)]
    counts = rng.poisson(2.0, (n_tips, n_samples)) * (rng.random((n_tips, n_samples)) < 0.6)
    counts[0, :] += 1  # no empty sample
    table = FeatureTable(counts, ids, [f"s{i}" for i in range(n_samples)])
    uw = unifrac(table, tree, weighted=False)
    w = unifrac(table, tree, weighted=True)
    for i in range(n_samples):
        for j in range(n_samples):
            assert uw[i, j] == pytest.approx(unweighted_unifrac(counts[:, i], counts[:, j], ids, tree), abs=1e-12)
            assert w[i, j] == pytest.approx(weighted_unifrac(counts[:, i], counts[:, j], ids, tree), abs=1e-12)
    expected = [sk_faith_pd(counts[:, i], ids, tree) for i in range(n_samples)]
    np.testing.assert_allclose(faith_pd(table, tree), expected, atol=1e-12)


def test_unifrac_thread_count_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    tree = _random_tree(40, rng, None)
    counts = rng.poisson(1.0, (40, 30))
    counts[0] += 1
    table = FeatureTable(counts, [f"f{i}" for i in range(40)], [f"s{i}" for i in range(30)])
    for weighted in (False, True):
        one = unifrac(table, tree, weighted=weighted, threads=1)
        assert np.array_equal(one, unifrac(table, tree, weighted=weighted, threads=2))
        assert np.array_equal(one, unifrac(table, tree, weighted=weighted, threads=3))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_braycurtis_and_jaccard_match_naive(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.poisson(1.5, (7, 5)) * (rng.random((7, 5)) < 0.5)
    x[:, 0] += 1
    table = FeatureTable(x.T, [f"f{i}" for i in range(5)], [f"s{i}" for i in range(7)])
    np.testing.assert_allclose(beta_diversity(table, "braycurtis").to_numpy(), braycurtis(x), atol=1e-14)
    np.testing.assert_allclose(beta_diversity(table, "jaccard").to_numpy(), jaccard(x), atol=1e-14)


def test_subsample_is_a_hypergeometric_draw() -> None:
    counts = np.array([50, 0, 30, 20], dtype=np.int64)
    out = np.empty(4, dtype=np.int64)
    draws = []
    for s in range(2000):
        subsample_counts(counts, 10, s, out)
        assert out.sum() == 10 and np.all(out <= counts) and out[1] == 0
        draws.append(out.copy())
    # mean of a multivariate hypergeometric: depth * counts / total
    np.testing.assert_allclose(np.mean(draws, axis=0), 10 * counts / 100, atol=0.15)
    subsample_counts(counts, 100, 0, out)
    assert np.array_equal(out, counts)  # full depth returns the sample itself


def test_one_way_permanova_matches_skbio_and_anderson_formula() -> None:
    import pandas as pd

    rng = np.random.default_rng(4)
    x = rng.poisson(3.0, (20, 15))
    x[:10, :3] += 8
    ids = [f"s{i}" for i in range(20)]
    dm = beta_diversity(FeatureTable(x.T, [f"f{i}" for i in range(15)], ids), "braycurtis")
    groups = np.array(["a"] * 10 + ["b"] * 6 + ["c"] * 4)
    md = pd.DataFrame({"g": groups}, index=ids)
    ours = permanova(dm, md, ["g"], permutations=0).iloc[0]
    sk = sk_permanova(DistanceMatrix(dm.to_numpy(), ids), groups, permutations=0)
    assert ours["pseudo_F"] == pytest.approx(sk["test statistic"], rel=1e-12)
    assert ours["pseudo_F"] == pytest.approx(pseudo_f(dm.to_numpy(), groups), rel=1e-12)
