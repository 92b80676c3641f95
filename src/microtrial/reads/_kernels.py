"""Numba kernels of read input, filtering and dereplication (one pass per read over padded
``uint8`` matrices; none holds the GIL, so samples loaded in threads overlap).

The filtering kernels have slow, obviously correct counterparts in ``tests/reads/_naive.py``;
the others are checked against the numpy code they replaced (kept in the tests).
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
def word_hits(seq, code_of, lengths, k, sorted_words, min_matches, out, prefix_table, prefix_shift):
    """Count non-overlapping exact k-mer hits (greedy from the 5' end) against a word set.

    ``code_of[seq[i, j]]`` (``dna.CODES``) is 0-3 for A/C/G/T and more (``dna.OTHER``) for
    anything else; a window containing one is never a hit.  ``sorted_words`` are the reference's k-mer codes (2 bits
    per base, first base most significant), sorted ascending.  ``out[i]`` is True when read
    ``i`` has at least ``min_matches`` hits.  ``prefix_table[w >> prefix_shift]`` is True for the
    prefixes of the reference words (a screen that spares most binary searches).
    """
    n = seq.shape[0]
    mask = (np.uint64(1) << np.uint64(2 * k)) - np.uint64(1)
    for i in range(n):
        ln = lengths[i]
        w = np.uint64(0)
        valid = 0  # bases since the last invalid one
        count = 0
        next_ok = 0  # first window start allowed for the next hit
        for j in range(ln):
            c = code_of[seq[i, j]]
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


@njit(cache=True, nogil=True)
def take_rows(src, rows, new_len, width, out):
    """``out[k, j] = src[rows[k], j]`` for ``j < new_len[k]``, else 0 (``j < width``)."""
    for k in range(rows.shape[0]):
        i = rows[k]
        ln = min(new_len[k], width)
        for j in range(ln):
            out[k, j] = src[i, j]
        for j in range(ln, width):
            out[k, j] = 0


@njit(cache=True, nogil=True)
def fill_rows(flat, lengths, out):
    """Row ``i`` of ``out`` gets the next ``lengths[i]`` bytes of ``flat``, then zeros."""
    w = out.shape[1]
    pos = 0
    for i in range(lengths.shape[0]):
        ln = lengths[i]
        for j in range(ln):
            out[i, j] = flat[pos + j]
        for j in range(ln, w):
            out[i, j] = 0
        pos += ln


@njit(cache=True, nogil=True)
def check_reads(seq, qual, lengths, valid):
    """Upper-case each read's bases in place (a-z -> A-Z) and scan them.

    Returns ``(first_bad, qmin, qmax)``: the flat index ``i * width + j`` of the first base
    (row by row) with ``valid[seq[i, j]]`` false, or -1; and the smallest and largest
    quality byte over all reads' bases (256 and -1 when there are none).  Only the first
    ``lengths[i]`` bytes of row ``i`` are read or written (the rest is zero padding).
    """
    n, w = seq.shape
    first_bad = -1
    qmin = 256
    qmax = -1
    for i in range(n):
        ln = lengths[i]
        for j in range(ln):
            c = seq[i, j]
            if c >= 97 and c <= 122:
                c -= 32
                seq[i, j] = c
            if not valid[c] and first_bad < 0:
                first_bad = i * w + j
            q = np.int64(qual[i, j])
            qmin = min(qmin, q)
            qmax = max(qmax, q)
    return first_bad, qmin, qmax


@njit(cache=True, nogil=True)
def phred_in_place(qual, lengths):
    """``qual[i, j] -= 33`` inside each read, 0 beyond its length."""
    n, w = qual.shape
    for i in range(n):
        ln = lengths[i]
        for j in range(ln):
            qual[i, j] = qual[i, j] - 33
        for j in range(ln, w):
            qual[i, j] = 0


# --- dereplication -------------------------------------------------------------------------
# Reads are keyed, as the numpy version did, by their whole padded row plus the low 16 bits of
# their length (two bytes, low first); uniques are found with an open-addressing hash table
# (FNV-1a over the key, linear probing) in order of first appearance, then sorted.

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True, nogil=True, inline="always")
def _key_cmp(seq, lengths, a, b):
    """Order of the keys of reads ``a`` and ``b`` (-1, 0, 1): the padded rows compared as
    unsigned bytes, then the length's low byte, then its second byte (numpy's order of
    the ``void`` rows ``seq[i] + (len & 0xFF, len >> 8 & 0xFF)``)."""
    for j in range(seq.shape[1]):
        x = seq[a, j]
        y = seq[b, j]
        if x != y:
            return -1 if x < y else 1
    la = lengths[a]
    lb = lengths[b]
    x = la & 0xFF
    y = lb & 0xFF
    if x != y:
        return -1 if x < y else 1
    x = (la >> 8) & 0xFF
    y = (lb >> 8) & 0xFF
    if x != y:
        return -1 if x < y else 1
    return 0


@njit(cache=True, nogil=True, inline="always")
def _unique_before(g, h, counts, first, chunk, seq, lengths):
    """True when unique ``g`` sorts before unique ``h``: more reads first, then the earlier
    chunk of first appearance, then the key bytewise."""
    if counts[g] != counts[h]:
        return counts[g] > counts[h]
    cg = first[g] // chunk
    ch = first[h] // chunk
    if cg != ch:
        return cg < ch
    return _key_cmp(seq, lengths, first[g], first[h]) < 0


@njit(cache=True, nogil=True)
def dereplicate_reads(seq, qual, lengths, chunk):
    """Uniques of the reads and their mean qualities, most abundant first.

    Parameters: ``seq``, ``qual`` (uint8, reads x width, zero-padded), ``lengths``
    (int64), ``chunk`` (reads per chunk of R's ``derepFastq``).

    Returns ``(rep, abundances, read_to_unique, qmean)``: per unique (in their final order)
    the index of its first read and its read count; per read its unique; and the mean
    quality per unique and position (``qmean[k, j]``: the sum of the reads' scores,
    accumulated exactly in float64, divided by the abundance; reads x width like ``qual``).
    Order: abundance descending, then the chunk of ``chunk`` reads where the unique first
    appears, then the key (see :func:`_key_cmp`) bytewise.
    """
    n, w = seq.shape
    cap = 16
    while cap < 2 * n:
        cap <<= 1
    mask = np.uint64(cap - 1)
    table = np.full(cap, -1, dtype=np.int64)
    hashes = np.empty(n, dtype=np.uint64)
    group_of = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    ng = 0
    for i in range(n):
        h = _FNV_OFFSET
        for j in range(w):
            h = (h ^ np.uint64(seq[i, j])) * _FNV_PRIME
        ln = lengths[i]
        h = (h ^ np.uint64(ln & 0xFF)) * _FNV_PRIME
        h = (h ^ np.uint64((ln >> 8) & 0xFF)) * _FNV_PRIME
        slot = (h ^ (h >> np.uint64(29))) & mask
        while True:
            g = table[slot]
            if g < 0:
                table[slot] = ng
                hashes[ng] = h
                first[ng] = i
                counts[ng] = 1
                group_of[i] = ng
                ng += 1
                break
            if hashes[g] == h and _key_cmp(seq, lengths, first[g], i) == 0:
                counts[g] += 1
                group_of[i] = g
                break
            slot = (slot + np.uint64(1)) & mask
    # order the uniques: bottom-up merge sort (stable; the order is total anyway)
    order = np.arange(ng)
    buf = np.empty(ng, dtype=np.int64)
    width = 1
    while width < ng:
        for lo in range(0, ng, 2 * width):
            mid = min(lo + width, ng)
            hi = min(lo + 2 * width, ng)
            a = lo
            b = mid
            k = lo
            while a < mid and b < hi:
                if _unique_before(order[b], order[a], counts, first, chunk, seq, lengths):
                    buf[k] = order[b]
                    b += 1
                else:
                    buf[k] = order[a]
                    a += 1
                k += 1
            while a < mid:
                buf[k] = order[a]
                a += 1
                k += 1
            while b < hi:
                buf[k] = order[b]
                b += 1
                k += 1
        order, buf = buf, order
        width *= 2
    rank = np.empty(ng, dtype=np.int64)
    rep = np.empty(ng, dtype=np.int64)
    abundances = np.empty(ng, dtype=np.int64)
    for k in range(ng):
        g = order[k]
        rank[g] = k
        rep[k] = first[g]
        abundances[k] = counts[g]
    read_to_unique = np.empty(n, dtype=np.int64)
    qmean = np.zeros((ng, w), dtype=np.float64)
    for i in range(n):
        k = rank[group_of[i]]
        read_to_unique[i] = k
        for j in range(w):
            qmean[k, j] += qual[i, j]
    for k in range(ng):
        c = np.float64(abundances[k])
        for j in range(w):
            qmean[k, j] = qmean[k, j] / c
    return rep, abundances, read_to_unique, qmean
