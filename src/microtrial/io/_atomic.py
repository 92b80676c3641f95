"""Atomic output: write to a temporary file beside the target, then ``os.replace``.

A crash never leaves a complete-looking file behind. Files get the permissions a plain
``open(path, "w")`` would give (``0o666`` less the umask), folders ``0o777`` less the umask.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

# errors of writing itself: they come without a file name, so we name the target
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # 0o777 less the umask
    except FileExistsError as exc:  # the parent (or the folder it names) is a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), exc.filename) from exc


def _create_temp(target: Path) -> Path:
    """Create an empty, unique temporary file beside ``target``.

    ``tempfile.mkstemp`` would make it ``0o600``; ``os.open(..., 0o666)`` lets the kernel
    apply the umask exactly as for ``open()``, without touching the process-wide umask
    (``os.umask`` round trips race with other threads creating files).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:  # e.g. a read-only file system: name the file we were asked for
            exc.filename = str(target)
            raise
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(target.parent))


def _name_target(exc: OSError, target: Path, tmp: Path | None) -> None:
    """Make ``exc`` name ``target`` rather than the temporary file (or nothing)."""
    temporary = (
        tmp is not None and exc.filename is not None and os.fsdecode(exc.filename) == str(tmp)
    )
    if temporary or (exc.filename is None and exc.errno in _WRITE_ERRNOS):
        exc.filename = str(target)
        exc.filename2 = None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto ``path`` on success."""
    target = Path(path)
    tmp_path: Path | None = None
    try:
        _make_parent(target)
        tmp_path = _create_temp(target)
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as exc:
        if tmp_path is not None:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
        if isinstance(exc, OSError):
            _name_target(exc, target, tmp_path)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing (gzip when ``path`` ends in .gz); replace on close."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            gz_mode = mode if "b" in mode else mode.replace("w", "wt")
            with gzip.open(tmp, gz_mode, compresslevel=6, **kwargs) as fh:
                yield fh  # type: ignore[misc]
        else:
            with open(tmp, mode, **kwargs) as fh:
                yield fh


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open a text file for reading, gzip-transparent, UTF-8."""
    p = str(path)
    if p.endswith(".gz"):
        return gzip.open(p, "rt", encoding="utf-8")
    return open(p, encoding="utf-8")
