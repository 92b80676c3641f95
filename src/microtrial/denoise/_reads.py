"""The denoise step from FASTQ pairs: read, trim, filter, dereplicate, then denoise.

:func:`denoise_reads` is the entry point of ``microtrial denoise``.  Samples stream: per
sample (one per task, on local threads or the Dask cluster of
:func:`microtrial.parallel.map_ordered`) it reads the pair, removes primers (optional),
counts the quality histogram, filters (DADA2's filterAndTrim) and dereplicates; the
denoising engine (:func:`microtrial.denoise._samples.run_samples`) holds only the samples
the error model is learned from and denoises and merges every other sample in its own
task, reading it again for each pass it needs, so memory does not grow with the number of
samples (except with ``pool: all``, which partitions every sample's uniques at once).
Then the read-tracking table.

The FASTQ files are read here through :mod:`microtrial.reads`' public readers rather than
passed in memory: a sample's raw reads are dropped as soon as it is dereplicated, and its
dereplicated reads as soon as its task ends, which a pure in-memory interface (all runs'
reads in memory at once) could not do.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from microtrial.denoise._options import DenoiseSettings
from microtrial.denoise._samples import DenoiseResult, SampleData, run_samples
from microtrial.derep import Derep
from microtrial.errors import OptionError
from microtrial.reads import (
    FilterParams,
    QualityHistogram,
    SampleFiles,
    amplicon_length_estimates,
    amplicon_length_from_primers,
    choose_trunc_len,
    dereplicate,
    filter_pair,
    planning_amplicon_length,
    quality_histogram,
    read_pair,
    remove_primers,
)

if TYPE_CHECKING:
    from microtrial.parallel import DaskExecutor

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
TRACKING_COLUMNS = ["sample-id", "input", "filtered", "denoised-f", "denoised-r", "merged", "non-chimeric"]


@dataclass(frozen=True, eq=False)
class ReadsDenoiseResult:
    """What :func:`denoise_reads` found.

    Attributes
    ----------
    result : DenoiseResult
        The ASV table, sequences, per-sample tracking and error models.
    tracking : pandas.DataFrame
        Read tracking (columns :data:`TRACKING_COLUMNS`), one row per sample in input order;
        ``denoised-r`` is NA for single-end reads.
    hist_f, hist_r : QualityHistogram
        Pooled raw-read (after primer removal) quality histograms; ``hist_r`` None when
        single-end.
    trunc_len_f, trunc_len_r : int or None
        The truncation lengths used (chosen from the quality profiles when not given).
    automatic : bool
        Whether a truncation length was chosen automatically.
    amplicon_length : int or None
        The amplicon length given or estimated for the automatic choice.
    paired : bool
    lost : str or None
        When no ASV is left in any sample: at which step the reads were lost and what to
        check (the caller names the input in its error); else None.
    timings : dict
    """

    result: DenoiseResult
    tracking: pd.DataFrame
    hist_f: QualityHistogram
    hist_r: QualityHistogram | None
    trunc_len_f: int | None
    trunc_len_r: int | None
    automatic: bool
    amplicon_length: int | None
    paired: bool
    lost: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _SampleOut:
    sample_id: str
    n_input: int
    derep_f: Derep
    derep_r: Derep | None
    hist_f: QualityHistogram
    hist_r: QualityHistogram | None


@dataclass(frozen=True)
class _SampleMeta:
    """What the read tracking and the pooled profiles need of a sample (kept per sample)."""

    sample_id: str
    n_input: int
    n_filtered: int
    hist_f: QualityHistogram | None  # None once added to the run's histogram
    hist_r: QualityHistogram | None


@dataclass(frozen=True, eq=False)
class _FileSource:
    """Sample ``i``'s reads: read, remove primers, filter, dereplicate (a pure function of
    ``i``; :func:`microtrial.denoise._samples.run_samples` calls it once per pass)."""

    samples: tuple[SampleFiles, ...]
    settings: DenoiseSettings
    trunc_len_f: int
    trunc_len_r: int | None

    def __call__(self, i: int) -> SampleData:
        x = _process_sample(self.samples[i], self.settings, self.trunc_len_f, self.trunc_len_r)
        meta = _SampleMeta(x.sample_id, x.n_input, x.derep_f.n_reads, x.hist_f, x.hist_r)
        return SampleData(x.derep_f, x.derep_r, meta)


def _n_qualities(hist: QualityHistogram | None) -> int | None:
    """Distinct quality scores counted in ``hist`` (None without it)."""
    return None if hist is None else int((hist.counts.sum(axis=0) > 0).sum())


def _longest(hist: QualityHistogram) -> int:
    """Length of the longest read counted in ``hist`` (0 without reads)."""
    nonzero = np.flatnonzero(hist.lengths)
    return int(nonzero[-1]) if nonzero.size else 0


def _check_lengths(o: DenoiseSettings, tf: int, tr: int | None, hist_f: QualityHistogram,
                   hist_r: QualityHistogram | None) -> None:
    """Refuse truncation lengths no read reaches, and an overlap longer than the reads.

    As in DADA2's ``filterAndTrim``, a read shorter than its truncation length is dropped;
    when *every* read of the run is shorter, the option is at fault, not the data (a study
    where some samples lose all their reads still runs).
    """
    lengths = []
    for name, trunc, hist, what in (("reads.trunc_len_f", tf, hist_f, "forward"),
                                    ("reads.trunc_len_r", tr, hist_r, "reverse")):
        if hist is None or trunc is None or hist.n_reads == 0:
            continue
        longest = _longest(hist)
        if trunc > longest:
            after = " after primer removal" if o.primer_f is not None else ""
            raise OptionError(name, f"{trunc} is longer than every {what} read (the longest is "
                             f"{longest} nt{after}): no read would survive filtering")
        lengths.append(trunc or longest)
    if hist_r is not None and len(lengths) == 2 and o.min_overlap > min(lengths):
        raise OptionError("reads.min_overlap", f"{o.min_overlap} is longer than the reads "
                         f"({lengths[0]} nt forward, {lengths[1]} nt reverse after truncation): "
                         "no pair could merge")


def _load(files: SampleFiles, o: DenoiseSettings):  # noqa: ANN202
    fwd, rev = read_pair(files)
    n_input = fwd.n_reads
    if o.primer_f is not None:
        fwd, rev, stats = remove_primers(
            fwd, rev, primer_f=o.primer_f, primer_r=o.primer_r, discard_untrimmed=o.discard_untrimmed
        )
        log.info("%s: primers found in %d of %d reads (%d pairs swapped)",
                 files.sample_id, stats.n_trimmed, stats.n_input, stats.n_swapped)
    return n_input, fwd, rev


def _profile_sample(files: SampleFiles, o: DenoiseSettings):  # noqa: ANN202
    _, fwd, rev = _load(files, o)
    amp = np.zeros(0, dtype=np.int64)
    n_examined = 0
    if rev is not None and fwd.n_reads:
        n_examined = min(fwd.n_reads, rev.n_reads)
        amp = amplicon_length_estimates(fwd, rev, max_pairs=n_examined)
    hf = quality_histogram(fwd)
    hr = None if rev is None else quality_histogram(rev)
    return hf, hr, amp, n_examined


def _process_sample(files: SampleFiles, o: DenoiseSettings, tf: int, tr: int | None) -> _SampleOut:
    n_input, fwd, rev = _load(files, o)
    hf = quality_histogram(fwd)
    hr = None if rev is None else quality_histogram(rev)
    pf = FilterParams(trunc_len=tf, trunc_q=o.trunc_q, max_ee=o.max_ee[0], max_n=o.max_n,
                      min_len=o.min_len, rm_phix=o.rm_phix, trim_left=o.trim_left_f,
                      max_len=o.max_len)
    pr = FilterParams(trunc_len=tr or 0, trunc_q=o.trunc_q, max_ee=o.max_ee[1], max_n=o.max_n,
                      min_len=o.min_len, rm_phix=o.rm_phix, trim_left=o.trim_left_r,
                      max_len=o.max_len)
    ff, fr = filter_pair(fwd, rev, pf, pr)
    return _SampleOut(files.sample_id, n_input, dereplicate(ff), None if fr is None else dereplicate(fr), hf, hr)


def read_loss(track: pd.DataFrame, paired: bool, *, o: DenoiseSettings | None = None,
              trunc: tuple[int | None, int | None] = (None, None),
              n_after_chimeras: int | None = None) -> str:
    """At which step the reads of ``track`` (read-tracking rows whose ``non-chimeric``
    total is 0) were lost, with the tracking totals; with ``o``, what to check."""
    tot = {c: int(pd.to_numeric(track[c]).fillna(0).sum()) for c in TRACKING_COLUMNS[1:]}
    den = (f"denoised-f {tot['denoised-f']}, denoised-r {tot['denoised-r']}" if paired
           else f"denoised {tot['denoised-f']}")
    numbers = (f"input {tot['input']}, filtered {tot['filtered']}, {den}, merged {tot['merged']}, "
               f"non-chimeric {tot['non-chimeric']}")
    tf, tr = trunc
    why = ""
    if tot["input"] == 0:
        step = "reading: the files hold no reads"
    elif tot["filtered"] == 0:
        step = "quality filtering"
        if o is not None:
            used = "/".join(f"{t} nt" if t else "none" for t in ((tf, tr) if paired else (tf,)))
            opt = "--trunc-len-f/--trunc-len-r" if paired else "--trunc-len-f"
            why = (f": check {opt} (used {used}), --trunc-q "
                   f"{o.trunc_q}, --max-ee {o.max_ee[0]:g} {o.max_ee[1]:g}, --min-len {o.min_len}, "
                   f"--max-n {o.max_n}")
            if o.primer_f is not None:
                step = "primer removal and quality filtering"
                why += " and the primers (pairs without them are discarded unless --keep-untrimmed)"
    elif tot["denoised-f"] == 0 or (paired and tot["denoised-r"] == 0):
        step = "denoising"
        why = ": no read was assigned to a sequence variant"
    elif tot["merged"] == 0:
        step = "merging"
        if o is not None:
            lens = ", ".join(f"{t} nt" if t else "untruncated" for t in (tf, tr))
            why = (f": no pair's reads ({lens}) overlap by at least "
                   f"--min-overlap {o.min_overlap} nt with at most --max-mismatch "
                   f"{o.max_mismatch} mismatches; are the reads long enough to overlap across "
                   "the amplicon?")
    elif n_after_chimeras == 0:
        step = "chimera removal"
        why = ": every merged sequence was flagged as a bimera (--no-chimera-removal keeps them)"
    elif o is not None and n_after_chimeras is not None:
        step = "the --min-reads floor"
        why = (f": every ASV had fewer than --min-reads {o.min_reads} reads in the whole run "
               f"({n_after_chimeras} reads in all; --min-reads 1 keeps them)")
    else:
        step = "chimera removal or the --min-reads floor"
    what = "read pairs" if paired else "reads"
    return f"all {tot['input']} {what} were lost at {step} ({numbers}){why}"


def denoise_reads(
    samples: Sequence[SampleFiles],
    *,
    settings: DenoiseSettings,
    threads: int = 1,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | None = None,
) -> ReadsDenoiseResult:
    """Denoise demultiplexed FASTQ samples into ASVs (the ``denoise`` step's entry point).

    Reads each sample through :func:`microtrial.reads.read_pair` (see the module docs for
    why the files are read here), removes primers, filters and dereplicates it, one sample
    per task; when a truncation length is not given, the files are read once before for the
    pooled quality profiles and the amplicon lengths measured from the pairs' overlap, which
    choose it (:func:`microtrial.reads.choose_trunc_len`,
    :func:`microtrial.reads.planning_amplicon_length`).  Then the streaming engine of
    :func:`denoise_samples` (error models from the first samples, as DADA2's
    ``learnErrors``; every other sample read again for each pass: pseudo-pooling's first
    pass, denoising and a first merge, the merge with the reverse-partner check) and the
    read tracking.

    With ``error_model: auto`` and given truncation lengths, the distinct quality scores
    that choose the fit are counted in the samples the error model is learned from (the
    reads it is fitted to); with automatic truncation, in the whole run's profiles.  The
    truncation-length checks use the whole run's reads (after denoising when the error
    model samples are not all of them).

    Parameters
    ----------
    samples : sequence of SampleFiles
        The samples' FASTQ files (all paired or all single-end), e.g. from
        :func:`microtrial.reads.find_samples`.
    settings : DenoiseSettings
    threads : int
        Local threads (per-sample work and denoising).
    executor : DaskExecutor, optional
        Where to run the per-sample work (default: the current one, else local threads).
    progress : callable, optional
        ``progress(description, done, total)``.

    Returns
    -------
    ReadsDenoiseResult
        With ``lost`` set (and an empty table) when no ASV is left in any sample.

    Raises
    ------
    InputError
        An unreadable FASTQ file, or truncation lengths no read reaches / a minimum overlap
        longer than the truncated reads (naming the option).
    """
    from microtrial.parallel import map_ordered

    o = settings
    samples = list(samples)
    timings: dict[str, float] = {}
    paired = samples[0].r2 is not None
    threads = max(1, int(threads))

    tf, tr = o.trunc_len_f, (o.trunc_len_r if paired else None)
    amplicon = o.amplicon_length
    auto = tf is None or (paired and tr is None)
    t0 = time.perf_counter()
    if auto:
        prof = map_ordered(_profile_sample, samples, shared=(o,), threads=threads,
                           executor=executor, progress=progress, desc="quality profiles")
        hf_all = sum((p[0] for p in prof), QualityHistogram.empty())
        hr_all = sum((p[1] for p in prof), QualityHistogram.empty()) if paired else None
        if paired and amplicon is None:
            # plan for the long end of the measured lengths; the primers' typical length
            # only when the reads do not overlap enough to measure them
            amplicon = planning_amplicon_length(np.concatenate([p[2] for p in prof]),
                                                sum(p[3] for p in prof))
            if amplicon is None:
                amplicon = amplicon_length_from_primers(o.primer_f, o.primer_r)
            if amplicon is None:
                log.warning("could not estimate the amplicon length from the read overlap")
        af, ar = choose_trunc_len(hf_all, hr_all, max_ee=o.max_ee, amplicon_length=amplicon)
        tf = af if tf is None else tf
        if paired and tr is None:
            tr = ar
        log.info("automatic truncation: forward %s, reverse %s (amplicon %s)", tf, tr, amplicon)
        timings["quality_profiles"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    source = _FileSource(tuple(samples), o, int(tf or 0), tr)
    if auto:  # the profiles are the run's: check and count the qualities before denoising
        _check_lengths(o, int(tf or 0), tr, hf_all, hr_all)
        nq: Any = (_n_qualities(hf_all), _n_qualities(hr_all))
    else:
        def nq(learning: Sequence[SampleData], complete: bool) -> tuple[int | None, int | None]:
            hf = sum((d.meta.hist_f for d in learning if d.meta.hist_f is not None),
                     QualityHistogram.empty())
            hr = (sum((d.meta.hist_r for d in learning if d.meta.hist_r is not None),
                      QualityHistogram.empty()) if paired else None)
            if complete:  # every sample is read already: refuse bad lengths before denoising
                _check_lengths(o, int(tf or 0), tr, hf, hr)
            return _n_qualities(hf), _n_qualities(hr)

    pooled = [QualityHistogram.empty(), QualityHistogram.empty()]

    def keep(m: _SampleMeta) -> _SampleMeta:  # the run's histograms, not one per sample
        for k, h in enumerate((m.hist_f, m.hist_r)):
            if h is not None:
                pooled[k] = pooled[k] + h
        return dataclasses.replace(m, hist_f=None, hist_r=None)

    res, metas = run_samples(source, len(samples), paired=paired, settings=o, n_qualities=nq,
                             threads=threads, executor=executor, progress=progress, keep_meta=keep)
    timings["denoise"] = round(time.perf_counter() - t0, 3)
    hist_f = pooled[0]
    hist_r = pooled[1] if paired else None
    _check_lengths(o, int(tf or 0), tr, hist_f, hist_r)
    tracking = [[m.sample_id, m.n_input, m.n_filtered, t["denoised-f"], t["denoised-r"],
                 t["merged"], t["non-chimeric"]] for m, t in zip(metas, res.tracking)]
    track = pd.DataFrame(tracking, columns=TRACKING_COLUMNS)
    if not paired:  # same columns as for pairs (a stable schema); no reverse reads
        track["denoised-r"] = pd.NA
    lost = None
    if not res.sequences:
        lost = read_loss(track, paired, o=o, trunc=(tf, tr), n_after_chimeras=res.n_after_chimeras)
    else:
        for i, r in track.iterrows():
            if r["non-chimeric"] == 0:
                log.warning("sample %s has no reads left: %s", r["sample-id"],
                            read_loss(track.loc[[i]], paired))
    return ReadsDenoiseResult(res, track, hist_f, hist_r, tf, tr, auto, amplicon, paired, lost, timings)
