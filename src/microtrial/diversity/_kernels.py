"""numba kernels of the diversity stage (no fastmath: results must match R/scikit-bio).

Each kernel has a slow reference in ``tests/diversity/_naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _subsample_into(counts: np.ndarray, depth: int, reads: np.ndarray, out: np.ndarray) -> None:
    """Partial Fisher-Yates shuffle of the sample's reads: the first ``depth`` are kept.

    ``reads`` is scratch space of at least ``sum(counts)`` int64; the generator must be
    seeded by the caller. O(total reads) to lay the reads out, O(depth) draws.
    """
    total = 0
    for i in range(counts.shape[0]):
        out[i] = 0
        for _ in range(counts[i]):
            reads[total] = i
            total += 1
    if depth >= total:
        for i in range(counts.shape[0]):
            out[i] = counts[i]
        return
    for t in range(depth):
        j = t + np.random.randint(0, total - t)
        r = reads[j]
        reads[j] = reads[t]
        reads[t] = r
        out[r] += 1


@njit(cache=True, nogil=True)
def subsample_counts(counts: np.ndarray, depth: int, seed: int, out: np.ndarray) -> None:
    """Draw ``depth`` reads without replacement from ``counts`` (int64) into ``out``.

    Every read is equally likely to be kept: a uniform random subset of ``depth`` of the
    sample's reads (partial Fisher-Yates shuffle), so the counts are a multivariate
    hypergeometric sample, i.e. rarefaction (Sanders 1968). The same reads, in the same
    order, as :func:`rarefaction_curve_stats` draws with the same seed, so rarefying to
    depth ``d`` equals that curve's first iteration at ``d``.
    """
    np.random.seed(seed)
    total = 0
    for i in range(counts.shape[0]):
        total += counts[i]
    reads = np.empty(max(total, 1), dtype=np.int64)
    _subsample_into(counts, depth, reads, out)


@njit(cache=True, nogil=True)
def rarefy_columns(
    indptr: np.ndarray, counts: np.ndarray, depth: int, seeds: np.ndarray, out: np.ndarray,
) -> None:
    """Rarefy every sample (CSC column slice ``indptr[j]:indptr[j+1]`` of ``counts``) to
    ``depth``, ``seeds[j, it]`` per sample and iteration, adding the draws into ``out``
    (same layout as ``counts``; float64 so several iterations can be summed).

    One call for the whole table: no per-sample Python overhead, one scratch buffer.
    """
    n = indptr.shape[0] - 1
    biggest = 1
    for j in range(n):
        tot = 0
        for k in range(indptr[j], indptr[j + 1]):
            tot += counts[k]
        biggest = max(biggest, tot)
    reads = np.empty(biggest, dtype=np.int64)
    for j in range(n):
        lo = indptr[j]
        hi = indptr[j + 1]
        c = counts[lo:hi]
        buf = np.empty(hi - lo, dtype=np.int64)
        for it in range(seeds.shape[1]):
            np.random.seed(seeds[j, it])
            _subsample_into(c, depth, reads, buf)
            for k in range(hi - lo):
                out[lo + k] += buf[k]


@njit(cache=True, nogil=True)
def node_abundances(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, tip_node: np.ndarray,
    parent: np.ndarray, n_nodes: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample, the summed value of every node's descendant tips (sparse, sorted by node).

    ``indptr/indices/values`` is a samples x features CSR matrix; ``tip_node[f]`` the node of
    feature ``f``; ``parent[v]`` the parent node (-1 at the root). Returns a samples x nodes CSR
    matrix (indptr, node indices ascending, summed values) covering every node ancestral to a
    present tip, the root included (its branch length, if any, counts as scikit-bio's does).
    """
    n_samples = indptr.shape[0] - 1
    acc = np.zeros(n_nodes, dtype=np.float64)
    seen = np.zeros(n_nodes, dtype=np.bool_)
    touched = np.empty(n_nodes, dtype=np.int64)
    out_ptr = np.zeros(n_samples + 1, dtype=np.int64)
    cap = max(16, indices.shape[0] * 4)
    out_idx = np.empty(cap, dtype=np.int64)
    out_val = np.empty(cap, dtype=np.float64)
    pos = 0
    for s in range(n_samples):
        nt = 0
        for k in range(indptr[s], indptr[s + 1]):
            v = tip_node[indices[k]]
            x = values[k]
            if x == 0:
                continue
            while v >= 0:
                if not seen[v]:
                    seen[v] = True
                    touched[nt] = v
                    nt += 1
                acc[v] += x
                v = parent[v]
        nodes = np.sort(touched[:nt])
        if pos + nt > cap:
            while pos + nt > cap:
                cap *= 2
            tmp_i = np.empty(cap, dtype=np.int64)
            tmp_v = np.empty(cap, dtype=np.float64)
            tmp_i[:pos] = out_idx[:pos]
            tmp_v[:pos] = out_val[:pos]
            out_idx = tmp_i
            out_val = tmp_v
        for j in range(nt):
            v = nodes[j]
            out_idx[pos] = v
            out_val[pos] = acc[v]
            acc[v] = 0.0
            seen[v] = False
            pos += 1
        out_ptr[s + 1] = pos
    return out_ptr, out_idx[:pos].copy(), out_val[:pos].copy()


