"""``microtrial diversity``: alpha and beta diversity with design-aware tests."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars
from microtrial.names import DEFAULT_BETA_METRICS


def _rarefy_value(text: str) -> int | str | None:
    t = text.strip().lower()
    if t == "none":
        return None
    if t == "auto":
        return "auto"
    try:
        n = int(t)
    except ValueError as exc:
        from microtrial.errors import InputError

        raise InputError("--rarefy", f"'{text}' is not a number, 'auto' or 'none'") from exc
    return n


@click.command(name="diversity")
@click.option("--table", "table", required=True, type=click.Path(path_type=Path),
              help="Feature table (BIOM or TSV).")
@click.option("--metadata", "metadata", required=True, type=click.Path(path_type=Path),
              help="Sample metadata (QIIME 2 TSV).")
@click.option("--tree", "tree", default=None, type=click.Path(path_type=Path), show_default=True,
              help="Rooted Newick tree (Faith's PD and UniFrac; skipped without it).")
@click.option("--group", "group", default=None, show_default=True,
              help="Compare the levels of this column (independent groups).")
@click.option("--reference", "reference", default=None, show_default=True,
              help="Reference level of --group/--time (default: control/baseline-like name, "
                   "else the first in numeric or alphabetical order).")
@click.option("--subject", "subject", default=None, show_default=True,
              help="Subject column (with --time: paired comparison, permutations within subject).")
@click.option("--time", "time_col", default=None, show_default=True,
              help="Time point column; with --subject, compare time levels within subjects.")
@click.option("--healthy", "healthy", default=None, show_default=True,
              help="COLUMN=LEVEL of healthy reference samples for the dysbiosis score.")
@click.option("--metrics", "metrics",
              default=",".join(DEFAULT_BETA_METRICS),
              show_default=True, help="Comma-separated beta metrics (also robust_aitchison).")
@click.option("--covariates", "covariates", default="", show_default=True,
              help="Comma-separated covariates of the alpha mixed model (paired designs).")
@click.option("--rarefy", "rarefy", default="auto", show_default=True,
              help="Rarefaction depth: N, auto (smallest sample depth) or none.")
@click.option("--rarefaction-iterations", "iterations", default=1, type=int, show_default=True,
              help="Average this many rarefactions.")
@click.option("--permutations", "permutations", default=999, type=int, show_default=True,
              help="Permutations for PERMANOVA, PERMDISP and ANOSIM.")
@click.option("--seed", "seed", default=0, type=click.IntRange(0, 2**32 - 1), show_default=True,
              help="Random seed (0 to 2^32-1).")
@output_option
def command(table: Path, metadata: Path, tree: Path | None, group: str | None,
            reference: str | None, subject: str | None, time_col: str | None,
            healthy: str | None, metrics: str, covariates: str, rarefy: str, iterations: int,
            permutations: int, seed: int, output_dir: Path) -> None:
    """Alpha/beta diversity, PCoA, PERMANOVA, PERMDISP, ANOSIM and rank tests."""
    from click.core import ParameterSource

    from microtrial.design import (
        DesignSpec,
        Factor,
        build_comparisons,
        column_levels,
        level_comparisons,
        reference_level,
        user_level,
    )
    from microtrial.errors import InputError
    from microtrial.io.metadata import read_metadata
    from microtrial.pipeline.diversity import BETA_METRICS, PHYLOGENETIC, diversity_stage

    existing_file(table)
    existing_file(metadata)
    if tree is not None:
        existing_file(tree)
    md = read_metadata(metadata)
    if reference is not None and not any(
        user_level(reference, md[c]) in column_levels(md[c])
        for c in (group, time_col) if c in md.columns
    ):
        raise InputError("--reference", f"level '{reference}' is not in --group or --time")
    for opt, col in (("--group", group), ("--subject", subject), ("--time", time_col)):
        if col is not None and col not in md.columns:
            raise InputError(metadata, f"no column '{col}' ({opt})")
    # the flags as a design, its comparisons by the one rule (microtrial.design)
    factors: dict[str, Factor] = {}
    for key, col in (("group", group), ("time", time_col)):
        if col is None:
            continue
        if key == "time" and subject is None:
            raise InputError("--time", "a paired comparison of time points needs --subject")
        levels = column_levels(md[col])
        if len(levels) < 2:
            raise InputError(metadata, f"column '{col}' has fewer than two levels")
        given = None if reference is None else user_level(reference, md[col])
        factors[key] = Factor(col, reference_level(levels, given))
    design = DesignSpec(subject=subject, group=factors.get("group"), time=factors.get("time"))
    comparisons = build_comparisons(design, level_comparisons(design, md), md)
    group_columns: list[str] = []
    if group is not None and len(column_levels(md[group])) > 2:
        group_columns.append(group)  # Kruskal-Wallis, global and pairwise PERMANOVA
    healthy_t = None
    if healthy:
        if "=" not in healthy:
            raise InputError("--healthy", "give COLUMN=LEVEL")
        c, lv = (x.strip() for x in healthy.split("=", 1))
        if c not in md.columns:
            raise InputError(metadata, f"no column '{c}' (--healthy)")
        present = column_levels(md[c])
        if user_level(lv, md[c]) not in present:
            raise InputError("--healthy", f"level '{lv}' is not in column '{c}' ({', '.join(present)})")
        healthy_t = (c, user_level(lv, md[c]))
    metric_list = tuple(m.strip() for m in metrics.split(",") if m.strip())
    if not metric_list:
        raise InputError("--metrics", f"no beta metric given; choose from {', '.join(BETA_METRICS)}")
    explicit = click.get_current_context().get_parameter_source("metrics") is not ParameterSource.DEFAULT
    needs_tree = [m for m in metric_list if m in PHYLOGENETIC]
    if explicit and needs_tree and tree is None:
        one = len(needs_tree) == 1
        raise InputError("--tree", f"{', '.join(needs_tree)} {'needs' if one else 'need'} a "
                                   f"phylogenetic tree: give --tree or drop {'it' if one else 'them'} "
                                   f"from --metrics")
    with progress_bars() as progress:
        summary = diversity_stage(
            table, metadata, output_dir, comparisons=comparisons, tree=tree, subject=subject,
            healthy=healthy_t, rarefy=_rarefy_value(rarefy),
            metrics=metric_list,
            permutations=permutations, seed=seed, progress=progress,
            group_columns=tuple(group_columns),
            covariates=tuple(c.strip() for c in covariates.split(",") if c.strip()),
            rarefaction_iterations=iterations,
        )
    click.echo(f"diversity: {summary.n_samples} samples, depth {summary.depth}, "
               f"{len(summary.dropped)} dropped, metrics {', '.join(summary.metrics)} -> {output_dir}")
