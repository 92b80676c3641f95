"""Numba kernels of read filtering (one pass per read over padded ``uint8`` matrices).

Each kernel has a slow, obviously correct counterpart in ``tests/reads/_naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def trim_stats(seq, qual, lengths, trunc_q, trunc_len, err, out_len, out_keep, out_n, out_ee):
    """truncQ then truncLen per read, and the N count and expected errors of what is left.

    ``out_len[i]``: length after cutting before the first base with quality <= ``trunc_q``
    (``trunc_q < 0`` disables) and then at ``trunc_len`` (0 disables); ``out_keep[i]`` is
    False when that cut left fewer than ``trunc_len`` bases; ``out_n[i]`` counts ``N``
    (ASCII 78) and ``out_ee[i]`` sums ``err[q]`` over the kept bases.
    """
    n = seq.shape[0]
    for i in range(n):
        ln = lengths[i]
        if trunc_q >= 0:
            for j in range(ln):
                if qual[i, j] <= trunc_q:
                    ln = j
                    break
        keep = True
        if trunc_len > 0:
            if ln < trunc_len:
                keep = False
            else:
                ln = trunc_len
        nn = 0
        ee = 0.0
        for j in range(ln):
            if seq[i, j] == 78:
                nn += 1
            ee += err[qual[i, j]]
        out_len[i] = ln
        out_keep[i] = keep
        out_n[i] = nn
        out_ee[i] = ee


@njit(cache=True, nogil=True)
def _contains(sorted_words, w):
    lo = 0
    hi = sorted_words.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_words[mid] < w:
            lo = mid + 1
        else:
            hi = mid
    return lo < sorted_words.shape[0] and sorted_words[lo] == w


@njit(cache=True, nogil=True)
def quality_counts(qual, lengths, n_q, out):
    """``out[p, min(q, n_q - 1)] += 1`` for every base (position ``p``, score ``q``)."""
    for i in range(qual.shape[0]):
        for j in range(lengths[i]):
            q = qual[i, j]
            if q >= n_q:
                q = n_q - 1
            out[j, q] += 1


@njit(cache=True, nogil=True)
def word_hits(codes, lengths, k, sorted_words, min_matches, out, prefix_table, prefix_shift):
    """Count non-overlapping exact k-mer hits (greedy from the 5' end) against a word set.

    ``codes`` holds 0-3 for A/C/G/T and more (``dna.OTHER``) for anything else; a window
    containing one is never a hit.  ``sorted_words`` are the reference's k-mer codes (2 bits
    per base, first base most significant), sorted ascending.  ``out[i]`` is True when read
    ``i`` has at least ``min_matches`` hits.  ``prefix_table[w >> prefix_shift]`` is True for the
    prefixes of the reference words (a screen that spares most binary searches).
    """
    n = codes.shape[0]
    mask = (np.uint64(1) << np.uint64(2 * k)) - np.uint64(1)
    for i in range(n):
        ln = lengths[i]
        w = np.uint64(0)
        valid = 0  # bases since the last invalid one
        count = 0
        next_ok = 0  # first window start allowed for the next hit
        for j in range(ln):
            c = codes[i, j]
            if c > 3:  # not A, C, G or T
                valid = 0
                w = np.uint64(0)
                continue
            w = ((w << np.uint64(2)) | np.uint64(c)) & mask
            valid += 1
            if valid >= k:
                start = j - k + 1
                if start >= next_ok and prefix_table[w >> np.uint64(prefix_shift)] and _contains(sorted_words, w):
                    count += 1
                    next_ok = start + k
                    if count >= min_matches:
                        break
        out[i] = count >= min_matches
