"""The large-study paths of the diversity stage equal the whole-matrix computations.

Block kernels against the row-at-a-time kernel (bit for bit) and the naive loops; ranks,
Gower's matrix, ANOSIM and PCoA against direct formulas, scipy and scikit-bio; the
one-metric-at-a-time analysis (distances handed to a sink) against the kept-matrices one;
the HDF5 matrix of large studies against the TSV of small ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from diversity_inputs import golden_paired, write_inputs
from naive_diversity import braycurtis
from scipy.stats import rankdata

from microtrial.design import Comparison
from microtrial.diversity import _beta, _unifrac, analyse_diversity, anosim, beta_diversity
from microtrial.diversity._kernels import unifrac_prepare, unifrac_rows
from microtrial.diversity._permanova import gower_centred, permutation_matrix, rank_matrix
from microtrial.table import FeatureTable


def _counts(seed: int, n: int = 41, m: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(3, (n, m)) * (rng.random((n, m)) < 0.4)
    x[:, 0] += 1
    x[1] = x[0]  # a duplicate: distance 0, tied ranks
    return x


@pytest.mark.parametrize("width", [1, 3, 24, 64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("weighted", [True, False])
def test_block_kernel_equals_row_kernel_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, width: int, threads: int, weighted: bool,
) -> None:
    monkeypatch.setattr(_unifrac, "PAIR_BLOCK", width)
    x = sp.csr_matrix(_counts(width + threads).astype(np.float64))
    x.sort_indices()
    length = np.random.default_rng(1).uniform(0.0, 2.0, x.shape[1])
    ip, ix = x.indptr.astype(np.int64), x.indices.astype(np.int64)
    blen, lv = unifrac_prepare(ix, x.data, length, weighted)
    n = x.shape[0]
    ref = np.zeros((n, n))
    unifrac_rows(np.arange(n), ip, ix, lv, blen, length.size, weighted, ref)
    seen: list[tuple[int, int]] = []
    got = _unifrac.pairwise_sparse(ip, ix, x.data, length, weighted=weighted, threads=threads,
                                   progress=lambda d, t: seen.append((d, t)))
    assert np.array_equal(got, ref)
    n_blocks = -(-n // width)
    assert sorted(seen) == [(k, n_blocks) for k in range(1, n_blocks + 1)]


def test_braycurtis_blocks_equal_naive() -> None:
    x = _counts(7)
    t = FeatureTable(x.T, [f"f{i}" for i in range(x.shape[1])], [f"s{j}" for j in range(x.shape[0])])
    np.testing.assert_allclose(beta_diversity(t, "braycurtis").to_numpy(), braycurtis(x),
                               rtol=1e-13, atol=1e-15)


def test_rank_matrix_is_rankdata_of_the_upper_triangle() -> None:
    rng = np.random.default_rng(3)
    n = 23
    d = np.round(rng.random((n, n)), 1)  # one decimal: many ties
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    iu = np.triu_indices(n, 1)
    want = np.zeros((n, n))
    want[iu] = rankdata(d[iu])
    want = want + want.T
    assert np.array_equal(rank_matrix(d), want)


def test_gower_matrix_is_double_centred_squared_distances() -> None:
    rng = np.random.default_rng(4)
    d = rng.random((9, 9))
    d = d + d.T
    np.fill_diagonal(d, 0.0)
    j = np.eye(9) - 1.0 / 9
    np.testing.assert_allclose(gower_centred(d), -0.5 * j @ (d ** 2) @ j, atol=1e-14)


def _anosim_naive(d: np.ndarray, groups: np.ndarray, perms: np.ndarray) -> tuple[float, float]:
    """Clarke's R from its definition, for the data and each permutation of the labels."""
    n = d.shape[0]
    iu = np.triu_indices(n, 1)
    r = rankdata(d[iu])
    m = r.size

    def stat(g: np.ndarray) -> float:
        within = g[iu[0]] == g[iu[1]]
        return (r[~within].mean() - r[within].mean()) / (m / 2)

    r0 = stat(groups)
    rp = np.array([stat(groups[p]) for p in perms])
    return r0, float(((rp >= r0 - np.sqrt(np.finfo(float).eps)).sum() + 1) / (len(perms) + 1))


