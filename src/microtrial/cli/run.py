"""``microtrial run STUDY.yaml -o DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, progress_bars


@click.command(name="run", context_settings={"show_default": True})
@click.argument("study", type=click.Path(path_type=Path))
@output_option
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help="Worker threads (default: the study's options.threads).")
def command(study: Path, output_dir: Path, threads: int | None) -> None:
    """Run every stage of STUDY (a study YAML) and write the report."""
    from microtrial.pipeline.run import run_study

    existing_file(study)
    with progress_bars() as progress:
        record = run_study(study, output_dir, threads=threads, progress=progress)
    total = sum(record.timings.values())
    click.echo(f"done: {output_dir}/report.html ({total:.1f} s)")
