"""numba kernels for placing ASVs: a sketched k-mer index, shared-word counts with the
alignment diagonal, semi-global alignment, and pairwise distances over an alignment.

Sequences are uint8 codes (A, C, G, T = 0..3, other = 4; ``microtrial.taxonomy``'s
encoding); gaps in alignments are 5.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from microtrial.dna import kmer_codes

GAP = 5


@njit(cache=True, nogil=True)
def _hash_keep(w, modulus):
    """Keep word ``w`` in the sketch when a multiplicative hash of it falls in 1/modulus."""
    h = (np.uint64(w) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return (h % np.uint64(modulus)) == np.uint64(0)


@njit(cache=True, nogil=True)
def build_sketch_index(codes, offsets, k, modulus, wptr, postings):
    """Inverted index of sketched words: ``postings[wptr[w]:wptr[w+1]]`` lists (once) the
    references holding sketched word w. Call with ``postings`` of length 0 to get the
    total (returned) and ``wptr`` filled; then again with the right length."""
    n_words = 1 << (2 * k)
    n_refs = offsets.shape[0] - 1
    seen = np.full(n_words, -1, dtype=np.int64)
    buf = np.empty(int(np.max(offsets[1:] - offsets[:-1])) + 1, dtype=np.int64)
    fill_only = postings.shape[0] > 0
    if not fill_only:
        wptr[:] = 0
        for r in range(n_refs):
            m = kmer_codes(codes[offsets[r] : offsets[r + 1]], k, buf)
            for j in range(m):
                w = buf[j]
                if seen[w] != r and _hash_keep(w, modulus):
                    seen[w] = r
                    wptr[w + 1] += 1
        for w in range(n_words):
            wptr[w + 1] += wptr[w]
        return wptr[n_words]
    fill = wptr[:-1].copy()
    for r in range(n_refs):
        m = kmer_codes(codes[offsets[r] : offsets[r + 1]], k, buf)
        for j in range(m):
            w = buf[j]
            if seen[w] != r and _hash_keep(w, modulus):
                seen[w] = r
                postings[fill[w]] = r
                fill[w] += 1
    return wptr[n_words]


@njit(cache=True, nogil=True)
def _top_voted(votes, n_top, max_vote):
    """Indices of (about) the ``n_top`` largest positive entries of ``votes`` (values in
    0..max_vote), best first, found by counting instead of sorting all references."""
    hist = np.zeros(max_vote + 2, dtype=np.int64)
    for r in range(votes.shape[0]):
        hist[votes[r]] += 1
    thr = max_vote + 1
    total = 0
    while thr > 1 and total < n_top:
        thr -= 1
        total += hist[thr]
    above = total - hist[thr] if thr <= max_vote else 0
    room_at_thr = min(total, n_top) - above
    out = np.empty(max(above, 0) + max(room_at_thr, 0), dtype=np.int64)
    n = 0
    for r in range(votes.shape[0]):
        v = votes[r]
        if v > thr:
            out[n] = r
            n += 1
        elif v == thr and v > 0 and room_at_thr > 0:
            out[n] = r
            n += 1
            room_at_thr -= 1
    res = out[:n]
    order = np.argsort(-votes[res], kind="mergesort")
    return res[order]


@njit(cache=True, nogil=True, parallel=True)
def nearest_candidates(q_codes, q_offsets, r_codes, r_offsets, wptr, postings, k, modulus,
                       n_sketch_top, n_out, cand_out, shared_out, diag_out):
    """For each query: the ``n_out`` references sharing the most distinct words with it,
    with that count and the most common diagonal (reference position - query position) of
    the shared words. References are first shortlisted by sketched words
    (``n_sketch_top`` best), then counted exactly. Missing slots hold -1."""
    n_q = q_offsets.shape[0] - 1
    n_refs = r_offsets.shape[0] - 1
    n_words = 1 << (2 * k)
    max_r = int(np.max(r_offsets[1:] - r_offsets[:-1])) + 1
    for i in prange(n_q):
        L = q_offsets[i + 1] - q_offsets[i]
        qw = np.empty(max(L, 1), dtype=np.int64)
        m = kmer_codes(q_codes[q_offsets[i] : q_offsets[i + 1]], k, qw)
        for t in range(n_out):
            cand_out[i, t] = -1
            shared_out[i, t] = 0
            diag_out[i, t] = 0
        if m == 0:
            continue
        votes = np.zeros(n_refs, dtype=np.int32)
        qpos = np.full(n_words, -1, dtype=np.int64)
        for j in range(m):
            w = qw[j]
            if qpos[w] < 0:
                qpos[w] = j
                if _hash_keep(w, modulus):
                    for p in range(wptr[w], wptr[w + 1]):
                        votes[postings[p]] += 1
        top = _top_voted(votes, n_sketch_top, m)
        n_top = top.shape[0]
        rw = np.empty(max_r, dtype=np.int64)
        seen = np.zeros(n_words, dtype=np.int64)
        exact = np.zeros(n_top, dtype=np.int64)
        diags = np.zeros(n_top, dtype=np.int64)
        hist = np.zeros(max_r + L + 1, dtype=np.int32)
        for t in range(n_top):
            r = top[t]
            if votes[r] == 0:
                exact[t] = -1
                continue
            mr = kmer_codes(r_codes[r_offsets[r] : r_offsets[r + 1]], k, rw)
            c = 0
            for p in range(mr):
                w = rw[p]
                if qpos[w] >= 0:
                    hist[p - qpos[w] + L] += 1
                    if seen[w] != t + 1:
                        seen[w] = t + 1
                        c += 1
            best_d = 0
            for d in range(mr + L + 1):
                if hist[d] > hist[best_d]:
                    best_d = d
            for p in range(mr):
                w = rw[p]
                if qpos[w] >= 0:
                    hist[p - qpos[w] + L] = 0
            exact[t] = c
            diags[t] = best_d - L
        order = np.argsort(-exact, kind="mergesort")
        for t in range(min(n_out, n_top)):
            o = order[t]
            if exact[o] <= 0:
                break
            cand_out[i, t] = top[o]
            shared_out[i, t] = exact[o]
            diag_out[i, t] = diags[o]


@njit(cache=True, nogil=True)
def align_semiglobal(q, r, qmap):
    """Unit-cost alignment of all of ``q`` to a substring of ``r`` (free end gaps in r).

    Fills ``qmap[i]`` with the position in r aligned to query base i (-1: an insertion
    in the query). Returns (edit cost, alignment columns)."""
    n = q.shape[0]
    m = r.shape[0]
    dp = np.empty((n + 1, m + 1), dtype=np.int32)
    tb = np.empty((n + 1, m + 1), dtype=np.uint8)  # 0 diag, 1 up (gap in r), 2 left
    for j in range(m + 1):
        dp[0, j] = 0
        tb[0, j] = 2
    for i in range(1, n + 1):
        dp[i, 0] = i
        tb[i, 0] = 1
        qi = q[i - 1]
        for j in range(1, m + 1):
            sub = dp[i - 1, j - 1] + (0 if (qi == r[j - 1] and qi < 4) else 1)
            up = dp[i - 1, j] + 1
            left = dp[i, j - 1] + 1
            if sub <= up and sub <= left:
                dp[i, j] = sub
                tb[i, j] = 0
            elif up <= left:
                dp[i, j] = up
                tb[i, j] = 1
            else:
                dp[i, j] = left
                tb[i, j] = 2
    best_j = 0
    for j in range(1, m + 1):
        if dp[n, j] < dp[n, best_j]:
            best_j = j
    cost = dp[n, best_j]
    i = n
    j = best_j
    cols = 0
    while i > 0:
        t = tb[i, j]
        if t == 0 and j > 0:
            qmap[i - 1] = j - 1
            i -= 1
            j -= 1
        elif t == 1 or j == 0:
            qmap[i - 1] = -1
            i -= 1
        else:
            j -= 1
        cols += 1
    return cost, cols


@njit(cache=True, nogil=True, parallel=True)
def align_candidates(q_codes, q_offsets, r_codes, r_offsets, cand, diag, pad, best_ref,
                     best_p, best_start, qmaps):
    """Align each query to each of its candidate references in a window around the
    candidate's diagonal (``pad`` bases either side) and keep the one with the smallest
    p-distance (edit cost / alignment columns). ``qmaps[i, :len]`` gets the query's
    positions in that reference (-1 for insertions)."""
    n_q = q_offsets.shape[0] - 1
    for i in prange(n_q):
        q = q_codes[q_offsets[i] : q_offsets[i + 1]]
        L = q.shape[0]
        best_ref[i] = -1
        best_p[i] = 1.0
        best_start[i] = 0
        tmp = np.empty(max(L, 1), dtype=np.int64)
        for t in range(cand.shape[1]):
            r = cand[i, t]
            if r < 0:
                break
            rlen = r_offsets[r + 1] - r_offsets[r]
            lo = max(0, diag[i, t] - pad)
            hi = min(rlen, diag[i, t] + L + pad)
            if hi - lo < 1:
                continue
            window = r_codes[r_offsets[r] + lo : r_offsets[r] + hi]
            cost, cols = align_semiglobal(q, window, tmp)
            p = cost / max(cols, 1)
            if p < best_p[i] or best_ref[i] < 0:
                best_p[i] = p
                best_ref[i] = r
                best_start[i] = lo
                for j in range(L):
                    qmaps[i, j] = tmp[j] + lo if tmp[j] >= 0 else -1


@njit(cache=True, nogil=True, parallel=True)
def pairwise_jc(msa, out):
    """Jukes-Cantor distances between the rows of an alignment (uint8 codes, 4/5 = N or
    gap ignored): p = mismatches / columns where both have a base,
    d = -3/4 log(1 - 4 p / 3) (capped at p = 0.7499). No shared column: d = 3/4 log-cap."""
    n = msa.shape[0]
    c = msa.shape[1]
    for a in prange(n):
        for b in range(a + 1, n):
            mism = 0
            tot = 0
            for j in range(c):
                x = msa[a, j]
                y = msa[b, j]
                if x < 4 and y < 4:
                    tot += 1
                    if x != y:
                        mism += 1
            p = mism / tot if tot > 0 else 0.7499
            if p > 0.7499:
                p = 0.7499
            d = -0.75 * np.log(1.0 - 4.0 * p / 3.0)
            out[a, b] = d
            out[b, a] = d
        out[a, a] = 0.0
