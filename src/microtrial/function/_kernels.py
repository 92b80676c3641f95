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
def nearest_known(parent, child_ptr, child_idx, length, known, out, which):  # noqa: ANN001
    """Branch-length distance from every node to its nearest node with ``known`` set
    (``out``) and that node (``which``; the first in post-order among equals)."""
    n = parent.shape[0]
    down = np.full(n, np.inf)
    arg = np.full(n, -1, dtype=np.int64)
    for v in range(n):
        if known[v]:
            down[v] = 0.0
            arg[v] = v
        for k in range(child_ptr[v], child_ptr[v + 1]):
            c = child_idx[k]
            d = down[c] + length[c]
            if d < down[v]:
                down[v] = d
                arg[v] = arg[c]
    for v in range(n):
        out[v] = down[v]
        which[v] = arg[v]
    for v in range(n - 1, -1, -1):
        for k in range(child_ptr[v], child_ptr[v + 1]):
            c = child_idx[k]
            d = out[v] + length[c]
            if d < out[c]:
                out[c] = d
                which[c] = which[v]


# --------------------------------------------------------------------------------------
# phylogenetic likelihood (placement). Residues are 4-bit masks: A=1, C=2, G=4, T=8,
# ambiguity codes their unions, gaps and N 15 (all states possible).


@njit(cache=True, nogil=True)
def clv_block(parent, child_ptr, child_idx, codes, pmat, cols, down, dscale, up, uscale,
              freqs, cat_w, site_ll):  # noqa: ANN001
    """Conditional likelihood vectors of one block of alignment columns.

    Parameters
    ----------
    codes : uint8 array (n_nodes, n_columns)
        Residue masks of the tips (rows of internal nodes unused).
    pmat : float64 array (n_nodes, C, 4, 4)
        Transition probabilities along the edge above each node, per rate category.
    cols : int64 array (B,)
        The columns of this block.
    down, up : float64 arrays (n_nodes, B, C, 4), outputs
        ``down[v]``: likelihood of the subtree below ``v`` given the state at ``v``.
        ``up[v]``: likelihood of everything outside ``v``'s subtree given the state at
        ``v``'s parent (the top end of ``v``'s edge). Both scaled per node and column.
    dscale, uscale : float64 arrays (n_nodes, B), outputs
        Log scale factors to add back.
    site_ll : float64 array (B,), output
        Log-likelihood of the tree at each column.
    """
    n = parent.shape[0]
    B = cols.shape[0]
    C = pmat.shape[1]
    prop = np.empty((n, B, C, 4))
    for v in range(n):
        lo = child_ptr[v]
        hi = child_ptr[v + 1]
        for b in range(B):
            if hi == lo:
                m = codes[v, cols[b]]
                for c in range(C):
                    for x in range(4):
                        down[v, b, c, x] = 1.0 if (m >> x) & 1 else 0.0
                dscale[v, b] = 0.0
            else:
                sc = 0.0
                for c in range(C):
                    for x in range(4):
                        down[v, b, c, x] = 1.0
                for k in range(lo, hi):
                    u = child_idx[k]
                    sc += dscale[u, b]
                    for c in range(C):
                        for x in range(4):
                            down[v, b, c, x] *= prop[u, b, c, x]
                mx = 0.0
                for c in range(C):
                    for x in range(4):
                        if down[v, b, c, x] > mx:
                            mx = down[v, b, c, x]
                if mx > 0.0:
                    for c in range(C):
                        for x in range(4):
                            down[v, b, c, x] /= mx
                    sc += np.log(mx)
                dscale[v, b] = sc
            if parent[v] >= 0:
                for c in range(C):
                    for x in range(4):
                        acc = 0.0
                        for y in range(4):
                            acc += pmat[v, c, x, y] * down[v, b, c, y]
                        prop[v, b, c, x] = acc
    root = n - 1
    for b in range(B):
        tot = 0.0
        for c in range(C):
            for x in range(4):
                tot += cat_w[c] * freqs[x] * down[root, b, c, x]
        site_ll[b] = np.log(tot) + dscale[root, b]
    for p in range(n - 1, -1, -1):
        lo = child_ptr[p]
        hi = child_ptr[p + 1]
        for k in range(lo, hi):
            v = child_idx[k]
            for b in range(B):
                sc = 0.0
                for c in range(C):
                    for x in range(4):
                        up[v, b, c, x] = 1.0
                if parent[p] >= 0:
                    sc += uscale[p, b]
                    for c in range(C):
                        for x in range(4):
                            acc = 0.0
                            for y in range(4):
                                acc += pmat[p, c, x, y] * up[p, b, c, y]
                            up[v, b, c, x] = acc
                for k2 in range(lo, hi):
                    if k2 != k:
                        u = child_idx[k2]
                        sc += dscale[u, b]
                        for c in range(C):
                            for x in range(4):
                                up[v, b, c, x] *= prop[u, b, c, x]
                mx = 0.0
                for c in range(C):
                    for x in range(4):
                        if up[v, b, c, x] > mx:
                            mx = up[v, b, c, x]
                if mx > 0.0:
                    for c in range(C):
                        for x in range(4):
                            up[v, b, c, x] /= mx
                    sc += np.log(mx)
                uscale[v, b] = sc


