"""Merging denoised read pairs, with the semantics of DADA2's ``mergePairs``.

For every read pair, the forward read's variant and the reverse read's variant are looked
up (``Derep.read_to_unique`` then ``DadaResult.unique_to_asv``); pairs where either read
was left uncorrected (-1) are dropped.  Each distinct (forward variant, reverse variant)
combination is merged once:

- the forward variant ``F`` is aligned with the reverse complement ``R'`` of the reverse
  variant by an ends-free Needleman-Wunsch alignment (leading and trailing gaps free) with
  match +1, mismatch -64, gap -64 (the scores DADA2's ``mergePairs`` uses: any mismatch or
  gap costs as much as 64 matching bases, so the best exact overlap wins);
- the overlap is the span of alignment columns where both sequences have a base; it must
  hold at least ``min_overlap`` matches and at most ``max_mismatch`` mismatches + indels;
- the merged sequence reads the alignment column by column: the forward base wherever the
  forward sequence has one (so in the overlap the forward base is kept), otherwise the
  reverse base.  With ``trim_overhang`` the parts of ``R'`` before the start of ``F`` and
  of ``F`` past the end of ``R'`` are cut off.

The merged sequences of a sample are then counted (pairs per merged sequence).

The alignment is written here (a small numba DP) because no installed library offers an
ends-free global alignment with DADA2's merge scores and a traceback.

References
----------
Callahan BJ et al. (2016) Nat Methods 13:581-583; DADA2 manual page ``mergePairs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from microtrial.denoise._types import DadaResult, Derep
from microtrial.dna import CODES, OTHER
from microtrial.seqs import reverse_complement

__all__ = ["MergeResult", "merge_pairs", "align_ends_free", "partner_likelihood_choice", "reverse_partners"]

GAP_CODE = 4
N_CODE = 5
# the shared encoding with its OTHER (N, ambiguity codes) moved to 5, as 4 is the gap here:
# a base that is not A, C, G or T never matches anything (not even N)
_CODE = np.where(CODES < OTHER, CODES, N_CODE).astype(np.uint8)
_BASES = np.frombuffer(b"ACGT-N", dtype=np.uint8)

NEG = -(10**9)  # unreachable DP cell; real scores stay above -1e6


@njit(cache=True, nogil=True)
def _nw_ends_free(a, b, match, mismatch, gap, band, out_a, out_b):
    """Ends-free global alignment of code arrays ``a`` and ``b``; returns (n_cols, score).

    Leading and trailing gaps in either sequence cost nothing.  ``band >= 0`` restricts the
    DP to cells with ``|i - j| <= band`` (plus the last row and column, where the free
    trailing gaps run, so the corner is always reachable).  Ties prefer the diagonal, then
    a gap in ``b``, then a gap in ``a``.  The aligned codes (``GAP_CODE`` = 4 for a gap) are
    written to ``out_a``/``out_b`` (length >= len(a) + len(b)).
    """
    score = np.empty((a.shape[0] + 1, b.shape[0] + 1), dtype=np.int32)
    tb = np.empty((a.shape[0] + 1, b.shape[0] + 1), dtype=np.uint8)
    return _nw_ends_free_buf(a, b, match, mismatch, gap, band, out_a, out_b, score, tb)


@njit(cache=True, nogil=True)
def _nw_ends_free_buf(a, b, match, mismatch, gap, band, out_a, out_b, score, tb):
    """:func:`_nw_ends_free` with caller-provided DP buffers (at least (m+1) x (n+1)).

    The buffers need no clearing: every cell a computed cell reads is either computed
    before or explicitly set to -inf here (the cells just outside each row's band, the
    whole row before the last, and the second-to-last column when it lies out of band).
    """
    m = a.shape[0]
    n = b.shape[0]
    for i in range(m + 1):
        if band < 0 or i <= band:
            score[i, 0] = 0
            tb[i, 0] = 2
        else:
            score[i, 0] = NEG
    for j in range(n + 1):
        if band < 0 or j <= band:
            score[0, j] = 0
            tb[0, j] = 3
        else:
            score[0, j] = NEG
    tb[0, 0] = 0
    for i in range(1, m + 1):
        lo = 1
        hi = n
        if band >= 0 and i < m:  # the last row is computed in full (free trailing gaps)
            lo = max(1, i - band)
            hi = min(n, i + band)
        if band >= 0:
            if i == m - 1:  # the full last row reads all of this row
                for j in range(1, n + 1):
                    score[i, j] = NEG
            else:
                if 1 <= lo - 1 <= n:
                    score[i, lo - 1] = NEG
                if hi + 1 <= n:
                    score[i, hi + 1] = NEG
                if n - 1 >= 1 and not (lo <= n - 1 <= hi):
                    score[i, n - 1] = NEG
        extra = lo > n or hi < n  # the last column is always computed too
        stop = hi + 1 if lo <= hi else lo
        ai = a[i - 1]
        for jj in range(lo, stop + (1 if extra else 0)):
            j = n if jj >= stop else jj
            # unreachable cells hold NEG (-1e9): sums with them never win, so no branches
            best = score[i - 1, j - 1] + (match if (ai == b[j - 1] and ai < 4) else mismatch)
            move = 1
            v = score[i - 1, j] + (0 if j == n else gap)  # a trailing gap in b is free
            if v > best:
                best = v
                move = 2
            v = score[i, j - 1] + (0 if i == m else gap)  # a trailing gap in a is free
            if v > best:
                best = v
                move = 3
            score[i, j] = best
            tb[i, j] = move
    # traceback from the corner (trailing gaps were made free along the last row/column)
    i = m
    j = n
    k = 0
    while i > 0 or j > 0:
        mv = tb[i, j]
        if mv == 1:
            out_a[k] = a[i - 1]
            out_b[k] = b[j - 1]
            i -= 1
            j -= 1
        elif mv == 2 or (j == 0):
            out_a[k] = a[i - 1]
            out_b[k] = 4
            i -= 1
        else:
            out_a[k] = 4
            out_b[k] = b[j - 1]
            j -= 1
        k += 1
    # reverse in place
    for t in range(k // 2):
        x = out_a[t]
        out_a[t] = out_a[k - 1 - t]
        out_a[k - 1 - t] = x
        y = out_b[t]
        out_b[t] = out_b[k - 1 - t]
        out_b[k - 1 - t] = y
    return k, score[m, n]


def _codes(seq: str) -> np.ndarray:
    return _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def align_ends_free(
    a: str, b: str, *, match: int = 1, mismatch: int = -64, gap: int = -64, band: int = -1
) -> tuple[str, str, int]:
    """Ends-free global alignment of two sequences (DADA2 ``mergePairs`` scores by default).

    Returns the two aligned strings (``-`` for gaps) and the score.  ``band`` < 0 means no
    band; otherwise only cells with ``|i - j| <= band`` are considered.
    """
    ca, cb = _codes(a.upper()), _codes(b.upper())
    out_a = np.empty(len(a) + len(b) + 1, dtype=np.uint8)
    out_b = np.empty_like(out_a)
    k, score = _nw_ends_free(ca, cb, match, mismatch, gap, band, out_a, out_b)
    return _BASES[out_a[:k]].tobytes().decode(), _BASES[out_b[:k]].tobytes().decode(), int(score)


@njit(cache=True, nogil=True)
def _off_diagonal_seed(f, r, d0, K):
    """Whether a ``K``-mer of ``f`` (``K <= 31``) starting at a multiple of ``K`` (A/C/G/T only)
    occurs in ``r`` on a diagonal other than ``d0`` (``f[x]`` facing ``r[x - d]``).  Every
    exact run of ``2 K - 1`` or more bases between ``f`` and ``r`` holds such a k-mer, so
    without one every run off ``d0`` is at most ``2 K - 2`` long."""
    m = f.shape[0]
    n = r.shape[0]
    if m < K or n < K:
        return False
    rc = np.empty(n - K + 1, dtype=np.int64)
    mask = (1 << (2 * K)) - 1
    code = 0
    last_bad = -1
    for y in range(n):
        c = r[y]
        if c >= 4:
            last_bad = y
            c = 0
        code = ((code << 2) | c) & mask
        if y >= K - 1:
            rc[y - K + 1] = code if last_bad <= y - K else -1
    for x0 in range(0, m - K + 1, K):
        code = 0
        ok = True
        for t in range(K):
            c = f[x0 + t]
            if c >= 4:
                ok = False
                break
            code = (code << 2) | c
        if not ok:
            continue
        for y in range(n - K + 1):
            if rc[y] == code and x0 - y != d0:
                return True
    return False


@njit(cache=True, nogil=True)
def _exact_overlap(f, r, out_a, out_b):
    """The alignment the merge DP would return, when it is a unique exact overlap.

    With match +1 and mismatch/gap -64, an ungapped, mismatch-free overlap of length ``E``
    (on diagonal ``d0``) scores ``E``.  When it is the only optimal path the DP's traceback
    returns it whatever its tie rules, so the columns are written without the DP.  It is
    the only optimum when the longest exact overlap is unique and either

    1. ``E > min(m, n) - 64``: any alignment holding a mismatch or internal gap scores at
       most ``min(m, n) - 64``; or
    2. no exact run of 31 or more bases lies off ``d0`` (no 16-mer seed off ``d0``,
       :func:`_off_diagonal_seed`).  A path's body (the part between the free end gaps) is
       cut by its ``g`` internal gaps into ``g + 1`` ungapped segments, each on one
       diagonal, scoring matches - 64 x mismatches.  The segments on ``d0`` are disjoint
       runs of one exact overlap: together <= ``E``.  A segment on another diagonal with
       ``k >= 1`` mismatches has its matches in ``k + 1`` runs of <= 30 bases: it scores
       <= ``30 (k + 1) - 64 k < 0``; with none it is one run, <= 30.  So a gapped path
       scores <= ``E + 30 (g + 1) - 64 g < E``; an ungapped path on another diagonal is a
       whole diagonal overlap, with a mismatch (< 0) or exact (< ``E``: ``E`` is the unique
       longest); a path of end gaps only scores 0 < ``E``.  This holds for any ``E >= 1``,
       so pairs that do not merge (a short exact end overlap wins) are decided too.

    Returns the number of columns, or -1 when the DP is needed.
    """
    m = f.shape[0]
    n = r.shape[0]
    best = 0
    best_d = 0
    ties = 0
    # shift d: f[x] faces r[x - d]
    for d in range(-(n - 1), m):
        x0 = max(0, d)
        x1 = min(m, n + d)
        ln = x1 - x0
        if ln <= 0 or ln < best:
            continue
        ok = True
        for x in range(x0, x1):
            c = f[x]
            if c != r[x - d] or c >= 4:
                ok = False
                break
        if ok:
            if ln > best:
                best = ln
                best_d = d
                ties = 0
            else:
                ties += 1
    if best == 0 or ties > 0:
        return -1
    if best + 64 <= min(m, n):
        if _off_diagonal_seed(f, r, best_d, 16):
            return -1
    d = best_d
    k = 0
    # leading overhang: f before r starts (d > 0) or r before f starts (d < 0)
    for x in range(0, d):
        out_a[k] = f[x]
        out_b[k] = 4
        k += 1
    for y in range(0, -d):
        out_a[k] = 4
        out_b[k] = r[y]
        k += 1
    x0 = max(0, d)
    x1 = min(m, n + d)
    for x in range(x0, x1):
        out_a[k] = f[x]
        out_b[k] = r[x - d]
        k += 1
    for x in range(x1, m):
        out_a[k] = f[x]
        out_b[k] = 4
        k += 1
    for y in range(x1 - d, n):
        out_a[k] = 4
        out_b[k] = r[y]
        k += 1
    return k


@njit(cache=True, nogil=True)
def _merge_one(f, r, min_overlap, max_mismatch, trim_overhang, out_a, out_b, merged, stats):
    """Align f with r (= reverse complement of the reverse variant) and merge.

    ``stats`` <- (nmatch, nmismatch, nindel, accept, merged length).
    """
    k = _exact_overlap(f, r, out_a, out_b)
    if k < 0:
        k, _ = _nw_ends_free(f, r, 1, -64, -64, -1, out_a, out_b)
    first = -1
    last = -1
    for c in range(k):
        if out_a[c] != 4 and out_b[c] != 4:
            if first < 0:
                first = c
            last = c
    nmatch = 0
    nmis = 0
    nindel = 0
    if first >= 0:
        for c in range(first, last + 1):
            if out_a[c] == 4 or out_b[c] == 4:
                nindel += 1
            elif out_a[c] == out_b[c] and out_a[c] < 4:
                nmatch += 1
            else:
                nmis += 1
    accept = nmatch >= min_overlap and nmis + nindel <= max_mismatch
    # columns to keep: with trim_overhang, drop reverse-only columns before F starts and
    # forward-only columns after R ends
    start = 0
    stop = k
    if trim_overhang:
        while start < k and out_a[start] == 4:
            start += 1
        while stop > start and out_b[stop - 1] == 4:
            stop -= 1
    ln = 0
    for c in range(start, stop):
        if out_a[c] != 4:
            merged[ln] = out_a[c]
            ln += 1
        elif out_b[c] != 4:
            merged[ln] = out_b[c]
            ln += 1
    stats[0] = nmatch
    stats[1] = nmis
    stats[2] = nindel
    stats[3] = 1 if accept else 0
    stats[4] = ln


@dataclass(frozen=True, eq=False)
class MergeResult:
    """Merged pairs of one sample.

    Attributes
    ----------
    sequences : tuple of str
        Distinct accepted merged sequences, most abundant first (ties: first seen).
    abundances : numpy.ndarray of int64
        Read pairs per merged sequence.
    n_denoised : int
        Pairs whose forward and reverse reads were both assigned to a variant.
    combinations : numpy.ndarray, shape (n_combinations, 7), int64
        One row per distinct (forward variant, reverse variant): ``forward``, ``reverse``,
        ``abundance``, ``nmatch``, ``nmismatch``, ``nindel``, ``accept`` (0/1).
    """

    sequences: tuple[str, ...]
    abundances: np.ndarray
    n_denoised: int
    combinations: np.ndarray

    @property
    def n_merged(self) -> int:
        return int(self.abundances.sum())


def merge_pairs(
    dada_f: DadaResult,
    derep_f: Derep,
    dada_r: DadaResult,
    derep_r: Derep,
    *,
    min_overlap: int = 12,
    max_mismatch: int = 0,
    trim_overhang: bool = False,
    err_r: np.ndarray | None = None,
    partners_r: Mapping[str, Sequence[str]] | None = None,
) -> MergeResult:
    """Merge the denoised forward and reverse reads of one sample (DADA2 ``mergePairs``).

    Parameters
    ----------
    dada_f, derep_f, dada_r, derep_r
        The forward and reverse dereplicated reads of the sample (same read order) and
        their denoising results.
    min_overlap : int
        Minimum number of matching bases in the overlap (DADA2's default 12).
    max_mismatch : int
        Maximum mismatches plus indels in the overlap (default 0).
    trim_overhang : bool
        Cut overhangs (see the module docstring).
    err_r : numpy.ndarray, shape (16, 41), optional
        Error matrix of the reverse reads; with ``partners_r``, each class's reverse
        variant is re-chosen by :func:`partner_likelihood_choice` (not in DADA2).
    partners_r : mapping of str to sequence of str, optional
        Forward variant -> reverse variants it merges with (in any sample), from
        :func:`reverse_partners` on a first merge.

    Returns
    -------
    MergeResult
    """
    if derep_f.read_to_unique.shape != derep_r.read_to_unique.shape:
        raise ValueError("forward and reverse dereps hold different numbers of reads")
    fa = dada_f.unique_to_asv[derep_f.read_to_unique] if derep_f.read_to_unique.size else np.zeros(0, np.int64)
    ra = dada_r.unique_to_asv[derep_r.read_to_unique] if derep_r.read_to_unique.size else np.zeros(0, np.int64)
    ok = (fa >= 0) & (ra >= 0)
    n_r = max(len(dada_r.sequences), 1)
    key = fa[ok].astype(np.int64) * n_r + ra[ok]
    combos, first, counts = np.unique(key, return_index=True, return_counts=True)
    rows = np.zeros((combos.size, 7), dtype=np.int64)
    merged_counts: dict[str, int] = {}
    merged_first: dict[str, int] = {}
    f_codes = [_codes(s) for s in dada_f.sequences]
    r_codes = [_codes(reverse_complement(s)) for s in dada_r.sequences]
    stats = np.zeros(5, dtype=np.int64)
    check = err_r is not None and partners_r is not None
    if check:
        order = np.argsort(key, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        ur_all = derep_r.read_to_unique[ok][order]
        lerr_r = np.log(np.clip(np.asarray(err_r, np.float64), 1e-300, 1.0))
    for c, (k, cnt) in enumerate(zip(combos, counts)):
        fi, ri = int(k // n_r), int(k % n_r)
        f, r = f_codes[fi], r_codes[ri]
        width = f.size + r.size + 1
        out_a = np.empty(width, dtype=np.uint8)
        out_b = np.empty(width, dtype=np.uint8)
        merged = np.empty(width, dtype=np.uint8)
        _merge_one(f, r, min_overlap, max_mismatch, trim_overhang, out_a, out_b, merged, stats)
        if check and partners_r is not None:  # accepted or not: a better partner may merge
            seq_r = dada_r.sequences[ri]
            cands = [x for x in partners_r.get(dada_f.sequences[fi], ()) if x != seq_r]
            if cands:
                sl = slice(bounds[c], bounds[c + 1])
                best = partner_likelihood_choice(seq_r, cands, derep_r, ur_all[sl], lerr_r)
                if best != seq_r:
                    r2 = _codes(reverse_complement(best))
                    _merge_one(f, r2, min_overlap, max_mismatch, trim_overhang, out_a, out_b,
                               merged, stats)
                    if not stats[3]:  # the better reverse variant does not merge: the first stands
                        _merge_one(f, r, min_overlap, max_mismatch, trim_overhang, out_a, out_b,
                                   merged, stats)
        rows[c] = (fi, ri, cnt, stats[0], stats[1], stats[2], stats[3])
        if stats[3]:
            seq = _BASES[merged[: stats[4]]].tobytes().decode()
            merged_counts[seq] = merged_counts.get(seq, 0) + int(cnt)
            merged_first[seq] = min(merged_first.get(seq, 1 << 62), int(first[c]))
    seqs = sorted(merged_counts, key=lambda s: (-merged_counts[s], merged_first[s]))
    abund = np.array([merged_counts[s] for s in seqs], dtype=np.int64)
    return MergeResult(tuple(seqs), abund, int(ok.sum()), rows)



def reverse_partners(
    results: Sequence[tuple[DadaResult, DadaResult, MergeResult]],
) -> dict[str, tuple[str, ...]]:
    """Forward variant -> the reverse variants it merged with (accepted), over all samples."""
    out: dict[str, set[str]] = {}
    for df, dr, m in results:
        for fi, ri, _n, *_rest, acc in m.combinations.tolist():
            if acc:
                out.setdefault(df.sequences[fi], set()).add(dr.sequences[ri])
    return {k: tuple(sorted(v)) for k, v in out.items()}


def partner_likelihood_choice(
    current: str,
    candidates: Sequence[str],
    derep: Derep,
    uniques: np.ndarray,
    logerr: np.ndarray,
) -> str:
    """The reverse variant that best explains the reverse reads of one pair class.

    Not in DADA2.  Each read direction is denoised on its own, so the reverse reads of a
    rare variant ``X`` that differs from an abundant variant ``W`` by a substitution seen
    only by the (noisier) reverse reads can be absorbed into ``W``'s reverse variant ``W_r``
    (the reverse test weighs ``X``'s reads against *all* of ``W``'s reverse reads).
    Merging then pairs ``X_f`` with ``W_r``: the merged sequence is a false variant, or,
    when ``X`` and ``W`` differ by an indel before the overlap, the pair does not merge;
    either way ``X`` loses those reads.

    The forward partition already separates ``X``'s pairs from ``W``'s, and ``X_f`` merges
    with its own reverse variant ``X_r`` where ``X_r`` was found (another sample, or other
    pairs).  So the reverse reads of the class (``X_f``, ``W_r``) are scored under each
    reverse variant ``c`` that ``X_f`` merges with (the candidates) and under ``W_r``:
    ``log L(c) = sum_u a_u sum_p log err[c_p -> u_p, q_up]`` (``a_u`` pairs of reverse
    unique ``u``, mean quality ``q_up``; the error model the denoising used), and the class
    takes the variant of highest likelihood (ties keep ``current``).  All candidates are
    variants inferred from the data, so this is a maximum-likelihood assignment among
    known variants, not a new test; a class of true ``X_f + W_r`` molecules has reads that
    carry ``W_r``'s bases and keeps ``W_r``.  Candidates of the same length are compared
    position by position wherever any of them differs from ``current`` (an indel shifts
    the rest of the read, and the reads then side with the candidate they match); reads
    of other lengths are ignored.  :func:`merge_pairs` asks for every pair class, merged
    or not, and keeps ``current`` when the chosen variant does not merge with the forward
    read.

    Returns
    -------
    str
        ``current`` or the chosen candidate.
    """
    L = len(current)
    c0 = _codes(current)
    cs = []
    for x in candidates:
        if len(x) != L:
            continue
        cx = _codes(x)
        diff = np.flatnonzero(cx != c0)
        if diff.size:
            cs.append((x, cx))
    if not cs or uniques.size == 0:
        return current
    u, w = np.unique(uniques, return_counts=True)
    keep = [i for i in range(u.size) if len(derep.sequences[u[i]]) == L]
    if not keep:
        return current
    u, w = u[keep], w[keep].astype(np.float64)
    pos = np.unique(np.concatenate([np.flatnonzero(cx != c0) for _, cx in cs]))
    # (n_u, n_pos) codes and rounded qualities, in one pass over the uniques (all of length L)
    seqs_u = "".join([derep.sequences[j] for j in u]).encode("ascii")
    m = _CODE[np.frombuffer(seqs_u, dtype=np.uint8)].reshape(u.size, L)[:, pos]
    qf = np.stack([np.asarray(derep.mean_quality[j], np.float64) for j in u])[:, pos]
    q = np.clip(np.floor(qf + 0.5), 0, logerr.shape[1] - 1).astype(np.int64)
    m = np.minimum(m, 3)  # N: scored as T (same for every candidate only if they agree)

    def loglik(cx: np.ndarray) -> float:
        return float((w[:, None] * logerr[4 * cx[pos][None, :] + m, q]).sum())

    best, best_ll = current, loglik(c0)
    for x, cx in cs:
        ll = loglik(cx)
        if ll > best_ll:
            best, best_ll = x, ll
    return best
