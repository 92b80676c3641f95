"""One error hierarchy for everything a user can cause.

Only the CLI turns these into ``error: <file>: <what is wrong>`` and exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from typing import Any


def _restore(cls: type[Exception], state: dict[str, Any]) -> Exception:
    """Rebuild an error with its attributes (pickling: errors raised in worker processes)."""
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    Exception.__init__(obj, str(obj))
    return obj


class MicrotrialError(Exception):
    """Base class of every error microtrial raises on purpose."""


class InputError(MicrotrialError):
    """A problem with one input file (or one command-line value).

    Parameters
    ----------
    path : path-like or str, optional
        The file at fault (or an option name such as ``--trunc-len-f``).
    message : str
        What is wrong, in plain words.
    line : int, optional
        1-based line number, when known.
    field : str, optional
        Column or field name, when known.

    Notes
    -----
    ``message`` may mention an option by its key in braces
    (``microtrial.options.mention("reads.min_overlap")``): ``str()`` renders it as the
    option's flag, or as its study-file key once :attr:`study_keys` is set (the CLI sets it
    for errors raised while running a study file).
    """

    study_keys: bool = False
    """Render the options :attr:`message` mentions as study-file keys, not flags."""

    def __init__(
        self,
        path: str | PathLike[str] | None,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.message = message
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field is not None:
            parts.append(f"{self.field}")
        parts.append(self.text)
        return ": ".join(parts)

    @property
    def text(self) -> str:
        """:attr:`message` with the options it mentions named (flags, or study-file keys
        with :attr:`study_keys`; :func:`microtrial.options.render`)."""
        from microtrial.options import render

        return render(self.message, study=self.study_keys)

    def in_study_keys(self) -> InputError:
        """This error as reported for a study file: mentioned options named by their keys."""
        self.study_keys = True
        self.args = (self.__str__(),)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), dict(self.__dict__)))


class OptionError(InputError):
    """A bad option value, named by its study-file key (``options.permutations``).

    Stages raise it instead of naming a command-line flag: the same check serves
    ``microtrial diversity --permutations -1`` and a study file's ``permutations: -1``.
    ``str()`` names the flag (:func:`microtrial.options.flag_for`), e.g. ``--permutations:
    must be >= 0``; once the CLI has attached the study file the option came from
    (:meth:`in_study`) it names the file, its line and the key, e.g. ``study.yaml: line
    12: options.permutations: must be >= 0``.

    Parameters
    ----------
    key : str
        The study-file key (dotted, as in docs/study-file.md), or ``<stage>.<option>`` for
        an option the study file has no key for (listed in
        :data:`microtrial.options.STAGE_OPTIONS`).
    message : str
        What is wrong, in plain words. Another option is mentioned by its key in braces
        (``microtrial.options.mention("reads.min_overlap")``): rendered as its flag or its
        key, as this error's own name is.
    """

    def __init__(self, key: str, message: str) -> None:
        from microtrial.options import flag_for

        self.key = key
        self.study: str | None = None
        super().__init__(flag_for(key), message)

    @property
    def flag(self) -> str:
        """The command-line flag of :attr:`key` (the key when it has none)."""
        from microtrial.options import flag_for

        return flag_for(self.key)

    def in_study(self, study: str | PathLike[str], line: int | None = None) -> OptionError:
        """This error as raised by the study file ``study`` (``line``: the key's line)."""
        self.study = str(study)
        self.study_keys = True
        self.line = line
        self.path = self.study
        self.args = (self.__str__(),)
        return self

    def __str__(self) -> str:
        if self.study is None:
            return f"{self.flag}: {self.text}"
        where = [self.study, *([f"line {self.line}"] if self.line is not None else []), self.key]
        return ": ".join([*where, self.text])


class StudyError(MicrotrialError):
    """Every problem found in a study file and the files it names, collected at once."""

    def __init__(self, path: str | PathLike[str], problems: Iterable[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{self.path}: {n} problem{'s' if n != 1 else ''} found"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), dict(self.__dict__)))


class AnalysisError(MicrotrialError):
    """The data cannot support the requested analysis (e.g. a group with one sample)."""
