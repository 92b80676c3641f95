"""Slow, obviously correct Felsenstein pruning for checking the placement kernels."""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm


def rate_matrix(model):
    pi = model.freqs / model.freqs.sum()
    Q = np.zeros((4, 4))
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for k, (i, j) in enumerate(pairs):
        Q[i, j] = model.rates[k] * pi[j]
        Q[j, i] = model.rates[k] * pi[i]
    np.fill_diagonal(Q, -Q.sum(axis=1))
    Q /= -np.dot(pi, np.diag(Q))
    return Q, pi


def tree_loglik(tree, tip_codes, model):
    """Log-likelihood of an alignment (tip name -> list of 4-bit masks) on ``tree``
    (TreeArrays), per column, by recursion with scipy's matrix exponential."""
    Q, pi = rate_matrix(model)
    rates, weights = model.category_rates()
    names = list(tip_codes)
    codes = np.array([tip_codes[n] for n in names], dtype=np.int64)  # (tips, columns)
    row = {n: i for i, n in enumerate(names)}
    total = np.zeros(codes.shape[1])
    for r, w in zip(rates, weights, strict=True):
        vec = {}
        for v in range(tree.n_nodes):  # post-order: children first
            kids = tree.child_idx[tree.child_ptr[v]:tree.child_ptr[v + 1]]
            if kids.size == 0:
                m = codes[row[tree.names[v]]]
                vec[v] = np.stack([(m >> x) & 1 for x in range(4)], axis=1).astype(float)
            else:
                acc = np.ones((codes.shape[1], 4))
                for c in kids:
                    acc = acc * (vec[c] @ expm(Q * r * tree.length[c]).T)
                vec[v] = acc
        total += w * (vec[tree.n_nodes - 1] @ pi)
    return np.log(total)