@njit(cache=True, nogil=True)
def lookup_block(down, dscale, up, uscale, phalf, pq, freqs, cat_w, parent, out, b0):  # noqa: ANN001
    """Pre-placement table: ``out[v, b0 + b, base]`` = log-likelihood contribution of a
    query with ``base`` at the block's column ``b`` inserted at the middle of ``v``'s edge
    with pendant transition matrices ``pq`` (C, 4, 4)."""
    n = down.shape[0]
    B = down.shape[1]
    C = down.shape[2]
    mid = np.empty((C, 4))
    for v in range(n):
        if parent[v] < 0:
            continue
        for b in range(B):
            for c in range(C):
                for x in range(4):
                    a1 = 0.0
                    a2 = 0.0
                    for y in range(4):
                        a1 += phalf[v, c, x, y] * down[v, b, c, y]
                        a2 += phalf[v, c, x, y] * up[v, b, c, y]
                    mid[c, x] = cat_w[c] * freqs[x] * a1 * a2
            sc = dscale[v, b] + uscale[v, b]
            for base in range(4):
                tot = 0.0
                for c in range(C):
                    for x in range(4):
                        tot += mid[c, x] * pq[c, x, base]
                out[v, b0 + b, base] = np.log(tot) + sc if tot > 0.0 else -1e300


@njit(cache=True, nogil=True)
def prescore(lut, q_cols, q_base, edges, out):  # noqa: ANN001
    """Sum of the pre-placement table over a query's columns for each edge."""
    for e in range(edges.shape[0]):
        v = edges[e]
        s = 0.0
        for i in range(q_cols.shape[0]):
            if q_base[i] >= 0:
                s += lut[v, q_cols[i], q_base[i]]
        out[e] = s


@njit(cache=True, nogil=True)
def _pmatrix(evec, evec_inv, evals, rate, t, out):  # noqa: ANN001
    """P(t) = V diag(exp(lambda rate t)) V^-1 (4 x 4)."""
    ex = np.empty(4)
    for k in range(4):
        ex[k] = np.exp(evals[k] * rate * t)
    for x in range(4):
        for y in range(4):
            acc = 0.0
            for k in range(4):
                acc += evec[x, k] * ex[k] * evec_inv[k, y]
            out[x, y] = acc if acc > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _eig_apply(evec, ex, vt, out):  # noqa: ANN001
    """out = V diag(ex) vt (4-vectors); negatives from rounding set to 0."""
    for x in range(4):
        acc = 0.0
        for k in range(4):
            acc += evec[x, k] * ex[k] * vt[k]
        out[x] = acc if acc > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _to_eigen(v, evec_inv, out):  # noqa: ANN001
    """out[s, c] = V^-1 v[s, c] for every site and category."""
    for s in range(v.shape[0]):
        for c in range(v.shape[1]):
            for k in range(4):
                acc = 0.0
                for y in range(4):
                    acc += evec_inv[k, y] * v[s, c, y]
                out[s, c, k] = acc


@njit(cache=True, nogil=True)
def _edge_products(t, d, dt, at, evec, evals, rates, freqs, out):  # noqa: ANN001
    """out[s, c, x] = pi_x (P(t) D)_x (P(d - t) A)_x from eigen-coordinates dt, at."""
    C = rates.shape[0]
    e1 = np.empty(4)
    e2 = np.empty(4)
    a1 = np.empty(4)
    a2 = np.empty(4)
    for c in range(C):
        for k in range(4):
            e1[k] = np.exp(evals[k] * rates[c] * t)
            e2[k] = np.exp(evals[k] * rates[c] * (d - t))
        for s in range(dt.shape[0]):
            _eig_apply(evec, e1, dt[s, c], a1)
            _eig_apply(evec, e2, at[s, c], a2)
            for x in range(4):
                out[s, c, x] = freqs[x] * a1[x] * a2[x]