@njit(cache=True, nogil=True)
def _unifrac_row(
    i: int, indptr: np.ndarray, indices: np.ndarray, lv: np.ndarray, blen: np.ndarray,
    weighted: bool, dense: np.ndarray, out: np.ndarray,
) -> None:
    """Distances from sample ``i`` to every sample ``j > i``.

    ``lv[k]`` is ``L_b * p_bs`` (weighted) or ``L_b`` (unweighted) for the k-th stored entry
    (sample s, branch b), ``blen[k] = L_b``. Row i is scattered into ``dense`` (``a_b``, 0
    when absent). Weighted ``d_ij = W_i + sum_{b in j} (|a_b - lv_bj| - a_b)`` with
    ``W_i = sum_b a_b``; unweighted ``shared = sum_{b in j} a_b``,
    ``union = U_i + sum_{b in j} (L_b - a_b)``, ``d_ij = 1 - shared / union``. Only the
    branches of sample j are visited, reading them in order.
    """
    n = indptr.shape[0] - 1
    own = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        dense[indices[k]] = lv[k]
        own += lv[k]
    out[i, i] = 0.0
    for j in range(i + 1, n):
        if weighted:
            acc = own
            for k in range(indptr[j], indptr[j + 1]):
                a = dense[indices[k]]
                acc += abs(a - lv[k]) - a
            d = acc
        else:
            union = own
            shared = 0.0
            for k in range(indptr[j], indptr[j + 1]):
                a = dense[indices[k]]
                shared += a
                union += blen[k] - a
            d = (union - shared) / union if union > 0 else 0.0
        out[i, j] = d
        out[j, i] = d
    for k in range(indptr[i], indptr[i + 1]):
        dense[indices[k]] = 0.0