@pytest.mark.parametrize("levels", [2, 3])
def test_anosim_equals_its_definition(levels: int) -> None:
    rng = np.random.default_rng(levels)
    n = 30
    z = rng.normal(size=(n, 4))
    groups = np.array([f"g{i % levels}" for i in range(n)])
    z[groups == "g0"] += 0.4
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2))
    ids = [f"s{i}" for i in range(n)]
    dm = pd.DataFrame(d, index=ids, columns=ids)
    r, p = anosim(dm, pd.Series(groups, index=ids), permutations=199, seed=11)
    r_ref, p_ref = _anosim_naive(d, groups, permutation_matrix(n, 199, seed=11))
    assert r == pytest.approx(r_ref, rel=1e-12)
    assert p == p_ref


def test_lanczos_pcoa_equals_scikit_bio_eigh(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _counts(9, n=60, m=40)
    t = FeatureTable(x.T, [f"f{i}" for i in range(40)], [f"s{j}" for j in range(60)])
    dm = beta_diversity(t, "braycurtis")
    ref_c, ref_e = _beta.pcoa(dm)  # 60 samples: scikit-bio's eigh
    monkeypatch.setattr(_beta, "PCOA_EIGH_MAX", 10)
    got_c, got_e = _beta.pcoa(dm)
    np.testing.assert_allclose(got_e.to_numpy(), ref_e.to_numpy(), rtol=1e-10)
    a, b = ref_c.to_numpy(), got_c.to_numpy()
    sign = np.sign((a * b).sum(axis=0))  # eigenvectors are defined up to sign
    np.testing.assert_allclose(b, a * sign, atol=1e-10)
    assert list(got_c.index) == list(dm.index) and list(got_c.columns) == list(ref_c.columns)
    big = np.abs(b).argmax(axis=0)
    assert (b[big, np.arange(b.shape[1])] > 0).all()


def test_metrics_one_at_a_time_equal_kept_matrices() -> None:
    t, m = golden_paired()
    ft = FeatureTable(sp.csr_matrix(t.to_numpy()), list(t.index), list(t.columns))
    comps = [Comparison("t", "paired", "time", tuple(sorted(m["time"].astype(str).unique()))[::-1],
                        subject="subject")]
    metrics = ["braycurtis", "jaccard", "aitchison"]
    kept = analyse_diversity(ft, m, comparisons=comps, metrics=metrics, permutations=99,
                             group_columns=["group"], healthy=("group", str(m["group"].iloc[0])))
    handed: dict[str, pd.DataFrame] = {}
    streamed = analyse_diversity(ft, m, comparisons=comps, metrics=metrics, permutations=99,
                                 group_columns=["group"], healthy=("group", str(m["group"].iloc[0])),
                                 distance_sink=lambda name, dm: handed.__setitem__(name, dm.copy()))
    assert streamed.distances == {} and list(handed) == metrics == streamed.metrics
    for name in metrics:
        pd.testing.assert_frame_equal(handed[name], kept.distances[name])
    for field in ("permanova", "permdisp", "anosim", "tests", "alpha"):
        pd.testing.assert_frame_equal(getattr(streamed, field), getattr(kept, field))
    assert len(kept.permanova) > 0 and len(kept.anosim) > 0
    assert streamed.skipped == kept.skipped and streamed.dropped == kept.dropped


def test_large_studies_write_hdf5_with_the_tsv_numbers(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import h5py

    from microtrial.pipeline import diversity as stage

    t, m = golden_paired()
    tp, mp = write_inputs(tmp_path, t, m)
    stage.diversity_stage(tp, mp, tmp_path / "small", metrics=["braycurtis"], permutations=9)
    monkeypatch.setattr(stage, "LARGE_MATRIX", 5)
    monkeypatch.setattr(stage, "_H5_ROWS", 7)  # several row blocks, the last one short
    stage.diversity_stage(tp, mp, tmp_path / "large", metrics=["braycurtis"], permutations=9)
    tsv = pd.read_csv(tmp_path / "small" / "beta-braycurtis.tsv", sep="\t", index_col=0)
    assert not (tmp_path / "large" / "beta-braycurtis.tsv").exists()
    with h5py.File(tmp_path / "large" / "beta-braycurtis.h5", "r") as h5:
        order = [s.decode() for s in h5["order"][:]]
        mat = h5["matrix"][:]
    assert order == [str(s) for s in tsv.index]
    assert np.array_equal(mat, tsv.to_numpy())  # %.17g round-trips float64 exactly
    for name in ("permanova.tsv", "pcoa-braycurtis.tsv", "alpha-diversity.tsv"):
        assert (tmp_path / "small" / name).read_bytes() == (tmp_path / "large" / name).read_bytes()


@pytest.mark.parametrize("block", [1, 7, 1024])
def test_unweighted_product_equals_pairwise_kernel(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(_unifrac, "UNWEIGHTED_BLOCK", block)
    x = _counts(block, n=33, m=25)
    x[2] = x[0]  # identical presence: exactly 0
    x[3] = x[0]
    x[3, np.flatnonzero(x[0] == 0)[0]] = 1  # one extra branch: the cancellation-prone case
    p = sp.csr_matrix((x > 0).astype(np.float64))
    p.sort_indices()
    length = np.random.default_rng(block).uniform(0.0, 2.0, x.shape[1])
    length[5] = 0.0  # a zero-length branch
    ip, ix = p.indptr.astype(np.int64), p.indices.astype(np.int64)
    blen, lv = unifrac_prepare(ix, p.data, length, False)
    ref = np.zeros((33, 33))
    unifrac_rows(np.arange(33), ip, ix, lv, blen, length.size, False, ref)
    seen: list[int] = []
    got = _unifrac.unweighted_product(ip, ix, length, progress=lambda d, t: seen.append(d))
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)
    assert got[0, 1] == got[0, 2] == 0.0 and got[0, 3] > 0
    assert np.array_equal(got, got.T) and not np.diag(got).any()
    assert seen == list(range(1, -(-33 // block) + 1))


def test_unifrac_on_part_of_a_larger_tree_equals_scikit_bio() -> None:
    """Tips absent from every sample and tips not in the table are pruned, single-child
    chains merged (``collapse_tree``); distances stay scikit-bio's."""
    from skbio import TreeNode
    from skbio.diversity.beta import unweighted_unifrac, weighted_unifrac

    from microtrial.diversity import unifrac
    from microtrial.diversity._unifrac import _tree_arrays, collapse_tree

    rng = np.random.default_rng(8)
    nodes = [TreeNode(name=f"f{i}", length=float(rng.uniform(0.01, 1.0))) for i in range(30)]
    while len(nodes) > 1:
        i, j = sorted(rng.choice(len(nodes), 2, replace=False))
        b, a = nodes.pop(j), nodes.pop(i)
        nodes.append(TreeNode(children=[a, b], length=float(rng.uniform(0.0, 1.0))))
    tree = nodes[0]
    tree.length = 0.3
    ids = [f"f{i}" for i in range(0, 24, 2)]  # 12 of the 30 tips
    counts = rng.poisson(2.0, (12, 9)) * (rng.random((12, 9)) < 0.6)
    counts[0] += 1
    counts[[3, 7, 11]] = 0  # in the table, in no sample
    table = FeatureTable(counts, ids, [f"s{i}" for i in range(9)])
    parent, length, tips = _tree_arrays(tree, tuple(ids))
    new_parent, new_length, new_tips = collapse_tree(parent, length, tips, counts.sum(axis=1) > 0)
    assert new_parent.size == 2 * 9 - 1  # 9 present tips of a binary tree
    assert (new_tips[[3, 7, 11]] == -1).all()
    uw = unifrac(table, tree, weighted=False)
    w = unifrac(table, tree, weighted=True)
    for i in range(9):
        for j in range(9):
            assert uw[i, j] == pytest.approx(unweighted_unifrac(counts[:, i], counts[:, j], ids, tree), abs=1e-12)
            assert w[i, j] == pytest.approx(weighted_unifrac(counts[:, i], counts[:, j], ids, tree), abs=1e-12)


def test_rarefying_and_curves_do_not_depend_on_the_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from microtrial.diversity import _unifrac, rarefaction_curves, rarefy

    x = _counts(12, n=25, m=30) * 7
    t = FeatureTable(x.T, [f"f{i}" for i in range(30)], [f"s{j}" for j in range(25)])
    depth = int(x.sum(axis=1).min())
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(_unifrac, "default_threads", lambda threads=threads: threads)
        runs.append((rarefy(t, depth, seed=4, iterations=2).data.toarray(),
                     rarefaction_curves(t, seed=4)))
    for table, curves in runs[1:]:
        assert np.array_equal(table, runs[0][0])
        pd.testing.assert_frame_equal(curves, runs[0][1])
    assert np.allclose(runs[0][0].sum(axis=0), depth)  # every sample rarefied to the depth
