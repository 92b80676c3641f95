"""Atomic output: write to a temporary file beside the target, then ``os.replace``.

A crash never leaves a complete-looking file behind.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
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
