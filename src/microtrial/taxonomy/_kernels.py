"""numba kernels of the naive Bayesian k-mer classifier (Wang et al. 2007).

Sequences travel as uint8 codes (A=0, C=1, G=2, T=3, anything else=4). A k-mer is the
base-4 number of its k bases (k=8 gives 65,536 words); k-mers containing a non-ACGT base
are skipped, as in RDP and DADA2.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from microtrial.dna import encode, encode_many, kmer_codes  # noqa: F401 - the shared encoding


@njit(cache=True, nogil=True)
def group_nnz(codes, offsets, order, group, n_groups, k, prior_counts, nnz):
    """Pass 1 of training over sequences sorted by group (``order``): the number of
    distinct words per group (``nnz``) and the number of sequences holding each word
    (``prior_counts``, each word once per sequence)."""
    n_words = 1 << (2 * k)
    seen_seq = np.zeros(n_words, dtype=np.int64)
    seen_grp = np.full(n_words, -1, dtype=np.int64)
    buf = np.empty(int(np.max(offsets[1:] - offsets[:-1])) + 1, dtype=np.int64)
    for t in range(order.shape[0]):
        i = order[t]
        g = group[i]
        m = kmer_codes(codes[offsets[i] : offsets[i + 1]], k, buf)
        for j in range(m):
            w = buf[j]
            if seen_seq[w] != t + 1:
                seen_seq[w] = t + 1
                prior_counts[w] += 1
                if seen_grp[w] != g:
                    seen_grp[w] = g
                    nnz[g] += 1


@njit(cache=True, nogil=True)
def group_counts(codes, offsets, order, group, k, indptr, words_out, counts_out):
    """Pass 2: per group (CSR rows ``indptr``), its words (sorted) and the number of its
    sequences holding each word, m(w, g). ``order`` lists sequences sorted by group."""
    n_words = 1 << (2 * k)
    row = np.zeros(n_words, dtype=np.int64)
    seen_seq = np.zeros(n_words, dtype=np.int64)
    buf = np.empty(int(np.max(offsets[1:] - offsets[:-1])) + 1, dtype=np.int64)
    t = 0
    n = order.shape[0]
    while t < n:
        g = group[order[t]]
        start = t
        while t < n and group[order[t]] == g:
            i = order[t]
            m = kmer_codes(codes[offsets[i] : offsets[i + 1]], k, buf)
            for j in range(m):
                w = buf[j]
                if seen_seq[w] != t + 1:
                    seen_seq[w] = t + 1
                    row[w] += 1
            t += 1
        pos = indptr[g]
        for w in range(n_words):
            if row[w] > 0:
                words_out[pos] = w
                counts_out[pos] = row[w]
                row[w] = 0
                pos += 1
        if start == t:
            break


@njit(cache=True, nogil=True)
def fill_log_probs(indptr, words, counts, prior, group_size, out):
    """``out[w, g] = log((m(w, g) + P_w) / (M_g + 1))`` as float32, word-major.

    ``prior[w]`` is P_w; m(w, g) comes from the CSR (``indptr``, ``words``, ``counts``),
    zero when absent.
    """
    n_words = out.shape[0]
    n_groups = out.shape[1]
    log_prior = np.log(prior)
    log_den = np.empty(n_groups, dtype=np.float64)
    for g in range(n_groups):
        log_den[g] = np.log(group_size[g] + 1.0)
    for w in range(n_words):
        for g in range(n_groups):
            out[w, g] = log_prior[w] - log_den[g]
    for g in range(n_groups):
        for p in range(indptr[g], indptr[g + 1]):
            w = words[p]
            out[w, g] = np.log(counts[p] + prior[w]) - log_den[g]


@njit(cache=True, nogil=True)
def word_postings(indptr, words, counts, prior, n_words, wptr, wgroup, wdelta):
    """Transpose the group-major counts into word-major postings: for word w, the groups
    holding it (``wgroup[wptr[w]:wptr[w+1]]``, ascending) and
    ``wdelta = log(m(w, g) + P_w) - log(P_w)``, the gain over a group lacking w."""
    n_groups = indptr.shape[0] - 1
    wptr[:] = 0
    for p in range(words.shape[0]):
        wptr[words[p] + 1] += 1
    for w in range(n_words):
        wptr[w + 1] += wptr[w]
    fill = wptr[:-1].copy()
    for g in range(n_groups):
        for p in range(indptr[g], indptr[g + 1]):
            w = words[p]
            q = fill[w]
            wgroup[q] = g
            wdelta[q] = np.log(counts[p] + prior[w]) - np.log(prior[w])
            fill[w] += 1


@njit(cache=True, nogil=True)
def _best_group(wptr, wgroup, wdelta, log_den, words, n_words, scores):
    """Group with the largest log-likelihood of ``words[:n_words]`` and that score, up to
    the constant sum_w log P_w shared by all groups:

        score_g = -n log(M_g + 1) + sum_w [m(w, g) > 0] (log(m(w, g) + P_w) - log P_w)

    which equals sum_w log P(w | g) - sum_w log P_w.

    Groups with exactly equal scores (groups that ``words`` cannot tell apart, such as
    genera sharing a reference sequence) are tied, and the tie goes to one of them chosen
    uniformly at random (reservoir sampling with numba's generator, which the caller
    seeds), as in DADA2's ``assignTaxonomy``: a fixed choice would let every bootstrap
    agree with the full query, turning an even split into 100% confidence."""
    n_groups = log_den.shape[0]
    for g in range(n_groups):
        scores[g] = -n_words * log_den[g]
    for j in range(n_words):
        w = words[j]
        for p in range(wptr[w], wptr[w + 1]):
            scores[wgroup[p]] += wdelta[p]
    best = 0
    n_tied = 1
    for g in range(1, n_groups):
        if scores[g] > scores[best]:
            best = g
            n_tied = 1
        elif scores[g] == scores[best]:
            n_tied += 1
            if np.random.random() * n_tied < 1.0:
                best = g
    return best, scores[best]


@njit(cache=True, nogil=True, parallel=True)
def classify_kernel(wptr, wgroup, wdelta, log_den, log_prior, rank_ids, codes, offsets, rc_codes, try_rc, k,
                    n_boot, seeds, best_out, boot_out, score_out, strand_out):
    """Classify every query: best group and per-rank bootstrap agreement counts.

    Query i's bootstraps draw, with replacement, 1/8 of its words (at least one); these
    draws and the random choice among tied groups (``_best_group``; for the full query
    too) use a generator seeded by ``seeds[i]``, so results do not depend on the number
    of threads.
    ``boot_out[i, r]`` counts bootstraps whose best group has the same name as the
    full-query best group at rank r and at every rank above it. With ``try_rc`` the
    reverse complement (``rc_codes``) is scored too and kept when its score is higher
    (``strand_out`` = 1); the shared constant sum_w log P_w is added back so that the
    two orientations' scores are comparable.
    """
    n_q = offsets.shape[0] - 1
    n_groups = log_den.shape[0]
    n_ranks = rank_ids.shape[1]
    for i in prange(n_q):
        L = offsets[i + 1] - offsets[i]
        words = np.empty(max(L, 1), dtype=np.int64)
        scores = np.empty(n_groups, dtype=np.float64)
        m = kmer_codes(codes[offsets[i] : offsets[i + 1]], k, words)
        best_out[i] = -1
        strand_out[i] = 0
        if m < 1:
            continue
        np.random.seed(seeds[i])
        best, sc = _best_group(wptr, wgroup, wdelta, log_den, words, m, scores)
        if try_rc:
            words_rc = np.empty(max(L, 1), dtype=np.int64)
            m_rc = kmer_codes(rc_codes[offsets[i] : offsets[i + 1]], k, words_rc)
            if m_rc > 0:
                best_rc, sc_rc = _best_group(wptr, wgroup, wdelta, log_den, words_rc, m_rc, scores)
                base = 0.0
                base_rc = 0.0
                for j in range(m):
                    base += log_prior[words[j]]
                for j in range(m_rc):
                    base_rc += log_prior[words_rc[j]]
                if sc_rc + base_rc > sc + base:
                    words = words_rc
                    m = m_rc
                    best = best_rc
                    sc = sc_rc
                    strand_out[i] = 1
        best_out[i] = best
        score_out[i] = sc
        n_draw = max(m // 8, 1)
        sub = np.empty(n_draw, dtype=np.int64)
        for _b in range(n_boot):
            for j in range(n_draw):
                sub[j] = words[np.random.randint(0, m)]
            bg, _ = _best_group(wptr, wgroup, wdelta, log_den, sub, n_draw, scores)
            for r in range(n_ranks):
                if rank_ids[bg, r] == rank_ids[best, r]:
                    boot_out[i, r] += 1
                else:
                    break
