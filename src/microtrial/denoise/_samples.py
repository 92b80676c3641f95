"""The denoise stage's entry point: dereplicated samples in, ASV table out.

:func:`denoise_samples` learns an error model per read direction, denoises every sample,
merges the pairs, builds the sequence table, removes bimeras and applies the read floor;
reading and filtering the FASTQ files are done by :func:`microtrial.denoise.denoise_reads`,
writing by :mod:`microtrial.pipeline.denoise`.  Both drive the per-sample engine
:func:`run_samples` (see the notes above it): samples are loaded one per task from a
source, so that memory does not grow with the number of samples.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from microtrial.denoise._options import DenoiseSettings
from microtrial.denoise._pool import PSEUDO_PREVALENCE
from microtrial.denoise._types import DadaResult, Derep

if TYPE_CHECKING:
    from microtrial.parallel import DaskExecutor

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
BINNED_MAX_QUALITIES = 4  # a run with at most this many distinct scores has binned qualities


@dataclass(frozen=True, eq=False)
class DenoiseResult:
    """What :func:`denoise_samples` found.

    Attributes
    ----------
    counts : numpy.ndarray of int64, shape (n_samples, n_asvs)
        Reads of each ASV in each sample (all samples, in input order).
    sequences : list of str
        The ASVs, by decreasing total (ties: first seen).
    tracking : list of dict
        Per sample: ``denoised-f``, ``denoised-r`` (None for single-end), ``merged``,
        ``non-chimeric`` (reads in the final table).
    n_after_chimeras : int
        Reads in the table after bimera removal, before the ``min_reads`` floor.
    error_models : dict
        The fit used per read direction (``loess`` or ``monotone``).
    errors : dict
        The learned error matrices (16 x 41) per read direction.
    """

    counts: np.ndarray
    sequences: list[str]
    tracking: list[dict[str, int | None]]
    n_after_chimeras: int
    error_models: dict[str, str] = field(default_factory=dict)
    errors: dict[str, np.ndarray] = field(default_factory=dict)


def choose_error_model(setting: str, n_distinct_qualities: int | None) -> str:
    """``loess`` or ``monotone``: ``auto`` takes monotone when the run's reads carry at most
    :data:`BINNED_MAX_QUALITIES` distinct quality scores (NovaSeq/NextSeq binning)."""
    if setting != "auto":
        return setting
    if n_distinct_qualities is not None and 0 < n_distinct_qualities <= BINNED_MAX_QUALITIES:
        return "monotone"
    return "loess"


def _relabel(progress: ProgressCallback | None, label: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda _desc, done, total: progress(label, done, total)


def _n_denoised(dd: DadaResult | None, derep: Derep | None) -> int:
    """Reads assigned to a variant (DADA2's ``sum(getUniques(dada))``)."""
    if dd is None or derep is None or derep.n_reads == 0:
        return 0
    return int((dd.unique_to_asv[derep.read_to_unique] >= 0).sum())


def sequence_table(per_sample: Sequence[dict[str, int]]) -> tuple[np.ndarray, list[str]]:
    """Samples x sequences counts, sequences by decreasing total (ties: first seen)."""
    seen: dict[str, int] = {}
    for d in per_sample:
        for s in d:
            seen.setdefault(s, len(seen))
    seqs = list(seen)
    counts = np.zeros((len(per_sample), len(seqs)), dtype=np.int64)
    for i, d in enumerate(per_sample):
        for s, c in d.items():
            counts[i, seen[s]] = c
    order = np.lexsort((np.arange(len(seqs)), -counts.sum(axis=0))) if seqs else np.zeros(0, int)
    return counts[:, order], [seqs[j] for j in order]


def bimeras(counts: np.ndarray, seqs: list[str], s: DenoiseSettings, threads: int = 1) -> np.ndarray:
    """Bimera flags by ``chimera_method`` (R's ``removeBimeraDenovo``): ``consensus`` (the
    per-sample table test, minFoldParentOverAbundance 1.5 and minParentAbundance 2 unless
    set), ``pooled`` (one test on the totals, R's ``isBimeraDenovo`` defaults 2 and 8), or
    ``none``.  With ``dada2_compatible``, R DADA2 1.26's own bimera rule (``dada2_rule``: see
    :func:`microtrial.denoise.is_bimera_denovo_table`)."""
    from microtrial.denoise._chimera import is_bimera_denovo_table

    if s.chimera_method == "none" or not seqs:
        return np.zeros(len(seqs), np.bool_)
    if s.chimera_method == "pooled":
        fold = 2.0 if s.min_fold_parent_over_abundance is None else s.min_fold_parent_over_abundance
        return is_bimera_denovo_table(counts.sum(axis=0)[None, :], seqs,
                                      min_fold_parent_over_abundance=fold, min_parent_abundance=8,
                                      allow_one_off=s.chimera_one_off, threads=threads,
                                      dada2_rule=s.dada2_compatible)
    fold = 1.5 if s.min_fold_parent_over_abundance is None else s.min_fold_parent_over_abundance
    return is_bimera_denovo_table(counts, seqs, min_fold_parent_over_abundance=fold,
                                  allow_one_off=s.chimera_one_off, threads=threads,
                                  dada2_rule=s.dada2_compatible)


# ---- the per-sample engine -------------------------------------------------------------------
#
# Memory does not grow with the number of samples: only the samples the error model is learned
# from (DADA2's first ``nbases`` of the run, a fixed amount) are held in memory, and only while
# their direction's error model is learned (unless they are the whole run: then they stay, with
# their alignment caches, and nothing is read twice); every sample is then loaded (by the
# caller's source: read, filter, dereplicate) inside its own task, denoised, merged and
# reduced to a small result (sequence -> reads, tracking numbers), and its reads dropped.  Steps that need every sample work on those small results only: the
# pseudo-pooling priors (a first pass per sample gives each sample's variant sequences), the
# reverse-partner table (a first merge per sample gives its accepted pairs), the sequence
# table and bimera removal.  A streamed sample is therefore loaded once per pass (up to three
# times); its pass-two variants are kept, compressed, between the passes.  ``pool: all`` holds
# every sample (one partition of the pooled uniques): its memory grows with the run.

LEARN_NBASES = 1e8  # learn_errors' default: DADA2's learnErrors(nbases = 1e8)
TASK_BATCH = 64  # samples per batch of tasks (their results reduced before the next batch)


@dataclass(frozen=True, eq=False)
class SampleData:
    """One sample's dereplicated reads, as a sample source returns them.

    Attributes
    ----------
    derep_f, derep_r : Derep
        Forward and reverse reads (``derep_r`` None for single-end reads).
    meta : object
        Whatever the source wants back in the sample's order (e.g. its read counts and
        quality histograms); passed once per sample to :func:`run_samples`' ``keep_meta``.
    """

    derep_f: Derep
    derep_r: Derep | None
    meta: Any = None


SampleSource = Callable[[int], SampleData]


@dataclass(frozen=True, eq=False)
class _MemorySource:
    """Samples already dereplicated in memory (:func:`denoise_samples`)."""

    dereps_f: tuple[Derep, ...]
    dereps_r: tuple[Derep, ...] | None

    def __call__(self, i: int) -> SampleData:
        return SampleData(self.dereps_f[i], None if self.dereps_r is None else self.dereps_r[i])


@dataclass(frozen=True, eq=False)
class _Plan:
    """What a per-sample task does, and the run-wide objects it needs (sent to workers once)."""

    step: str  # "variants" (pseudo-pooling's first pass), "denoise", "merge"
    settings: DenoiseSettings
    paired: bool
    err_f: np.ndarray | None
    err_r: np.ndarray | None
    priors_f: frozenset[str] | None = None
    priors_r: frozenset[str] | None = None
    partners_follow: bool = False  # "denoise" only collects reverse partners; "merge" follows
    partners: dict[str, tuple[str, ...]] | None = None


def _dada_one(derep: Derep | None, err: np.ndarray | None,
              priors: frozenset[str] | None) -> DadaResult | None:
    import microtrial.denoise as stage  # (the package's names: tests may replace them)

    if derep is None or derep.n_reads == 0 or err is None:
        return None
    return stage.dada([derep], err=err, pool="none", priors=priors, threads=1)[0]


def _pack(df: DadaResult | None, dr: DadaResult | None) -> bytes:
    return zlib.compress(pickle.dumps((df, dr), protocol=pickle.HIGHEST_PROTOCOL), 1)


def _unpack(blob: bytes | tuple) -> tuple[DadaResult | None, DadaResult | None]:
    if isinstance(blob, tuple):
        return blob
    return pickle.loads(zlib.decompress(blob))  # noqa: S301 - our own bytes, this run


def _final(xf: Derep, xr: Derep | None, df: DadaResult | None, dr: DadaResult | None,
           plan: _Plan) -> tuple[dict[str, int], int, int | None]:
    """One sample's merged sequences -> reads, and its denoised read counts."""
    from microtrial.denoise._merge import merge_pairs

    s = plan.settings
    merged: dict[str, int] = {}
    den_r = None
    if plan.paired:
        den_r = _n_denoised(dr, xr)
        if df is not None and dr is not None and xr is not None:
            partners = plan.partners
            m = merge_pairs(df, xf, dr, xr, min_overlap=s.min_overlap, max_mismatch=s.max_mismatch,
                            err_r=plan.err_r if partners else None, partners_r=partners)
            merged = dict(zip(m.sequences, (int(a) for a in m.abundances)))
    elif df is not None:
        for q, a in zip(df.sequences, df.abundances):
            if a > 0:
                merged[q] = merged.get(q, 0) + int(a)
    return merged, _n_denoised(df, xf), den_r


def _sample_task(item: tuple[int, SampleData | None, Any, bool], source: SampleSource,
                 plan: _Plan) -> tuple:
    """One sample through one pass (see the engine's notes above); returns small results
    (the sample's ``meta`` first, or None when the engine has it already)."""
    from microtrial.denoise._merge import merge_pairs, reverse_partners

    i, data, dd, want_meta = item
    if data is None:
        data = source(i)
    xf, xr = data.derep_f, data.derep_r
    meta = data.meta if want_meta else None
    if plan.step == "variants":
        df = _dada_one(xf, plan.err_f, None)
        dr = _dada_one(xr, plan.err_r, None) if plan.paired else None
        return (meta, frozenset(df.sequences) if df is not None else frozenset(),
                frozenset(dr.sequences) if dr is not None else frozenset())
    if plan.step == "merge":
        df, dr = _unpack(dd)
    elif dd is not None:  # pool "all": variants split from the pooled partition
        df, dr = dd
    else:
        df = _dada_one(xf, plan.err_f, plan.priors_f)
        dr = _dada_one(xr, plan.err_r, plan.priors_r) if plan.paired else None
    if plan.step == "denoise" and plan.partners_follow:
        contrib: dict[str, tuple[str, ...]] = {}
        if df is not None and dr is not None and xr is not None:
            s = plan.settings
            m = merge_pairs(df, xf, dr, xr, min_overlap=s.min_overlap, max_mismatch=s.max_mismatch)
            contrib = reverse_partners([(df, dr, m)])
        return meta, contrib, _pack(df, dr)
    return (meta, *_final(xf, xr, df, dr, plan))


def _load_task(i: int, source: SampleSource) -> SampleData:
    return source(i)


def _learn_crossed(d: Derep | None, tally: list[float], nreads: int | None) -> bool:
    """Add a non-empty sample to a direction's learning tally (as :func:`learn_errors`
    chooses whole samples in order); True once the limit is crossed."""
    if d is None or d.n_reads == 0:
        return False
    tally[0] += float(sum(int(a) * len(q) for q, a in zip(d.sequences, d.abundances)))
    tally[1] += d.n_reads
    return tally[0] > LEARN_NBASES if nreads is None else tally[1] > nreads


def run_samples(
    source: SampleSource,
    n_samples: int,
    *,
    paired: bool,
    settings: DenoiseSettings | None = None,
    n_qualities: tuple[int | None, int | None]
    | Callable[[Sequence[SampleData], bool], tuple[int | None, int | None]] = (None, None),
    threads: int = 1,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | None = None,
    keep_meta: Callable[[Any], Any] | None = None,
) -> tuple[DenoiseResult, list[Any]]:
    """Denoise ``n_samples`` samples loaded one at a time by ``source`` (the engine of
    :func:`denoise_samples` and :func:`microtrial.denoise.denoise_reads`).

    Parameters
    ----------
    source : callable
        ``source(i) -> SampleData`` for sample ``i`` (0-based); a pure function of ``i``
        (it is called again for every pass over a sample that is not held in memory).
        Sent to Dask workers with cloudpickle when an executor is in use.
    n_samples : int
    paired : bool
    settings : DenoiseSettings
    n_qualities : tuple, or callable
        Distinct quality scores of the forward and reverse reads for ``error_model: auto``;
        or ``n_qualities(learning_samples, complete)`` that computes them from the samples
        the error model is learned from (``complete``: they are all the run's samples).
    threads : int
        Local threads (samples in parallel; results do not depend on it).
    executor : DaskExecutor, optional
        Where the per-sample tasks run (default: the current one, else local threads).
    progress : callable, optional
    keep_meta : callable, optional
        Called once per sample, in the engine's thread, on the sample's ``meta`` as it
        arrives; what it returns is kept for the sample (e.g. the caller sums the quality
        histograms and keeps the read counts, so that nothing large is kept per sample).
        Tasks run in batches of :data:`TASK_BATCH` samples whose results are reduced
        before the next batch starts.

    Returns
    -------
    (DenoiseResult, list)
        The result, and each sample's kept ``meta`` in input order.
    """
    import microtrial.denoise as stage
    from microtrial.parallel import current_executor, map_ordered

    s = (settings or DenoiseSettings()).effective()
    keep = keep_meta if keep_meta is not None else (lambda m: m)
    ex = executor if executor is not None else current_executor()
    threads = max(1, int(threads))
    n = int(n_samples)
    metas: list[Any] = [None] * n
    held: dict[int, SampleData] = {}

    # 1. the samples the error model is learned from (all of them for pool "all")
    batch = max(threads, ex.n_workers if ex is not None else 1)
    tallies = [[0.0, 0], [0.0, 0]]
    crossed = [False, not paired]
    k = 0
    while k < n and (s.pool == "all" or not all(crossed)):
        idx = list(range(k, min(n, k + batch)))
        got = map_ordered(_load_task, idx, shared=(source,), threads=threads, executor=ex)
        for i, d in zip(idx, got):
            held[i] = d
            metas[i] = keep(d.meta)
            if not crossed[0]:
                crossed[0] = _learn_crossed(d.derep_f, tallies[0], s.n_reads_learn)
            if not crossed[1]:
                crossed[1] = _learn_crossed(d.derep_r, tallies[1], s.n_reads_learn)
        k = idx[-1] + 1
        if progress is not None:
            progress("filter + dereplicate (error model samples)", k, n)
    complete = len(held) == n
    learning = [held[i] for i in sorted(held)]
    nq = n_qualities(learning, complete) if callable(n_qualities) else n_qualities
    models = {"forward": choose_error_model(s.error_model, nq[0])}
    if paired:
        models["reverse"] = choose_error_model(s.error_model, nq[1])
    for direction, model in models.items():
        if s.error_model == "auto" and model == "monotone":
            log.info("%s reads carry %d distinct quality scores (binned): monotone error fit",
                     direction, nq[0 if direction == "forward" else 1])
    # the learning samples' reads per direction; unless they are the whole run, nothing is
    # held past learning (each direction's reads and alignment caches are freed after its
    # fit), and every sample streams through the passes below
    per_direction = {direction: [d for d in (x.derep_f if direction == "forward" else x.derep_r
                                             for x in learning) if d is not None and d.n_reads > 0]
                     for direction in models}
    del learning
    if not complete:
        held.clear()
    errs: dict[str, np.ndarray] = {}
    for direction, model in models.items():
        chosen = per_direction.pop(direction)
        if chosen:
            errs[direction] = stage.learn_errors(
                chosen, nreads=s.n_reads_learn, threads=threads, error_model=model,
                progress=_relabel(progress, f"learn errors ({direction})"))
        del chosen
    err_f, err_r = errs.get("forward"), errs.get("reverse")
    plan = _Plan("denoise", s, paired, err_f, err_r)

    def run(step_plan: _Plan, extra: Sequence[Any] | None, desc: str) -> list[tuple]:
        out: list[tuple] = []
        size = max(TASK_BATCH, 2 * batch)
        if progress is not None:
            progress(desc, 0, n)
        for start in range(0, n, size):
            idx = range(start, min(n, start + size))
            items = [(i, held.get(i), None if extra is None else extra[i], metas[i] is None)
                     for i in idx]
            for i, r in zip(idx, map_ordered(_sample_task, items, shared=(source, step_plan),
                                             threads=threads, executor=ex)):
                if metas[i] is None:
                    metas[i] = keep(r[0])
                out.append((None, *r[1:]))  # the meta is kept once, reduced
            if progress is not None:
                progress(desc, idx[-1] + 1, n)
        return out

    # 2. pool "all": one partition of every sample's uniques (all held in memory)
    pooled: list[Any] | None = None
    if s.pool == "all":
        split: dict[str, list[DadaResult | None]] = {}
        for direction, err in errs.items():
            dereps = [held[i].derep_f if direction == "forward" else held[i].derep_r for i in range(n)]
            idx = [i for i, d in enumerate(dereps) if d is not None and d.n_reads > 0]
            res = stage.dada([d for d in dereps if d is not None and d.n_reads > 0], err=err, pool="all", threads=threads,
                             progress=_relabel(progress, f"denoise ({direction})"))
            split[direction] = [None] * n
            for i, r in zip(idx, res):
                split[direction][i] = r
        none: list[DadaResult | None] = [None] * n
        pooled = list(zip(split.get("forward", none), split.get("reverse", none)))
    # 3. pseudo-pooling's first pass: each sample's variants -> the priors
    elif s.pool == "pseudo":
        first = run(dataclasses.replace(plan, step="variants"), None, "denoise (first pass)")
        priors = []
        for j in (1, 2):
            prev = Counter(q for r in first for q in r[j])
            priors.append(frozenset(q for q, c in prev.items() if c >= PSEUDO_PREVALENCE))
        plan = dataclasses.replace(plan, priors_f=priors[0], priors_r=priors[1] if paired else None)
    # 4. denoise and merge each sample (with the reverse-partner check: collect the
    #    partners from a first merge, then merge again)
    if paired and s.reverse_partners:
        got = run(dataclasses.replace(plan, partners_follow=True), pooled, "denoise")
        partners: dict[str, set[str]] = {}
        for _meta, contrib, _blob in got:
            for f, rs in contrib.items():
                partners.setdefault(f, set()).update(rs)
        plan = dataclasses.replace(plan, step="merge",
                                   partners={f: tuple(sorted(v)) for f, v in partners.items()})
        blobs = [r[2] for r in got]
        del got
        final = run(plan, blobs, "merge")
    else:
        final = run(plan, pooled, "denoise")
    per_sample = [r[1] for r in final]
    tracking: list[dict[str, int | None]] = [
        {"denoised-f": r[2], "denoised-r": r[3], "merged": sum(r[1].values())} for r in final]
    return _table(per_sample, tracking, s, models, errs, threads), metas


def _table(per_sample: list[dict[str, int]], tracking: list[dict[str, int | None]],
           s: DenoiseSettings, models: dict[str, str], errs: dict[str, np.ndarray],
           threads: int = 1) -> DenoiseResult:
    """Sequence table, bimera removal (on ``threads``) and the ``min_reads`` floor."""
    counts, seqs = sequence_table(per_sample)
    bim = bimeras(counts, seqs, s, threads)
    if bim.any():
        log.info("%d of %d sequences are bimeras (%.1f%% of reads)", int(bim.sum()), len(seqs),
                 100.0 * counts[:, bim].sum() / max(counts.sum(), 1))
        counts = counts[:, ~bim]
        seqs = [q for q, b in zip(seqs, bim) if not b]
    n_after = int(counts.sum())
    if s.min_reads > 1 and seqs:
        rare = counts.sum(axis=0) < s.min_reads
        log.info("%d ASVs with fewer than %d reads in the run dropped (%d reads)", int(rare.sum()),
                 s.min_reads, int(counts[:, rare].sum()))
        counts = counts[:, ~rare]
        seqs = [q for q, r in zip(seqs, rare) if not r]
    for row, tot in zip(tracking, counts.sum(axis=1)):
        row["non-chimeric"] = int(tot)
    return DenoiseResult(counts, seqs, tracking, n_after, models, dict(errs))


def denoise_samples(
    dereps_f: Sequence[Derep],
    dereps_r: Sequence[Derep] | None = None,
    *,
    settings: DenoiseSettings | None = None,
    n_qualities: tuple[int | None, int | None] = (None, None),
    threads: int = 1,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | None = None,
) -> DenoiseResult:
    """Denoise samples (DADA2's workflow after ``filterAndTrim``) into an ASV table.

    Learns an error model per read direction, denoises every sample (``pool``), merges the
    pairs (with the reverse-partner check unless ``reverse_partners`` is off), builds the
    sequence table, removes bimeras and applies the ``min_reads`` floor.  The samples are
    processed one per task (:func:`microtrial.parallel.map_ordered`: local threads or the
    Dask cluster) by the engine :func:`run_samples`, which
    :func:`microtrial.denoise.denoise_reads` drives from FASTQ files.

    Parameters
    ----------
    dereps_f, dereps_r : sequence of Derep
        Filtered, dereplicated forward (and reverse) reads, one per sample, in the same
        sample order (``dereps_r`` None for single-end reads).
    settings : DenoiseSettings
        Options (``dada2_compatible`` is applied here).
    n_qualities : (int or None, int or None)
        Distinct quality scores in the run's forward and reverse reads, for
        ``error_model: auto``.
    threads : int
        Samples in parallel (results do not depend on it).
    executor : DaskExecutor, optional
        Where the per-sample tasks run (default: the current one, else local threads).
    progress : callable, optional
        ``progress(description, done, total)``.

    Returns
    -------
    DenoiseResult
    """
    dereps_f = tuple(dereps_f)
    dereps_r = None if dereps_r is None else tuple(dereps_r)
    if dereps_r is not None and len(dereps_r) != len(dereps_f):
        raise ValueError("dereps_f and dereps_r hold different numbers of samples")
    res, _ = run_samples(_MemorySource(dereps_f, dereps_r), len(dereps_f),
                         paired=dereps_r is not None, settings=settings, n_qualities=n_qualities,
                         threads=threads, executor=executor, progress=progress)
    return res
