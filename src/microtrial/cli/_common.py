"""Shared CLI helpers: output folder option, progress bars, run-info, option parsing."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from microtrial.errors import InputError, OptionError

ProgressCallback = Callable[[str, int, int], None]
"""``progress(description, done, total)``: library code reports progress through this."""

output_option = click.option(
    "-o", "--output-dir", "output_dir", required=True,
    type=click.Path(file_okay=False, path_type=Path), help="Output folder (created if needed).",
)


def existing_file(path: Path | str, what: str = "file") -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(p, f"no such {what}")
    if what == "file" and p.is_dir():
        raise InputError(p, "is a folder, expected a file")
    return p


@contextlib.contextmanager
def progress_bars(enabled: bool | None = None) -> Iterator[ProgressCallback]:
    """Yield a progress callback that draws rich progress bars on a TTY (no-op otherwise)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda desc, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=False,
    ) as bar:

        def callback(desc: str, done: int, total: int) -> None:
            if desc not in tasks:
                tasks[desc] = bar.add_task(desc, total=max(total, 1))
            bar.update(tasks[desc], completed=done, total=max(total, 1))

        yield callback


@contextlib.contextmanager
def options_of_study(study: Path | str) -> Iterator[None]:
    """Name a bad option by the study file's key (and its line) instead of its flag.

    Stages raise :class:`~microtrial.errors.OptionError` with the study-file key; a user
    who ran ``microtrial run study.yaml`` reads ``study.yaml: line 12:
    options.permutations: must be >= 0``. Options the study file has no key for keep
    their flag (they came from the command line). Options that an error about a file
    mentions (:func:`microtrial.options.mention`) are named by their keys too."""
    from microtrial.options import in_study_file

    try:
        yield
    except OptionError as exc:
        if exc.study is None and in_study_file(exc.key):
            from microtrial.study import option_line

            exc.in_study(study, option_line(study, exc.key))
        raise
    except InputError as exc:
        exc.in_study_keys()
        raise


class Timer:
    """Collects stage timings for run-info.json."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)


def parse_key_values(text: str | None, option: str) -> dict[str, float]:
    """Parse ``a=1,b=2`` into ``{"a": 1.0, "b": 2.0}``; errors name the option."""
    out: dict[str, float] = {}
    if not text:
        return out
    for item in text.split(","):
        if "=" not in item:
            raise InputError(option, f"'{item}' is not NAME=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError as exc:
            raise InputError(option, f"'{v}' is not a number") from exc
    return out