@njit(cache=True, nogil=True)
def unifrac_prepare(
    indices: np.ndarray, values: np.ndarray, length: np.ndarray, weighted: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per stored entry: ``blen = L_b`` and ``lv = L_b * p`` (weighted) or ``L_b``."""
    blen = np.empty(indices.shape[0], dtype=np.float64)
    lv = np.empty(indices.shape[0], dtype=np.float64)
    for k in range(indices.shape[0]):
        blen[k] = length[indices[k]]
        lv[k] = blen[k] * values[k] if weighted else blen[k]
    return blen, lv


@njit(cache=True, nogil=True)
def unifrac_rows(
    rows: np.ndarray, indptr: np.ndarray, indices: np.ndarray, lv: np.ndarray,
    blen: np.ndarray, n_nodes: int, weighted: bool, out: np.ndarray,
) -> None:
    """UniFrac from each sample in ``rows`` to every later sample (see ``_unifrac_row``).

    Unweighted: ``sum_b L_b [x_bi>0 xor x_bj>0] / sum_b L_b [x_bi>0 or x_bj>0]``.
    Weighted (unnormalised): ``sum_b L_b |p_bi - p_bj|`` with ``p`` the proportions of the
    sample's reads below branch ``b``. With unit lengths and raw counts the weighted form is
    the L1 distance (Bray-Curtis numerator). Releases the GIL: callers run disjoint row sets
    on several Python threads; every distance is computed by one thread in a fixed order, so
    results do not depend on the number of threads.
    """
    dense = np.zeros(n_nodes, dtype=np.float64)
    for r in range(rows.shape[0]):
        _unifrac_row(rows[r], indptr, indices, lv, blen, weighted, dense, out)


@njit(cache=True, nogil=True)
def rarefaction_curve_stats(
    indptr: np.ndarray, counts: np.ndarray, depths: np.ndarray, seeds: np.ndarray,
    iterations: int, obs_out: np.ndarray, shannon_out: np.ndarray,
) -> None:
    """Mean observed features and Shannon index after subsampling each sample to each depth.

    ``indptr/counts`` hold each sample's non-zero counts (CSC column slices), ``depths`` is
    ascending, ``seeds`` is (samples, iterations). Each iteration draws reads one at a time
    without replacement (a partial Fisher-Yates shuffle of the sample's reads), so the first
    ``d`` reads are a rarefaction to depth ``d`` and all depths come from one pass.
    Depths above a sample's total give NaN.
    """
    n = indptr.shape[0] - 1
    nd = depths.shape[0]
    for s in range(n):
        c = counts[indptr[s]:indptr[s + 1]]
        total = 0
        for v in c:
            total += v
        for di in range(nd):
            obs_out[s, di] = 0.0
            shannon_out[s, di] = 0.0
        if total == 0:
            for di in range(nd):
                obs_out[s, di] = np.nan
                shannon_out[s, di] = np.nan
            continue
        reads = np.empty(total, dtype=np.int64)
        pos = 0
        for k in range(c.shape[0]):
            for _ in range(c[k]):
                reads[pos] = k
                pos += 1
        drawn = np.zeros(c.shape[0], dtype=np.int64)
        for it in range(iterations):
            np.random.seed(seeds[s, it])
            drawn[:] = 0
            t = 0
            for di in range(nd):
                d = depths[di]
                if d > total or d <= 0:
                    continue
                while t < d:
                    j = t + np.random.randint(0, total - t)
                    tmp = reads[t]
                    reads[t] = reads[j]
                    reads[j] = tmp
                    drawn[reads[t]] += 1
                    t += 1
                h = 0.0
                obs = 0.0
                for k in range(drawn.shape[0]):
                    if drawn[k] > 0:
                        obs += 1.0
                        p = drawn[k] / d
                        h -= p * np.log(p)
                obs_out[s, di] += obs
                shannon_out[s, di] += h
        for di in range(nd):
            d = depths[di]
            if d > total or d <= 0:
                obs_out[s, di] = np.nan
                shannon_out[s, di] = np.nan
            else:
                obs_out[s, di] /= iterations
                shannon_out[s, di] /= iterations


@njit(cache=True, nogil=True)
def pairwise_block(
    lo: int, hi: int, indptr: np.ndarray, indices: np.ndarray, lv: np.ndarray,
    blen: np.ndarray, weighted: bool, dense: np.ndarray, out: np.ndarray,
) -> None:
    """Distances from the samples ``lo..hi-1`` to every later sample, a block at a time.

    The same sums, in the same order, as :func:`_unifrac_row` (so bit-identical results),
    but the block's rows are scattered into ``dense`` (nodes x block, zero on entry and on
    return) side by side: every stored entry of sample ``j`` is then combined with the
    whole block in one contiguous (SIMD) inner loop instead of once per row.
    """
    n = indptr.shape[0] - 1
    nb = hi - lo
    own = np.zeros(nb)
    for r in range(nb):
        i = lo + r
        for k in range(indptr[i], indptr[i + 1]):
            dense[indices[k], r] = lv[k]
            own[r] += lv[k]
    acc = np.empty(nb)
    shared = np.empty(nb)
    for r in range(nb):
        out[lo + r, lo + r] = 0.0
    for j in range(lo + 1, n):
        top = min(nb, j - lo)  # block rows i < j
        if weighted:
            for r in range(top):
                acc[r] = own[r]
            for k in range(indptr[j], indptr[j + 1]):
                b = indices[k]
                v = lv[k]
                for r in range(top):
                    a = dense[b, r]
                    acc[r] += abs(a - v) - a
            for r in range(top):
                out[lo + r, j] = acc[r]
                out[j, lo + r] = acc[r]
        else:
            for r in range(top):
                acc[r] = own[r]
                shared[r] = 0.0
            for k in range(indptr[j], indptr[j + 1]):
                b = indices[k]
                length = blen[k]
                for r in range(top):
                    a = dense[b, r]
                    shared[r] += a
                    acc[r] += length - a
            for r in range(top):
                union = acc[r]
                d = (union - shared[r]) / union if union > 0 else 0.0
                out[lo + r, j] = d
                out[j, lo + r] = d
    for r in range(nb):
        i = lo + r
        for k in range(indptr[i], indptr[i + 1]):
            dense[indices[k], r] = 0.0


@njit(cache=True, nogil=True)
def unweighted_exact(
    rows: np.ndarray, cols: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
    length: np.ndarray, out: np.ndarray,
) -> None:
    """Unweighted UniFrac of the pairs ``(rows[k], cols[k])`` by merging their sorted branch
    lists: ``out[k] = sum L over branches in one only / sum L over branches in either``
    (no cancellation: used where the matrix-product form would lose digits)."""
    for k in range(rows.shape[0]):
        i = rows[k]
        j = cols[k]
        a, a_end = indptr[i], indptr[i + 1]
        b, b_end = indptr[j], indptr[j + 1]
        only = 0.0
        either = 0.0
        while a < a_end or b < b_end:
            if b >= b_end or (a < a_end and indices[a] < indices[b]):
                only += length[indices[a]]
                either += length[indices[a]]
                a += 1
            elif a >= a_end or indices[b] < indices[a]:
                only += length[indices[b]]
                either += length[indices[b]]
                b += 1
            else:
                either += length[indices[a]]
                a += 1
                b += 1
        out[k] = only / either if either > 0 else 0.0
