"""``microtrial denoise READS_DIR -o DIR``: FASTQ files to an ASV table (DADA2's method)."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import output_option, progress_bars
from microtrial.names import CHIMERA_METHODS, ERROR_MODELS, POOL_METHODS


@click.command(name="denoise")
@click.argument("reads_dir", type=click.Path(path_type=Path))
@output_option
@click.option("--trunc-len-f", type=int, default=None, help="Truncate forward reads to this length (default: chosen from the quality profile).")
@click.option("--trunc-len-r", type=int, default=None, help="Truncate reverse reads to this length (default: chosen from the quality profile).")
@click.option("--trim-left-f", type=int, default=None, help="Remove this many bases from the start of forward reads (q2-dada2's --p-trim-left-f; default 0).")
@click.option("--trim-left-r", type=int, default=None, help="Remove this many bases from the start of reverse reads (default 0).")
@click.option("--max-len", type=int, default=None, help="Drop reads longer than this before trimming (DADA2's maxLen; default: no limit).")
@click.option("--max-ee", nargs=2, type=float, default=None, help="Maximum expected errors, forward and reverse (default 2 2).")
@click.option("--trunc-q", type=int, default=None, help="Cut reads at the first base with Phred quality <= this (0-41, as in the study file; default 2).")
@click.option("--min-len", type=int, default=None, help="Drop reads shorter than this after trimming (default 20).")
@click.option("--max-n", type=int, default=None, help="Drop reads with more than this many N (default 0).")
@click.option("--phix-removal/--no-phix-removal", "rm_phix", default=None, help="Drop reads matching the PhiX genome (default: on).")
@click.option("--primer-f", default=None, help="Forward primer 5'->3' (IUPAC) to remove; default: primers already removed.")
@click.option("--primer-r", default=None, help="Reverse primer 5'->3' (IUPAC) to remove.")
@click.option("--keep-untrimmed", is_flag=True, default=False, help="Keep pairs where a primer was not found (default: discard them).")
@click.option("--n-reads-learn", type=int, default=None, help="Reads used to learn the error model: whole samples in order until more than this many (q2-dada2's --p-n-reads-learn; default: DADA2's 1e8 bases).")
@click.option("--error-model", type=click.Choice(ERROR_MODELS), default=None, help="Error-rate fit: DADA2's loess, or rates that never rise with quality (for binned NovaSeq/NextSeq scores); auto = monotone when the run has at most 4 distinct quality scores (default: auto; loess with --dada2-compatible).")
@click.option("--pool", type=click.Choice(POOL_METHODS), default=None, help="Denoise samples independently (DADA2's default), pseudo-pooled (variants found in any sample are priors in all), or pooled (default: pseudo).")
@click.option("--min-overlap", type=int, default=None, help="Minimum overlap to merge a pair (default 12).")
@click.option("--max-mismatch", type=int, default=None, help="Maximum mismatches in the overlap (default 0).")
@click.option("--reverse-partners/--no-reverse-partners", default=None, help="Merge stage: give each (forward, reverse) pair class the most likely reverse variant among those its forward variant merges with (fixes rare variants whose reverse reads were absorbed into a near-identical abundant one; not in DADA2; default: on).")
@click.option("--chimera-method", type=click.Choice(CHIMERA_METHODS), default=None, help="Bimera removal as R's removeBimeraDenovo: per-sample consensus, one test on the pooled totals, or none (default: consensus).")
@click.option("--chimera-removal/--no-chimera-removal", "chimeras", default=True, show_default=True, help="--no-chimera-removal is --chimera-method none.")
@click.option("--min-fold-parent-over-abundance", type=float, default=None, help="Bimera parents must be more than this many times as abundant (default: 1.5 consensus, 2 pooled, R's defaults).")
@click.option("--chimera-one-off/--no-chimera-one-off", default=None, help="Also flag sequences one mismatch away from a bimera (DADA2's allowOneOff; DADA2's default is off; default: on).")
@click.option("--min-reads", type=int, default=None, help="Drop ASVs with fewer reads than this in the whole run, after chimera removal (QIIME 2 deblur's --p-min-reads default 10; 1 keeps all, as DADA2).")
@click.option("--dada2-compatible", is_flag=True, default=False, help="Exactly R DADA2 1.26's behaviour: --pool none --no-reverse-partners --no-chimera-one-off --min-reads 1 (and the loess error fit).")
@click.option("--amplicon-length", type=int, default=None, help="Amplicon length without primers, for the automatic truncation (default: measured from the reads' overlap, else typical for the primers).")
@click.option("--threads", type=int, default=2, show_default=True, help="Threads (samples in parallel).")
def command(reads_dir: Path, output_dir: Path, keep_untrimmed: bool, chimeras: bool, threads: int,
            **values: object) -> None:
    """Denoise paired-end (or single-end) FASTQ files in READS_DIR into an ASV table.

    READS_DIR is a folder of FASTQ files, or a QIIME 2 manifest (manifest.tsv: sample-id,
    forward-absolute-filepath, reverse-absolute-filepath; a manifest.tsv inside the folder
    is used too).  Otherwise pairs are found by Illumina/Casava names
    (<sample>_<anything>_L001_R1_001.fastq.gz / _R2_001: the sample id is the part before
    the first underscore, as in QIIME 2), or <sample>_1 / _2, _R1 / _R2, _forward /
    _reverse, or DADA2's <sample>F / <sample>R (.fastq, .fq, optionally .gz).  Every option
    is also a key of the study file's reads: section (--trim-left-f is trim_left_f).
    Writes feature-table.biom/.tsv, dna-sequences.fasta, read-tracking.tsv,
    quality-profile-f/-r.tsv and run-info.json.
    """
    from microtrial.denoise import parse_settings
    from microtrial.errors import InputError
    from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

    if threads < 1:
        raise InputError("--threads", f"must be >= 1, got {threads}")
    max_ee = values.get("max_ee")
    if isinstance(max_ee, tuple | list):
        values["max_ee"] = tuple(float(x) for x in max_ee)
    if keep_untrimmed:
        values["discard_untrimmed"] = False
    if not chimeras:
        if values.get("chimera_method") not in (None, "none"):
            raise InputError("--no-chimera-removal", f"contradicts --chimera-method {values['chimera_method']}")
        values["chimera_method"] = "none"
    if not values.get("dada2_compatible"):
        values.pop("dada2_compatible", None)
    settings = parse_settings(values)
    options = DenoiseOptions.from_settings(settings, threads=threads)
    with progress_bars() as progress:
        summary = denoise_stage(reads_dir, output_dir, options=options, progress=progress)
    click.echo(
        f"{summary.n_samples} samples, {summary.n_asvs} ASVs "
        f"(truncation {summary.trunc_len_f}/{summary.trunc_len_r}); written to {output_dir}",
        err=True,
    )
