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


Progress = Callable[[int, int], None] | None


def _braycurtis(table: FeatureTable, progress: Progress = None) -> np.ndarray:
    x = _samples_csr(table)
    from microtrial.diversity._unifrac import pairwise_sparse

    d = pairwise_sparse(x.indptr, x.indices, x.data, np.ones(x.shape[1]), weighted=True,
                        progress=progress)
    tot = np.asarray(x.sum(axis=1)).ravel()
    for lo in range(0, d.shape[0], BLOCK_ROWS):  # d = l1 / (tot_i + tot_j), in place
        hi = min(d.shape[0], lo + BLOCK_ROWS)
        den = tot[lo:hi, None] + tot[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            d[lo:hi] = np.where(den > 0, d[lo:hi] / np.where(den > 0, den, 1.0), 0.0)
    np.fill_diagonal(d, 0.0)
    return d


BLOCK_ROWS = 1024  # rows of a distance block: bounds the temporaries of the BLAS paths


def _jaccard(table: FeatureTable, progress: Progress = None) -> np.ndarray:
    """Jaccard from intersection counts ``B B^T`` of the presence matrix, in row blocks.

    The 0/1 matrix is dense float32 and the product a BLAS ``sgemm``: every partial sum is
    a whole number below 2^24, so float32 is exact and the result equals the sparse product.
    Each block of rows is multiplied with the rows from its own first row on (the upper
    triangle) and mirrored: the counts are exact, so both triangles are the same numbers.
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
        starts = range(0, n, BLOCK_ROWS)
        for b, lo in enumerate(starts):
            hi = min(n, lo + BLOCK_ROWS)
            inter = (bd[lo:hi] @ bd[lo:].T).astype(np.float64)
            union = s[lo:hi, None] + s[None, lo:] - inter
            with np.errstate(invalid="ignore", divide="ignore"):
                blk = np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1.0), 0.0)
            d[lo:hi, lo:] = blk
            d[lo:, lo:hi] = blk.T
            if progress is not None:
                progress(b + 1, len(starts))
    np.fill_diagonal(d, 0.0)
    return d


def euclidean_blocks(z: np.ndarray, *, block: int | None = None, progress: Progress = None) -> np.ndarray:
    """All-pairs Euclidean distances of the rows of ``z`` via BLAS, exact where it matters.

    Columns are centred first (distances do not change, norms shrink), then
    ``d^2 = |a|^2 + |b|^2 - 2 a.b`` per block of rows against the rows from the block's
    first row on (the upper triangle; mirrored, so the matrix is exactly symmetric). Where
    cancellation could cost digits (``d^2 < 1e-3 (|a|^2 + |b|^2)``: near-duplicate
    samples) the distance is recomputed directly from the difference, so every entry
    agrees with ``pdist`` to about 1e-13 relative.
    """
    block = block or BLOCK_ROWS
    z = np.asarray(z, dtype=np.float64)
    z = z - z.mean(axis=0, keepdims=True)
    n = z.shape[0]
    sq = np.einsum("ij,ij->i", z, z)
    d = np.empty((n, n), dtype=np.float64)
    starts = range(0, n, block)
    for b, lo in enumerate(starts):
        hi = min(n, lo + block)
        d2 = sq[lo:hi, None] + sq[None, lo:] - 2.0 * (z[lo:hi] @ z[lo:].T)
        scale = sq[lo:hi, None] + sq[None, lo:]
        bad_r, bad_c = np.nonzero(d2 < 1e-3 * scale)
        np.maximum(d2, 0.0, out=d2)
        if bad_r.size:
            diff = z[lo + bad_r] - z[lo + bad_c]
            d2[bad_r, bad_c] = np.einsum("ij,ij->i", diff, diff)
        np.sqrt(d2, out=d2)
        d[lo:hi, lo:] = d2
        d[lo:, lo:hi] = d2.T
        if progress is not None:
            progress(b + 1, len(starts))
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


def _aitchison(table: FeatureTable, progress: Progress = None) -> np.ndarray:
    return euclidean_blocks(clr(table.data.T.toarray(), pseudocount=1.0), progress=progress)


def _robust_aitchison(table: FeatureTable, progress: Progress = None) -> np.ndarray:
    return euclidean_blocks(rclr(table.data.T.toarray()), progress=progress)


_METRICS: dict[str, Callable[[FeatureTable, Progress], np.ndarray]] = {
    "braycurtis": _braycurtis, "jaccard": _jaccard, "aitchison": _aitchison,
    "robust_aitchison": _robust_aitchison,
}


def beta_diversity(
    table: FeatureTable, metric: str, *, tree: object | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Distance matrix between the samples of ``table``.

    Parameters
    ----------
    table : FeatureTable
    metric : str
        One of :data:`BETA_METRICS`. Bray-Curtis on the counts as given (rarefy first
        if wanted); Jaccard on presence/absence; UniFrac needs ``tree``.
    tree : skbio.TreeNode, optional
    progress : callable, optional
        ``progress(done, total)`` after each block of rows.

    Returns
    -------
    pandas.DataFrame
        Square, symmetric, zero diagonal; index and columns are the sample ids. It wraps
        the computed array without a copy.
    """
    if metric not in BETA_METRICS:
        raise AnalysisError(f"unknown beta metric '{metric}'; choose from {list(BETA_METRICS)}")
    if metric in PHYLOGENETIC:
        if tree is None:
            raise AnalysisError(f"{metric} needs a phylogenetic tree")
        from microtrial.diversity._unifrac import unifrac

        d = unifrac(table, tree, weighted=metric == "weighted_unifrac", progress=progress)
    else:
        d = _METRICS[metric](table, progress)
    ids = list(table.sample_ids)
    return pd.DataFrame(d, index=pd.Index(ids, name="sample-id"), columns=ids, copy=False)


PCOA_EIGH_MAX = 1000  # up to this many samples scikit-bio's eigh; above, Lanczos on G


def pcoa(
    distance: pd.DataFrame, *, dimensions: int = 5, gower: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Principal coordinates and the proportion of variance explained.

    Up to :data:`PCOA_EIGH_MAX` samples scikit-bio's ``pcoa`` (``eigh``). Above, the top
    ``dimensions`` eigenpairs of Gower's centred matrix ``G`` (``gower``, or computed) by
    ARPACK's Lanczos iteration (``scipy.sparse.linalg.eigsh``, ``which="LA"``, a fixed
    start vector): exact to rounding like ``eigh``, O(n^2) per iteration instead of O(n^3),
    and no copy of the matrix (scikit-bio's ``fsvd`` is an unseeded approximation whose
    axes change run to run). Coordinates are ``u_k sqrt(lambda_k)``, each axis signed so
    that its largest coordinate in absolute value is positive; axes of negative eigenvalues
    are 0, as scikit-bio.

    Returns
    -------
    coords : pandas.DataFrame
        Samples x ``PC1..PCk`` (k = min(dimensions, n - 1)).
    explained : pandas.Series
        Proportion explained per axis: ``lambda_k / tr(G)`` (the sum of all eigenvalues,
        as scikit-bio when fewer axes than samples are asked for).
    """
    import warnings

    n = distance.shape[0]
    if n < 3:
        raise AnalysisError("PCoA needs at least 3 samples")
    k = min(dimensions, n - 1)
    if n > PCOA_EIGH_MAX:
        vals, coords_np, explained_np = _pcoa_lanczos(distance.to_numpy(), k, gower)
    else:
        from skbio import DistanceMatrix
        from skbio.stats.ordination import pcoa as sk_pcoa

        dm = DistanceMatrix(distance.to_numpy(), [str(i) for i in distance.index])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # negative eigenvalues: see below
            res = sk_pcoa(dm, method="eigh", dimensions=k)
        coords_np = res.samples.to_numpy()[:, :k]
        explained_np = np.asarray(res.proportion_explained)[:k]
    cols = [f"PC{i + 1}" for i in range(k)]
    coords = pd.DataFrame(coords_np, index=pd.Index(distance.index, name="sample-id"), columns=cols)
    explained = pd.Series(explained_np, index=cols, name="proportion_explained")
    return coords, explained


def _pcoa_lanczos(
    distance: np.ndarray, k: int, gower: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.sparse.linalg import eigsh

    from microtrial.diversity._permanova import gower_centred

    g = gower_centred(distance) if gower is None else gower
    n = g.shape[0]
    v0 = np.random.default_rng(0).standard_normal(n)
    vals, vecs = eigsh(g, k=k, which="LA", v0=v0, tol=0.0, ncv=min(n, max(40, 2 * k + 1)))
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    vals = np.where(np.isclose(vals, 0.0), 0.0, vals)  # as scikit-bio
    big = np.abs(vecs).argmax(axis=0)
    vecs = vecs * np.sign(vecs[big, np.arange(k)])[None, :]
    coords = vecs * np.sqrt(np.maximum(vals, 0.0))[None, :]
    explained = np.maximum(vals, 0.0) / float(np.trace(g))
    return vals, coords, explained
