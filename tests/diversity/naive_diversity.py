"""Slow, obviously correct references for the diversity kernels."""

from __future__ import annotations

import numpy as np


def braycurtis(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = x[i].sum() + x[j].sum()
            out[i, j] = np.abs(x[i] - x[j]).sum() / s if s else 0.0
    return out


def jaccard(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            a, b = set(np.flatnonzero(x[i])), set(np.flatnonzero(x[j]))
            out[i, j] = 1 - len(a & b) / len(a | b) if a | b else 0.0
    return out


def pseudo_f(distance: np.ndarray, groups: np.ndarray) -> float:
    """Anderson (2001) one-way pseudo-F from within-group sums of squared distances."""
    d2 = np.asarray(distance) ** 2
    n = d2.shape[0]
    levels = np.unique(groups)
    sst = d2[np.triu_indices(n, 1)].sum() / n
    ssw = 0.0
    for lv in levels:
        idx = np.flatnonzero(groups == lv)
        sub = d2[np.ix_(idx, idx)]
        ssw += sub[np.triu_indices(idx.size, 1)].sum() / idx.size
    a = levels.size
    return ((sst - ssw) / (a - 1)) / (ssw / (n - a))
