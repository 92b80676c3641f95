"""Beta diversity (distance matrices between samples) and principal coordinates.

Bray-Curtis is computed on sparse sample vectors with the kernel also used for UniFrac (``sum |x_i - x_j|`` over the union of non-zero features), so they scale to
thousands of samples; they match vegan's ``vegdist`` to 1e-12 (tests, golden files).

Aitchison: Euclidean distance between CLR-transformed samples after adding a pseudocount of
1 to every count (multiplicative replacement is not used), as vegan
``vegdist(method="aitchison", pseudocount=1)``. Robust Aitchison: the robust CLR of
DEICODE (Martino et al. 2019): logs of the non-zero counts centred on their own mean,
zeros left at zero, then Euclidean distance, as vegan ``vegdist(method="robust.aitchison")``.

References
----------
Bray & Curtis 1957; Jaccard 1912; Aitchison 1986, The Statistical Analysis of Compositional
Data; Martino et al. 2019, mSystems 4:e00016-19; Gower 1966 (PCoA).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from microtrial.errors import AnalysisError
from microtrial.names import BETA_METRICS
from microtrial.names import PHYLOGENETIC_METRICS as PHYLOGENETIC
from microtrial.table import FeatureTable


def _samples_csr(table: FeatureTable) -> sp.csr_matrix:
    x = sp.csr_matrix(table.data.T, dtype=np.float64)
    x.eliminate_zeros()
    x.sort_indices()
    return x


def _braycurtis(table: FeatureTable) -> np.ndarray:
    x = _samples_csr(table)
    from microtrial.diversity._unifrac import pairwise_sparse

    l1 = pairwise_sparse(x.indptr, x.indices, x.data, np.ones(x.shape[1]), weighted=True)
    tot = np.asarray(x.sum(axis=1)).ravel()
    den = tot[:, None] + tot[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(den > 0, l1 / np.where(den > 0, den, 1.0), 0.0)
    np.fill_diagonal(d, 0.0)
    return d


BLOCK_ROWS = 1024  # rows of a distance block: bounds the temporaries of the BLAS paths


def _jaccard(table: FeatureTable) -> np.ndarray:
    """Jaccard from intersection counts ``B B^T`` of the presence matrix, in row blocks.

    The 0/1 matrix is dense float32 and the product a BLAS ``sgemm``: every partial sum is
    a whole number below 2^24, so float32 is exact and the result equals the sparse product.
    """
    x = _samples_csr(table)
    n, m = x.shape
    s = np.diff(x.indptr).astype(np.float64)
    d = np.zeros((n, n), dtype=np.float64)
    if m >= 2 ** 24:  # intersections could exceed float32's exact integers
        b = sp.csr_matrix((np.ones_like(x.data), x.indices, x.indptr), shape=x.shape)
        inter = np.asarray((b @ b.T).toarray(), dtype=np.float64)
        union = s[:, None] + s[None, :] - inter
        d = np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1.0), 0.0)
    else:
        bd = np.zeros((n, m), dtype=np.float32)
        rows = np.repeat(np.arange(n), np.diff(x.indptr))
        bd[rows, x.indices] = 1.0
        for lo in range(0, n, BLOCK_ROWS):
            hi = min(n, lo + BLOCK_ROWS)
            inter = (bd[lo:hi] @ bd.T).astype(np.float64)
            union = s[lo:hi, None] + s[None, :] - inter
            with np.errstate(invalid="ignore", divide="ignore"):
                d[lo:hi] = np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1.0), 0.0)
    np.fill_diagonal(d, 0.0)
    return d


def euclidean_blocks(z: np.ndarray, *, block: int | None = None) -> np.ndarray:
    """All-pairs Euclidean distances of the rows of ``z`` via BLAS, exact where it matters.

    Columns are centred first (distances do not change, norms shrink), then
    ``d^2 = |a|^2 + |b|^2 - 2 a.b`` per block of rows. Where cancellation could cost
    digits (``d^2 < 1e-3 (|a|^2 + |b|^2)``: near-duplicate samples) the distance is
    recomputed directly from the difference, so every entry agrees with ``pdist`` to about
    1e-13 relative.
    """
    block = block or BLOCK_ROWS
    z = np.asarray(z, dtype=np.float64)
    z = z - z.mean(axis=0, keepdims=True)
    n = z.shape[0]
    sq = np.einsum("ij,ij->i", z, z)
    d = np.empty((n, n), dtype=np.float64)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        d2 = sq[lo:hi, None] + sq[None, :] - 2.0 * (z[lo:hi] @ z.T)
        scale = sq[lo:hi, None] + sq[None, :]
        bad_r, bad_c = np.nonzero(d2 < 1e-3 * scale)
        np.maximum(d2, 0.0, out=d2)
        if bad_r.size:
            diff = z[lo + bad_r] - z[bad_c]
            d2[bad_r, bad_c] = np.einsum("ij,ij->i", diff, diff)
        d[lo:hi] = np.sqrt(d2)
    d = (d + d.T) / 2.0  # both triangles from the same products: make it exactly symmetric
    np.fill_diagonal(d, 0.0)
    return d


def clr(counts: np.ndarray, *, pseudocount: float = 1.0) -> np.ndarray:
    """Centred log-ratio of each row after adding ``pseudocount``: ``log x - mean(log x)``."""
    lx = np.log(np.asarray(counts, dtype=np.float64) + pseudocount)
    return lx - lx.mean(axis=1, keepdims=True)


def rclr(counts: np.ndarray) -> np.ndarray:
    """Robust CLR: on the non-zero entries of each row ``log x - mean(log x_nonzero)``; zeros stay 0."""
    x = np.asarray(counts, dtype=np.float64)
    out = np.zeros_like(x)
    nz = x > 0
    lx = np.log(np.where(nz, x, 1.0))
    n = nz.sum(axis=1)
    means = np.where(n > 0, (lx * nz).sum(axis=1) / np.maximum(n, 1), 0.0)
    out[nz] = (lx - means[:, None])[nz]
    return out


def _aitchison(table: FeatureTable) -> np.ndarray:
    return euclidean_blocks(clr(table.data.T.toarray(), pseudocount=1.0))


def _robust_aitchison(table: FeatureTable) -> np.ndarray:
    return euclidean_blocks(rclr(table.data.T.toarray()))


_METRICS: dict[str, Callable[[FeatureTable], np.ndarray]] = {
    "braycurtis": _braycurtis, "jaccard": _jaccard, "aitchison": _aitchison,
    "robust_aitchison": _robust_aitchison,
}


def beta_diversity(
    table: FeatureTable, metric: str, *, tree: object | None = None,
) -> pd.DataFrame:
    """Distance matrix between the samples of ``table``.

    Parameters
    ----------
    table : FeatureTable
    metric : str
        One of :data:`BETA_METRICS`. Bray-Curtis on the counts as given (rarefy first
        if wanted); Jaccard on presence/absence; UniFrac needs ``tree``.
    tree : skbio.TreeNode, optional

    Returns
    -------
    pandas.DataFrame
        Square, symmetric, zero diagonal; index and columns are the sample ids.
    """
    if metric not in BETA_METRICS:
        raise AnalysisError(f"unknown beta metric '{metric}'; choose from {list(BETA_METRICS)}")
    if metric in PHYLOGENETIC:
        if tree is None:
            raise AnalysisError(f"{metric} needs a phylogenetic tree")
        from microtrial.diversity._unifrac import unifrac

        d = unifrac(table, tree, weighted=metric == "weighted_unifrac")
    else:
        d = _METRICS[metric](table)
    ids = list(table.sample_ids)
    return pd.DataFrame(d, index=pd.Index(ids, name="sample-id"), columns=ids)


def pcoa(distance: pd.DataFrame, *, dimensions: int = 5) -> tuple[pd.DataFrame, pd.Series]:
    """Principal coordinates (scikit-bio ``pcoa``) and the proportion of variance explained.

    Returns
    -------
    coords : pandas.DataFrame
        Samples x ``PC1..PCk`` (k = min(dimensions, n - 1)).
    explained : pandas.Series
        Proportion explained per axis (of the sum of positive eigenvalues, as scikit-bio).
    """
    import warnings

    from skbio import DistanceMatrix
    from skbio.stats.ordination import pcoa as sk_pcoa

    n = distance.shape[0]
    if n < 3:
        raise AnalysisError("PCoA needs at least 3 samples")
    k = min(dimensions, n - 1)
    dm = DistanceMatrix(distance.to_numpy(), [str(i) for i in distance.index])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # negative eigenvalues are reported below
        res = sk_pcoa(dm, method="eigh" if n <= 1000 else "fsvd", dimensions=k)
    coords = res.samples.iloc[:, :k].copy()
    coords.columns = [f"PC{i + 1}" for i in range(k)]
    coords.index = pd.Index(distance.index, name="sample-id")
    explained = pd.Series(np.asarray(res.proportion_explained)[:k], index=coords.columns,
                          name="proportion_explained")
    return coords, explained
