"""DADA2's divisive partitioning of one sample's unique sequences.

Method (Callahan et al. 2016, Nat Methods 13:581, and its supplement; Rosen et al. 2012,
BMC Bioinformatics 13:283; DADA2's ``dada``/``setDadaOpt`` manual pages), written here from
those descriptions:

1. All uniques start in one partition centred on the most abundant unique.
2. Each unique ``j`` is compared with each centre ``i`` (5-mer distance screen at
   ``kdist_cutoff``, then banded ends-free Needleman-Wunsch); its substitutions give
   ``lambda_ji = prod_p err[centre base -> read base, quality_p]``.
3. The expected number of reads of ``j`` produced as errors of ``i`` is
   ``E_ji = n_i * lambda_ji`` (``n_i`` = reads in partition ``i``), and the abundance
   p-value ``p_j = P(X >= a_j | X >= 1)``, ``X ~ Poisson(E_ji)``.
4. The unique with the smallest p-value becomes a new centre when
   ``p_j * n_uniques < OMEGA_A`` (Bonferroni-like; ``p_j < OMEGA_P`` for uniques with prior
   evidence), provided it differs from its centre by at least MIN_HAMMING substitutions and
   ``a_j / E_ji >= MIN_FOLD``; every unique then moves to the partition with the largest
   ``E_ji`` (repeated until stable, at most 10 passes), and the loop repeats.
5. Members with ``p_j >= OMEGA_C`` are corrected to their centre; the others are reported
   uncorrected (-1), as are members whose k-mer screen against their centre failed
   (``lambda = 0``: nothing links them to it).

Speed: the substitutions of every (unique, centre) pair are cached per centre, so a new
error matrix (self-consistency rounds of :func:`learn_errors`) only recomputes lambdas.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from microtrial.denoise import _kernels as K
from microtrial.denoise._types import DadaResult, Derep
from microtrial.dna import CODES

MIN_FOLD = 1.0
MIN_HAMMING = 1
MAX_SHUFFLE = 10
_FAR = 1 << 30  # substitution count standing for 'screened out'
N_QUAL = 41
GREEDY = True  # DADA2's setDadaOpt(GREEDY=TRUE)
GAPLESS = True  # DADA2's setDadaOpt(GAPLESS=TRUE), see _kernels.compare_centre
NO_SCREEN = 1.0  # k-mer distances never exceed 1: the first centre is compared with every unique

_LUT = CODES  # the shared encoding: A,C,G,T/U -> 0..3, anything else -> dna.OTHER (4)


@dataclass
class Comparison:
    """Substitutions of every unique against one centre (see ``_kernels.compare_centre``)."""

    status: np.ndarray
    nsub: np.ndarray
    sub_off: np.ndarray
    pos: np.ndarray
    frm: np.ndarray
    to: np.ndarray
    ins_off: np.ndarray
    ins: np.ndarray


@dataclass
class Prepared:
    """One sample's uniques as flat arrays, plus the alignment cache."""

    sequences: tuple[str, ...]
    codes: np.ndarray
    quals: np.ndarray
    offsets: np.ndarray
    kdense: np.ndarray  # (n, 4**5) uint8 5-mer counts
    kbits: np.ndarray  # (n, KLAYERS * 16) uint64 bit layers of the counts (_kernels.kmer_layers)
    kmax: np.ndarray  # (n,) uint8 largest 5-mer count
    abund: np.ndarray
    max_len: int
    prior: np.ndarray
    order: np.ndarray  # uniques sorted by (length, sequence): the alignment order
    lcp: np.ndarray  # common prefix of consecutive uniques in ``order`` (_kernels.sorted_lcp)
    cache: dict[int, Comparison] = field(default_factory=dict)
    # the last partition made (see :func:`partition`): [(settings, log error matrix, state)]
    last: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.abund.shape[0])


