"""De novo bimera detection by consensus across samples (DADA2's ``removeBimeraDenovo``).

A *bimera* is a two-parent chimera: its left part is an exact copy of the left part of one
more abundant sequence and its right part an exact copy of the right part of another.

Test of one sequence ``q`` against candidate parents (DADA2's ``isBimera``):

1. align ``q`` with every parent ``p`` (ends-free Needleman-Wunsch, match 5, mismatch -4,
   gap -8, band ``max_shift`` = 16, so parents shifted by up to 16 bases still align);
2. ``left(p)`` = number of bases of ``q`` from its 5' end reproduced exactly by ``p``
   before the first mismatch or indel (parent overhang before ``q`` starts is skipped);
   ``right(p)`` likewise from the 3' end;
3. if some parent reproduces ``q`` entirely (``left(p) = len(q)``) it is not a bimera;
   otherwise ``q`` is a bimera when :math:`\\max_p left(p) + \\max_p right(p) \\ge len(q)`.
   With ``allow_one_off``, one mismatch is also allowed on one side, using only parents at
   least ``min_one_off_parent_distance`` mismatches away from ``q``.

Table version (DADA2's ``isBimeraDenovoTable``, ``method="consensus"``): in each sample, the
candidate parents of ``q`` are the sequences of that sample more than
``min_fold_parent_over_abundance`` (1.5) times as abundant as ``q`` there and with at least
``min_parent_abundance`` (2) reads.  ``q`` is flagged in each sample where it occurs;
across the ``n`` samples where it occurs, flagged in ``f`` of them, it is a bimera when
:math:`f > 0` and :math:`f \\ge (n - ignore\\_n\\_negatives) \\cdot min\\_sample\\_fraction`
(``ignore_n_negatives`` 1, ``min_sample_fraction`` 0.9).

Each (sequence, parent) alignment is computed at most once, however many samples ask for
it, and only when needed: alignment-free upper bounds of left and right (``_pair_bounds``)
decide most samples, a branch and bound aligns parents only while the bounds leave a
sample's decision open (``_sample_flag``), and a sequence's samples are visited only until
its vote is settled (``_table_flags``), for exact and one-off bimeras alike.  The flags
are those of aligning every parent.

Known differences from R dada2 1.26's ``isBimeraDenovoTable`` (the MiSeq SOP table gives
identical flags either way): R ignores a parent whose left + right reach ``len(q)`` (an
identical, contained or one-indel parent) instead of ruling ``q`` out or counting it; R
has no two-parent minimum (with one parent it cannot flag anyway); R credits up to
``max_shift`` bases of ``q`` hanging over a parent's end to left/right; and R's aligner
resolves ties the other way (a gap before the diagonal, so gaps sit at their rightmost
place) with a band widened by the length difference.  On the random families of
``tests/data/chimera`` (close relatives with indels and overhangs) 330 of 1,200 flags
differ.  ``dada2_rule=True`` follows R in all four (:func:`_nw_dada2`,
:func:`_lr_dada2`; R's flags on all 1,200, R's alignments on 16,978 pairs); the denoise
stage uses it with ``--dada2-compatible``, and the rule above otherwise (it alone has the
one-off test).

References
----------
Callahan BJ et al. (2016) Nat Methods 13:581-583; DADA2 manual pages ``isBimera``,
``isBimeraDenovo``, ``isBimeraDenovoTable`` and ``removeBimeraDenovo``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from microtrial.denoise._merge import _CODE, NEG, _nw_ends_free_buf

__all__ = ["is_bimera", "is_bimera_denovo_table", "remove_bimera_denovo"]

MATCH, MISMATCH, GAP = 5, -4, -8


@njit(cache=True, nogil=True)
def _left_right(al_q, al_p, k, out):
    """Exact (and one-off) left/right lengths and mismatch count from an alignment of q, p.

    ``out`` <- (left, right, left_one_off, right_one_off, n_diff) where ``n_diff`` counts
    mismatching/indel columns inside the span where both sequences have bases.
    """
    # left: skip columns before q starts (q gap = parent overhang)
    c = 0
    while c < k and al_q[c] == 4:
        c += 1
    left = 0
    left_oo = 0
    errs = 0
    while c < k:
        if al_q[c] == 4:  # gap in q inside: counts as an error, consumes no q base
            errs += 1
        elif al_p[c] != al_q[c]:
            errs += 1
        if errs == 0:
            if al_q[c] != 4:
                left += 1
        if errs > 1:
            break
        if al_q[c] != 4 and errs <= 1:
            left_oo += 1
        c += 1
    # right
    c = k - 1
    while c >= 0 and al_q[c] == 4:
        c -= 1
    right = 0
    right_oo = 0
    errs = 0
    while c >= 0:
        if al_q[c] == 4:
            errs += 1
        elif al_p[c] != al_q[c]:
            errs += 1
        if errs == 0:
            if al_q[c] != 4:
                right += 1
        if errs > 1:
            break
        if al_q[c] != 4 and errs <= 1:
            right_oo += 1
        c -= 1
    # differences within the overlap
    first = -1
    last = -1
    for t in range(k):
        if al_q[t] != 4 and al_p[t] != 4:
            if first < 0:
                first = t
            last = t
    ndiff = 0
    if first >= 0:
        for t in range(first, last + 1):
            if al_q[t] != al_p[t]:
                ndiff += 1
    out[0] = left
    out[1] = right
    out[2] = left_oo
    out[3] = right_oo
    out[4] = ndiff


@njit(cache=True, nogil=True)
def _pair_stats(codes, offsets, q_idx, p_idx, max_shift, out):
    """For each pair t, align sequence q_idx[t] with parent p_idx[t]; out[t] <- stats."""
    maxlen = 0
    for i in range(offsets.shape[0] - 1):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    al_q = np.empty(2 * maxlen + 1, dtype=np.uint8)
    al_p = np.empty(2 * maxlen + 1, dtype=np.uint8)
    score = np.full((maxlen + 1, maxlen + 1), NEG, dtype=np.int32)
    tb = np.zeros((maxlen + 1, maxlen + 1), dtype=np.uint8)
    for t in range(q_idx.shape[0]):
        qi = q_idx[t]
        pi = p_idx[t]
        q = codes[offsets[qi] : offsets[qi + 1]]
        p = codes[offsets[pi] : offsets[pi + 1]]
        k, _ = _nw_ends_free_buf(q, p, MATCH, MISMATCH, GAP, max_shift, al_q, al_p, score, tb)
        _left_right(al_q, al_p, k, out[t])


@njit(cache=True, nogil=True)
def _lcp(codes, qs, m, qi, ps, n, pj):
    """Equal codes from q[qi], p[pj] forward.  N against N counts as equal, as in
    ``_left_right`` (which compares the aligned codes), so these stay upper bounds."""
    k = 0
    while qi + k < m and pj + k < n and codes[qs + qi + k] == codes[ps + pj + k]:
        k += 1
    return k


@njit(cache=True, nogil=True)
def _lcs(codes, qs, qi, ps, pj):
    """Equal codes from q[qi - 1], p[pj - 1] backward (N against N counts as equal)."""
    k = 0
    while k < qi and k < pj and codes[qs + qi - 1 - k] == codes[ps + pj - 1 - k]:
        k += 1
    return k


@njit(cache=True, nogil=True)
def _pair_bounds(codes, offsets, q_idx, p_idx, band, out):
    """Upper bounds of left(p), right(p) and their one-off versions, without aligning.

    In the banded alignment q's first base can only face parent position s <= band, and
    left counts exact matches from there: left <= max_s lcp(q, p[s:]) (at least 1 for
    the degenerate path along the last column).  q's last base can only face parent
    position j - 1 with |j - len(q)| <= band: right <= max_j lcs(q, p[:j]).

    One-off (``out[:, 2:4]``): along any alignment path the exact run from diagonal s ends
    at q position a <= lcp(q, p[s:]); the one error allowed is a single mismatch (same
    diagonal), a base of q facing a gap (diagonal s - 1) or a base of p facing a gap
    (diagonal s + 1), after which the count runs to the next difference.  Placing that
    error before the end of the longest exact run gains nothing (the run on the new
    diagonal either stops sooner or passes through the same point), so
    left_one_off <= max_s max(a + 1 + lcp(q[a+1:], p[s+a+1:]), a + 1 + lcp(q[a+1:],
    p[s+a:]), a + lcp(q[a:], p[s+a+1:])) with a = lcp(q, p[s:]); a path starting with q
    overhanging the parent allows 1 + lcp(q[1:], p).  Right: the mirror image.
    """
    for t in range(q_idx.shape[0]):
        qs = offsets[q_idx[t]]
        ps = offsets[p_idx[t]]
        _bounds_one(codes, qs, offsets[q_idx[t] + 1] - qs, ps, offsets[p_idx[t] + 1] - ps, band, True, out[t])


@njit(cache=True, nogil=True)
def _bounds_one(codes, qs, m, ps, n, band, one_off, out):
    """:func:`_pair_bounds` of one pair: q = codes[qs:qs + m], p = codes[ps:ps + n]; without
    ``one_off`` only ``out[0:2]`` (exact left and right) are set."""
    best_l = 1
    best_loo = 2 + _lcp(codes, qs, m, 1, ps, n, 0)
    for sft in range(0, min(band, n - 1) + 1):
        a = _lcp(codes, qs, m, 0, ps, n, sft)
        if a > best_l:
            best_l = a
        if not one_off:
            continue
        oo = a + 1 + _lcp(codes, qs, m, a + 1, ps, n, sft + a + 1)
        oo = max(oo, a + 1 + _lcp(codes, qs, m, a + 1, ps, n, sft + a))
        oo = max(oo, a + _lcp(codes, qs, m, a, ps, n, sft + a + 1))
        if oo > best_loo:
            best_loo = oo
    best_r = 1
    best_roo = 2 + _lcs(codes, qs, m - 1, ps, n)
    for j in range(max(1, m - band), min(n, m + band) + 1):
        b = _lcs(codes, qs, m, ps, j)
        if b > best_r:
            best_r = b
        if not one_off:
            continue
        oo = b + 1 + _lcs(codes, qs, m - b - 1, ps, j - b - 1)  # _lcs is 0 past either end
        oo = max(oo, b + 1 + _lcs(codes, qs, m - b - 1, ps, j - b))
        oo = max(oo, b + _lcs(codes, qs, m - b, ps, j - b - 1))
        if oo > best_roo:
            best_roo = oo
    out[0] = best_l
    out[1] = best_r
    out[2] = min(max(best_loo, best_l), m)
    out[3] = min(max(best_roo, best_r), m)


@njit(cache=True, nogil=True)
def _align_stats(codes, offsets, q, p, max_shift, out, al_q, al_p, score, tb):
    """out <- the :func:`_left_right` stats of sequence ``q`` aligned with parent ``p``."""
    k, _ = _nw_ends_free_buf(codes[offsets[q] : offsets[q + 1]], codes[offsets[p] : offsets[p + 1]], MATCH,
                             MISMATCH, GAP, max_shift, al_q, al_p, score, tb)
    _left_right(al_q, al_p, k, out)


@njit(cache=True, nogil=True)
def _sample_flag(codes, offsets, q, m, par, npar, max_shift, one_off, min_dist, bnd, stats, state, al_q, al_p,
                 score, tb):
    """Bimera decision for sequence ``q`` (length ``m``) in one sample with parents
    ``par[:npar]``, aligning as few of them as the upper bounds allow.

    ``bnd[p]`` holds the :func:`_bounds_one` bounds of every parent; ``stats[p]`` the exact
    stats of the parents aligned so far (``state[p] == 2``), kept across samples.  The
    decision :func:`_decide` takes from the exact stats of *all* parents is: not a bimera
    if some parent has ``left = m``; otherwise a bimera iff ``max left + max right >= m``,
    or (``one_off``) iff, over the "far" parents (``n_diff >= min_dist``), ``max left_oo +
    max right >= m`` or ``max left + max right_oo >= m``.  With upper bounds of left,
    right, left_oo and right_oo it is reached exactly without aligning every parent:

    1. only parents whose left bound is ``>= m`` can have ``left = m``: they are all
       aligned first, and any with ``left = m`` decides "no";
    2. then no parent has ``left = m``.  Let ``lo`` be the maxima over aligned parents
       (the far ones for the one-off terms), exact, and ``hi`` the maxima of exact values
       (aligned) or bounds (not aligned; any of them may be far): the true maxima lie in
       ``[lo, hi]``.  The conditions met with ``lo`` decide "yes"; none met even with
       ``hi`` decides "no"; otherwise one more parent is aligned and the test repeats:
       for the exact condition the parent with the largest bound on the side with the
       larger gap ``hi - lo`` (that bound is the side's ``hi``, so it is not aligned yet),
       for a one-off condition the unaligned parent with the largest one-off bound.  With
       every parent aligned ``lo = hi`` and one of the two tests decides, so it ends.

    Returns (flag, number of alignments run).
    """
    n_al = 0
    for t in range(npar):
        p = par[t]
        if bnd[p, 0] >= m:
            if state[p] != 2:
                _align_stats(codes, offsets, q, p, max_shift, stats[p], al_q, al_p, score, tb)
                state[p] = 2
                n_al += 1
            if stats[p, 0] >= m:
                return False, n_al
    while True:
        lo_l = 0
        lo_r = 0
        ub_l = -1
        ub_r = -1
        arg_l = -1
        arg_r = -1
        # one-off terms over far parents: exact maxima (lo) and with bounds (hi)
        any_far = False
        lo_fl = 0
        lo_fr = 0
        lo_floo = 0
        lo_froo = 0
        hi_fl = -1
        hi_fr = -1
        hi_floo = -1
        hi_froo = -1
        ub_oo = -1
        arg_oo = -1
        for t in range(npar):
            p = par[t]
            if state[p] == 2:
                lo_l = max(lo_l, stats[p, 0])
                lo_r = max(lo_r, stats[p, 1])
                if one_off and stats[p, 4] >= min_dist:
                    any_far = True
                    lo_fl = max(lo_fl, stats[p, 0])
                    lo_fr = max(lo_fr, stats[p, 1])
                    lo_floo = max(lo_floo, stats[p, 2])
                    lo_froo = max(lo_froo, stats[p, 3])
                    hi_fl = max(hi_fl, stats[p, 0])
                    hi_fr = max(hi_fr, stats[p, 1])
                    hi_floo = max(hi_floo, stats[p, 2])
                    hi_froo = max(hi_froo, stats[p, 3])
            else:
                if bnd[p, 0] > ub_l:
                    ub_l = bnd[p, 0]
                    arg_l = p
                if bnd[p, 1] > ub_r:
                    ub_r = bnd[p, 1]
                    arg_r = p
                if one_off:
                    hi_fl = max(hi_fl, bnd[p, 0])
                    hi_fr = max(hi_fr, bnd[p, 1])
                    hi_floo = max(hi_floo, bnd[p, 2])
                    hi_froo = max(hi_froo, bnd[p, 3])
                    if max(bnd[p, 2], bnd[p, 3]) > ub_oo:
                        ub_oo = max(bnd[p, 2], bnd[p, 3])
                        arg_oo = p
        if lo_l + lo_r >= m:
            return True, n_al
        if any_far and (lo_floo + lo_fr >= m or lo_fl + lo_froo >= m):
            return True, n_al
        hi_l = max(lo_l, ub_l)
        hi_r = max(lo_r, ub_r)
        open_exact = hi_l + hi_r >= m
        # hi_f* stay -1 when no parent can be far: the one-off test is then closed
        open_oo = one_off and hi_fl >= 0 and (hi_floo + hi_fr >= m or hi_fl + hi_froo >= m)
        if not open_exact and not open_oo:
            return False, n_al
        if open_exact:
            # hi_l > lo_l or hi_r > lo_r here (else lo_l + lo_r = hi_l + hi_r >= m above),
            # so the side chosen has an unaligned parent
            p = arg_l if hi_l - lo_l >= hi_r - lo_r else arg_r
        else:
            # some parent is unaligned (with all aligned the one-off maxima are exact and
            # the test above would have decided "yes")
            p = arg_oo
        if p < 0:  # unreachable (see above); never loop on a broken invariant
            raise AssertionError("bimera bounds: no parent left to align")
        _align_stats(codes, offsets, q, p, max_shift, stats[p], al_q, al_p, score, tb)
        state[p] = 2
        n_al += 1


@njit(cache=True, nogil=True)
def _nw_dada2(a, b, band, out_a, out_b, d, tb):
    """R dada2 1.26's ends-free alignment of ``a`` (the sequence) with ``b`` (a parent), as
    its bimera test aligns them (checked against R's ``nwalign`` on 16,978 pairs).

    Scores MATCH/MISMATCH/GAP (N matches nothing); leading gaps are free (row and column 0
    hold 0) and trailing ones too (moves along the last row or column cost nothing); with
    ``band >= 0`` only cells with ``-band - max(0, m - n) <= j - i <= band + max(0, n - m)``
    are used.  A cell takes the gap in ``b`` ("up", a base of ``a`` against a gap) when it
    is at least as good as both other moves, else the gap in ``a`` ("left") when at least
    as good as the diagonal, else the diagonal; the traceback starts at the corner.  The
    buffers ``d`` (int32) and ``tb`` (uint8), at least (m + 1) x (n + 1), need no clearing:
    the cells just outside each row's band are set to -inf.  Returns the number of columns.
    """
    m = a.shape[0]
    n = b.shape[0]
    for i in range(m + 1):
        d[i, 0] = 0
        tb[i, 0] = 3
    for j in range(n + 1):
        d[0, j] = 0
        tb[0, j] = 2
    wl = band + max(0, m - n)
    wr = band + max(0, n - m)
    for i in range(1, m + 1):
        lo = 1
        hi = n
        if band >= 0:
            lo = max(1, i - wl)
            hi = min(n, i + wr)
            if lo - 1 >= 1:
                d[i, lo - 1] = NEG  # read by (i, lo) as its left move
            if hi + 1 <= n:
                d[i, hi + 1] = NEG  # read by row i + 1's last cell as its up move
        ai = a[i - 1]
        for j in range(lo, hi + 1):
            left = d[i, j - 1] + (0 if i == m else GAP)
            up = d[i - 1, j] + (0 if j == n else GAP)
            diag = d[i - 1, j - 1] + (MATCH if (ai == b[j - 1] and ai < 4) else MISMATCH)
            if up >= diag and up >= left:
                d[i, j] = up
                tb[i, j] = 3
            elif left >= diag:
                d[i, j] = left
                tb[i, j] = 2
            else:
                d[i, j] = diag
                tb[i, j] = 1
    i = m
    j = n
    k = 0
    while i > 0 or j > 0:
        mv = tb[i, j]
        if mv == 1:
            i -= 1
            j -= 1
            out_a[k] = a[i]
            out_b[k] = b[j]
        elif mv == 2:
            j -= 1
            out_a[k] = 4
            out_b[k] = b[j]
        else:
            i -= 1
            out_a[k] = a[i]
            out_b[k] = 4
        k += 1
    for t in range(k // 2):
        x = out_a[t]
        out_a[t] = out_a[k - 1 - t]
        out_a[k - 1 - t] = x
        y = out_b[t]
        out_b[t] = out_b[k - 1 - t]
        out_b[k - 1 - t] = y
    return k


@njit(cache=True, nogil=True)
def _lr_dada2(al_q, al_p, k, max_shift, m, out):
    """R dada2 1.26's left/right of an alignment (q on top): parent overhang skipped, then
    up to ``max_shift`` (counted in alignment columns from the end) bases of q facing
    gaps credited, then the exact run; a parent with left + right >= len(q) (identical,
    contained, one indel away) counts as 0, 0.  ``out[0:2]`` <- left, right."""
    pos = 0
    left = 0
    while pos < k and al_q[pos] == 4:
        pos += 1
    while pos < k and al_p[pos] == 4 and pos < max_shift:
        pos += 1
        left += 1
    while pos < k and al_q[pos] == al_p[pos]:
        pos += 1
        left += 1
    pos = k - 1
    right = 0
    while pos >= 0 and al_q[pos] == 4:
        pos -= 1
    while pos >= 0 and al_p[pos] == 4 and pos > k - max_shift:
        pos -= 1
        right += 1
    while pos >= 0 and al_q[pos] == al_p[pos]:
        pos -= 1
        right += 1
    if left + right >= m:
        left = 0
        right = 0
    out[0] = left
    out[1] = right


@njit(cache=True, nogil=True)
def _bounds_dada2(codes, qs, m, ps, n, band, max_shift, out):
    """Upper bounds of :func:`_lr_dada2`'s left and right (before the 0, 0 rule, so also
    after it).  In :func:`_nw_dada2`'s band q's first base faces parent position s <= band
    + max(0, n - m); left counts, after ``s`` skipped parent columns, ``o`` credited q
    bases facing gaps (only while the column index ``s + o < max_shift``) and then the
    exact run of q[o:] against p[s:]: left <= max over those (s, o) of o + lcp(q[o:],
    p[s:]), at least 1 (as :func:`_bounds_one`).  Right: the mirror image (q's last base
    faces parent position j - 1 with m - band - max(0, m - n) <= j <= m + band + max(0,
    n - m))."""
    wl = band + max(0, m - n)
    wr = band + max(0, n - m)
    best_l = 1
    for s in range(0, min(wr + 1, n) + 1):
        for o in range(0, max(0, max_shift - s) + 1):
            if o > m:
                break
            a = o + _lcp(codes, qs, m, o, ps, n, s)
            if a > best_l:
                best_l = a
    best_r = 1
    for j in range(max(0, m - wl), min(n, m + wr) + 1):
        for o in range(0, max(0, max_shift - (n - j)) + 1):
            if o > m:
                break
            b = o + _lcs(codes, qs, m - o, ps, j)
            if b > best_r:
                best_r = b
    out[0] = min(best_l, m)
    out[1] = min(best_r, m)


@njit(cache=True, nogil=True)
def _sample_flag_dada2(codes, offsets, q, m, par, npar, max_shift, bnd, stats, state, al_q, al_p, score, tb):
    """R dada2 1.26's decision for ``q`` in one sample: a bimera iff ``max left' + max
    right' >= m`` over its parents, ``left'``/``right'`` from :func:`_lr_dada2` (0 for a
    parent whose left + right reach ``m``).  Branch and bound as :func:`_sample_flag`'s
    step 2 on the bounds of :func:`_bounds_dada2` (``left' <= left <= bound``).  Returns
    (flag, number of alignments run)."""
    n_al = 0
    while True:
        lo_l = 0
        lo_r = 0
        ub_l = -1
        ub_r = -1
        arg_l = -1
        arg_r = -1
        for t in range(npar):
            p = par[t]
            if state[p] == 2:
                lo_l = max(lo_l, stats[p, 0])
                lo_r = max(lo_r, stats[p, 1])
            else:
                if bnd[p, 0] > ub_l:
                    ub_l = bnd[p, 0]
                    arg_l = p
                if bnd[p, 1] > ub_r:
                    ub_r = bnd[p, 1]
                    arg_r = p
        if lo_l + lo_r >= m:
            return True, n_al
        hi_l = max(lo_l, ub_l)
        hi_r = max(lo_r, ub_r)
        if hi_l + hi_r < m:
            return False, n_al
        p = arg_l if hi_l - lo_l >= hi_r - lo_r else arg_r
        if p < 0:  # unreachable (as in _sample_flag)
            raise AssertionError("bimera bounds: no parent left to align")
        k = _nw_dada2(codes[offsets[q] : offsets[q + 1]], codes[offsets[p] : offsets[p + 1]], max_shift, al_q,
                      al_p, score, tb)
        _lr_dada2(al_q, al_p, k, max_shift, m, stats[p])
        state[p] = 2
        n_al += 1


@njit(cache=True, nogil=True)
def _parents(counts, s_ptr, s_seq, s, q, fold, min_abund, par, limit):
    """Parents of ``q`` in sample ``s`` (count > fold x q's, and >= min_abund, not q) into
    ``par``, stopping after ``limit``; returns their number.  ``s_seq[s_ptr[s]:s_ptr[s+1]]``
    lists the sample's sequences by decreasing count, so the parents are a prefix of it."""
    thr = fold * counts[s, q]
    npar = 0
    for k in range(s_ptr[s], s_ptr[s + 1]):
        p = s_seq[k]
        c = counts[s, p]
        if not c > thr:
            break
        if p != q and c >= min_abund:
            par[npar] = p
            npar += 1
            if npar >= limit:
                break
    return npar


@njit(cache=True, nogil=True)
def _table_flags(codes, offsets, counts, s_ptr, s_seq, q_ptr, q_samp, q_list, fold, min_abund, max_shift,
                 one_off, min_dist, dada2, ignore_n_negatives, min_sample_fraction, flags):
    """Consensus flags of the sequences ``q_list``.

    ``q_samp[q_ptr[q]:q_ptr[q + 1]]``: the samples where ``q`` occurs, in sample order.  In
    each, ``q`` is tested against its parents there (:func:`_parents`): with two or more
    parents, against all of them; with one, with ``one_off`` against it, otherwise only
    when that pair is aligned for another sample where it is one of two or more parents (as
    the pair-batch version of this function did); with none, ``q`` is not flagged there.
    Each (q, parent) pair is
    bounded (:func:`_bounds_one`) and aligned at most once, and only when needed
    (:func:`_sample_flag`).  With ``n`` samples of which ``f`` flag ``q`` it is a bimera iff
    ``f > 0`` and ``f >= (n - ignore_n_negatives) * min_sample_fraction``; as that only
    grows with ``f`` the samples are visited until it holds, or until it cannot hold even
    if every sample left flags ``q``.  Returns the number of alignments run.
    """
    n_seqs = counts.shape[1]
    maxlen = 0
    for i in range(offsets.shape[0] - 1):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    al_q = np.empty(2 * maxlen + 1, dtype=np.uint8)
    al_p = np.empty(2 * maxlen + 1, dtype=np.uint8)
    score = np.full((maxlen + 1, maxlen + 1), NEG, dtype=np.int32)
    tb = np.zeros((maxlen + 1, maxlen + 1), dtype=np.uint8)
    bnd = np.zeros((n_seqs, 4), dtype=np.int64)
    stats = np.zeros((n_seqs, 5), dtype=np.int64)
    state = np.zeros(n_seqs, dtype=np.int8)  # 0 nothing, 1 bounded, 2 aligned (for this q)
    touched = np.empty(n_seqs, dtype=np.int64)
    par = np.empty(n_seqs, dtype=np.int64)
    two = np.empty(2, dtype=np.int64)
    n_al = 0
    for g in range(q_list.shape[0]):
        q = q_list[g]
        qs = offsets[q]
        m = offsets[q + 1] - qs
        n_touched = 0
        t0 = q_ptr[q]
        t1 = q_ptr[q + 1]
        need = (t1 - t0 - ignore_n_negatives) * min_sample_fraction
        f = 0
        for t in range(t0, t1):
            if f > 0 and f >= need:
                break
            if f + (t1 - t) < need:
                break
            s = q_samp[t]
            npar = _parents(counts, s_ptr, s_seq, s, q, fold, min_abund, par, n_seqs)
            if npar == 0 or (dada2 and npar == 1):  # R: one parent's left' + right' < m
                continue
            if npar == 1 and not one_off and not dada2:
                p0 = par[0]
                wanted = False
                for t2 in range(t0, t1):
                    s2 = q_samp[t2]
                    if s2 != s and counts[s2, p0] > fold * counts[s2, q] and counts[s2, p0] >= min_abund:
                        if _parents(counts, s_ptr, s_seq, s2, q, fold, min_abund, two, 2) >= 2:
                            wanted = True
                            break
                if not wanted:
                    continue
            for k in range(npar):
                p = par[k]
                if state[p] == 0:
                    ps = offsets[p]
                    if dada2:
                        _bounds_dada2(codes, qs, m, ps, offsets[p + 1] - ps, max_shift, max_shift, bnd[p])
                    else:
                        _bounds_one(codes, qs, m, ps, offsets[p + 1] - ps, max_shift, one_off, bnd[p])
                    state[p] = 1
                    touched[n_touched] = p
                    n_touched += 1
            if dada2:
                fl, k = _sample_flag_dada2(codes, offsets, q, m, par, npar, max_shift, bnd, stats, state, al_q,
                                           al_p, score, tb)
            else:
                fl, k = _sample_flag(codes, offsets, q, m, par, npar, max_shift, one_off, min_dist, bnd, stats,
                                     state, al_q, al_p, score, tb)
            n_al += k
            if fl:
                f += 1
        flags[q] = f > 0 and f >= need
        for k in range(n_touched):
            state[touched[k]] = 0
    return n_al


def _pack(seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    codes = _CODE[np.frombuffer("".join(seqs).upper().encode("ascii"), dtype=np.uint8)]
    return np.ascontiguousarray(codes), offsets


def _decide(stats: np.ndarray, qlen: int, allow_one_off: bool, min_one_off_parent_distance: int) -> bool:
    """Bimera decision from the stats rows of one sequence's parents."""
    if stats.shape[0] == 0:
        return False
    left, right, left_oo, right_oo, ndiff = (stats[:, i] for i in range(5))
    if (left >= qlen).any():
        return False  # a parent reproduces the whole sequence
    if left.max() + right.max() >= qlen:
        return True
    if allow_one_off:
        far = ndiff >= min_one_off_parent_distance
        if far.any():
            lf, rf = left[far].max(), right[far].max()
            if left_oo[far].max() + rf >= qlen or lf + right_oo[far].max() >= qlen:
                return True
    return False


def is_bimera(
    seq: str,
    parents: Sequence[str],
    *,
    allow_one_off: bool = False,
    min_one_off_parent_distance: int = 4,
    max_shift: int = 16,
) -> bool:
    """Whether ``seq`` is an exact bimera of two of ``parents`` (see the module docstring)."""
    if not parents:
        return False
    codes, offsets = _pack([seq, *parents])
    p_idx = np.arange(1, len(parents) + 1, dtype=np.int64)
    q_idx = np.zeros_like(p_idx)
    stats = np.zeros((len(parents), 5), dtype=np.int64)
    _pair_stats(codes, offsets, q_idx, p_idx, max_shift, stats)
    return _decide(stats, len(seq), allow_one_off, min_one_off_parent_distance)


def is_bimera_denovo_table(
    counts: np.ndarray,
    sequences: Sequence[str],
    *,
    min_sample_fraction: float = 0.9,
    ignore_n_negatives: int = 1,
    min_fold_parent_over_abundance: float = 1.5,
    min_parent_abundance: int = 2,
    allow_one_off: bool = False,
    min_one_off_parent_distance: int = 4,
    max_shift: int = 16,
    threads: int = 1,
    dada2_rule: bool = False,
) -> np.ndarray:
    """Flag bimeras in a sequence table by consensus across samples.

    Parameters
    ----------
    counts : numpy.ndarray of int, shape (n_samples, n_sequences)
        Reads of each sequence in each sample.
    sequences : sequence of str
        The sequences (columns of ``counts``).
    dada2_rule : bool
        Test each sample as R dada2 1.26 does (see "Known differences" in the module
        docstring): its aligner's tie rules and band, left/right crediting ``q``'s overhang,
        parents with left + right >= ``len(q)`` ignored.  Not with ``allow_one_off``.
    threads : int
        Threads, each testing its own share of the sequences (every pair belongs to one
        sequence: the result does not depend on the number).

    Returns
    -------
    numpy.ndarray of bool, shape (n_sequences,)
        True for the sequences identified as bimeras.
    """
    counts = np.asarray(counts)
    n_samples, n_seqs = counts.shape
    if n_seqs != len(sequences):
        raise ValueError("counts has a column per sequence")
    if dada2_rule and allow_one_off:
        raise ValueError("dada2_rule tests exact bimeras only")
    flags = np.zeros(n_seqs, dtype=bool)
    if n_seqs < 3:
        return flags
    codes, offsets = _pack(list(sequences))
    return _consensus_table(counts, codes, offsets, fold=min_fold_parent_over_abundance,
                            min_abund=min_parent_abundance, max_shift=max_shift, allow_one_off=allow_one_off,
                            min_one_off_parent_distance=min_one_off_parent_distance, dada2_rule=dada2_rule,
                            ignore_n_negatives=ignore_n_negatives, min_sample_fraction=min_sample_fraction,
                            threads=threads)


def _consensus_table(
    counts: np.ndarray,
    codes: np.ndarray,
    offsets: np.ndarray,
    *,
    fold: float,
    min_abund: float,
    max_shift: int,
    allow_one_off: bool,
    min_one_off_parent_distance: int,
    dada2_rule: bool,
    ignore_n_negatives: int,
    min_sample_fraction: float,
    threads: int,
) -> np.ndarray:
    """Consensus flags by :func:`_table_flags`, groups of sequences on threads
    (every pair belongs to one sequence: the threads share no state but the output)."""
    n_samples, n_seqs = counts.shape
    # float64, as numpy compares the counts with fold x count (exact for counts below 2**53)
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    rows, cols = np.nonzero(counts > 0)  # sample-major
    order = np.lexsort((-counts[rows, cols], rows))  # in each sample, by decreasing count
    s_seq = np.ascontiguousarray(cols[order], dtype=np.int64)
    s_ptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_samples), out=s_ptr[1:])
    qcols, qrows = np.nonzero(counts.T > 0)  # sequence-major, samples in order
    q_samp = np.ascontiguousarray(qrows, dtype=np.int64)
    q_ptr = np.zeros(n_seqs + 1, dtype=np.int64)
    np.cumsum(np.bincount(qcols, minlength=n_seqs), out=q_ptr[1:])
    flags = np.zeros(n_seqs, dtype=np.bool_)
    args = (float(fold), float(min_abund), int(max_shift), bool(allow_one_off), int(min_one_off_parent_distance),
            bool(dada2_rule), int(ignore_n_negatives), float(min_sample_fraction), flags)
    q_all = np.arange(n_seqs, dtype=np.int64)
    nthreads = max(1, min(int(threads), n_seqs // 64))
    if nthreads == 1:
        _table_flags(codes, offsets, counts, s_ptr, s_seq, q_ptr, q_samp, q_all, *args)
        return flags
    from concurrent.futures import ThreadPoolExecutor

    # the sequences dealt out round-robin in 8 x threads groups (rare sequences, with more
    # parents, sit at one end of the table)
    ngroups = 8 * nthreads

    def group(c: int) -> None:
        _table_flags(codes, offsets, counts, s_ptr, s_seq, q_ptr, q_samp, q_all[c::ngroups].copy(), *args)

    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        list(pool.map(group, range(ngroups)))
    return flags


def remove_bimera_denovo(
    counts: np.ndarray, sequences: Sequence[str], **options: float | int | bool
) -> tuple[np.ndarray, list[str]]:
    """Drop the columns :func:`is_bimera_denovo_table` flags; return (counts, sequences)."""
    flags = is_bimera_denovo_table(counts, sequences, **options)  # type: ignore[arg-type]
    keep = ~flags
    return np.asarray(counts)[:, keep], [s for s, k in zip(sequences, keep) if k]