@njit(cache=True, nogil=True)
def _query_vectors(q, qmask, evec, evec_inv, evals, rates, pq, out):  # noqa: ANN001
    """out[s, c, x] = (P(q) e_query)_x: the query tip seen from the attachment point."""
    C = rates.shape[0]
    for c in range(C):
        _pmatrix(evec, evec_inv, evals, rates[c], q, pq[c])
    for s in range(qmask.shape[0]):
        m = qmask[s]
        for c in range(C):
            for x in range(4):
                acc = 0.0
                for y in range(4):
                    if (m >> y) & 1:
                        acc += pq[c, x, y]
                out[s, c, x] = acc


@njit(cache=True, nogil=True)
def _ll_pendant(q, M, qmask, evec, evec_inv, evals, rates, cat_w, pq):  # noqa: ANN001
    """Log-likelihood over the query's columns for pendant length q, the attachment point
    fixed (``M`` from :func:`_edge_products`)."""
    C = rates.shape[0]
    for c in range(C):
        _pmatrix(evec, evec_inv, evals, rates[c], q, pq[c])
    total = 0.0
    for s in range(M.shape[0]):
        m = qmask[s]
        lik = 0.0
        for c in range(C):
            sub = 0.0
            for x in range(4):
                a3 = 0.0
                for y in range(4):
                    if (m >> y) & 1:
                        a3 += pq[c, x, y]
                sub += M[s, c, x] * a3
            lik += cat_w[c] * sub
        total += np.log(lik) if lik > 0.0 else -1e300
    return total


@njit(cache=True, nogil=True)
def _ll_distal(t, d, dt, at, Qv, evec, evals, rates, cat_w, freqs):  # noqa: ANN001
    """Log-likelihood over the query's columns for distal length t, the pendant fixed
    (``Qv`` from :func:`_query_vectors`)."""
    C = rates.shape[0]
    e1 = np.empty((C, 4))
    e2 = np.empty((C, 4))
    for c in range(C):
        for k in range(4):
            e1[c, k] = np.exp(evals[k] * rates[c] * t)
            e2[c, k] = np.exp(evals[k] * rates[c] * (d - t))
    a1 = np.empty(4)
    a2 = np.empty(4)
    total = 0.0
    for s in range(dt.shape[0]):
        lik = 0.0
        for c in range(C):
            _eig_apply(evec, e1[c], dt[s, c], a1)
            _eig_apply(evec, e2[c], at[s, c], a2)
            sub = 0.0
            for x in range(4):
                sub += freqs[x] * a1[x] * a2[x] * Qv[s, c, x]
            lik += cat_w[c] * sub
        total += np.log(lik) if lik > 0.0 else -1e300
    return total


@njit(cache=True, nogil=True)
def _golden_pendant(lo, hi, M, qmask, evec, evec_inv, evals, rates, cat_w, pq, tol):  # noqa: ANN001
    g = 0.6180339887498949
    a, b = lo, hi
    x1 = b - g * (b - a)
    x2 = a + g * (b - a)
    f1 = _ll_pendant(x1, M, qmask, evec, evec_inv, evals, rates, cat_w, pq)
    f2 = _ll_pendant(x2, M, qmask, evec, evec_inv, evals, rates, cat_w, pq)
    while b - a > tol * (a + b) * 0.5:
        if f1 < f2:
            a, x1, f1 = x1, x2, f2
            x2 = a + g * (b - a)
            f2 = _ll_pendant(x2, M, qmask, evec, evec_inv, evals, rates, cat_w, pq)
        else:
            b, x2, f2 = x2, x1, f1
            x1 = b - g * (b - a)
            f1 = _ll_pendant(x1, M, qmask, evec, evec_inv, evals, rates, cat_w, pq)
    if f1 > f2:
        return x1, f1
    return x2, f2


