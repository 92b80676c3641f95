"""``dada``: denoise samples independently, pooled, or pseudo-pooled (DADA2's ``pool=``).

- ``pool="none"``: each sample is partitioned on its own (samples run in parallel threads;
  the numba kernels release the GIL, and results do not depend on the thread count).
- ``pool="all"``: the uniques of all samples are merged (abundances summed, mean qualities
  averaged weighted by abundance), partitioned once, and the result is split back into
  per-sample variants.
- ``pool="pseudo"``: DADA2's pseudo-pooling: a first pass per sample; variants found in at
  least 2 samples become priors, and a second per-sample pass tests uniques equal to a prior
  against OMEGA_P (no multiple-testing correction) instead of OMEGA_A.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from microtrial.denoise import _dada as D
from microtrial.denoise._error_model import check_err, log_err
from microtrial.denoise._types import DadaResult, Derep
from microtrial.names import POOL_METHODS

PSEUDO_PREVALENCE = 2


def _map_threads(fn, items, threads, on_done=None):
    """``[fn(x) for x in items]`` on ``threads`` threads, or on the Dask cluster ``microtrial
    run`` set up (:mod:`microtrial.parallel`); ``on_done(n)`` as results come in."""
    from microtrial.parallel import map_ordered

    progress = None if on_done is None else (lambda _desc, done, _total: on_done(done) if done else None)
    return map_ordered(fn, list(items), threads=threads, progress=progress)


def _pool_dereps(dereps: Sequence[Derep]) -> tuple[Derep, list[np.ndarray]]:
    """Merge samples' uniques; return the pooled Derep and per-sample unique -> pooled index."""
    index: dict[str, int] = {}
    seqs: list[str] = []
    ab: list[int] = []
    qsum: list[np.ndarray] = []
    maps = []
    for d in dereps:
        m = np.empty(len(d.sequences), np.int64)
        for u, (s, a, q) in enumerate(zip(d.sequences, d.abundances, d.mean_quality)):
            i = index.get(s)
            if i is None:
                i = index[s] = len(seqs)
                seqs.append(s)
                ab.append(0)
                qsum.append(np.zeros(len(s)))
            ab[i] += int(a)
            qsum[i] = qsum[i] + np.asarray(q, np.float64) * int(a)
            m[u] = i
        maps.append(m)
    abund = np.asarray(ab, np.int64)
    order = np.lexsort((np.arange(len(seqs)), -abund)) if seqs else np.zeros(0, np.int64)
    rank = np.empty(len(seqs), np.int64)
    rank[order] = np.arange(len(seqs))
    pooled = Derep(
        sequences=tuple(seqs[i] for i in order),
        abundances=abund[order],
        mean_quality=tuple(qsum[i] / max(ab[i], 1) for i in order),
        read_to_unique=np.zeros(0, np.int64),
    )
    return pooled, [rank[m] for m in maps]


def _split(pooled: DadaResult, d: Derep, m: np.ndarray) -> DadaResult:
    """Per-sample view of a pooled result."""
    pa = pooled.unique_to_asv[m] if m.size else np.zeros(0, np.int64)
    ok = pa >= 0
    counts = np.bincount(pa[ok], weights=np.asarray(d.abundances)[ok],
                         minlength=len(pooled.sequences)).astype(np.int64)
    present = np.flatnonzero(counts > 0)
    order = present[np.lexsort((present, -counts[present]))]
    new = np.full(len(pooled.sequences), -1, np.int64)
    new[order] = np.arange(order.size)
    u2a = np.where(ok, new[np.where(ok, pa, 0)], -1).astype(np.int64)
    return DadaResult(tuple(pooled.sequences[i] for i in order), counts[order], u2a)


def dada(
    dereps: Sequence[Derep],
    *,
    err: np.ndarray,
    pool: str = "none",
    omega_a: float = 1e-40,
    omega_p: float = 1e-4,
    omega_c: float = 1e-40,
    detect_singletons: bool = False,
    band_size: int = 16,
    kdist_cutoff: float = 0.42,
    threads: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    priors: frozenset[str] | None = None,
) -> list[DadaResult]:
    """Infer the amplicon sequence variants of each sample (DADA2's divisive partitioning).

    Parameters
    ----------
    dereps : sequence of Derep
        One per sample (and read direction), uniques most abundant first.
    err : numpy.ndarray, shape (16, 41)
        Error matrix from :func:`learn_errors` (rows A2A..T2T, columns Phred 0..40).
    pool : {"none", "pseudo", "all"}
        Sample inference mode (see module docstring).
    omega_a, omega_p, omega_c : float
        Abundance p-value threshold for new partitions (compared with ``p * n_uniques``),
        for uniques with prior evidence (uncorrected), and for correcting members.
    detect_singletons : bool
        Let singletons form partitions (unconditioned p-value ``P(X >= 1)``).
    band_size : int
        Needleman-Wunsch band (diagonals either side).
    kdist_cutoff : float
        5-mer distance above which a unique is not aligned to a centre (lambda = 0).
    threads : int
        Samples denoised in parallel (results are identical for any value).
    progress : callable, optional
        ``progress(desc, done, total)`` after each sample.
    priors : frozenset of str, optional
        With ``pool="none"``: sequences with prior evidence, tested against ``omega_p``
        (the second pass of pseudo-pooling, one sample at a time: the caller collected
        the priors from every sample's first pass, as :func:`microtrial.denoise.denoise_reads`
        does when it streams samples).

    Returns
    -------
    list of DadaResult
        One per input Derep, same order.

    Notes
    -----
    ``E_ji = n_i lambda_ji``; ``p_j = P(X >= a_j | X >= 1)``, ``X ~ Poisson(E_ji)``; a new
    partition when ``p_j n_uniques < omega_a``.  See :mod:`microtrial.denoise._dada`.
    """
    if pool not in POOL_METHODS:
        raise ValueError(f"pool must be one of {', '.join(POOL_METHODS)}, got {pool!r}")
    if priors is not None and pool != "none":
        raise ValueError("priors are given with pool='none' (pseudo-pooling finds its own)")
    logerr = log_err(check_err(err))
    threads = max(1, int(threads))
    opts = dict(omega_a=omega_a, omega_p=omega_p, omega_c=omega_c,
                detect_singletons=detect_singletons, band=band_size, kdist_cutoff=kdist_cutoff)
    total = len(dereps)

    def one(d, priors=None):
        prep = D.derep_prepare(d, priors)
        return D.result(prep, D.partition(prep, logerr, **opts))

    if pool == "all":
        pooled, maps = _pool_dereps(dereps)
        res = one(pooled)
        out = [_split(res, d, m) for d, m in zip(dereps, maps)]
        if progress is not None:
            progress("dada (pooled)", total, total)
        return out

    def run_all(priors, desc):
        tick = None if progress is None else (lambda k: progress(desc, k, total))
        return _map_threads(lambda d: one(d, priors), list(dereps), threads, tick)

    first = run_all(priors, "dada")
    if pool == "none":
        return first
    prev = Counter(s for r in first for s in set(r.sequences))
    priors = frozenset(s for s, c in prev.items() if c >= PSEUDO_PREVALENCE)
    return run_all(priors, "dada (pseudo-pool)")
