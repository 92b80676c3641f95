"""``microtrial function``: predicted functions (PICRUSt2's steps, or all of them at once)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars


@click.group(name="function", invoke_without_command=True,
             context_settings={"show_default": True})
@click.option("--table", type=click.Path(path_type=Path), default=None,
              help="ASV counts (feature-table TSV or BIOM).")
@click.option("--sequences", type=click.Path(path_type=Path), default=None,
              help="ASV sequences (FASTA); needed with --reference.")
@click.option("--reference", type=click.Path(path_type=Path), default=None,
              help="PICRUSt2 reference folder (default_files or one domain folder); without "
                   "it the embedded genus table is used (needs --taxonomy).")
@click.option("--taxonomy", type=click.Path(path_type=Path), default=None,
              help="taxonomy.tsv (Greengenes g__ names) for the genus route.")
@click.option("--genus-traits", type=click.Path(path_type=Path), default=None,
              help="Genus route: your own genus-level trait table (first column genus, "
                   "family or order names; one column per trait, e.g. EC numbers): EC "
                   "predictions give MetaCyc pathways (pathway-abundance.tsv).")
@click.option("--pathway-maps", "map_folder", type=click.Path(path_type=Path), default=None,
              help="With --genus-traits: a PICRUSt2 pathway_mapfiles/ folder (default: the "
                   "packaged MetaCyc maps of PICRUSt2 2.6.3).")
@click.option("-o", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (created if needed).")
@click.option("--max-nsti", type=float, default=2.0, help="Exclude ASVs with a higher NSTI.")
@click.option("--strat-out", is_flag=True, default=False,
              help="Also write stratified contributions (pred_metagenome_contrib.tsv.gz).")
@click.option("--hsp-method", type=click.Choice(["mp", "emp_prob", "pic", "scp",
                                                 "subtree_average"]), default="mp",
              help="Hidden-state prediction method (reference route).")
@click.option("--no-minpath", is_flag=True, default=False, help="Keep every pathway (no MinPath).")
@click.option("--no-gap-fill", is_flag=True, default=False, help="No gap filling.")
@click.option("--coverage", is_flag=True, default=False, help="Also write pathway coverages.")
@click.option("--threads", type=click.IntRange(min=1), default=1, help="Threads (placement).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0,
              help="Seed for breaking exact ties in hidden-state prediction.")
@click.pass_context
def command(ctx: click.Context, table: Path | None, sequences: Path | None,
            reference: Path | None, taxonomy: Path | None, genus_traits: Path | None,
            map_folder: Path | None, output_dir: Path | None, max_nsti: float, strat_out: bool, hsp_method: str, no_minpath: bool,
            no_gap_fill: bool, coverage: bool, threads: int, seed: int) -> None:
    """Predict gene families and pathways of the ASVs in --table (all steps), or run one
    PICRUSt2 step with a subcommand (place, hsp, metagenome, pathways)."""
    if ctx.invoked_subcommand is not None:
        return
    if table is None or output_dir is None:
        raise click.UsageError("give --table and -o (or a subcommand: place, hsp, metagenome, "
                               "pathways)")
    from microtrial.pipeline.function import function_stage

    existing_file(table)
    for p in (sequences, taxonomy, genus_traits):
        if p is not None:
            existing_file(p)
    for d in (reference, map_folder):
        if d is not None:
            existing_file(d, "folder")
    with progress_bars() as progress:
        out = function_stage(table, output_dir, sequences=sequences, reference=reference,
                             taxonomy=taxonomy, max_nsti=max_nsti, strat_out=strat_out,
                             hsp_method=hsp_method, minpath=not no_minpath,
                             gap_fill=not no_gap_fill, coverage=coverage, threads=threads,
                             seed=seed, progress=progress, genus_traits=genus_traits,
                             map_folder=map_folder)
    click.echo(f"functions: {out}")


@command.command(name="metagenome", context_settings={"show_default": True})
@click.option("--table", type=click.Path(path_type=Path), required=True,
              help="ASV counts (TSV, BIOM or mothur shared file).")
@click.option("--traits", type=click.Path(path_type=Path), required=True,
              help="Predicted gene families per ASV (hsp output, e.g. EC_predicted.tsv.gz).")
@click.option("--marker", type=click.Path(path_type=Path), default=None,
              help="Predicted 16S copies per ASV (hsp output, with metadata_NSTI); required "
                   "unless --skip-norm.")
@click.option("--max-nsti", type=float, default=2.0, help="Exclude ASVs with a higher NSTI.")
@click.option("--min-reads", type=click.IntRange(min=1), default=1,
              help="ASVs with fewer reads in total are pooled as RARE in the stratified output.")
@click.option("--min-samples", type=click.IntRange(min=1), default=1,
              help="ASVs in fewer samples are pooled as RARE in the stratified output.")
@click.option("--strat-out", is_flag=True, default=False,
              help="Also write pred_metagenome_contrib.tsv.gz (long format).")
@click.option("--wide-table", is_flag=True, default=False,
              help="With --strat-out: the older wide stratified table "
                   "(pred_metagenome_strat.tsv.gz) instead.")
@click.option("--skip-norm", is_flag=True, default=False,
              help="Do not normalise by 16S copies (no --marker).")
@output_option
def metagenome(table: Path, traits: Path, marker: Path | None, max_nsti: float, min_reads: int,
               min_samples: int, strat_out: bool, wide_table: bool, skip_norm: bool,
               output_dir: Path) -> None:
    """Per-sample predicted metagenomes (PICRUSt2's metagenome_pipeline.py)."""
    from microtrial.pipeline.function import metagenome_stage

    for p in (table, traits, marker):
        if p is not None:
            existing_file(p)
    out = metagenome_stage(table, traits, marker, output_dir, max_nsti=max_nsti,
                           strat_out=strat_out, wide_table=wide_table, min_reads=min_reads,
                           min_samples=min_samples, skip_norm=skip_norm)
    click.echo(f"metagenome: {out}")


@command.command(name="pathways", context_settings={"show_default": True})
@click.option("--input", "input_table", type=click.Path(path_type=Path), required=True,
              help="Unstratified gene-family abundances (pred_metagenome_unstrat.tsv.gz).")
@click.option("--map", "map_file", type=click.Path(path_type=Path), default=None,
              help="Pathway -> reactions map (default: the reference's MetaCyc map for EC "
                   "ids, KEGG_pathways_to_KO.tsv for KO ids).")
@click.option("--regroup-map", type=click.Path(path_type=Path), default=None,
              help="Gene family -> reaction map (default: EC -> MetaCyc reactions).")
@click.option("--no-regroup", is_flag=True, default=False, help="Do not regroup the families.")
@click.option("--no-minpath", is_flag=True, default=False, help="Keep every pathway (no MinPath).")
@click.option("--no-gap-fill", is_flag=True, default=False, help="No gap filling.")
@click.option("--coverage", is_flag=True, default=False, help="Also write path_cov_unstrat.tsv.gz.")
@click.option("--description", "descriptions", is_flag=True, default=False,
              help="Add a description column (PICRUSt2's add_descriptions.py).")
@click.option("--reference", type=click.Path(path_type=Path), default=None,
              help="PICRUSt2 reference folder whose pathway_mapfiles/ give the defaults "
                   "(or set MICROTRIAL_PICRUST2_REF).")
@output_option
def pathways(input_table: Path, map_file: Path | None, regroup_map: Path | None,
             no_regroup: bool, no_minpath: bool, no_gap_fill: bool, coverage: bool,
             descriptions: bool, reference: Path | None, output_dir: Path) -> None:
    """Pathway abundances (and coverages) from gene families (PICRUSt2's pathway_pipeline.py)."""
    from microtrial.pipeline.function import pathways_stage

    existing_file(input_table)
    for p in (map_file, regroup_map):
        if p is not None:
            existing_file(p)
    out = pathways_stage(input_table, output_dir, map_file=map_file, regroup_map=regroup_map,
                         no_regroup=no_regroup, minpath=not no_minpath,
                         gap_fill=not no_gap_fill, coverage=coverage,
                         descriptions=descriptions, reference=reference)
    click.echo(f"pathways: {out}")


if importlib.util.find_spec("microtrial.cli._function_steps") is not None:
    _steps = importlib.import_module("microtrial.cli._function_steps")
    for _obj in list(vars(_steps).values()):
        if isinstance(_obj, click.Command) and _obj.name in ("place", "hsp"):
            command.add_command(_obj, _obj.name)
