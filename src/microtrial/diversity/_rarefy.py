"""Rarefaction: subsampling without replacement to an even depth, curves and depth choice.

Subsampling keeps a uniform random subset of each sample's reads (a partial Fisher-Yates
shuffle in one numba kernel for the whole table: O(reads) per sample, which is a
multivariate hypergeometric draw), seeded per sample from one ``numpy.random.SeedSequence``
so results do not depend on sample order elsewhere in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from microtrial.diversity._kernels import rarefaction_curve_stats, rarefy_columns
from microtrial.errors import AnalysisError
from microtrial.table import FeatureTable


def _seeds(seed: int, n: int) -> np.ndarray:
    ss = np.random.SeedSequence(seed)
    return ss.generate_state(n, dtype=np.uint32).astype(np.int64)


def rarefy(
    table: FeatureTable, depth: int, *, seed: int = 0, iterations: int = 1,
) -> FeatureTable:
    """Subsample every sample to ``depth`` reads; samples with fewer reads are dropped.

    Parameters
    ----------
    table : FeatureTable
        Integer counts.
    depth : int
        Reads per sample after rarefaction (> 0).
    seed : int
        Seed; the same seed gives the same table.
    iterations : int
        With ``> 1``, the mean of that many independent rarefactions (float counts), which
        removes most of the subsampling noise (as in ``rtk``/``mirlyn``).

    Returns
    -------
    FeatureTable
        The kept samples, in the original order, features with zero total dropped.
    """
    if depth <= 0:
        raise AnalysisError(f"rarefaction depth must be positive, got {depth}")
    if iterations < 1:
        raise AnalysisError("iterations must be >= 1")
    totals = np.asarray(table.data.sum(axis=0)).ravel()
    keep = np.flatnonzero(totals >= depth)
    if keep.size == 0:
        raise AnalysisError(f"no sample has {depth} reads (largest: {int(totals.max(initial=0))})")
    csc = sp.csc_matrix(table.data[:, keep])
    if csc.nnz and np.any(csc.data != np.round(csc.data)):
        raise AnalysisError("rarefaction needs integer counts")
    seeds = _seeds(seed, keep.size * iterations).reshape(keep.size, iterations)
    data = _rarefy_all(csc.indptr.astype(np.int64), csc.data.astype(np.int64), int(depth), seeds)
    if iterations > 1:
        data /= iterations
    else:
        data = data.astype(np.int64)
    out = sp.csc_matrix((data, csc.indices, csc.indptr), shape=csc.shape)
    out.eliminate_zeros()
    rt = FeatureTable(
        sp.csr_matrix(out), table.feature_ids, tuple(table.sample_ids[i] for i in keep),
        table.feature_metadata,
    )
    return rt.drop_empty_features()


def _rarefy_all(indptr: np.ndarray, counts: np.ndarray, depth: int, seeds: np.ndarray) -> np.ndarray:
    """:func:`rarefy_columns` over every sample: one call locally; blocks of samples as
    tasks on the Dask cluster of ``microtrial run --jobs/--dask-scheduler``
    (:mod:`microtrial.parallel`). Each sample's draws depend on its own seeds only, so the
    table is the same either way."""
    from microtrial.parallel import current_executor, map_ordered, n_workers

    n = indptr.shape[0] - 1
    if current_executor() is None or n < 2:
        data = np.zeros(counts.shape[0], dtype=np.float64)

        def run(lo: int, hi: int) -> None:  # one block of samples: its own seeds and slice
            a, b = int(indptr[lo]), int(indptr[hi])
            rarefy_columns(indptr[lo:hi + 1] - a, counts[a:b], depth, seeds[lo:hi], data[a:b])

        _on_threads(run, n)
        return data
    blocks = [b for b in np.array_split(np.arange(n), min(n, 4 * n_workers())) if b.size]
    jobs = [(indptr[b[0]:b[-1] + 2], seeds[b]) for b in blocks]
    parts = map_ordered(_rarefy_block, jobs, shared=(counts, depth))
    return np.concatenate(parts)


def _on_threads(run: Callable[[int, int], None], n: int) -> None:
    """``run(lo, hi)`` over blocks of consecutive samples on local threads (the kernels
    release the GIL); every sample's draws depend on its own seeds only, so the results
    are the same for any number of threads."""
    from microtrial.diversity._unifrac import default_threads

    threads = max(1, min(default_threads(), n))
    bounds = np.linspace(0, n, threads + 1).astype(int)
    if threads == 1:
        run(0, n)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for f in [pool.submit(run, int(bounds[t]), int(bounds[t + 1])) for t in range(threads)]:
            f.result()


def _rarefy_block(job: tuple[np.ndarray, np.ndarray], counts: np.ndarray, depth: int) -> np.ndarray:
    """The rarefied counts of one block of consecutive samples (one task)."""
    ip, seeds = job
    lo, hi = int(ip[0]), int(ip[-1])
    out = np.zeros(hi - lo, dtype=np.float64)
    rarefy_columns(ip - lo, counts[lo:hi], depth, seeds, out)
    return out


def choose_depth(table: FeatureTable, depth: int | str | None = "auto") -> int | None:
    """Resolve a rarefaction depth: ``"auto"`` = the smallest non-zero sample depth.

    ``None``/``"none"`` means no rarefaction (returns None); an int is returned unchanged.
    """
    if depth is None or (isinstance(depth, str) and depth.lower() == "none"):
        return None
    if isinstance(depth, str):
        if depth.lower() != "auto":
            try:
                return int(depth)
            except ValueError as exc:
                raise AnalysisError(f"rarefaction depth '{depth}' is not a number, 'auto' or 'none'") from exc
        totals = np.asarray(table.data.sum(axis=0)).ravel()
        nz = totals[totals > 0]
        if nz.size == 0:
            raise AnalysisError("every sample has zero reads")
        return int(nz.min())
    return int(depth)


@dataclass(frozen=True)
class Rarefaction:
    """A table rarefied for the diversity stage (:func:`rarefy_samples`).

    Attributes
    ----------
    depth : int or None
        Reads per sample after rarefaction; None when the table was not rarefied.
    table : FeatureTable
        The samples kept, with their original counts (for compositional metrics).
    rarefied : FeatureTable
        The same samples rarefied to ``depth`` (``table`` itself when ``depth`` is None).
    dropped : tuple of (sample id, reason)
        Samples with fewer reads than ``depth``, in table order.
    curves : pandas.DataFrame
        :func:`rarefaction_curves` of ``table``.
    """

    depth: int | None
    table: FeatureTable
    rarefied: FeatureTable
    dropped: tuple[tuple[str, str], ...]
    curves: pd.DataFrame


def rarefy_samples(
    table: FeatureTable, depth: int | str | None = "auto", *, seed: int = 0, iterations: int = 1,
) -> Rarefaction:
    """The diversity stage's rarefaction step: resolve the depth (:func:`choose_depth`), drop
    the samples below it, rarefy the rest (:func:`rarefy`) and compute the rarefaction curves
    of the kept samples.

    Raises
    ------
    AnalysisError
        A depth that is not a number, ``"auto"`` or ``"none"``; no sample reaching it; fewer
        than 2 samples left.
    """
    resolved = choose_depth(table, depth)
    dropped: tuple[tuple[str, str], ...] = ()
    if resolved is not None:
        totals = table.sample_totals()
        dropped = tuple((str(s), f"fewer than {resolved} reads (rarefaction depth); has {int(totals[s])}")
                        for s in totals.index[totals < resolved])
        rarefied = rarefy(table, resolved, seed=seed, iterations=iterations)
        table = table.select_samples(list(rarefied.sample_ids))
    else:
        rarefied = table
    if rarefied.shape[1] < 2:
        raise AnalysisError(f"fewer than 2 samples left at depth {resolved}")
    return Rarefaction(resolved, table, rarefied, dropped, rarefaction_curves(table, seed=seed))


@dataclass(frozen=True)
class DepthSuggestion:
    """What a rarefaction depth would do to a table.

    Attributes
    ----------
    depth : int
    kept, lost : tuple of str
        Samples with at least / fewer than ``depth`` reads.
    reads_kept_fraction : float
        Share of all reads retained after rarefying the kept samples.
    """

    depth: int
    kept: tuple[str, ...]
    lost: tuple[str, ...]
    reads_kept_fraction: float


def suggest_depth(table: FeatureTable, depth: int) -> DepthSuggestion:
    """Say which samples a rarefaction depth keeps and which it loses."""
    totals = np.asarray(table.data.sum(axis=0)).ravel()
    ids = np.asarray(table.sample_ids, dtype=object)
    ok = totals >= depth
    total = totals.sum()
    frac = float(depth * ok.sum() / total) if total > 0 else 0.0
    return DepthSuggestion(int(depth), tuple(ids[ok]), tuple(ids[~ok]), frac)


def rarefaction_curves(
    table: FeatureTable, *, depths: Sequence[int] | None = None, steps: int = 10,
    iterations: int = 3, seed: int = 0,
) -> pd.DataFrame:
    """Observed features and Shannon index at increasing depths (mean of ``iterations``).

    Returns
    -------
    pandas.DataFrame
        Long table: ``sample-id``, ``depth``, ``observed_features``, ``shannon``. Samples
        with fewer reads than a depth have no row at that depth.
    """
    totals = np.asarray(table.data.sum(axis=0)).ravel()
    if depths is None:
        hi = int(totals.max(initial=0))
        if hi <= 0:
            raise AnalysisError("every sample has zero reads")
        depths = sorted({max(1, int(round(x))) for x in np.linspace(1, hi, steps)})
    csc = sp.csc_matrix(table.data)
    csc.eliminate_zeros()
    if csc.nnz and np.any(csc.data != np.round(csc.data)):
        raise AnalysisError("rarefaction curves need integer counts")
    d_arr = np.unique(np.asarray(depths, dtype=np.int64))
    n = len(table.sample_ids)
    seeds = _seeds(seed, n * iterations).reshape(n, iterations)
    obs = np.empty((n, d_arr.size))
    sh = np.empty((n, d_arr.size))
    indptr, counts = csc.indptr.astype(np.int64), csc.data.astype(np.int64)

    def run(lo: int, hi: int) -> None:  # one block of samples: its own seeds, its own rows
        rarefaction_curve_stats(indptr[lo:hi + 1], counts, d_arr, seeds[lo:hi], int(iterations),
                                obs[lo:hi], sh[lo:hi])

    _on_threads(run, n)
    out = pd.DataFrame({
        "sample-id": np.repeat(np.asarray(table.sample_ids, dtype=object), d_arr.size),
        "depth": np.tile(d_arr, n), "observed_features": obs.ravel(), "shannon": sh.ravel(),
    })
    return out[out["observed_features"].notna()].reset_index(drop=True)
