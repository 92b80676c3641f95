"""``microtrial tree dna-sequences.fasta -o DIR``: a rooted tree with every ASV a tip."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars


@click.command(name="tree", context_settings={"show_default": True})
@click.argument("sequences", type=click.Path(path_type=Path))
@output_option
@click.option("--de-novo", "de_novo", is_flag=True, default=False,
              help="Template alignment + neighbour joining (midpoint-rooted) instead of "
                   "insertion into the Greengenes 13_8 reference tree.")
@click.option("--ref-seqs", type=click.Path(path_type=Path), default=None,
              help="Reference sequences (FASTA) for insertion, named like the tips of --ref-tree.")
@click.option("--ref-tree", type=click.Path(path_type=Path), default=None,
              help="Rooted reference tree (Newick) for insertion.")
@click.option("--ref-alignment", type=click.Path(path_type=Path), default=None,
              help="Aligned template FASTA for --de-novo (default Greengenes 85% OTUs, PyNAST).")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True, help="Threads.")
def command(sequences: Path, output_dir: Path, de_novo: bool, ref_seqs: Path | None,
            ref_tree: Path | None, ref_alignment: Path | None, threads: int) -> None:
    """Build tree.nwk for the ASVs in SEQUENCES."""
    from microtrial.pipeline.tree import tree_stage

    existing_file(sequences)
    for p in (ref_seqs, ref_tree, ref_alignment):
        if p is not None:
            existing_file(p)
    with progress_bars() as progress:
        path = tree_stage(sequences, output_dir, method="de-novo" if de_novo else "insertion",
                          threads=threads, progress=progress, ref_seqs=ref_seqs,
                          ref_tree=ref_tree, ref_alignment=ref_alignment)
    click.echo(f"tree: {path}")
