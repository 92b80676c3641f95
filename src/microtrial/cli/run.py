"""``microtrial run STUDY.yaml -o DIR [--force [STAGE]] [--jobs N] [--dask-scheduler ADDRESS]``."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, options_of_study, progress_bars


@click.command(name="run", context_settings={"show_default": True})
@click.argument("study", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (created if needed; with --replay, default: "
              "the folder of the replayed run-info.json).")
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help="Worker threads (default: the study's options.threads).")
@click.option("--force", "force", is_flag=False, flag_value="all", default=None, metavar="[STAGE]",
              help="Ignore the cache: alone, for every stage; with STAGE (or STAGE,STAGE), for "
              "those stages only.")
@click.option("--jobs", type=click.IntRange(1, 1024), default=None,
              help="Send per-sample and per-chunk work to N local worker processes (Dask).")
@click.option("--dask-scheduler", "dask_scheduler", default=None, metavar="ADDRESS",
              help="Send per-sample and per-chunk work to the Dask cluster at ADDRESS "
              "(tcp://host:8786); workers must see the input files.")
@click.option("--replay", type=click.Path(path_type=Path), default=None, metavar="RUN_INFO",
              help="Re-run with the settings recorded in an earlier run's run-info.json.")
def command(study: Path | None, output_dir: Path | None, threads: int | None, force: str | None,
            jobs: int | None, dask_scheduler: str | None, replay: Path | None) -> None:
    """Run every stage of STUDY (a study YAML) and write the report.

    Results are cached in DIR/.microtrial-cache: running again reuses every stage whose
    inputs and options did not change, and a killed run resumes where it stopped.
    """
    from microtrial.errors import InputError
    from microtrial.pipeline.run import read_replay, run_study

    truth_dir = None
    if force not in (None, "all") and study is None and Path(force).suffix.lower() in (".yaml", ".yml"):
        study, force = Path(force), "all"  # `run --force study.yaml`: the flag, then the study
    if replay is not None:
        if study is not None:
            raise InputError("--replay", "give a study file or --replay, not both")
        settings = read_replay(existing_file(replay))
        study = settings["study"]
        truth_dir = settings["truth_dir"]
        threads = threads or settings["threads"]
        output_dir = output_dir or settings["out_dir"]
    if study is None:
        raise InputError("STUDY", "give a study file (or --replay RUN_INFO)")
    if output_dir is None:
        raise InputError("--output-dir", "required (-o DIR)")
    existing_file(study)
    forced: bool | set[str] = False
    if force is not None:
        forced = True if force == "all" else {s.strip() for s in force.split(",") if s.strip()}
    with options_of_study(study), progress_bars() as progress:
        record = run_study(study, output_dir, threads=threads, progress=progress, truth_dir=truth_dir,
                           force=forced, jobs=jobs, dask_scheduler=dask_scheduler)
    for name, secs in record.timings.items():
        click.echo(f"  {name:<14} {record.status.get(name, ''):<7} {secs:7.1f} s")
    total = sum(record.timings.values())
    click.echo(f"done: {output_dir}/report.html ({total:.1f} s)")