@njit(cache=True, nogil=True)
def _golden_distal(d, dt, at, Qv, evec, evals, rates, cat_w, freqs, tol):  # noqa: ANN001
    g = 0.6180339887498949
    a, b = 0.0, d
    x1 = b - g * (b - a)
    x2 = a + g * (b - a)
    f1 = _ll_distal(x1, d, dt, at, Qv, evec, evals, rates, cat_w, freqs)
    f2 = _ll_distal(x2, d, dt, at, Qv, evec, evals, rates, cat_w, freqs)
    while b - a > tol * d:
        if f1 < f2:
            a, x1, f1 = x1, x2, f2
            x2 = a + g * (b - a)
            f2 = _ll_distal(x2, d, dt, at, Qv, evec, evals, rates, cat_w, freqs)
        else:
            b, x2, f2 = x2, x1, f1
            x1 = b - g * (b - a)
            f1 = _ll_distal(x1, d, dt, at, Qv, evec, evals, rates, cat_w, freqs)
    best_t, best_f = (x1, f1) if f1 > f2 else (x2, f2)
    # the edge's ends are candidates too (golden search never evaluates them)
    f0 = _ll_distal(0.0, d, dt, at, Qv, evec, evals, rates, cat_w, freqs)
    if f0 > best_f:
        best_t, best_f = 0.0, f0
    fd = _ll_distal(d, d, dt, at, Qv, evec, evals, rates, cat_w, freqs)
    if fd > best_f:
        best_t, best_f = d, fd
    return best_t, best_f


@njit(cache=True, nogil=True)
def optimise_placement(d, dv, av, qmask, evec, evec_inv, evals, rates, cat_w, freqs,
                       min_len, max_pendant, rounds, tol):  # noqa: ANN001
    """Maximum-likelihood distal (from the edge's lower node) and pendant lengths of a query
    on an edge of length ``d``; returns (distal, pendant, log-likelihood without scalers).

    Coordinate ascent from the edge's midpoint: the pendant length (best of a x4 grid, then
    golden-section search within a factor 4), then the distal position (golden-section
    search over the edge and its two ends), ``rounds`` times, each search to relative
    tolerance ``tol``.
    """
    S = dv.shape[0]
    C = rates.shape[0]
    dt = np.empty((S, C, 4))
    at = np.empty((S, C, 4))
    _to_eigen(dv, evec_inv, dt)
    _to_eigen(av, evec_inv, at)
    M = np.empty((S, C, 4))
    Qv = np.empty((S, C, 4))
    pq = np.empty((C, 4, 4))
    t = d * 0.5
    _edge_products(t, d, dt, at, evec, evals, rates, freqs, M)
    best_q = min_len
    best_f = -np.inf
    q = min_len
    while q < max_pendant:
        f = _ll_pendant(q, M, qmask, evec, evec_inv, evals, rates, cat_w, pq)
        if f > best_f:
            best_f = f
            best_q = q
        q *= 4.0
    q = best_q
    f = best_f
    for _ in range(rounds):
        q, f = _golden_pendant(max(min_len, q / 4.0), min(max_pendant, q * 4.0), M, qmask,
                               evec, evec_inv, evals, rates, cat_w, pq, tol)
        if d > 0.0:
            _query_vectors(q, qmask, evec, evec_inv, evals, rates, pq, Qv)
            t, f = _golden_distal(d, dt, at, Qv, evec, evals, rates, cat_w, freqs, tol)
            _edge_products(t, d, dt, at, evec, evals, rates, freqs, M)
    f = _ll_pendant(q, M, qmask, evec, evec_inv, evals, rates, cat_w, pq)
    return t, q, f


@njit(cache=True, nogil=True)
def optimise_many(q_ptr, q_ucols, q_masks, cand, slot_of, lengths, sdown, sup, sscale, evec,
                  evec_inv, evals, rates, cat_w, freqs, min_len, max_pendant, rounds, tol,
                  lo, hi, out_t, out_q, out_f):  # noqa: ANN001
    """:func:`optimise_placement` for queries ``lo..hi-1`` on each of their candidate edges
    (``cand[i, j]``, -1 = none). Query i's columns (indices into the stored vectors) are
    ``q_ucols[q_ptr[i]:q_ptr[i + 1]]``. ``out_f`` includes the stored vectors' log scale
    factors."""
    C = rates.shape[0]
    for i in range(lo, hi):
        a = q_ptr[i]
        b = q_ptr[i + 1]
        S = b - a
        dv = np.empty((S, C, 4))
        av = np.empty((S, C, 4))
        masks = q_masks[a:b]
        for j in range(cand.shape[1]):
            v = cand[i, j]
            if v < 0:
                continue
            s = slot_of[v]
            scale = 0.0
            for k in range(S):
                u = q_ucols[a + k]
                scale += sscale[s, u]
                for c in range(C):
                    for x in range(4):
                        dv[k, c, x] = sdown[s, u, c, x]
                        av[k, c, x] = sup[s, u, c, x]
            t, q, f = optimise_placement(lengths[v], dv, av, masks, evec, evec_inv, evals,
                                         rates, cat_w, freqs, min_len, max_pendant, rounds,
                                         tol)
            out_t[i, j] = t
            out_q[i, j] = q
            out_f[i, j] = f + scale
