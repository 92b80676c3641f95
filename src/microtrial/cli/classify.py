"""``microtrial classify dna-sequences.fasta -o DIR``: taxonomy for every ASV."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars


@click.command(name="classify", context_settings={"show_default": True})
@click.argument("sequences", type=click.Path(path_type=Path), required=False)
@output_option
@click.option("--reference", default="greengenes", show_default=True,
              help="Built-in reference (greengenes = Greengenes 13_8 97% OTUs); ignored with --ref-seqs.")
@click.option("--ref-seqs", type=click.Path(path_type=Path), default=None,
              help="Reference FASTA: QIIME format with --ref-taxonomy, else DADA2 format "
                   "(taxonomy in the header, e.g. SILVA/GTDB training sets).")
@click.option("--ref-taxonomy", type=click.Path(path_type=Path), default=None,
              help="QIIME-format reference taxonomy TSV (id<TAB>k__..; p__..).")
@click.option("--ref-species", type=click.Path(path_type=Path), default=None,
              help="DADA2 species-assignment FASTA ('>ID Genus species') for exact-match species.")
@click.option("--confidence", type=float, default=0.8, show_default=True,
              help="Bootstrap confidence needed to report a rank (DADA2 minBoot/100).")
@click.option("--max-species", type=int, default=1, show_default=True,
              help="Most species reported (joined with '/') for an ambiguous exact match.")
@click.option("--primer-f", default=None, help="Forward primer: cut the amplicon out of the reference before training.")
@click.option("--primer-r", default=None, help="Reverse primer (with --primer-f).")
@click.option("--single-orientation", is_flag=True, default=False,
              help="Do not try the reverse complement of the queries.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Model cache folder (default $MICROTRIAL_CACHE or ~/.cache/microtrial).")
@click.option("--no-cache", is_flag=True, default=False, help="Train afresh and do not cache the model.")
@click.option("--evaluate", is_flag=True, default=False,
              help="Instead of classifying: k-fold cross-validation on the reference "
                   "(precision, recall, F-measure per rank).")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Folds for --evaluate.")
@click.option("--max-test", type=click.IntRange(min=1), default=500, show_default=True,
              help="Held-out sequences classified per fold with --evaluate.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True, help="Threads.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the bootstrap (and folds), 0 to 2^32-1 as in the study file.")
def command(sequences: Path | None, output_dir: Path, reference: str, ref_seqs: Path | None,
            ref_taxonomy: Path | None, ref_species: Path | None, confidence: float,
            max_species: int, primer_f: str | None, primer_r: str | None,
            single_orientation: bool, cache_dir: Path | None, no_cache: bool, evaluate: bool,
            folds: int, max_test: int, threads: int, seed: int) -> None:
    """Assign taxonomy to the ASVs in SEQUENCES (writes taxonomy.tsv)."""
    from microtrial.pipeline.classify import classify_stage, evaluate_stage

    for p in (ref_seqs, ref_taxonomy, ref_species):
        if p is not None:
            existing_file(p)
    if evaluate:
        path = evaluate_stage(output_dir, reference=reference, ref_seqs=ref_seqs,
                              ref_taxonomy=ref_taxonomy, confidence=confidence, folds=folds,
                              max_test_per_fold=max_test, primer_f=primer_f, primer_r=primer_r,
                              threads=threads, seed=seed)
        click.echo(path.read_text().rstrip())
        click.echo(f"evaluation: {path}")
        return
    if sequences is None:
        raise click.UsageError("SEQUENCES is required unless --evaluate is given")
    existing_file(sequences)
    with progress_bars() as progress:
        path = classify_stage(sequences, output_dir, reference=reference, ref_seqs=ref_seqs,
                              ref_taxonomy=ref_taxonomy, ref_species=ref_species,
                              confidence=confidence, primer_f=primer_f, primer_r=primer_r,
                              cache_dir=cache_dir, threads=threads, seed=seed, progress=progress,
                              max_species=max_species, both_orientations=not single_orientation,
                              use_cache=not no_cache)
    click.echo(f"taxonomy: {path}")
