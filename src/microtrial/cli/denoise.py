"""``microtrial denoise READS_DIR -o DIR``: FASTQ files to an ASV table (DADA2's method)."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import output_option, progress_bars


@click.command(name="denoise")
@click.argument("reads_dir", type=click.Path(path_type=Path))
@output_option
@click.option("--trunc-len-f", type=int, default=None, help="Truncate forward reads to this length (default: chosen from the quality profile).")
@click.option("--trunc-len-r", type=int, default=None, help="Truncate reverse reads to this length (default: chosen from the quality profile).")
@click.option("--max-ee", nargs=2, type=float, default=(2.0, 2.0), show_default=True, help="Maximum expected errors, forward and reverse.")
@click.option("--trunc-q", type=click.IntRange(0, 41), default=2, show_default=True, help="Cut reads at the first base with Phred quality <= this (0-41, as in the study file).")
@click.option("--min-len", type=int, default=20, show_default=True, help="Drop reads shorter than this after trimming.")
@click.option("--max-n", type=int, default=0, show_default=True, help="Drop reads with more than this many N.")
@click.option("--phix-removal/--no-phix-removal", "rm_phix", default=True, show_default=True, help="Drop reads matching the PhiX genome.")
@click.option("--primer-f", default=None, help="Forward primer 5'->3' (IUPAC) to remove; default: primers already removed.")
@click.option("--primer-r", default=None, help="Reverse primer 5'->3' (IUPAC) to remove.")
@click.option("--keep-untrimmed", is_flag=True, default=False, help="Keep pairs where a primer was not found (default: discard them).")
@click.option("--pool", type=click.Choice(["none", "pseudo", "all"]), default="pseudo", show_default=True, help="Denoise samples independently (DADA2's default), pseudo-pooled (variants found in any sample are priors in all), or pooled.")
@click.option("--min-overlap", type=int, default=12, show_default=True, help="Minimum overlap to merge a pair.")
@click.option("--max-mismatch", type=int, default=0, show_default=True, help="Maximum mismatches in the overlap.")
@click.option("--reverse-partners/--no-reverse-partners", default=True, show_default=True, help="Merge stage: give each (forward, reverse) pair class the most likely reverse variant among those its forward variant merges with (fixes rare variants whose reverse reads were absorbed into a near-identical abundant one; not in DADA2).")
@click.option("--chimera-removal/--no-chimera-removal", "chimeras", default=True, show_default=True, help="Remove bimeras (DADA2's consensus method).")
@click.option("--chimera-one-off/--no-chimera-one-off", default=True, show_default=True, help="Also flag sequences one mismatch away from a bimera (DADA2's allowOneOff; DADA2's default is off).")
@click.option("--min-reads", type=int, default=10, show_default=True, help="Drop ASVs with fewer reads than this in the whole run, after chimera removal (QIIME 2 deblur's --p-min-reads default; 1 keeps all, as DADA2).")
@click.option("--amplicon-length", type=int, default=None, help="Amplicon length without primers, for the automatic truncation (default: measured from the reads' overlap, else typical for the primers).")
@click.option("--threads", type=int, default=2, show_default=True, help="Threads (samples in parallel).")
def command(
    reads_dir: Path, output_dir: Path, trunc_len_f: int | None, trunc_len_r: int | None,
    max_ee: tuple[float, float], trunc_q: int, min_len: int, max_n: int, rm_phix: bool,
    primer_f: str | None, primer_r: str | None, keep_untrimmed: bool, pool: str,
    min_overlap: int, max_mismatch: int, reverse_partners: bool, chimeras: bool, chimera_one_off: bool, min_reads: int, amplicon_length: int | None, threads: int,
) -> None:
    """Denoise paired-end (or single-end) FASTQ files in READS_DIR into an ASV table.

    Pairs are found by Illumina names (<sample>_S1_L001_R1_001.fastq.gz / _R2_001), or
    <sample>_1 / _2, _R1 / _R2, _forward / _reverse, or DADA2's <sample>F / <sample>R
    (.fastq, .fq, optionally .gz).  Writes feature-table.biom/.tsv, dna-sequences.fasta,
    read-tracking.tsv, quality-profile-f/-r.tsv and run-info.json.
    """
    from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

    options = DenoiseOptions(
        trunc_len_f=trunc_len_f, trunc_len_r=trunc_len_r, max_ee=(float(max_ee[0]), float(max_ee[1])),
        trunc_q=trunc_q, min_len=min_len, max_n=max_n, rm_phix=rm_phix, primer_f=primer_f,
        primer_r=primer_r, discard_untrimmed=not keep_untrimmed, pool=pool, min_overlap=min_overlap,
        max_mismatch=max_mismatch, reverse_partners=reverse_partners, chimeras=chimeras,
        chimera_one_off=chimera_one_off, min_reads=min_reads, amplicon_length=amplicon_length, threads=threads,
    )
    with progress_bars() as progress:
        summary = denoise_stage(reads_dir, output_dir, options=options, progress=progress)
    click.echo(
        f"{summary.n_samples} samples, {summary.n_asvs} ASVs "
        f"(truncation {summary.trunc_len_f}/{summary.trunc_len_r}); written to {output_dir}",
        err=True,
    )
