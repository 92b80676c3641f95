"""The blockwise/BLAS distance paths equal whole-matrix references on small tables
(scipy's ``pdist`` and the sparse intersection product), for any block size."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from microtrial.diversity import _beta, beta_diversity, clr, rclr
from microtrial.table import FeatureTable


def _table(seed: int, n: int = 37, m: int = 23) -> tuple[np.ndarray, FeatureTable]:
    rng = np.random.default_rng(seed)
    x = rng.poisson(4, (n, m)) * (rng.random((n, m)) < 0.5)
    x[:, 0] += 1
    x[1] = x[0]  # an exact duplicate: distance 0
    x[2] = x[0]
    x[2, 3] += 1  # a near duplicate: the cancellation-prone case
    return x, FeatureTable(x.T, [f"f{i}" for i in range(m)], [f"s{j}" for j in range(n)])


@pytest.mark.parametrize("block", [1, 5, 1024])
def test_aitchison_blocks_equal_pdist(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(_beta, "BLOCK_ROWS", block)
    x, t = _table(3)
    for metric, z in (("aitchison", clr(x, pseudocount=1.0)), ("robust_aitchison", rclr(x))):
        ref = squareform(pdist(z))
        got = _beta.euclidean_blocks(z, block=block)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
        assert np.array_equal(got, got.T) and got[0, 1] == 0.0
        np.testing.assert_allclose(beta_diversity(t, metric).to_numpy(), ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("block", [1, 4, 1024])
def test_jaccard_blocks_equal_sparse_product(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(_beta, "BLOCK_ROWS", block)
    x, t = _table(5)
    b = sp.csr_matrix((x > 0).astype(np.float64))
    inter = (b @ b.T).toarray()
    s = (x > 0).sum(axis=1)
    ref = 1.0 - inter / (s[:, None] + s[None, :] - inter)
    np.fill_diagonal(ref, 0.0)
    got = beta_diversity(t, "jaccard").to_numpy()
    assert np.array_equal(got, ref)  # intersection counts are exact in float32
    np.testing.assert_allclose(got, squareform(pdist(x > 0, "jaccard")), atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), m=st.integers(1, 9))
def test_euclidean_blocks_match_pdist_on_random_tables(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, m)) * 10.0 ** rng.integers(-3, 4)
    ref = squareform(pdist(z))
    got = _beta.euclidean_blocks(z, block=3)
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-12 * max(1.0, float(np.abs(z).max())))
