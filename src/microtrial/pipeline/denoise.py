"""``microtrial denoise``: demultiplexed FASTQ files in, ASV table out (DADA2's workflow).

Steps: find samples by Illumina names -> per sample (one at a time, ``threads`` in
parallel; only dereplicated reads are kept): read, remove primers (optional), quality
histogram, filterAndTrim, dereplicate -> learn the error model per read direction -> denoise
(``dada``) -> merge pairs (re-choosing each pair class's reverse variant among the forward
variant's partners, :func:`microtrial.denoise._merge.partner_likelihood_choice`) ->
sequence table -> consensus bimera removal -> ASVs under ``min_reads`` dropped -> outputs.

Defaults differ from R DADA2's in four ways, each of which removed false or lost variants
on simulated V3-V4 studies (``benchmarks/denoise_simulated.py``): pseudo-pooling
(``pool="pseudo"``; R: independent samples), the merge-stage partner check (not in R),
bimeras one mismatch off flagged too (R's ``allowOneOff=FALSE``), and ASVs with fewer than
10 reads in the whole run dropped (QIIME 2 deblur's ``--p-min-reads`` default; R keeps
all).  ``pool="none", reverse_partners=False, chimera_one_off=False, min_reads=1`` is R's
behaviour.  The ``non-chimeric`` column of the read tracking counts the reads in the final
table (after the ``min_reads`` floor too).

When no truncation lengths are given, the files are read twice: once for the pooled
quality profiles and the amplicon lengths measured from the pairs' overlap, which choose
the lengths (see :func:`microtrial.reads.choose_trunc_len` and
:func:`microtrial.reads.planning_amplicon_length`), once to filter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microtrial.denoise import DenoiseSettings
from microtrial.derep import Derep
from microtrial.errors import InputError
from microtrial.names import POOL_METHODS
from microtrial.reads import (
    FilterParams,
    QualityHistogram,
    SampleFiles,
    amplicon_length_estimates,
    amplicon_length_from_primers,
    choose_trunc_len,
    dereplicate,
    filter_pair,
    find_samples,
    planning_amplicon_length,
    quality_histogram,
    quality_profile,
    read_pair,
    remove_primers,
)
from microtrial.seqs import check_primer_option

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
TRACKING_COLUMNS = ["sample-id", "input", "filtered", "denoised-f", "denoised-r", "merged", "non-chimeric"]


@dataclass(frozen=True)
class DenoiseOptions:
    """Options of :func:`denoise_stage` (DADA2's defaults except the four in the module docs)."""

    trunc_len_f: int | None = None  # None = automatic
    trunc_len_r: int | None = None
    trim_left_f: int = 0
    trim_left_r: int = 0
    max_len: int | None = None
    max_ee: tuple[float, float] = (2.0, 2.0)
    trunc_q: int = 2
    min_len: int = 20
    max_n: int = 0
    rm_phix: bool = True
    primer_f: str | None = None  # None = primers already removed
    primer_r: str | None = None
    discard_untrimmed: bool = True
    pool: str = "pseudo"  # DADA2's default is "none"; pseudo is as fast here and more exact
    min_overlap: int = 12
    max_mismatch: int = 0
    chimeras: bool = True
    amplicon_length: int | None = None
    reverse_partners: bool = True  # re-choose reverse variants among forward partners (not DADA2)
    chimera_one_off: bool = True  # also flag bimeras one mismatch off (DADA2's allowOneOff)
    min_reads: int = 10  # drop ASVs with fewer reads in the whole run (deblur's --p-min-reads 10)
    threads: int = 2
    n_reads_learn: int | None = None  # None: learnErrors' nbases = 1e8
    error_model: str = "auto"
    chimera_method: str = "consensus"
    min_fold_parent_over_abundance: float | None = None  # None: the chimera method's default
    dada2_compatible: bool = False

    def settings(self) -> DenoiseSettings:
        """The options as the stage's :class:`~microtrial.denoise.DenoiseSettings` (the
        values that differ from the defaults; one-line InputError naming the key)."""
        from microtrial.denoise import parse_settings

        defaults = DenoiseOptions()
        given = {k: v for k, v in asdict(self).items()
                 if k != "threads" and v != getattr(defaults, k)}
        if not self.chimeras:
            given["chimera_method"] = "none"
        given.pop("chimeras", None)
        return parse_settings(given)

    @classmethod
    def from_settings(cls, s: DenoiseSettings, threads: int = 2) -> DenoiseOptions:
        """Options from validated settings (the study file's ``reads:`` section)."""
        fields = {k: getattr(s, k) for k in cls.__dataclass_fields__ if k in type(s).model_fields}
        return cls(**fields, threads=threads)


@dataclass(frozen=True)
class DenoiseSummary:
    """What :func:`denoise_stage` did."""

    n_samples: int
    n_asvs: int
    tracking: pd.DataFrame
    trunc_len_f: int
    trunc_len_r: int | None
    timings: dict[str, float] = field(default_factory=dict)
    paired: bool = True


@dataclass
class _SampleOut:
    sample_id: str
    n_input: int
    derep_f: Derep
    derep_r: Derep | None
    hist_f: QualityHistogram
    hist_r: QualityHistogram | None


def _check_options(o: DenoiseOptions) -> None:
    if o.pool not in POOL_METHODS:
        raise InputError("--pool", f"'{o.pool}' is not one of {', '.join(POOL_METHODS)}")
    for name, v in (("--trunc-len-f", o.trunc_len_f), ("--trunc-len-r", o.trunc_len_r),
                    ("--trunc-q", o.trunc_q), ("--min-len", o.min_len), ("--max-n", o.max_n)):
        if v is not None and v < 0:
            raise InputError(name, f"must be >= 0, got {v}")
    if len(o.max_ee) != 2 or any(not (x > 0) for x in o.max_ee):
        raise InputError("--max-ee", f"needs two positive numbers, got {o.max_ee}")
    if o.min_overlap < 1:
        raise InputError("--min-overlap", f"must be >= 1, got {o.min_overlap}")
    if o.amplicon_length is not None and o.amplicon_length < o.min_overlap:
        raise InputError("--amplicon-length", f"must be at least the minimum overlap of the read pairs "
                         f"(--min-overlap {o.min_overlap}), got {o.amplicon_length}")
    if o.max_mismatch < 0:
        raise InputError("--max-mismatch", f"must be >= 0, got {o.max_mismatch}")
    if o.threads < 1:
        raise InputError("--threads", f"must be >= 1, got {o.threads}")
    if o.min_reads < 1:
        raise InputError("--min-reads", f"must be >= 1, got {o.min_reads}")
    if o.primer_r is not None and o.primer_f is None:
        raise InputError("--primer-f", "the reverse primer is given without the forward primer")
    check_primer_option("--primer-f", o.primer_f)
    check_primer_option("--primer-r", o.primer_r)


def _longest(hist: QualityHistogram) -> int:
    """Length of the longest read counted in ``hist`` (0 without reads)."""
    nonzero = np.flatnonzero(hist.lengths)
    return int(nonzero[-1]) if nonzero.size else 0


def _check_lengths(o: DenoiseOptions, tf: int, tr: int | None, hist_f: QualityHistogram,
                   hist_r: QualityHistogram | None) -> None:
    """Refuse truncation lengths no read reaches, and an overlap longer than the reads.

    As in DADA2's ``filterAndTrim``, a read shorter than its truncation length is dropped;
    when *every* read of the run is shorter, the option is at fault, not the data (a study
    where some samples lose all their reads still runs).
    """
    lengths = []
    for name, trunc, hist, what in (("--trunc-len-f", tf, hist_f, "forward"),
                                    ("--trunc-len-r", tr, hist_r, "reverse")):
        if hist is None or trunc is None or hist.n_reads == 0:
            continue
        longest = _longest(hist)
        if trunc > longest:
            after = " after primer removal" if o.primer_f is not None else ""
            raise InputError(name, f"{trunc} is longer than every {what} read (the longest is "
                             f"{longest} nt{after}): no read would survive filtering")
        lengths.append(trunc or longest)
    if hist_r is not None and len(lengths) == 2 and o.min_overlap > min(lengths):
        raise InputError("--min-overlap", f"{o.min_overlap} is longer than the reads "
                         f"({lengths[0]} nt forward, {lengths[1]} nt reverse after truncation): "
                         "no pair could merge")


def _load(files: SampleFiles, o: DenoiseOptions):  # noqa: ANN202
    fwd, rev = read_pair(files)
    n_input = fwd.n_reads
    if o.primer_f is not None:
        fwd, rev, stats = remove_primers(
            fwd, rev, primer_f=o.primer_f, primer_r=o.primer_r, discard_untrimmed=o.discard_untrimmed
        )
        log.info("%s: primers found in %d of %d reads (%d pairs swapped)",
                 files.sample_id, stats.n_trimmed, stats.n_input, stats.n_swapped)
    return n_input, fwd, rev


def _profile_sample(files: SampleFiles, o: DenoiseOptions):  # noqa: ANN202
    _, fwd, rev = _load(files, o)
    amp = np.zeros(0, dtype=np.int64)
    n_examined = 0
    if rev is not None and fwd.n_reads:
        n_examined = min(fwd.n_reads, rev.n_reads)
        amp = amplicon_length_estimates(fwd, rev, max_pairs=n_examined)
    hf = quality_histogram(fwd)
    hr = None if rev is None else quality_histogram(rev)
    return hf, hr, amp, n_examined


def _process_sample(files: SampleFiles, o: DenoiseOptions, tf: int, tr: int | None) -> _SampleOut:
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


def _map(fn: Callable[[Any], Any], items: list[Any], threads: int, progress: ProgressCallback | None, desc: str) -> list[Any]:
    """Per-sample work on local threads, or on the Dask cluster ``microtrial run`` set up."""
    from microtrial.parallel import map_ordered

    return map_ordered(fn, items, threads=threads, progress=progress, desc=desc)


def _read_loss(track: pd.DataFrame, paired: bool, *, o: DenoiseOptions | None = None,
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


def denoise_stage(
    reads_dir: Path,
    out_dir: Path,
    *,
    options: DenoiseOptions = DenoiseOptions(),
    progress: ProgressCallback | None = None,
) -> DenoiseSummary:
    """Denoise a folder of demultiplexed FASTQ files into an ASV table.

    Writes into ``out_dir``: ``feature-table.biom``, ``feature-table.tsv``,
    ``dna-sequences.fasta`` (ids = md5 of the sequence), ``read-tracking.tsv`` (every
    sample, also those that lost all their reads), ``quality-profile-f.tsv`` /
    ``quality-profile-r.tsv`` (pooled raw-read profiles), ``run-info.json``.

    Parameters
    ----------
    reads_dir : Path
        Folder of FASTQ(.gz) files, paired by Illumina names (or single-end).
    out_dir : Path
        Output folder (created if needed).
    options : DenoiseOptions
    progress : callable, optional
        ``progress(description, done, total)``.

    Returns
    -------
    DenoiseSummary

    Raises
    ------
    InputError
        A bad option or input file (naming the file and, where known, the line).
    """
    from microtrial.denoise import denoise_samples
    from microtrial.io._atomic import atomic_open
    from microtrial.io.fasta import sequence_id, write_fasta
    from microtrial.io.feature_table import write_biom, write_table_tsv
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.table import FeatureTable

    o = options
    _check_options(o)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    samples = find_samples(reads_dir)
    paired = samples[0].r2 is not None
    if not paired and (o.trunc_len_r is not None):
        log.warning("single-end reads: --trunc-len-r is ignored")
    sample_ids = [s.sample_id for s in samples]
    threads = max(1, int(o.threads))

    # ---- truncation lengths -------------------------------------------------------------
    tf, tr = o.trunc_len_f, (o.trunc_len_r if paired else None)
    amplicon = o.amplicon_length
    auto = tf is None or (paired and tr is None)
    t0 = time.perf_counter()
    if auto:
        prof = _map(lambda s: _profile_sample(s, o), samples, threads, progress, "quality profiles")
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

    # ---- read, trim, filter, dereplicate: one sample at a time -------------------------------
    t0 = time.perf_counter()
    outs: list[_SampleOut] = _map(lambda s: _process_sample(s, o, int(tf or 0), tr), samples, threads,
                                  progress, "filter + dereplicate")
    timings["filter_derep"] = round(time.perf_counter() - t0, 3)
    hist_f = sum((x.hist_f for x in outs), QualityHistogram.empty())
    hist_r = (sum((x.hist_r for x in outs if x.hist_r is not None), QualityHistogram.empty())
              if paired else None)
    _check_lengths(o, int(tf or 0), tr, hist_f, hist_r)

    # ---- denoise, merge, table, chimeras: the stage's entry point ---------------------------
    t0 = time.perf_counter()
    settings = o.settings()
    nq = tuple(None if h is None else int((h.counts.sum(axis=0) > 0).sum()) for h in (hist_f, hist_r))
    res = denoise_samples([x.derep_f for x in outs], [x.derep_r for x in outs] if paired else None,  # type: ignore[misc]
                          settings=settings, n_qualities=nq, threads=threads, progress=progress)  # type: ignore[arg-type]
    timings["denoise"] = round(time.perf_counter() - t0, 3)
    counts, seqs, n_after_chimeras = res.counts, res.sequences, res.n_after_chimeras
    tracking = [[x.sample_id, x.n_input, x.derep_f.n_reads, t["denoised-f"], t["denoised-r"],
                 t["merged"], t["non-chimeric"]] for x, t in zip(outs, res.tracking)]
    track = pd.DataFrame(tracking, columns=TRACKING_COLUMNS)
    if not paired:  # same columns as for pairs (a stable schema); no reverse reads
        track["denoised-r"] = pd.NA
    if not seqs:  # nothing to write: say where the reads went, before any output exists
        lost = _read_loss(track, paired, o=o, trunc=(tf, tr), n_after_chimeras=n_after_chimeras)
        raise InputError(reads_dir, f"no ASV left in any sample: {lost}")
    for i, r in track.iterrows():
        if r["non-chimeric"] == 0:
            log.warning("sample %s has no reads left: %s", r["sample-id"],
                        _read_loss(track.loc[[i]], paired))

    # ---- write ------------------------------------------------------------------------------
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    start_output(out_dir, command="denoise")
    ids = [sequence_id(s) for s in seqs]
    keep_samples = counts.sum(axis=1) > 0
    kept_ids = [s for s, k in zip(sample_ids, keep_samples) if k]
    table_df = pd.DataFrame(counts[keep_samples].T, index=ids, columns=kept_ids)
    table = FeatureTable.from_dataframe(table_df)
    biom, tsv, fasta, track_path, qual_f, qual_r = (out_dir / n for n in (
        "feature-table.biom", "feature-table.tsv", "dna-sequences.fasta", "read-tracking.tsv",
        "quality-profile-f.tsv", "quality-profile-r.tsv"))
    write_biom(table, biom)
    write_table_tsv(table, tsv)
    write_fasta(dict(zip(ids, seqs)), fasta)
    with atomic_open(track_path) as fh:
        track.to_csv(fh, sep="\t", index=False)
    with atomic_open(qual_f) as fh:
        quality_profile(hist_f).to_csv(fh, sep="\t", index=False)
    written = [biom, tsv, fasta, track_path, qual_f]
    if hist_r is not None:
        with atomic_open(qual_r) as fh:
            quality_profile(hist_r).to_csv(fh, sep="\t", index=False)
        written.append(qual_r)
    timings["write"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - t_all, 3)
    opts = asdict(o)
    write_run_info(
        out_dir, command="denoise", options={"reads_dir": str(reads_dir), **opts}, timings=timings,
        extra={"truncation": {"trunc_len_f": tf, "trunc_len_r": tr, "automatic": auto,
                              "amplicon_length": amplicon},
               "settings": settings.effective().model_dump(mode="json"),
               "error_models": res.error_models,
               "paired": paired, "n_samples": len(samples), "n_asvs": len(seqs)},
        outputs=written,
    )
    return DenoiseSummary(len(samples), len(seqs), track, int(tf or 0), tr, timings, paired)
