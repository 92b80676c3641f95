"""Phylogenetic diversity: Faith's PD and (un)weighted UniFrac over all sample pairs.

Written here rather than calling ``skbio.diversity.beta_diversity("unifrac")`` because
scikit-bio computes pairs one at a time in Python, far too slow for 2,000 samples. The
method follows Striped UniFrac (McDonald et al. 2018) in spirit: the tree is first cut to the
tips some sample has, with single-child chains merged (:func:`collapse_tree`), every sample
is reduced once to the sparse vector of branches below which it has reads (with the share
of its reads), then a block of samples is scattered side by side into a dense
branches x block array and every later sample's branches are combined with the whole block
in one SIMD loop (weighted; numba, blocks spread over threads). Unweighted UniFrac is a
matrix product instead: shared branch length ``B diag(w) B'`` by BLAS
(:func:`unweighted_product`).
Results are checked against scikit-bio's ``unweighted_unifrac``/``weighted_unifrac``
(``normalized=False``) and ``faith_pd`` in the tests.

References
----------
Lozupone & Knight 2005, Appl Environ Microbiol 71:8228 (UniFrac).
Lozupone et al. 2007, Appl Environ Microbiol 73:1576 (weighted UniFrac).
Faith 1992, Biol Conserv 61:1 (phylogenetic diversity).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from microtrial.diversity._kernels import (
    node_abundances,
    pairwise_block,
    unifrac_prepare,
    unweighted_exact,
)
from microtrial.errors import AnalysisError
from microtrial.table import FeatureTable


def _tree_arrays(tree: object, feature_ids: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(parent, length, tip_node)`` arrays of a skbio TreeNode for these features."""
    nodes = list(tree.postorder(include_self=True))  # type: ignore[attr-defined]
    index = {id(n): i for i, n in enumerate(nodes)}
    parent = np.full(len(nodes), -1, dtype=np.int64)
    length = np.zeros(len(nodes), dtype=np.float64)
    tips: dict[str, int] = {}
    for i, n in enumerate(nodes):
        if n.parent is not None:
            parent[i] = index[id(n.parent)]
        length[i] = 0.0 if n.length is None else float(n.length)
        if not n.children and n.name is not None:
            if n.name in tips:
                raise AnalysisError(f"tree has tip '{n.name}' more than once")
            tips[n.name] = i
    missing = [f for f in feature_ids if f not in tips]
    if missing:
        raise AnalysisError(
            f"{len(missing)} feature(s) are not tips of the tree, e.g. {', '.join(missing[:3])}"
        )
    if np.any(length < 0):
        raise AnalysisError("tree has negative branch lengths")
    tip_node = np.array([tips[f] for f in feature_ids], dtype=np.int64)
    return parent, length, tip_node


def check_tree(tree: object, feature_ids: tuple[str, ...]) -> None:
    """Raise :class:`~microtrial.errors.AnalysisError` unless every feature is a tip of
    ``tree`` (once) and no branch length is negative (what Faith's PD and UniFrac need)."""
    _tree_arrays(tree, tuple(feature_ids))


