"""``microtrial function place`` and ``microtrial function hsp`` (added to the ``function``
group by cli/function.py)."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars


@click.command(name="place", context_settings={"show_default": True})
@click.option("--sequences", type=click.Path(path_type=Path), required=True,
              help="ASV sequences (FASTA).")
@click.option("--reference", type=click.Path(path_type=Path), required=True,
              help="PICRUSt2 reference: default_files folder or one domain folder "
                   "(<x>_ref/<x>_ref.fna, .tre, .hmm, .model).")
@click.option("--min-align", type=float, default=0.8,
              help="Least fraction of an ASV that must align to the reference HMM.")
@click.option("--threads", type=click.IntRange(min=1), default=1, help="Threads.")
@output_option
def place(sequences: Path, reference: Path, min_align: float, threads: int,
          output_dir: Path) -> None:
    """Place ASVs on the reference tree by maximum likelihood (writes out.tre and
    place_seqs.jplace, as PICRUSt2's place_seqs.py)."""
    from microtrial.pipeline.function_steps import place_stage

    existing_file(sequences)
    existing_file(reference, "folder")
    with progress_bars() as progress:
        path = place_stage(sequences, reference, output_dir, threads=threads,
                           min_align=min_align, progress=progress)
    click.echo(f"placed tree: {path}")


@click.command(name="hsp", context_settings={"show_default": True})
@click.option("--tree", type=click.Path(path_type=Path), required=True,
              help="Tree with the ASVs placed (out.tre of 'function place').")
@click.option("--traits", type=click.Path(path_type=Path), required=True,
              help="Trait table of the reference genomes (first column assembly), e.g. "
                   "ko.txt.gz, or your own in that format.")
@click.option("--method", type=click.Choice(["mp", "emp_prob", "pic", "scp", "subtree_average"]),
              default="mp", help="Hidden-state prediction method (castor's).")
@click.option("--calculate-nsti", is_flag=True, default=False,
              help="Add the metadata_NSTI column.")
@click.option("--ci", is_flag=True, default=False,
              help="Also write 5%/95% state bounds (mp, emp_prob).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0,
              help="Seed for breaking exact ties between most probable states.")
@output_option
def hsp(tree: Path, traits: Path, method: str, calculate_nsti: bool, ci: bool, seed: int,
        output_dir: Path) -> None:
    """Predict trait values of the ASVs in the tree (writes <traits>_predicted.tsv.gz, as
    PICRUSt2's hsp.py)."""
    from microtrial.pipeline.function_steps import hsp_stage

    existing_file(tree)
    existing_file(traits)
    with progress_bars() as progress:
        path = hsp_stage(tree, traits, output_dir, method=method,
                         calculate_nsti=calculate_nsti, ci=ci, seed=seed, progress=progress)
    click.echo(f"predictions: {path}")
