"""``microtrial denoise``: demultiplexed FASTQ files in, ASV table out (DADA2's workflow).

Steps: find samples by Illumina names (or a manifest) -> the stage's entry point
:func:`microtrial.denoise.denoise_reads` (per sample: read, remove primers, quality histogram,
filterAndTrim, dereplicate; then error models, ``dada``, merging with the partner check of
:func:`microtrial.denoise.reverse_partners`, sequence table, consensus bimera removal, the
``min_reads`` floor, read tracking) -> outputs.

Defaults differ from R DADA2's in four ways, each of which removed false or lost variants
on simulated V3-V4 studies (``benchmarks/denoise_simulated.py``): pseudo-pooling
(``pool="pseudo"``; R: independent samples), the merge-stage partner check (not in R),
bimeras one mismatch off flagged too (R's ``allowOneOff=FALSE``), and ASVs with fewer than
10 reads in the whole run dropped (QIIME 2 deblur's ``--p-min-reads`` default; R keeps
all).  ``pool="none", reverse_partners=False, chimera_one_off=False, min_reads=1`` is R's
behaviour.  The ``non-chimeric`` column of the read tracking counts the reads in the final
table (after the ``min_reads`` floor too).

Memory does not grow with the number of samples: only the samples the error model is
learned from (DADA2's first 1e8 bases, or ``--n-reads-learn`` reads) are held; every
other sample is read, denoised and merged in its own task and only its merged counts are
kept (it is read again for each pass it needs: pseudo-pooling's two passes and the
partner check's two merges).  ``pool="all"`` cannot stream: it partitions the uniques of
every sample at once, so its memory grows with the run.

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

import pandas as pd

from microtrial.denoise import DenoiseSettings, denoise_reads
from microtrial.errors import InputError, OptionError
from microtrial.names import POOL_METHODS
from microtrial.options import mention
from microtrial.reads import find_samples, quality_profile
from microtrial.seqs import check_primer_option

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]


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


def _check_options(o: DenoiseOptions) -> None:
    if o.pool not in POOL_METHODS:
        raise OptionError("reads.pool", f"'{o.pool}' is not one of {', '.join(POOL_METHODS)}")
    for name, v in (("reads.trunc_len_f", o.trunc_len_f), ("reads.trunc_len_r", o.trunc_len_r),
                    ("reads.trunc_q", o.trunc_q), ("reads.min_len", o.min_len), ("reads.max_n", o.max_n)):
        if v is not None and v < 0:
            raise OptionError(name, f"must be >= 0, got {v}")
    if len(o.max_ee) != 2 or any(not (x > 0) for x in o.max_ee):
        raise OptionError("reads.max_ee", f"needs two positive numbers, got {o.max_ee}")
    if o.min_overlap < 1:
        raise OptionError("reads.min_overlap", f"must be >= 1, got {o.min_overlap}")
    if o.amplicon_length is not None and o.amplicon_length < o.min_overlap:
        raise OptionError("reads.amplicon_length", f"must be at least the minimum overlap of the read pairs "
                         f"({mention('reads.min_overlap')} {o.min_overlap}), got {o.amplicon_length}")
    if o.max_mismatch < 0:
        raise OptionError("reads.max_mismatch", f"must be >= 0, got {o.max_mismatch}")
    if o.threads < 1:
        raise OptionError("options.threads", f"must be >= 1, got {o.threads}")
    if o.min_reads < 1:
        raise OptionError("reads.min_reads", f"must be >= 1, got {o.min_reads}")
    if o.primer_r is not None and o.primer_f is None:
        raise OptionError("reads.primer_f", "the reverse primer is given without the forward primer")
    check_primer_option("reads.primer_f", o.primer_f)
    check_primer_option("reads.primer_r", o.primer_r)


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
    from microtrial.io._atomic import atomic_open
    from microtrial.io.fasta import sequence_id, write_fasta
    from microtrial.io.feature_table import write_biom, write_table_tsv
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.table import FeatureTable

    o = options
    _check_options(o)
    t_all = time.perf_counter()
    samples = find_samples(reads_dir)
    paired = samples[0].r2 is not None
    if not paired and (o.trunc_len_r is not None):
        log.warning("single-end reads: --trunc-len-r is ignored")
    sample_ids = [s.sample_id for s in samples]
    settings = o.settings()
    dr = denoise_reads(samples, settings=settings, threads=o.threads, progress=progress)
    if dr.lost is not None:  # nothing to write: say where the reads went, before any output exists
        raise InputError(reads_dir, f"no ASV left in any sample: {dr.lost}")
    res, track, hist_f, hist_r = dr.result, dr.tracking, dr.hist_f, dr.hist_r
    counts, seqs = res.counts, res.sequences
    tf, tr, auto, amplicon = dr.trunc_len_f, dr.trunc_len_r, dr.automatic, dr.amplicon_length
    timings = dict(dr.timings)

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