def collapse_tree(
    parent: np.ndarray, length: np.ndarray, tip_node: np.ndarray, present: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree of the present tips only, single-child chains merged.

    ``parent``/``length`` are in postorder (children before parents), ``tip_node[f]`` the
    node of feature ``f``, ``present[f]`` whether any sample has it. Nodes without a present
    tip below them are dropped (every sample is 0 there); a node with exactly one present
    child is merged into that child, its length added to the child's (every sample has the
    same reads below both, so UniFrac's sums are unchanged). Returns the new
    ``(parent, length, tip_node)``, still in postorder; absent features map to -1.
    """
    n = parent.shape[0]
    alive = np.zeros(n, dtype=bool)
    alive[tip_node[present]] = True
    n_children = np.zeros(n, dtype=np.int64)
    for v in range(n):  # postorder: a node is final before its parent is visited
        p = parent[v]
        if alive[v] and p >= 0:
            alive[p] = True
            n_children[p] += 1
    keep = alive & (n_children != 1)
    anc = np.full(n, -1, dtype=np.int64)  # nearest kept proper ancestor
    carry = np.zeros(n)  # lengths of the merged nodes between a node and that ancestor
    for v in range(n - 1, -1, -1):  # preorder: parents first
        p = parent[v]
        if p < 0 or not alive[v]:
            continue
        if keep[p]:
            anc[v], carry[v] = p, 0.0
        else:
            anc[v], carry[v] = anc[p], carry[p] + length[p]
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    new_parent = np.where(anc[keep] >= 0, new_id[np.maximum(anc[keep], 0)], -1)
    new_length = length[keep] + carry[keep]
    new_tip = np.where(present, new_id[tip_node], -1)
    return new_parent, new_length, new_tip


def _node_matrix(table: FeatureTable, tree: object, *, proportions: bool, collapse: bool = False):
    parent, length, tip_node = _tree_arrays(tree, table.feature_ids)
    if collapse:
        present = np.asarray((table.data != 0).sum(axis=1)).ravel() > 0
        parent, length, tip_node = collapse_tree(parent, length, tip_node, present)
    x = sp.csr_matrix(table.data.T, dtype=np.float64)  # samples x features
    x.sort_indices()
    if proportions:
        tot = np.asarray(x.sum(axis=1)).ravel()
        tot[tot == 0] = 1.0
        x = sp.csr_matrix(sp.diags(1.0 / tot) @ x)
        x.sort_indices()
    ptr, idx, val = node_abundances(
        x.indptr.astype(np.int64), x.indices.astype(np.int64), x.data.astype(np.float64),
        tip_node, parent, parent.shape[0],
    )
    return ptr, idx, val, length


def faith_pd(table: FeatureTable, tree: object) -> np.ndarray:
    """Faith's phylogenetic diversity: summed length of branches ancestral to present features.

    A length given to the root counts too, as in scikit-bio's ``faith_pd``.
    """
    ptr, idx, _, length = _node_matrix(table, tree, proportions=False)
    out = np.zeros(ptr.shape[0] - 1)
    for s in range(out.size):
        out[s] = length[idx[ptr[s]:ptr[s + 1]]].sum()
    return out


def unifrac(
    table: FeatureTable, tree: object, *, weighted: bool, threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """UniFrac distance matrix (samples x samples) of a table on a rooted tree.

    Parameters
    ----------
    table : FeatureTable
    tree : skbio.TreeNode
        Rooted; its tips include every feature id (extra tips are ignored).
    weighted : bool
        False: unweighted (presence/absence). True: weighted, not normalised, as
        scikit-bio ``weighted_unifrac(normalized=False)``.
    threads : int, optional
        Threads (default: the CPUs available); results are identical for any number.

    Notes
    -----
    Unweighted ``d = sum_b L_b |I(x_bi>0) - I(x_bj>0)| / sum_b L_b max(I(x_bi>0), I(x_bj>0))``;
    weighted ``d = sum_b L_b |p_bi - p_bj|`` where ``p_bi`` is the share of sample i's reads
    on tips below branch b.
    """
    ptr, idx, val, length = _node_matrix(table, tree, proportions=weighted, collapse=True)
    if not weighted:
        return unweighted_product(ptr, idx, length, progress=progress)
    return pairwise_sparse(ptr, idx, val, length, weighted=weighted, threads=threads,
                           progress=progress)


UNWEIGHTED_BLOCK = 1024  # rows per BLAS product of :func:`unweighted_product`


def unweighted_product(
    indptr: np.ndarray, indices: np.ndarray, length: np.ndarray, *,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Unweighted UniFrac of all pairs from shared branch length as a matrix product.

    With ``B`` the samples x branches presence matrix and ``w`` the branch lengths,
    ``S = B diag(w) B'`` (BLAS ``dgemm``, blocks of rows against the rows from the block's
    first row on, mirrored), ``L = B w``, and ``d = (L_i + L_j - 2 S_ij) / (L_i + L_j -
    S_ij)``. Where the branch length in one sample only is small beside the total
    (``L_i + L_j - 2 S_ij < 1e-3 (L_i + L_j)``: near-identical samples, whose difference
    would lose digits to cancellation) the pair is recomputed exactly by merging its two
    branch lists; identical samples get exactly 0.

    Equal to the pairwise kernel to about 1e-13 relative (tests).
    """
    n = indptr.shape[0] - 1
    out = np.zeros((n, n), dtype=np.float64)
    if n == 0:
        return out
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    length = np.ascontiguousarray(length, dtype=np.float64)
    used = np.unique(indices)  # branches some sample has
    col = np.full(length.shape[0], -1, dtype=np.int64)
    col[used] = np.arange(used.size)
    b = np.zeros((n, used.size), dtype=np.float64)
    b[np.repeat(np.arange(n), np.diff(indptr)), col[indices]] = 1.0
    w = length[used]
    total = b @ w
    starts = range(0, n, UNWEIGHTED_BLOCK)
    for k, lo in enumerate(starts):
        hi = min(n, lo + UNWEIGHTED_BLOCK)
        shared = (b[lo:hi] * w[None, :]) @ b[lo:].T
        both = total[lo:hi, None] + total[None, lo:]
        unique = both - 2.0 * shared
        union = both - shared
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(union > 0, unique / np.where(union > 0, union, 1.0), 0.0)
        rr, cc = np.nonzero(unique < 1e-3 * both)
        if rr.size:
            exact = np.empty(rr.size)
            unweighted_exact(lo + rr, lo + cc, indptr, indices, length, exact)
            d[rr, cc] = exact
        d[np.arange(hi - lo), np.arange(hi - lo)] = 0.0
        out[lo:hi, lo:] = d
        out[lo:, lo:hi] = d.T
        if progress is not None:
            progress(k + 1, len(starts))
    return out


def default_threads() -> int:
    """Threads for the pairwise kernels: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


PAIR_BLOCK = 24  # rows combined at once by ``pairwise_block`` (a SIMD-friendly width)


def pairwise_sparse(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, length: np.ndarray, *,
    weighted: bool, threads: int | None = None, progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """All-pairs UniFrac-type distances of sorted sparse rows (see ``pairwise_block``).

    Rows go in blocks of :data:`PAIR_BLOCK` to ``threads`` Python threads (the kernel
    releases the GIL), blocks ``k`` and ``last - k`` to the same thread so the triangular
    work is balanced. Plain threads are used instead of numba's ``parallel=True`` because
    numba's TBB/OpenMP workers keep spinning after a parallel region and starve the BLAS
    calls (PCoA) that follow on small machines. Every distance is computed by one thread
    with the same sums in the same order as the row-at-a-time kernel ``unifrac_rows``, so
    results are identical for any number of threads and any block width.
    ``progress(done, total)`` is called after each block.
    """
    n = indptr.shape[0] - 1
    out = np.zeros((n, n), dtype=np.float64)
    if n == 0:
        return out
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    blen, lv = unifrac_prepare(indices, np.ascontiguousarray(values, dtype=np.float64),
                               np.ascontiguousarray(length, dtype=np.float64), weighted)
    width = max(1, PAIR_BLOCK)
    starts = list(range(0, n, width))
    nb = len(starts)
    order = [b for k in range((nb + 1) // 2) for b in ((k, nb - 1 - k) if k != nb - 1 - k else (k,))]
    threads = max(1, min(threads or default_threads(), nb))
    n_nodes = length.shape[0]
    done = [0]
    lock = threading.Lock()

    def work(blocks: list[int]) -> None:
        dense = np.zeros((n_nodes, width), dtype=np.float64)
        for b in blocks:
            lo = starts[b]
            pairwise_block(lo, min(n, lo + width), indptr, indices, lv, blen, weighted, dense, out)
            if progress is not None:
                with lock:
                    done[0] += 1
                    progress(done[0], nb)

    chunks = [order[t::threads] for t in range(threads)]
    if threads == 1:
        work(chunks[0])
        return out
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for f in [pool.submit(work, c) for c in chunks]:
            f.result()
    return out
