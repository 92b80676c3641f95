"""``microtrial report RESULTS_DIR``: rebuild the report from a run's result tables."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="report", context_settings={"show_default": True})
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write report.html, figures/, tables/ and exports/ (default: RESULTS_DIR).")
@click.option("--title", default=None, help="Report title (default: the study's name from inputs/study.yaml).")
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="A simulator's truth/ folder to score the results against.")
@click.option("--group", "group", default=None,
              help="Metadata column of the groups (default: the study's design, from run-info.json "
                   "or inputs/study.yaml; without either the samples are not grouped).")
@click.option("--time", "time_col", default=None, help="Metadata column of the time points (default: the study's).")
@click.option("--subject", "subject", default=None, help="Metadata column of the subjects (default: the study's).")
@click.option("--reference", "reference", default=None,
              help="Reference level of --group/--time (default: a control/baseline-like level, else the "
                   "first in numeric or alphabetical order).")
def command(results_dir: Path, output_dir: Path | None, title: str | None, truth: Path | None,
            group: str | None, time_col: str | None, subject: str | None, reference: str | None) -> None:
    """Write report.html (self-contained), figures/ (SVG, PDF, PNG), tables/ (TSV) and exports/
    (phyloseq files with an R loader; QIIME 2 .qza artifacts) from RESULTS_DIR."""
    from microtrial.pipeline.report import report_stage

    path = report_stage(results_dir, output_dir, title=title, truth_dir=truth, group=group, time=time_col,
                        subject=subject, reference=reference)
    click.echo(f"report: {path}")