def prepare(sequences, abundances, mean_quality, prior=None) -> Prepared:
    """Encode uniques (sequences, abundances, per-position mean qualities) as flat arrays."""
    n = len(sequences)
    lens = np.fromiter((len(s) for s in sequences), np.int64, count=n)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    raw = "".join(sequences).encode("ascii")
    codes = _LUT[np.frombuffer(raw, np.uint8)]
    if n and codes.max(initial=0) > 3:
        raise ValueError("sequences must contain only A, C, G, T")
    if n:
        q = np.concatenate([np.asarray(m, np.float64) for m in mean_quality])
        if q.shape[0] != codes.shape[0]:
            raise ValueError("mean_quality lengths do not match the sequences")
        quals = np.clip(np.floor(q + 0.5), 0, N_QUAL - 1).astype(np.uint8)
    else:
        quals = np.zeros(0, np.uint8)
    kdense = np.zeros((n, 4**K.KMER), np.uint8)
    K.kmer_count_matrix(codes, offsets, kdense)
    kbits = np.zeros((n, K.KLAYERS * 4**K.KMER // 64), np.uint64)
    kmax = np.zeros(n, np.uint8)
    K.kmer_layers(kdense, kbits, kmax)
    abund = np.ascontiguousarray(abundances, dtype=np.int64)
    if prior is None:
        prior = np.zeros(n, np.bool_)
    order = np.asarray(sorted(range(n), key=lambda i: (int(lens[i]), sequences[i])), np.int64)
    lcp = np.zeros(n, np.int64)
    K.sorted_lcp(codes, offsets, order, lcp)
    return Prepared(
        sequences=tuple(sequences),
        codes=codes,
        quals=quals,
        offsets=offsets,
        kdense=kdense,
        kbits=kbits,
        kmax=kmax,
        abund=abund,
        max_len=int(lens.max(initial=0)),
        prior=np.asarray(prior, np.bool_),
        order=order,
        lcp=lcp,
    )


def _compare(prep: Prepared, c: int, band: int, kdist_cutoff: float) -> Comparison:
    cmp = prep.cache.get(c)
    if cmp is None:
        # GREEDY: uniques more abundant than a later centre are never recruited by it, so
        # they are not even aligned to it (the first centre is the most abundant)
        active = (prep.abund <= prep.abund[c]) if (GREEDY and c != 0) else np.ones(prep.n, np.bool_)
        out = K.compare_centre(
            c, prep.codes, prep.offsets, prep.kdense, band, kdist_cutoff,
            prep.max_len, active, GAPLESS, prep.order, prep.lcp, prep.kbits, prep.kmax,
        )
        cmp = Comparison(*out)
        prep.cache[c] = cmp
    return cmp


def _final_alignment(prep: Prepared, c: int, members: np.ndarray, band: int) -> Comparison:
    """Members aligned to centre ``c`` by the full alignment (no k-mer screen, no gapless
    shortcut), as DADA2 re-aligns every unique to its final centre before counting the
    transitions; cached per (centre, unique) across self-consistency rounds.

    Reused without aligning again: the partition's own comparisons that were full
    alignments, and gapless ones with at most one mismatch (the diagonal then scores
    ``5L - 9`` or more, every path with a gap at most ``5(L - 1) - 8``: the alignment is
    the diagonal whatever the tie rules).
    """
    key = -1 - c
    done = prep.cache.get(key)
    if done is None:
        base = prep.cache.get(c)
        if base is not None:
            lens = np.diff(prep.offsets)
            clen = int(lens[c])
            # status 2 marks a full alignment in compare_centre; gapless pairs are status 1
            ok = (base.status == 2) | ((base.status == 1) & (base.nsub <= 1) & (lens == clen))
            done = dataclasses.replace(base, status=np.where(ok, base.status, 0).astype(np.int8))
        else:
            done = Comparison(np.zeros(prep.n, np.int8), np.full(prep.n, -1, np.int32),
                              np.zeros(prep.n + 1, np.int64), np.zeros(0, np.int16),
                              np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                              np.zeros(prep.n + 1, np.int64), np.zeros(0, np.int16))
    need = members[done.status[members] == 0]
    if need.size:
        active = np.zeros(prep.n, np.bool_)
        active[need] = True
        new = Comparison(*K.compare_centre(c, prep.codes, prep.offsets, prep.kdense, band,
                                           NO_SCREEN, prep.max_len, active, False, prep.order,
                                           prep.lcp, prep.kbits, prep.kmax))
        done = _merge_comparisons(done, new)
    prep.cache[key] = done
    return done


def _merge_comparisons(a: Comparison, b: Comparison) -> Comparison:
    """Per unique, the comparison of ``a`` where it has one, else that of ``b``."""
    take_b = (a.status == 0) & (b.status != 0)
    n = take_b.shape[0]

    def pick(off_a, off_b, arrs_a, arrs_b):
        lens = np.where(take_b, np.diff(off_b), np.diff(off_a))
        new_off = np.zeros(n + 1, np.int64)
        np.cumsum(lens, out=new_off[1:])
        owner = np.repeat(np.arange(n), lens)
        within = np.arange(new_off[-1]) - new_off[owner]
        from_b = take_b[owner]
        src = np.where(from_b, off_b[owner] + off_a[-1], off_a[owner]) + within
        return new_off, [np.concatenate([xa, xb])[src] for xa, xb in zip(arrs_a, arrs_b)]

    so, (pos, frm, to) = pick(a.sub_off, b.sub_off, (a.pos, a.frm, a.to), (b.pos, b.frm, b.to))
    io, (ins,) = pick(a.ins_off, b.ins_off, (a.ins,), (b.ins,))
    status = np.where(take_b, b.status, a.status).astype(np.int8)
    nsub = np.where(take_b, b.nsub, a.nsub).astype(np.int32)
    return Comparison(status, nsub, so, pos, frm, to, io, ins)


@dataclass
class Partition:
    """Final state of the partitioning of one sample."""

    centres: list[int]
    assign: np.ndarray  # cluster index per unique
    pvals: np.ndarray
    own_lam: np.ndarray
    reads: np.ndarray
    corrected: np.ndarray  # bool per unique


def partition(
    prep: Prepared,
    logerr: np.ndarray,
    *,
    omega_a: float,
    omega_p: float,
    omega_c: float,
    detect_singletons: bool,
    band: int,
    kdist_cutoff: float,
    max_clust: int = 0,
) -> Partition:
    """Run the divisive partitioning on one prepared sample with error matrix ``exp(logerr)``.

    As DADA2 does, the first centre is compared with every unique (no k-mer screen), later
    centres only with those passing the screen; ``max_clust`` > 0 caps the partitions (DADA2
    uses 1 in the first self-consistency round of ``learnErrors``).  A member is corrected
    to its centre when its unconditioned abundance p-value ``P(X >= a_j)``,
    ``X ~ Poisson(n_i lambda_ji)``, is at least ``omega_c`` (singletons included).
    """
    # the partition does not depend on omega_c; learn_errors' last round partitions every
    # learning sample with the error matrix it returns, the very partition ``dada`` then
    # needs: the last one is kept and reused when settings and matrix are equal
    # (omega_p matters only for uniques with prior evidence)
    key = (omega_a, omega_p if prep.prior.any() else None, detect_singletons, band,
           kdist_cutoff, max_clust, prep.prior.tobytes())
    state = next((st for k, le, st in prep.last if k == key and np.array_equal(le, logerr)), None)
    if state is None:
        state = _partition(prep, logerr, omega_a=omega_a, omega_p=omega_p,
                           detect_singletons=detect_singletons, band=band,
                           kdist_cutoff=kdist_cutoff, max_clust=max_clust)
        prep.last[:] = [(key, logerr.copy(), state)]
    centres, assign, pvals, own_lam, reads = state
    if prep.n == 0:
        return Partition([], assign, pvals, own_lam, np.zeros(0), np.zeros(0, np.bool_))
    final_p = K.unconditioned_pvals(prep.abund, own_lam * reads[assign])
    is_centre = np.zeros(prep.n, np.bool_)
    is_centre[list(centres)] = True
    corrected = is_centre | (final_p >= omega_c)
    return Partition(list(centres), assign, pvals, own_lam, reads, corrected)


def _partition(prep: Prepared, logerr: np.ndarray, *, omega_a: float, omega_p: float,
               detect_singletons: bool, band: int, kdist_cutoff: float,
               max_clust: int) -> tuple:
    """The partitioning loop of :func:`partition`: (centres, assign, pvals, own_lam,
    reads); the arrays are not changed afterwards (they may be reused)."""
    n = prep.n
    self_log = K.self_log_lambda(prep.codes, prep.quals, prep.offsets, logerr)
    assign = np.zeros(n, np.int64)
    is_centre = np.zeros(n, np.bool_)
    own_lam = np.zeros(n, np.float64)
    own_nsub = np.zeros(n, np.int32)
    pvals = np.ones(n, np.float64)
    if n == 0:
        return [], assign, pvals, own_lam, np.zeros(0)
    centres = [0]
    is_centre[0] = True
    reads = np.array([float(prep.abund.sum())])
    # flat per-cluster lists of (unique, lambda, nsub) with lambda > 0, leaving out
    # entries that can never be a unique's best cluster: reads[k] <= total and every
    # cluster keeps its centre (reads[k] >= abund[centre]), so E_jk <= lambda_jk * total
    # and j's best E is at least lb_j = max_k lambda_jk * abund[centre_k]; an entry with
    # lambda_jk * total < lb_j is strictly below j's best in every shuffle from now on
    # (floating-point products are monotone), so best_clusters never picks it.
    total = float(prep.abund.sum())
    lb = np.zeros(n, np.float64)
    cap = max(4 * n, 1024)
    l_idx = np.empty(cap, np.int64)
    l_lam = np.empty(cap, np.float64)
    l_nsub = np.empty(cap, np.int32)
    k_start: list[int] = []
    k_len: list[int] = []
    used = 0

    def add_cluster(c: int):
        nonlocal used, l_idx, l_lam, l_nsub
        cmp = _compare(prep, c, band, NO_SCREEN if c == 0 else kdist_cutoff)
        if used + n > l_idx.shape[0]:
            newcap = max(2 * l_idx.shape[0], used + n)
            l_idx = np.concatenate([l_idx[:used], np.empty(newcap - used, np.int64)])
            l_lam = np.concatenate([l_lam[:used], np.empty(newcap - used, np.float64)])
            l_nsub = np.concatenate([l_nsub[:used], np.empty(newcap - used, np.int32)])
        lam = np.empty(n, np.float64)
        end = K.cluster_entries(cmp.status, cmp.nsub, cmp.sub_off, cmp.pos, cmp.frm, cmp.to,
                                prep.quals, prep.offsets, logerr, self_log,
                                float(prep.abund[c]), total, lb, l_idx, l_lam, l_nsub, used, lam)
        k_start.append(used)
        k_len.append(end - used)
        used = end
        return lam, cmp

    lam0, cmp0 = add_cluster(0)
    own_lam[:] = lam0
    nsub0 = np.where(cmp0.status > 0, cmp0.nsub, _FAR).astype(np.int32)
    own_nsub[:] = nsub0
    # DADA2's member lists: the order in which its bud step meets the uniques (ties in
    # p-value and reads go to the first met).  A unique leaving a list is replaced by the
    # list's last one; arrivals are appended; cluster 0 starts in index order.
    members: list[list[int]] = [list(range(n))]
    pos = np.arange(n, dtype=np.int64)

    def remove(j: int) -> None:
        lst = members[assign[j]]
        last = lst.pop()
        if last != j:
            lst[pos[j]] = last
            pos[last] = pos[j]

    def append(j: int, k: int) -> None:
        pos[j] = len(members[k])
        members[k].append(j)
    prior_ok = prep.prior
    dirty = np.ones(1, np.bool_)
    K.update_pvals(pvals, assign, own_lam, reads, prep.abund, is_centre, dirty,
                   detect_singletons, prior_ok)
    bonf = omega_a / n
    abund = prep.abund
    while max_clust <= 0 or len(centres) < max_clust:
        # bud: the most significant eligible unique (eligible: not a centre, MIN_HAMMING
        # substitutions from its centre, reads >= MIN_FOLD * E).  DADA2's bud: the most
        # significant unique of all (priors included) is tested against OMEGA_A; only when
        # none passes is the most significant prior tested against OMEGA_P.  (Trying
        # non-priors first would let rare non-prior uniques bud before the abundant prior
        # variants that explain them as errors.)  Ties: smallest p, then most abundant, then
        # the first met in DADA2's member lists.
        j = int(K.pick_bud(own_lam, reads, assign, abund, is_centre, own_nsub, pvals, prior_ok,
                           pos, bonf, omega_p, MIN_HAMMING, MIN_FOLD))
        if j < 0:
            break
        k = len(centres)
        old = assign[j]
        reads[old] -= abund[j]
        reads = np.append(reads, float(abund[j]))
        remove(j)
        members.append([j])
        pos[j] = 0
        assign[j] = k
        is_centre[j] = True
        centres.append(j)
        own_lam[j] = 1.0
        own_nsub[j] = 0
        add_cluster(j)
        dirty = np.zeros(len(centres), np.bool_)
        dirty[old] = True
        dirty[k] = True
        ks = np.asarray(k_start, np.int64)
        kl = np.asarray(k_len, np.int64)
        best_k = np.empty(n, np.int64)
        best_l = np.empty(n, np.float64)
        best_s = np.empty(n, np.int32)
        for _ in range(MAX_SHUFFLE):
            best_s[:] = nsub0
            K.best_clusters(lam0, reads, ks, kl, l_idx, l_lam, l_nsub, best_k, best_l, best_s)
            movers = np.flatnonzero((best_k != assign) & ~is_centre)
            if movers.size == 0:
                break
            # DADA2 visits clusters in order and each list from its end
            dirty[assign[movers]] = True
            dirty[best_k[movers]] = True
            for j in movers[np.lexsort((-pos[movers], assign[movers]))]:
                j = int(j)
                remove(j)
                reads[assign[j]] -= abund[j]
                k_new = int(best_k[j])
                append(j, k_new)
                reads[k_new] += abund[j]
                assign[j] = k_new
                own_lam[j] = best_l[j]
                own_nsub[j] = best_s[j]
        # p-values change only in clusters whose reads or members changed
        K.update_pvals(pvals, assign, own_lam, reads, abund, is_centre, dirty,
                       detect_singletons, prior_ok)
    return tuple(centres), assign, pvals, own_lam, reads


def transitions(prep: Prepared, part: Partition, band: int = 16) -> np.ndarray:
    """Transition counts (16 x 41, float64) over corrected members, centre -> read base,
    from each member's full alignment to its centre (:func:`_final_alignment`)."""
    trans = np.zeros((16, N_QUAL), np.float64)
    if prep.n == 0:
        return trans
    for k, c in enumerate(part.centres):
        members = np.flatnonzero((part.assign == k) & part.corrected)
        cmp = _final_alignment(prep, c, members, band)
        K.count_transitions(trans, members, cmp.status, cmp.sub_off, cmp.pos, cmp.frm, cmp.to,
                            cmp.ins_off, cmp.ins,
                            prep.codes, prep.quals, prep.offsets, prep.abund)
    return trans


def result(prep: Prepared, part: Partition) -> DadaResult:
    """ASVs (most abundant first), their corrected read counts, and the unique -> ASV map."""
    n = prep.n
    if n == 0:
        return DadaResult((), np.zeros(0, np.int64), np.zeros(0, np.int64))
    nk = len(part.centres)
    counts = np.bincount(part.assign[part.corrected], weights=prep.abund[part.corrected],
                         minlength=nk).astype(np.int64)
    order = np.lexsort((np.arange(nk), -counts))
    rank = np.empty(nk, np.int64)
    rank[order] = np.arange(nk)
    u2a = np.where(part.corrected, rank[part.assign], -1).astype(np.int64)
    seqs = tuple(prep.sequences[part.centres[k]] for k in order)
    return DadaResult(seqs, counts[order], u2a)


# Prepared arrays and alignment caches per Derep object, so that ``dada`` after
# ``learn_errors`` on the same Dereps reuses the alignments (alignments do not depend on the
# error matrix).  Weak keys: an entry lives only as long as its Derep.
_PREPARED: weakref.WeakKeyDictionary[Derep, Prepared] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def derep_prepare(derep: Derep, prior_seqs: frozenset[str] | None = None) -> Prepared:
    """Prepared arrays of a Derep (cached), with the prior flags of ``prior_seqs``."""
    with _PREPARED_LOCK:
        prep = _PREPARED.get(derep)
    if prep is None:
        prep = prepare(derep.sequences, derep.abundances, derep.mean_quality)
        with _PREPARED_LOCK:
            _PREPARED[derep] = prep
    if prior_seqs:
        prior = np.fromiter((s in prior_seqs for s in derep.sequences), np.bool_,
                            count=len(derep.sequences))
        prep = dataclasses.replace(prep, prior=prior)  # shares the cache dict
    return prep
