"""numba kernels of the simulator.

``capped_edit_distance`` is a banded Levenshtein distance (Ukkonen 1985: only cells within
``cap`` of the diagonal can hold values below ``cap``). We write it ourselves because the
simulator needs only "is the distance below k" for a few thousand pairs of ~420 nt and no
dependency offers a capped distance on encoded arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def capped_edit_distance(a: np.ndarray, b: np.ndarray, cap: int) -> int:
    """Levenshtein distance of two uint8-encoded sequences, or ``cap`` if it is >= ``cap``.

    Notes
    -----
    D[i, j] = min(D[i-1, j-1] + [a_i != b_j], D[i-1, j] + 1, D[i, j-1] + 1), with
    D[i, 0] = i and D[0, j] = j; only |i - j| <= cap is computed, cells outside the band
    count as ``cap + 1``; the scan stops once a whole row is >= ``cap``.

    References
    ----------
    Ukkonen E (1985) Algorithms for approximate string matching. Inf Control 64:100-118.
    """
    la = a.shape[0]
    lb = b.shape[0]
    if abs(la - lb) >= cap:
        return cap
    big = cap + 1
    prev = np.empty(lb + 2, np.int64)
    cur = np.empty(lb + 2, np.int64)
    for j in range(lb + 2):
        prev[j] = j if j <= cap else big
        cur[j] = big
    for i in range(1, la + 1):
        lo = max(1, i - cap)
        hi = min(lb, i + cap)
        if lo == 1:
            cur[0] = i if i <= cap else big
        else:
            cur[lo - 1] = big
        row_min = cur[lo - 1]
        for j in range(lo, hi + 1):
            v = prev[j - 1] + (0 if a[i - 1] == b[j - 1] else 1)
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            if v > big:
                v = big
            cur[j] = v
            if v < row_min:
                row_min = v
        cur[hi + 1] = big
        if row_min >= cap:
            return cap
        prev, cur = cur, prev
    d = int(prev[lb])
    return d if d < cap else cap
