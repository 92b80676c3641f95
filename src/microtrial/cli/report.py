"""``microtrial report RESULTS_DIR``: rebuild the report from a run's result tables."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.errors import InputError


@click.command(name="report", context_settings={"show_default": True})
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write report.html, figures/, tables/ and exports/ (default: RESULTS_DIR).")
@click.option("--title", default=None, help="Report title (default: the study's name from inputs/study.yaml).")
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="A simulator's truth/ folder to score the results against.")
def command(results_dir: Path, output_dir: Path | None, title: str | None, truth: Path | None) -> None:
    """Write report.html (self-contained), figures/ (SVG, PDF, PNG), tables/ (TSV) and exports/
    (phyloseq files with an R loader; QIIME 2 .qza artifacts) from RESULTS_DIR."""
    from microtrial.report import write_report

    if not results_dir.is_dir():
        raise InputError(results_dir, "not a results folder")
    path = write_report(results_dir, output_dir, title=title, truth_dir=truth)
    click.echo(f"report: {path}")
