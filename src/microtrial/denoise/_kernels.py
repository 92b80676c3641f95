"""Numba kernels of the denoiser: k-mer screen, banded alignment, lambda, p-values, shuffles.

All kernels work on plain arrays: sequences are concatenated ``uint8`` codes (A=0, C=1,
G=2, T=3) with ``int64`` offsets; qualities are the rounded per-position mean Phred scores
(``uint8``, clamped to the error matrix's last column).  The k-mer distance, alignment,
lambda and p-value kernels are tested against slow, obviously correct counterparts in
``tests/_naive_denoise.py``; the reassignment and counting kernels through the simulations
in ``tests/denoise``.

The alignment is written here rather than taken from a library because it must reproduce
DADA2's scoring exactly (ends-free Needleman-Wunsch, MATCH 5, MISMATCH -4, linear GAP -8,
band 16) and must return the substitution list the error model needs; no installed library
offers a banded ends-free aligner with that output.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MATCH = 5
MISMATCH = -4
GAP = -8
KMER = 5
NEG = -(10**9)
BIG_NEG = -(1 << 40)  # out-of-band cells inside the alignment (never reached)
LANES = 16  # alignments filled together by fill_batch (one float32 SIMD lane each)
BATCH_MIN_BAND = 8  # pairs whose (narrowed) band is at least this are aligned in batches
_DT = np.float32
_M = np.float32(MATCH)
_X = np.float32(MISMATCH)
_G = np.float32(GAP)

# traceback codes
_TB_DIAG = 1
_TB_UP = 2  # consume a centre base against a gap in the read
_TB_LEFT = 3  # consume a read base against a gap in the centre


@njit(cache=True, nogil=True)
def kmer_count_matrix(codes, offsets, out):
    """Row i of ``out`` (n x 4**5, uint8, zeroed) = 5-mer counts of sequence i."""
    n = offsets.shape[0] - 1
    for i in range(n):
        s = offsets[i]
        for p in range(s, offsets[i + 1] - KMER + 1):
            c = 0
            for t in range(KMER):
                c = c * 4 + codes[p + t]
            out[i, c] += 1


KLAYERS = 6  # bit layers of the 5-mer counts (counts above it use the dense counts)
_KWORDS = 4**KMER // 64


@njit(cache=True, nogil=True)
def kmer_layers(kdense, kbits, kmax):
    """Bit layers of the 5-mer counts: bit ``w`` of layer ``k`` (``kbits[i, k * 16 : (k + 1)
    * 16]``, k = 0 .. KLAYERS - 1) is set when 5-mer ``w`` occurs more than ``k`` times in
    sequence ``i``; ``kmax[i]`` = its largest count.  Since ``min(a, b) = sum_{k >= 1} [a >=
    k][b >= k]``, the shared count of two sequences is the number of bits their layers
    share (:func:`_layer_dot`), a few AND + POPCNT instructions instead of 1,024 minima."""
    n = kdense.shape[0]
    for i in range(n):
        m = 0
        for w in range(kdense.shape[1]):
            x = kdense[i, w]
            if x > m:
                m = x
            word = w >> 6
            bit = np.uint64(1) << np.uint64(w & 63)
            for k in range(min(x, KLAYERS)):
                kbits[i, k * _KWORDS + word] |= bit
        kmax[i] = m


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)  # compiled to POPCNT


@njit(cache=True, nogil=True, inline="always")
def _layer_dot(ba, bb, layers):
    """``sum_w min(c_a(w), c_b(w))`` from the first ``layers`` bit layers (the largest count
    of ``a`` at most ``layers``)."""
    s = np.uint64(0)
    for t in range(layers * _KWORDS):
        s += _popcount(ba[t] & bb[t])
    return int(s)


@njit(cache=True, nogil=True)
def kmer_dist_dense(ka, kb, len_a, len_b):
    """DADA2's k-mer distance from two count vectors:
    ``1 - sum_w min(c_a(w), c_b(w)) / (min(len_a, len_b) - k + 1)``."""
    dot = 0
    for w in range(ka.shape[0]):
        x = ka[w]
        y = kb[w]
        dot += x if x < y else y
    denom = min(len_a, len_b) - KMER + 1
    if denom <= 0:
        return 1.0
    return 1.0 - dot / denom


@njit(cache=True, nogil=True)
def align_banded(a, b, band, tbuf, sub_pos, sub_from, sub_to, ins_pos):
    """Ends-free banded Needleman-Wunsch of centre ``a`` against read ``b``, as DADA2's.

    Scores MATCH/MISMATCH/GAP as above; leading and trailing gaps are free.  The rules are
    those of DADA2's vectorised aligner (``VECTORIZED_ALIGNMENT=TRUE``, its default), so
    that equally good alignments are resolved as R resolves them: the shorter sequence is
    ``s1`` (the centre when lengths are equal), cells with ``-band <= j - i <= band +
    len2 - len1`` are used; a cell takes the gap in ``s2`` ("up") when it is at least as
    good as the gap in ``s1`` ("left"), and either gap when it is at least as good as the
    diagonal; along the last row of ``s1`` and the last column of ``s2`` the end gaps are
    free (preferred to the diagonal on ties, and in the last column "up" to anything);
    the traceback starts at the corner.  ``tbuf`` is not used (kept for callers; the
    score matrix is allocated here, see :func:`align_rows` for the reusable form).

    Returns ``(score, n_subs, n_ins)``; substitutions (read position, centre base, read
    base) are written to ``sub_pos/sub_from/sub_to`` in read order, and the read positions
    aligned to no centre base (insertions, end overhangs included) to ``ins_pos`` (in
    reverse read order).
    """
    m = min(a.shape[0], b.shape[0])
    w = 2 * band + 1 + abs(a.shape[0] - b.shape[0])
    D = np.empty((m + 1) * (w + 2), np.int32)
    return align_rows(a, b, band, D, 0, sub_pos, sub_from, sub_to, ins_pos)


@njit(cache=True, nogil=True)
def align_rows(a, b, band, D, keep_rows, sub_pos, sub_from, sub_to, ins_pos):
    """:func:`align_banded` on a caller's flat ``int32`` score buffer ``D`` (at least
    ``(min(len) + 1) * (2 band + 3 + |len(a) - len(b)|)`` cells), reusing its first
    ``keep_rows`` rows (after row 0) from the previous call.

    The score matrix is a pure function of the sequences: row ``i`` of ``s1`` (the shorter
    sequence, the centre when lengths are equal) depends only on ``s1[:i]`` and on ``s2``
    up to position ``i + band + len2 - len1``.  A caller that aligned, just before, a pair
    with the same centre, the same lengths and band, and a read sharing a long enough
    prefix with this one may pass ``keep_rows`` > 0 (see :func:`compare_centre`); the
    rows are then exactly those this call would compute, and so is the result.
    Each cell is ``max(diag, up, left)``; the traceback re-derives the moves and their tie
    rules from the matrix, so how the maxima are computed does not matter.
    """
    swap = a.shape[0] > b.shape[0]
    if swap:
        s1 = b
        s2 = a
    else:
        s1 = a
        s2 = b
    m = s1.shape[0]
    n = s2.shape[0]
    lo = -band  # j - i >= lo
    hi = band + (n - m)  # j - i <= hi
    w = hi - lo + 1
    W = w + 2  # D[i * W + t + 1] = score of cell (i, j = i + lo + t); t = -1 and w are walls
    big = np.int32(-(1 << 28))
    P = np.empty(4 * n, np.int32)  # P[x * n + q]: score of s1 base x against s2[q]
    for q in range(n):
        y = s2[q]
        for x in range(4):
            P[x * n + q] = MATCH if y == x else MISMATCH
    if keep_rows <= 0:
        keep_rows = 0
        for t in range(W):
            D[t] = big
        for t in range(w):
            j = t + lo
            if 0 <= j <= n:
                D[t + 1] = 0
    for i in range(keep_rows + 1, m + 1):
        ci = s1[i - 1]
        pr = (i - 1) * W
        cr = i * W
        tlo = max(0, 1 - i - lo)  # first t with j >= 1
        thi = min(w - 1, n - i - lo)  # last t with j <= n
        for t in range(0, tlo + 1):
            D[cr + t] = big
        for t in range(thi + 2, W):
            D[cr + t] = big
        t0 = -i - lo  # the j == 0 cell
        if 0 <= t0 < w:
            D[cr + t0 + 1] = 0
        last_col = thi >= tlo and i + lo + thi == n
        stop = thi - 1 if last_col else thi
        if i < m:
            left = D[cr + tlo]
            pp = ci * n + i + lo - 1
            nxt = D[pr + tlo + 1]
            for t in range(tlo, stop + 1):
                diag = nxt + P[pp + t]
                nxt = D[pr + t + 2]
                up = nxt + GAP
                av = up if up > diag else diag
                lf = left + GAP
                left = lf if lf > av else av
                D[cr + t + 1] = left
            first = stop + 1
        else:
            first = tlo
        for t in range(first, thi + 1):  # the last row, and the last column's cell
            j = i + lo + t
            diag = D[pr + t + 1] + (MATCH if ci == s2[j - 1] else MISMATCH)
            up = D[pr + t + 2] + GAP
            lf = D[cr + t] + GAP
            g = up if up >= lf else lf
            val = g if g >= diag else diag
            if i == m and D[cr + t] > val:  # free end gap along the last row of s1
                val = D[cr + t]
            if j == n and D[pr + t + 2] > val:  # free end gap along the last column of s2
                val = D[pr + t + 2]
            D[cr + t + 1] = val
    tc = n - m - lo
    best = D[m * W + tc + 1]
    if best <= big // 2:
        return NEG, -1, -1
    # traceback from the corner, re-deriving each cell's move by the fill's rules
    nsub = 0
    nins = 0
    i = m
    j = n
    while i > 0 or j > 0:
        if i == 0:
            tb = _TB_LEFT
        elif j == 0:
            tb = _TB_UP
        else:
            t = j - i - lo
            diag = D[(i - 1) * W + t + 1] + (MATCH if s1[i - 1] == s2[j - 1] else MISMATCH)
            up = D[(i - 1) * W + t + 2] + GAP
            lf = D[i * W + t] + GAP
            if up >= lf:
                g = up
                tb = _TB_UP
            else:
                g = lf
                tb = _TB_LEFT
            if g >= diag:
                val = g
            else:
                val = diag
                tb = _TB_DIAG
            if i == m:
                fr = D[i * W + t]
                if fr > val:
                    val = fr
                    tb = _TB_LEFT
                elif fr == val and tb == _TB_DIAG:
                    tb = _TB_LEFT
            if j == n:
                fr = D[(i - 1) * W + t + 2]
                if fr > val:
                    val = fr
                    tb = _TB_UP
                elif fr == val and tb != _TB_UP:
                    tb = _TB_UP
        if tb == _TB_DIAG:
            x = s1[i - 1]
            y = s2[j - 1]
            if x != y:
                if swap:  # s1 is the read
                    sub_pos[nsub] = i - 1
                    sub_from[nsub] = y
                    sub_to[nsub] = x
                else:
                    sub_pos[nsub] = j - 1
                    sub_from[nsub] = x
                    sub_to[nsub] = y
                nsub += 1
            i -= 1
            j -= 1
        elif tb == _TB_UP:  # s1 base against a gap
            if swap:
                ins_pos[nins] = i - 1
                nins += 1
            i -= 1
        else:  # s2 base against a gap
            if not swap:
                ins_pos[nins] = j - 1
                nins += 1
            j -= 1
    for k in range(nsub // 2):
        t1 = sub_pos[k]
        sub_pos[k] = sub_pos[nsub - 1 - k]
        sub_pos[nsub - 1 - k] = t1
        t2 = sub_from[k]
        sub_from[k] = sub_from[nsub - 1 - k]
        sub_from[nsub - 1 - k] = t2
        t3 = sub_to[k]
        sub_to[k] = sub_to[nsub - 1 - k]
        sub_to[nsub - 1 - k] = t3
    return best, nsub, nins


@njit(cache=True, nogil=True)
def _grow(arr, need):
    if need <= arr.shape[0]:
        return arr
    cap = max(need, 2 * arr.shape[0])
    out = np.empty(cap, arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit(cache=True, nogil=True)
def ordered_kmer_matches(a, b):
    """Positions ``p < min(len) - k + 1`` where the 5-mers of ``a`` and ``b`` starting at ``p``
    are equal (DADA2's ordered k-mer identity, the numerator of its ``kord_dist``)."""
    n = min(a.shape[0], b.shape[0]) - KMER + 1
    hits = 0
    for p in range(max(n, 0)):
        same = True
        for t in range(KMER):
            if a[p + t] != b[p + t]:
                same = False
                break
        if same:
            hits += 1
    return hits


@njit(cache=True, nogil=True)
def sorted_lcp(codes, offsets, order, out):
    """``out[k]`` = length of the common prefix of uniques ``order[k - 1]`` and ``order[k]``
    (``out[0] = 0``); with ``order`` sorted by (length, sequence), the common prefix of
    ``order[p]`` and ``order[q]`` (p < q) is ``min(out[p + 1 : q + 1])``."""
    if out.shape[0]:
        out[0] = 0
    for k in range(1, order.shape[0]):
        x = offsets[order[k - 1]]
        y = offsets[order[k]]
        lim = min(offsets[order[k - 1] + 1] - x, offsets[order[k] + 1] - y)
        p = 0
        while p < lim and codes[x + p] == codes[y + p]:
            p += 1
        out[k] = p


@njit(cache=True, nogil=True)
def fill_batch(X, Y, m, n, band, D):
    """The score matrices of :data:`LANES` alignments at once, one per SIMD lane.

    ``s1`` of lane ``l`` has bases ``X[i * LANES + l]`` (``m`` of them), ``s2`` has
    ``Y[j * LANES + l]`` (``n >= m``); every lane has the same lengths and band.  Cell
    ``(i, t)`` of lane ``l`` is ``D[(i * W + t + 1) * LANES + l]`` (``W = 2 band + 3 + n -
    m``), the layout of :func:`align_rows` with the lane innermost, and holds what
    :func:`align_rows` computes for that pair: the same recurrence, free end gaps along
    the last row and column, walls and cells outside the matrix at a large negative value.
    Scores are float32: every score is an integer far below 2**24 in magnitude, so float32
    holds them exactly and the lanes vectorise (numba widens int32 sums to int64).
    Unsigned indices in the inner loop keep numba's negative-index checks out of it.
    """
    L = LANES
    lo = -band
    w = 2 * band + 1 + (n - m)
    W = w + 2
    big = _DT(-(1 << 20))
    for t in range(W):
        for l in range(L):
            D[t * L + l] = big
    for t in range(w):
        j = t + lo
        if 0 <= j <= n:
            for l in range(L):
                D[(t + 1) * L + l] = 0
    left = np.empty(L, _DT)
    for i in range(1, m + 1):
        pr = (i - 1) * W
        cr = i * W
        tlo = max(0, 1 - i - lo)
        thi = min(w - 1, n - i - lo)
        for t in range(0, tlo + 1):
            for l in range(L):
                D[(cr + t) * L + l] = big
        for t in range(thi + 2, W):
            for l in range(L):
                D[(cr + t) * L + l] = big
        t0 = -i - lo
        if 0 <= t0 < w:
            for l in range(L):
                D[(cr + t0 + 1) * L + l] = 0
        for l in range(L):
            left[l] = D[(cr + tlo) * L + l]
        last_col = thi >= tlo and i + lo + thi == n
        stop = thi - 1 if last_col else thi
        if i == m:
            stop = tlo - 1
        xo = (i - 1) * L
        for t in range(tlo, stop + 1):
            yo = (i + lo + t - 1) * L
            po = (pr + t + 1) * L
            co = (cr + t + 1) * L
            uxo = np.uint64(xo)
            uyo = np.uint64(yo)
            upo = np.uint64(po)
            uco = np.uint64(co)
            for l in range(L):
                ul = np.uint64(l)
                sc = _M if X[uxo + ul] == Y[uyo + ul] else _X
                dg = D[upo + ul] + sc
                up = D[upo + np.uint64(L) + ul] + _G
                lf = left[ul] + _G
                v = dg if dg > up else up
                v = v if v > lf else lf
                D[uco + ul] = v
                left[ul] = v
        for t in range(stop + 1, thi + 1):  # the last row, and the last column's cell
            j = i + lo + t
            yo = (j - 1) * L
            po = (pr + t + 1) * L
            co = (cr + t + 1) * L
            upen = 0 if j == n else GAP
            lpen = 0 if i == m else GAP
            for l in range(L):
                sc = MATCH if X[xo + l] == Y[yo + l] else MISMATCH
                dg = D[po + l] + sc
                up = D[po + L + l] + upen
                lf = D[co - L + l] + lpen
                v = dg if dg > up else up
                D[co + l] = v if v > lf else lf


@njit(cache=True, nogil=True)
def trace_lane(X, Y, m, n, band, D, lane, swap, sub_pos, sub_from, sub_to, ins_pos):
    """:func:`align_rows`' traceback (same tie rules, same outputs) on lane ``lane`` of a
    batch filled by :func:`fill_batch`; ``swap``: ``s1`` is the read."""
    L = LANES
    lo = -band
    w = 2 * band + 1 + (n - m)
    W = w + 2
    big = _DT(-(1 << 20))
    tc = n - m - lo
    best = D[(m * W + tc + 1) * L + lane]
    if best <= big // 2:
        return NEG, -1, -1
    nsub = 0
    nins = 0
    i = m
    j = n
    while i > 0 or j > 0:
        if i == 0:
            tb = _TB_LEFT
        elif j == 0:
            tb = _TB_UP
        else:
            t = j - i - lo
            xi = X[(i - 1) * L + lane]
            yj = Y[(j - 1) * L + lane]
            diag = D[((i - 1) * W + t + 1) * L + lane] + (MATCH if xi == yj else MISMATCH)
            up = D[((i - 1) * W + t + 2) * L + lane] + GAP
            lf = D[(i * W + t) * L + lane] + GAP
            if up >= lf:
                g = up
                tb = _TB_UP
            else:
                g = lf
                tb = _TB_LEFT
            if g >= diag:
                val = g
            else:
                val = diag
                tb = _TB_DIAG
            if i == m:
                fr = D[(i * W + t) * L + lane]
                if fr > val:
                    val = fr
                    tb = _TB_LEFT
                elif fr == val and tb == _TB_DIAG:
                    tb = _TB_LEFT
            if j == n:
                fr = D[((i - 1) * W + t + 2) * L + lane]
                if fr > val:
                    val = fr
                    tb = _TB_UP
                elif fr == val and tb != _TB_UP:
                    tb = _TB_UP
        if tb == _TB_DIAG:
            x = X[(i - 1) * L + lane]
            y = Y[(j - 1) * L + lane]
            if x != y:
                if swap:
                    sub_pos[nsub] = i - 1
                    sub_from[nsub] = y
                    sub_to[nsub] = x
                else:
                    sub_pos[nsub] = j - 1
                    sub_from[nsub] = x
                    sub_to[nsub] = y
                nsub += 1
            i -= 1
            j -= 1
        elif tb == _TB_UP:
            if swap:
                ins_pos[nins] = i - 1
                nins += 1
            i -= 1
        else:
            if not swap:
                ins_pos[nins] = j - 1
                nins += 1
            j -= 1
    for k in range(nsub // 2):
        t1 = sub_pos[k]
        sub_pos[k] = sub_pos[nsub - 1 - k]
        sub_pos[nsub - 1 - k] = t1
        t2 = sub_from[k]
        sub_from[k] = sub_from[nsub - 1 - k]
        sub_from[nsub - 1 - k] = t2
        t3 = sub_to[k]
        sub_to[k] = sub_to[nsub - 1 - k]
        sub_to[nsub - 1 - k] = t3
    return best, nsub, nins


@njit(cache=True, nogil=True, inline="always")
def _keep_alignment(j, ns, ni, tp, tf, tt, ti, status, nsub, t_sub, t_ins, n_ins,
                    xpos, xfrm, xto, xins, xw, xwi):
    """Append unique ``j``'s full alignment (``ns`` substitutions in ``tp/tf/tt``, ``ni``
    unaligned read positions in ``ti``, reversed) to :func:`compare_centre`'s temporary
    buffers; returns the buffers (grown when needed) and their new ends."""
    status[j] = 2
    nsub[j] = ns
    if xw + ns > xpos.shape[0]:
        xpos = _grow(xpos, xw + ns)
        xfrm = _grow(xfrm, xw + ns)
        xto = _grow(xto, xw + ns)
    t_sub[j] = xw
    for q in range(ns):
        xpos[xw + q] = tp[q]
        xfrm[xw + q] = tf[q]
        xto[xw + q] = tt[q]
    xw += ns
    if ni > 0:
        if xwi + ni > xins.shape[0]:
            xins = _grow(xins, xwi + ni)
        t_ins[j] = xwi
        n_ins[j] = ni
        for q in range(ni):
            xins[xwi + q] = ti[ni - 1 - q]
        xwi += ni
    return xpos, xfrm, xto, xins, xw, xwi


@njit(cache=True, nogil=True)
def compare_centre(
    c, codes, offsets, kdense, band, kdist_cutoff, max_len, active, gapless, order, lcp,
    kbits, kmax,
):
    """Compare every unique with centre ``c``: k-mer screen, then alignment.

    For unique ``j`` (with ``active[j]``) the k-mer distance must be ``<= kdist_cutoff``,
    else it is screened out (a cutoff >= 1 screens nothing out).  DADA2's GAPLESS rule
    (``setDadaOpt(GAPLESS=TRUE)``, its default) picks the alignment: when the ordered
    5-mer identity equals the unordered one (every shared 5-mer at the same position), the
    ungapped comparison is taken as the alignment; equal lengths only here (unequal ones get
    the exact alignment).  With ``gapless`` false, every pair is aligned.  All other pairs
    get the exact banded alignment.

    The alignments are made in the order ``order`` (uniques sorted by length, then
    sequence; ``lcp`` from :func:`sorted_lcp`).  Pairs whose band was narrowed below
    :data:`BATCH_MIN_BAND` are aligned one by one, consecutive reads sharing a prefix
    sharing the rows of the score matrix that depend only on it (:func:`align_rows`); the
    others, :data:`LANES` reads of one length at a time, by :func:`fill_batch` and
    :func:`trace_lane`.  The results do not depend on the order or the batching.

    The k-mer distance's shared count ``sum_w min(c_w, j_w)`` comes from the bit layers of
    :func:`kmer_layers` (``kbits``, ``kmax``) when the centre has no count above
    :data:`KLAYERS`, else from the dense counts ``kdense``.

    Returns ``status`` (int8: 1 aligned without gaps, 2 by the full alignment, 0 screened
    out), ``nsub`` (int32, -1 if screened out), ``sub_off`` (int64, n+1), the substitutions
    ``pos`` (int16), ``frm``/``to`` (uint8), and ``ins_off`` (int64, n+1) / ``ins`` (int16):
    read positions aligned to no centre base.
    """
    n = offsets.shape[0] - 1
    cs = offsets[c]
    ce = offsets[c + 1]
    a = codes[cs:ce]
    la = ce - cs
    status = np.zeros(n, np.int8)
    nsub = np.full(n, -1, np.int32)
    jband = np.full(n, -1, np.int32)  # band of the full alignment, -1: none needed
    bd_need = 0  # score cells of the largest batch
    kc = kdense[c]
    # the centre's counts never exceed kmax[c]: layers above it add nothing to the sum
    layers_c = int(kmax[c]) if kmax[c] <= KLAYERS else -1
    # 1. k-mer screen and the gapless rule, in index order
    for j in range(n):
        if not active[j]:
            continue
        bs = offsets[j]
        be = offsets[j + 1]
        lb = be - bs
        if layers_c >= 0:
            dot = _layer_dot(kbits[c], kbits[j], layers_c)
        else:
            kj = kdense[j]
            dot = 0
            for t in range(kc.shape[0]):
                x = kc[t]
                y = kj[t]
                dot += x if x < y else y
        denom = min(la, lb) - KMER + 1
        kd = 1.0 if denom <= 0 else 1.0 - dot / denom
        if kd > kdist_cutoff:
            continue
        b = codes[bs:be]
        ungapped = False
        if gapless and la == lb:
            if denom > 0:
                ungapped = ordered_kmer_matches(a, b) == dot
            else:
                ungapped = True
        if ungapped:
            h = 0
            for p in range(la):
                if a[p] != b[p]:
                    h += 1
            status[j] = 1
            nsub[j] = h
        else:
            use_band = band
            if la == lb:
                # Any path through a cell |j - i| = d aligns at most L - d pairs and scores at
                # most 5 (L - d); the diagonal scores 5 L - 9 h.  So no optimal path (and no
                # move the traceback could take or tie with) leaves |j - i| <= 9 h / 5: the
                # narrower band gives the same alignment as the full one.
                h = 0
                for p in range(la):
                    if a[p] != b[p]:
                        h += 1
                if (9 * h) // 5 < use_band:
                    use_band = (9 * h) // 5
            jband[j] = use_band
            if use_band >= BATCH_MIN_BAND:
                need = (min(la, lb) + 1) * (2 * band + 3 + abs(la - lb)) * LANES
                if need > bd_need:
                    bd_need = need
    # 2. full alignments in sorted order, into temporary buffers: pairs with a narrow band
    #    one by one (reusing rows, see above), the others LANES at a time at the full band
    #    (the narrowed band gives the same alignment as the full one, see step 1)
    tp = np.empty(max_len + 1, np.int16)
    tf = np.empty(max_len + 1, np.uint8)
    tt = np.empty(max_len + 1, np.uint8)
    ti = np.empty(2 * max_len + 2, np.int16)
    D = np.empty((max_len + 1) * (2 * band + 3 + max_len), np.int32)
    t_sub = np.zeros(n, np.int64)
    t_ins = np.zeros(n, np.int64)
    n_ins = np.zeros(n, np.int64)
    cap = 16 * n + 256
    xpos = np.empty(cap, np.int16)
    xfrm = np.empty(cap, np.uint8)
    xto = np.empty(cap, np.uint8)
    xins = np.empty(64, np.int16)
    xw = 0
    xwi = 0
    prev = -1
    run = 1 << 30
    L = LANES
    BD = np.empty(bd_need, _DT)
    BR = np.empty((max_len + 1) * L, np.uint8)  # the batch's reads, base p of lane q at p * L + q
    BC = np.empty(la * L, np.uint8)  # the centre on every lane
    for p in range(la):
        for q in range(L):
            BC[p * L + q] = a[p]
    pend = np.empty(L, np.int64)
    npend = 0
    for k in range(n + 1):
        if k < n:
            j = order[k]
            if k > 0 and lcp[k] < run:
                run = lcp[k]
            if jband[j] < 0:
                continue
            lb = offsets[j + 1] - offsets[j]
        else:
            j = -1
            lb = -1
        # batched alignments at the full band (same alignment as the narrowed band, see
        # step 1): flush when full, when the length changes, or at the end
        if npend > 0 and (npend == L or k == n or lb != offsets[pend[0] + 1] - offsets[pend[0]]):
            pl = offsets[pend[0] + 1] - offsets[pend[0]]
            swap = la > pl
            if swap:
                bm = pl
                bn = la
            else:
                bm = la
                bn = pl
            for q in range(L):
                rs = offsets[pend[q if q < npend else npend - 1]]
                for p in range(pl):
                    BR[p * L + q] = codes[rs + p]
            if swap:
                BX = BR
                BY = BC
            else:
                BX = BC
                BY = BR
            fill_batch(BX, BY, bm, bn, band, BD)
            for q in range(npend):
                jj = pend[q]
                sc, ns, ni = trace_lane(BX, BY, bm, bn, band, BD, q, swap, tp, tf, tt, ti)
                if ns < 0:
                    continue
                xpos, xfrm, xto, xins, xw, xwi = _keep_alignment(
                    jj, ns, ni, tp, tf, tt, ti, status, nsub, t_sub, t_ins, n_ins,
                    xpos, xfrm, xto, xins, xw, xwi)
            npend = 0
        if k == n:
            break
        if jband[j] >= BATCH_MIN_BAND:
            pend[npend] = j
            npend += 1
            continue
        bs = offsets[j]
        be = offsets[j + 1]
        b = codes[bs:be]
        keep = 0
        if prev >= 0 and jband[prev] == jband[j] and offsets[prev + 1] - offsets[prev] == lb:
            if la > lb:  # the read is s1: its rows depend on its prefix only
                keep = run
            else:  # the read is s2: row i reads it up to position i + band + lb - la - 1
                keep = run - (jband[j] + lb - la)
            m1 = min(la, lb) - 1
            if keep > m1:
                keep = m1
        sc, ns, ni = align_rows(a, b, jband[j], D, keep, tp, tf, tt, ti)
        prev = j
        run = 1 << 30
        if ns < 0:
            continue
        xpos, xfrm, xto, xins, xw, xwi = _keep_alignment(
            j, ns, ni, tp, tf, tt, ti, status, nsub, t_sub, t_ins, n_ins,
            xpos, xfrm, xto, xins, xw, xwi)
    # 3. the outputs in index order
    sub_off = np.zeros(n + 1, np.int64)
    ins_off = np.zeros(n + 1, np.int64)
    w = 0
    wi = 0
    for j in range(n):
        sub_off[j] = w
        ins_off[j] = wi
        if status[j] > 0:
            w += nsub[j]
        if status[j] == 2:
            wi += n_ins[j]
    sub_off[n] = w
    ins_off[n] = wi
    spos = np.empty(w, np.int16)
    sfrm = np.empty(w, np.uint8)
    sto = np.empty(w, np.uint8)
    ins = np.empty(wi, np.int16)
    for j in range(n):
        o = sub_off[j]
        if status[j] == 1:
            b = codes[offsets[j]:offsets[j + 1]]
            h = 0
            for p in range(la):
                if a[p] != b[p]:
                    spos[o + h] = p
                    sfrm[o + h] = a[p]
                    sto[o + h] = b[p]
                    h += 1
        elif status[j] == 2:
            s = t_sub[j]
            for q in range(nsub[j]):
                spos[o + q] = xpos[s + q]
                sfrm[o + q] = xfrm[s + q]
                sto[o + q] = xto[s + q]
            s = t_ins[j]
            oi = ins_off[j]
            for q in range(n_ins[j]):
                ins[oi + q] = xins[s + q]
    return status, nsub, sub_off, spos, sfrm, sto, ins_off, ins


@njit(cache=True, nogil=True)
def self_log_lambda(codes, quals, offsets, logerr):
    """Per unique, ``sum_p log err[b_p -> b_p, q_p]`` (the log-probability of no error)."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.float64)
    for i in range(n):
        s = 0.0
        for p in range(offsets[i], offsets[i + 1]):
            b = codes[p]
            s += logerr[5 * b, quals[p]]
        out[i] = s
    return out


@njit(cache=True, nogil=True, inline="always")
def _lambda_one(j, sub_off, spos, sfrm, sto, quals, offsets, logerr, self_log):
    """exp(log lambda) of unique ``j`` from its substitutions (see :func:`lambdas_from_subs`)."""
    ll = self_log[j]
    base = offsets[j]
    for k in range(sub_off[j], sub_off[j + 1]):
        q = quals[base + spos[k]]
        f = sfrm[k]
        t = sto[k]
        ll += logerr[4 * f + t, q] - logerr[5 * t, q]
    return math.exp(ll)


@njit(cache=True, nogil=True)
def lambdas_from_subs(status, sub_off, spos, sfrm, sto, quals, offsets, logerr, self_log):
    """Lambda of every unique given its substitutions to one centre (0 where screened out).

    ``lambda_j = exp(self_log_j + sum_s [log err[f_s -> t_s, q] - log err[t_s -> t_s, q]])``:
    every read position contributes p(read base | centre base, quality); insertions and
    deletions contribute nothing, as in DADA2's substitution-only error model.
    """
    n = status.shape[0]
    out = np.zeros(n, np.float64)
    for j in range(n):
        if status[j] == 0:
            continue
        out[j] = _lambda_one(j, sub_off, spos, sfrm, sto, quals, offsets, logerr, self_log)
    return out


@njit(cache=True, nogil=True)
def poisson_pval(a, e, detect_singletons):
    """Abundance p-value ``P(X >= a | X >= 1)``, ``X ~ Poisson(e)``.

    Singletons get 1 unless ``detect_singletons`` (then the unconditioned ``P(X >= 1)``).
    ``e == 0`` gives 0 for ``a >= 2`` (the limit ``e^(a-1)/a!``).
    """
    if a <= 1:
        if detect_singletons:
            return -math.expm1(-e)
        return 1.0
    if e <= 0.0:
        return 0.0
    norm = -math.expm1(-e)
    if e < a:
        # upper tail summed from a upwards; terms decrease by e/(k+1) < 1
        lt = -e + a * math.log(e) - math.lgamma(a + 1.0)
        term = math.exp(lt)
        if term == 0.0:
            return 0.0
        total = term
        k = a
        while True:
            term *= e / (k + 1.0)
            total += term
            k += 1
            if term <= total * 1e-17:
                break
        p = total / norm
    else:
        # 1 - lower tail sum_{k < a}
        lower = 0.0
        le = math.log(e)
        for k in range(a):
            lower += math.exp(-e + k * le - math.lgamma(k + 1.0))
        p = (1.0 - lower) / norm
        if p < 0.0:
            p = 0.0
    if p > 1.0:
        p = 1.0
    return p


@njit(cache=True, nogil=True)
def best_clusters(lam0, reads, k_start, k_len, l_idx, l_lam, l_nsub, best_k, best_l, best_s):
    """Per unique, the cluster with the largest expected count ``E = lambda * reads[k]``, as
    DADA2's shuffle finds it: start from cluster 0 (every unique is compared with its centre,
    ``lam0``), then clusters 1, 2, ... in order, moving only on a strictly larger E.  Writes
    the cluster, its lambda and substitution count into ``best_k/best_l/best_s``; cluster 0's
    substitution counts are the caller's (``best_s`` is left as given for ``best_k == 0``).
    """
    n = lam0.shape[0]
    nk = k_start.shape[0]
    best_e = np.empty(n, np.float64)
    r0 = reads[0]
    for j in range(n):
        best_e[j] = lam0[j] * r0
        best_k[j] = 0
        best_l[j] = lam0[j]
    for k in range(1, nk):
        rk = reads[k]
        for t in range(k_start[k], k_start[k] + k_len[k]):
            j = l_idx[t]
            e = l_lam[t] * rk
            if e > best_e[j]:
                best_e[j] = e
                best_k[j] = k
                best_l[j] = l_lam[t]
                best_s[j] = l_nsub[t]


@njit(cache=True, nogil=True)
def unconditioned_pvals(abund, e):
    """``P(X >= a_j)``, ``X ~ Poisson(e_j)``, per unique (DADA2's final OMEGA_C test)."""
    n = abund.shape[0]
    out = np.empty(n, np.float64)
    for j in range(n):
        a = abund[j]
        p = poisson_pval(a, e[j], True)
        if a > 1:
            p *= -math.expm1(-e[j])
        out[j] = p
    return out


@njit(cache=True, nogil=True)
def update_pvals(pvals, assign, own_lam, reads, abund, is_centre, dirty, detect_singletons, prior_ok):
    """Recompute p-values of uniques in clusters flagged ``dirty``; centres get 1.

    Uniques with prior evidence (``prior_ok``) get DADA2's unconditioned ``P(X >= a)``
    (``calc_pA(..., prior=TRUE)``: a prior sequence is expected, so its presence is not
    conditioned on), singletons included; the others ``P(X >= a | X >= 1)``.
    """
    n = assign.shape[0]
    for j in range(n):
        k = assign[j]
        if not dirty[k]:
            continue
        if is_centre[j]:
            pvals[j] = 1.0
            continue
        e = own_lam[j] * reads[k]
        if prior_ok[j]:
            p = poisson_pval(abund[j], e, True)
            if abund[j] > 1:
                p *= -math.expm1(-e)
            pvals[j] = p
        else:
            pvals[j] = poisson_pval(abund[j], e, detect_singletons)


@njit(cache=True, nogil=True)
def count_transitions(trans, members, status, sub_off, spos, sfrm, sto, ins_off, ins, codes, quals,
                      offsets, abund):
    """Add, for each member unique of one centre, the centre-base -> read-base transitions
    at every read position aligned to a centre base, by quality, weighted by the unique's
    abundance, into ``trans`` (16 x Q, row ``4 * centre_base + read_base``); read positions
    against a gap are left out, as in DADA2.  Screened-out members add nothing."""
    for t in range(members.shape[0]):
        j = members[t]
        if status[j] == 0:
            continue
        a = abund[j]
        for p in range(offsets[j], offsets[j + 1]):
            trans[5 * codes[p], quals[p]] += a
        base = offsets[j]
        for k in range(sub_off[j], sub_off[j + 1]):
            q = quals[base + spos[k]]
            trans[5 * sto[k], q] -= a
            trans[4 * sfrm[k] + sto[k], q] += a
        for k in range(ins_off[j], ins_off[j + 1]):
            p = base + ins[k]
            trans[5 * codes[p], quals[p]] -= a


@njit(cache=True, nogil=True)
def cluster_entries(status, nsub, sub_off, spos, sfrm, sto, quals, offsets, logerr, self_log,
                    abund_c, total, lb, l_idx, l_lam, l_nsub, used, lam):
    """A new cluster's lambdas (into ``lam``, as :func:`lambdas_from_subs`) and its entries.

    ``lb[j]`` is raised to ``lambda_j * abund_c`` (the least expected count of unique ``j``
    from this cluster, whose centre has ``abund_c`` reads); the entries ``(j, lambda_j,
    nsub_j)`` with ``lambda_j > 0`` and ``lambda_j * total >= lb[j]`` are appended to the
    flat lists from ``used`` on (the caller makes room for ``n`` more).  Returns the new
    end of the lists.
    """
    n = status.shape[0]
    w = used
    for j in range(n):
        if status[j] == 0:
            lam[j] = 0.0
            continue
        x = _lambda_one(j, sub_off, spos, sfrm, sto, quals, offsets, logerr, self_log)
        lam[j] = x
        v = x * abund_c
        if v > lb[j]:
            lb[j] = v
        if x > 0.0 and x * total >= lb[j]:
            l_idx[w] = j
            l_lam[w] = x
            l_nsub[w] = nsub[j]
            w += 1
    return w


@njit(cache=True, nogil=True)
def pick_bud(own_lam, reads, assign, abund, is_centre, own_nsub, pvals, prior_ok, pos, bonf,
             omega_p, min_hamming, min_fold):
    """The unique that becomes the next centre, or -1 (DADA2's bud step).

    Eligible: not a centre, at least ``min_hamming`` substitutions from its centre, and
    ``E == 0`` or ``abund >= min_fold * E`` (``E = own_lam * reads`` of its cluster).
    Among the eligible with ``p < bonf`` (else, the eligible with prior evidence and
    ``p < omega_p``): the smallest p, then the most reads, then the smallest cluster
    index, then the first in its cluster's member list (``pos``).
    """
    n = own_lam.shape[0]
    for phase in range(2):
        best = -1
        for j in range(n):
            if is_centre[j] or own_nsub[j] < min_hamming:
                continue
            p = pvals[j]
            if phase == 0:
                if not p < bonf:
                    continue
            elif not (prior_ok[j] and p < omega_p):
                continue
            e = own_lam[j] * reads[assign[j]]
            if not (e == 0 or abund[j] >= min_fold * e):
                continue
            if best < 0:
                best = j
                continue
            pb = pvals[best]
            if p < pb:
                best = j
            elif p == pb:
                if abund[j] > abund[best]:
                    best = j
                elif abund[j] == abund[best]:
                    if assign[j] < assign[best] or (assign[j] == assign[best] and pos[j] < pos[best]):
                        best = j
        if best >= 0:
            return best
    return -1
