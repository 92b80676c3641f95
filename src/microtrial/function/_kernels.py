"""numba kernels of the function stage: weighted Sankoff parsimony with scenario counts,
nearest-known-tip distances, and the phylogenetic likelihood pieces used by placement.

Every kernel has a slow, obviously correct counterpart in ``tests/function/_naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# two Sankoff costs closer than this (relative) are the same cost: sums of the same terms in
# another order must not split an exact tie
COST_RTOL = 1e-9


@njit(cache=True, nogil=True)
def _same(a: float, b: float) -> bool:
    scale = max(1.0, abs(a), abs(b))
    return abs(a - b) <= COST_RTOL * scale


@njit(cache=True, nogil=True)
def _edge_message(cost, count, w, S, out_cost, out_count):  # noqa: ANN001
    """Message of a child up its edge: for each parent state i,
    min_j (cost[j] + w |i - j|) and the summed scenario counts of the minimising j."""
    for i in range(S):
        best = np.inf
        for j in range(S):
            c = cost[j] + w * abs(i - j)
            if c < best:
                best = c
        total = 0.0
        if best < np.inf:
            for j in range(S):
                c = cost[j] + w * abs(i - j)
                if _same(c, best):
                    total += count[j]
        out_cost[i] = best
        out_count[i] = total


@njit(cache=True, nogil=True)
def _normalise(count, S):  # noqa: ANN001
    m = 0.0
    for i in range(S):
        if count[i] > m:
            m = count[i]
    if m > 0.0:
        for i in range(S):
            count[i] /= m


@njit(cache=True, nogil=True)
def mp_posteriors(parent, child_ptr, child_idx, weight, tip_state, S, anchors, out):  # noqa: ANN001
    """Maximum-parsimony state probabilities weighted by scenario counts.

    Parameters
    ----------
    parent, child_ptr, child_idx : int64 arrays
        The (pruned) tree in post-order, root last.
    weight : float64 array
        Cost multiplier of the edge above each node (1 / length ** edge_exponent).
    tip_state : int64 array
        State (0..S-1) of each tip, -1 for internal nodes.
    S : int
        Number of states.
    anchors : int64 array
        Nodes whose probabilities are wanted.
    out : float64 array, shape (len(anchors), S)
        Filled with P(node in state s) = (number of most parsimonious scenarios with the node
        in s) / (number of most parsimonious scenarios).
    """
    n = parent.shape[0]
    down_c = np.zeros((n, S))  # cost of the subtree below v given v's state
    down_n = np.ones((n, S))  # number of optimal scenarios below v
    msg_c = np.zeros((n, S))  # message of v up its edge (as a function of the parent state)
    msg_n = np.ones((n, S))
    for v in range(n):
        lo = child_ptr[v]
        hi = child_ptr[v + 1]
        if hi == lo:
            for s in range(S):
                down_c[v, s] = np.inf
                down_n[v, s] = 0.0
            down_c[v, tip_state[v]] = 0.0
            down_n[v, tip_state[v]] = 1.0
        else:
            for k in range(lo, hi):
                c = child_idx[k]
                for s in range(S):
                    down_c[v, s] += msg_c[c, s]
                    down_n[v, s] *= msg_n[c, s]
            _normalise(down_n[v], S)
        if parent[v] >= 0:
            _edge_message(down_c[v], down_n[v], weight[v], S, msg_c[v], msg_n[v])
    # outside pass: up_c[v, s] = cost of everything outside v's subtree given v in state s
    up_c = np.zeros((n, S))
    up_n = np.ones((n, S))
    rest_c = np.empty(S)
    rest_n = np.empty(S)
    for v in range(n - 1, -1, -1):
        lo = child_ptr[v]
        hi = child_ptr[v + 1]
        for k in range(lo, hi):
            c = child_idx[k]
            for s in range(S):
                rest_c[s] = up_c[v, s]
                rest_n[s] = up_n[v, s]
            for k2 in range(lo, hi):
                if k2 != k:
                    c2 = child_idx[k2]
                    for s in range(S):
                        rest_c[s] += msg_c[c2, s]
                        rest_n[s] *= msg_n[c2, s]
            _edge_message(rest_c, rest_n, weight[c], S, up_c[c], up_n[c])
            _normalise(up_n[c], S)
    tot = np.empty(S)
    for a in range(anchors.shape[0]):
        v = anchors[a]
        best = np.inf
        for s in range(S):
            tot[s] = down_c[v, s] + up_c[v, s]
            if tot[s] < best:
                best = tot[s]
        z = 0.0
        for s in range(S):
            if _same(tot[s], best):
                out[a, s] = down_n[v, s] * up_n[v, s]
                z += out[a, s]
            else:
                out[a, s] = 0.0
        for s in range(S):
            out[a, s] /= z


@njit(cache=True, nogil=True)
def nearest_known(parent, child_ptr, child_idx, length, known, out):  # noqa: ANN001
    """Branch-length distance from every node to its nearest node with ``known`` set."""
    n = parent.shape[0]
    down = np.full(n, np.inf)
    for v in range(n):
        if known[v]:
            down[v] = 0.0
        for k in range(child_ptr[v], child_ptr[v + 1]):
            c = child_idx[k]
            d = down[c] + length[c]
            if d < down[v]:
                down[v] = d
    for v in range(n):
        out[v] = down[v]
    for v in range(n - 1, -1, -1):
        for k in range(child_ptr[v], child_ptr[v + 1]):
            c = child_idx[k]
            d = out[v] + length[c]
            if d < out[c]:
                out[c] = d
