"""``microtrial demo -o DIR``: simulate a small trial and analyse it end to end."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import options_of_study, output_option, progress_bars


@click.command(name="demo", context_settings={"show_default": True})
@output_option
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1,
              help="Simulation seed (0 to 2^32-1, the study file's range).")
@click.option("--threads", type=click.IntRange(1, 256), default=2, help="Worker threads.")
@click.option("--force", is_flag=True, help="Ignore the cache of an earlier demo in the folder.")
@click.option("--jobs", type=click.IntRange(1, 1024), default=None,
              help="Send per-sample and per-chunk work to N local worker processes (Dask).")
def command(output_dir: Path, seed: int, threads: int, force: bool, jobs: int | None) -> None:
    """Simulate a trial (13 patients at baseline and week 12, 15 controls) and run every stage."""
    from microtrial.pipeline.demo import run_demo

    # the simulated study file is where its options come from
    with options_of_study(output_dir / "simulated" / "study.yaml"), progress_bars() as progress:
        record, seconds = run_demo(output_dir, seed=seed, threads=threads, progress=progress,
                                   force=force, jobs=jobs)
    for name, secs in record.timings.items():
        click.echo(f"  {name:<14} {record.status.get(name, ''):<7} {secs:7.1f} s")
    for name, why in record.skipped.items():
        click.echo(f"  {name:<14} skipped: {why}")
    click.echo(f"report: {output_dir / 'report.html'}")
    click.echo(f"demo time: {seconds:.1f} s")
