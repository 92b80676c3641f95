"""``microtrial differential``: differential abundance between two levels of a column."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


@click.command(name="differential")
@click.option("--table", "table", required=True, type=click.Path(path_type=Path),
              help="Feature table (BIOM or TSV).")
@click.option("--metadata", "metadata", required=True, type=click.Path(path_type=Path),
              help="Sample metadata (QIIME 2 TSV).")
@click.option("--group", "group", required=True, help="Metadata column holding the levels.")
@click.option("--levels", "levels", default=None, show_default=True,
              help="TEST,REFERENCE levels (default: the column's two levels, the "
                   "first in numeric or alphabetical order as reference).")
@click.option("--subject", "subject", default=None, show_default=True,
              help="Subject column; subjects sampled at both levels make a paired comparison.")
@click.option("--kind", "kind", type=click.Choice(["auto", "between", "paired"]), default="auto",
              show_default=True, help="Comparison kind; auto = paired when --subject is given "
                                      "and subjects have both levels.")
@click.option("--covariates", "covariates", default="", show_default=True,
              help="Comma-separated covariate columns (ANCOM-BC and linear models).")
@click.option("--method", "method", default="all", show_default=True,
              help="Comma-separated methods: lefse (does not control FDR), ancombc, aldex, lmm, paired-wilcoxon, or all.")
@click.option("--rank", "rank", default="asv", show_default=True,
              help="Comma-separated ranks: asv, species, genus, family, order, class, phylum.")
@click.option("--taxonomy", "taxonomy", default=None, type=click.Path(path_type=Path),
              show_default=True, help="Taxonomy TSV (needed for ranks other than asv, LEfSe's "
                                      "hierarchy and guilds).")
@click.option("--subclass", "subclass", default=None, show_default=True,
              help="Metadata column of subclasses for LEfSe's pairwise Wilcoxon step.")
@click.option("--min-prevalence", "min_prevalence", default=0.1, type=float, show_default=True,
              help="Keep features present in at least this fraction of the compared samples.")
@click.option("--min-abundance", "min_abundance", default=0.0, type=float, show_default=True,
              help="Keep features with at least this mean relative abundance in the compared samples.")
@click.option("--seed", "seed", default=0, type=click.IntRange(0, 2**32 - 1), show_default=True,
              help="Random seed (0 to 2^32-1).")
@click.option("--threads", "threads", default=2, type=int, show_default=True,
              help="Threads (recorded; the methods are vectorised).")
@output_option
def command(table: Path, metadata: Path, group: str, levels: str | None, subject: str | None,
            kind: str, covariates: str, method: str, rank: str, taxonomy: Path | None,
            subclass: str | None, min_prevalence: float, min_abundance: float, seed: int, threads: int, output_dir: Path) -> None:
    """Differential abundance of features (and guilds) between two levels of --group."""
    from microtrial.design import (
        ComparisonSpec,
        DesignSpec,
        Factor,
        build_comparisons,
        column_levels,
        paired_kind,
        user_level,
    )
    from microtrial.differential import METHODS
    from microtrial.errors import InputError
    from microtrial.io.metadata import read_metadata
    from microtrial.pipeline.differential import differential_stage

    existing_file(table)
    existing_file(metadata)
    if taxonomy is not None:
        existing_file(taxonomy)
    md = read_metadata(metadata)
    if group not in md.columns:
        raise InputError(metadata, f"no column '{group}' (--group)")
    if subject is not None and subject not in md.columns:
        raise InputError(metadata, f"no column '{subject}' (--subject)")
    present = column_levels(md[group])
    if levels:
        typed = _split(levels)
        if len(typed) != 2:
            raise InputError("--levels", "give two levels: TEST,REFERENCE")
        lv = [user_level(x, md[group]) for x in typed]
        if lv[0] == lv[1]:
            same = f"'{typed[0]}'" if typed[0] == typed[1] else f"'{typed[0]}' and '{typed[1]}' (the same value)"
            raise InputError("--levels", f"TEST and REFERENCE are both {same}; give two different levels")
        missing = [t for t, x in zip(typed, lv) if x not in present]
        if missing:
            raise InputError("--levels", f"{', '.join(missing)} not in column '{group}' ({', '.join(present)})")
        test, ref = lv
    elif len(present) == 2:
        ref, test = present
    else:
        raise InputError("--levels", f"column '{group}' has {len(present)} levels ({', '.join(present)}); choose two with --levels")
    if kind == "auto":
        kind = paired_kind(md, group, (test, ref), subject)
    if kind == "paired" and subject is None:
        raise InputError("--kind", "a paired comparison needs --subject")
    methods = list(METHODS) if method.strip().lower() == "all" else _split(method)
    # the flags as a design, its comparison by the one rule (microtrial.design); a between
    # comparison keeps --subject for repeated samples of a subject
    design = DesignSpec(subject=subject, group=Factor(group, ref))
    spec = ComparisonSpec(f"{test}-vs-{ref}", kind, group, (test, ref), subject=subject)  # type: ignore[arg-type]
    (comp,) = build_comparisons(design, [spec], md)
    with progress_bars() as progress:
        summary = differential_stage(
            table, metadata, output_dir, comparisons=[comp], taxonomy=taxonomy,
            ranks=_split(rank) or ["asv"], methods=methods, covariates=_split(covariates),
            min_prevalence=min_prevalence, seed=seed, threads=threads, progress=progress,
            lefse_subclass=subclass, min_abundance=min_abundance,
        )
    for name, n in summary.n_called.items():
        click.echo(f"{name}: {n} features called")
    if summary.skipped:  # each logged by the stage (warning, or info with -v)
        click.echo(f"{len(summary.skipped)} test(s) skipped; reasons in {output_dir / 'run-info.json'}")
