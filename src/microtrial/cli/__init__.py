"""The ``microtrial`` command line: one thin module per command, loaded lazily.

``main(argv)`` maps every :class:`~microtrial.errors.MicrotrialError`, every ``OSError``
(unreadable files, read-only file system, full disk) and every bad option value click
finds to one line ``error: <file or option>: <what is wrong>`` and exit status 2;
``--debug`` shows the traceback; Ctrl-C exits 130. A bad option value
(:class:`~microtrial.errors.OptionError`, named by its study-file key below the CLI) is
shown as its flag (``error: --permutations: ...``), or, for ``run``, ``validate`` and
``demo``, as the study file's line and key (``error: study.yaml: line 12:
options.permutations: ...``; :func:`microtrial.cli._common.options_of_study`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from microtrial import __version__

# command name -> module in microtrial.cli that defines ``command`` (a click.Command)
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "simulate": "simulate",
    "run": "run",
    "validate": "validate",
    "denoise": "denoise",
    "classify": "classify",
    "tree": "tree",
    "diversity": "diversity",
    "differential": "differential",
    "clinical": "clinical",
    "function": "function",
    "report": "report",
    "qza": "qza",
}


class _LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EOFError as exc:
            # click turns EOFError into Abort ("interrupted", exit 130); here it means a
            # truncated (gzip) input that the reader did not catch, not Ctrl-C
            from microtrial.errors import InputError

            message = f"an input file ended unexpectedly (truncated?): {exc}"
            raise InputError(None, message) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module = importlib.import_module(f"microtrial.cli.{COMMANDS[cmd_name]}")
        return module.command  # type: ignore[no-any-return]


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"microtrial.cli.{COMMANDS[name]}") is not None


_STATE = {"debug": False}

# click >= 8.2 / 8.4 only (pyproject allows click 8.1); an empty tuple matches nothing
_NO_ARGS_IS_HELP: tuple[type[click.ClickException], ...] = tuple(
    getattr(click.exceptions, n) for n in ("NoArgsIsHelpError",) if hasattr(click.exceptions, n)
)
_NO_SUCH_COMMAND: tuple[type[click.ClickException], ...] = tuple(
    getattr(click.exceptions, n) for n in ("NoSuchCommand",) if hasattr(click.exceptions, n)
)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="microtrial")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def cli(verbose: int, debug: bool) -> None:
    """microtrial: 16S amplicon analysis of clinical studies, from reads to report."""
    _STATE["debug"] = debug
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, show_time=False, console=_stderr_console())
    else:  # logs and CI: one plain line per message, never wrapped ("warning: ...")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_PlainFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("microtrial")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class _PlainFormatter(logging.Formatter):
    """``warning: <message>`` on one line (newlines in the message folded)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return " ".join(text.split("\n")).replace(record.levelname, record.levelname.lower(), 1)


def _stderr_console():  # noqa: ANN202
    from rich.console import Console

    return Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    from microtrial.errors import MicrotrialError

    # Stages parallelise themselves (threads/processes); a multi-threaded BLAS on top of
    # that oversubscribes small machines badly (measured: a 600x600 eigendecomposition took
    # 2-6 s instead of 0.1 s on 2 busy cores). Users can still set their own value.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    args = list(sys.argv[1:] if argv is None else argv)
    _STATE["debug"] = "--debug" in args
    try:
        cli.main(args=args, prog_name="microtrial", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except _NO_ARGS_IS_HELP as exc:  # a bare group (click >= 8.2): show its help
        exc.show()
        return 2
    except click.ClickException as exc:  # bad option values etc.: no traceback even with --debug
        click.echo(f"error: {_click_error_line(exc)}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except MicrotrialError as exc:
        if _STATE["debug"]:
            traceback.print_exc()
        click.echo(_error_lines(exc), err=True)
        return 2
    except OSError as exc:  # missing/unreadable files, read-only file system, disk full, ...
        if _STATE["debug"]:
            traceback.print_exc()
        click.echo(f"error: {_os_error_line(exc)}", err=True)
        return 2
    return 0


def _error_lines(exc: Exception) -> str:
    """What stderr gets for one of our errors: ends in one line ``error: <file>: <what>``.

    A study with several problems lists them first, one line each (each names its file and
    line), then ``error: <study>: N problems found (listed above)``; a single problem is
    just ``error: <problem>``."""
    from microtrial.errors import StudyError

    if isinstance(exc, StudyError):
        problems = [_one_line(p) for p in exc.problems]
        if len(problems) == 1:
            return f"error: {problems[0]}"
        if problems:
            return "\n".join([*problems, f"error: {exc.path}: {len(problems)} problems found (listed above)"])
    return f"error: {_one_line(str(exc))}"


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def _os_error_line(exc: OSError) -> str:
    """``<file>: <strerror>`` (``<file> -> <file2>`` for renames; no file when unknown)."""
    from microtrial.errors import InputError

    message = _one_line(exc.strerror or str(exc) or type(exc).__name__)
    if exc.filename is None:
        return message
    name = exc.filename
    where = os.fsdecode(name) if isinstance(name, str | bytes | os.PathLike) else str(name)
    if exc.filename2 is not None:
        where = f"{where} -> {os.fsdecode(exc.filename2)}"
    return str(InputError(where, message))


def _param_name(param: click.Parameter, ctx: click.Context | None) -> str:
    """``--threads`` for an option (its longest name), ``SEQUENCES`` for an argument."""
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    if isinstance(param, click.Argument):
        return param.human_readable_name
    return param.get_error_hint(ctx) if ctx is not None else str(param.name)


def _click_error_line(exc: click.ClickException) -> str:
    """One line ``<option or argument>: <what is wrong>`` for an error click caught itself."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "microtrial"
    if isinstance(exc, click.BadParameter):
        hint = exc.param_hint
        if hint is not None:  # given by our own code, maybe quoted as click does
            where = " / ".join(h.strip("'\"") for h in ([hint] if isinstance(hint, str) else hint))
        elif exc.param is not None:
            where = _param_name(exc.param, exc.ctx)
        else:
            where = command
        if isinstance(exc, click.MissingParameter):
            kind = exc.param_type or (
                exc.param.param_type_name if exc.param is not None else "parameter"
            )
            # "Missing option '--x'. Choose from: ..." -> "missing option (Choose from: ...)"
            extra = _one_line(exc.format_message().partition(".")[2])
            what = f"missing {kind}" + (f" ({extra})" if extra else "")
        else:
            what = _one_line(exc.message)  # the message without "Invalid value for '--x':"
        return f"{where}: {what}"
    if isinstance(exc, click.NoSuchOption):
        what = "no such option"
        if exc.possibilities:
            what += f" (did you mean {' or '.join(sorted(exc.possibilities))}?)"
        return f"{exc.option_name}: {what}"
    if isinstance(exc, click.BadOptionUsage):
        # "Option '--x' requires an argument." -> "--x: requires an argument"
        what = _one_line(exc.message).removeprefix(f"Option {exc.option_name!r} ")
        return f"{exc.option_name}: {what}"
    if isinstance(exc, _NO_SUCH_COMMAND):
        name = getattr(exc, "command_name", "")
        possibilities = getattr(exc, "possibilities", None)
        what = "no such command"
        if possibilities:
            what += f" (did you mean {' or '.join(sorted(possibilities))}?)"
        return f"{name}: {what} (see '{command} --help')"
    if isinstance(exc, click.FileError):
        return f"{exc.ui_filename}: {_one_line(exc.message)}"
    return f"{command}: {_one_line(exc.format_message())}"
