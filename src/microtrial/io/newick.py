"""Newick trees via scikit-bio's TreeNode."""

from __future__ import annotations

import io
import os
import warnings
import zlib

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text


def read_tree(path: str | os.PathLike[str]):  # noqa: ANN201 - skbio.TreeNode
    """Read a Newick tree (``.gz`` transparent) into :class:`skbio.TreeNode`.

    Every unreadable, binary, empty or malformed file raises
    :class:`~microtrial.errors.InputError` naming ``path``.
    """
    from skbio import TreeNode

    try:
        with open_text(path) as fh:
            text = fh.read()
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(path, "is a folder, expected a Newick file") from exc
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise InputError(
            path, f"not a Newick text file (byte {byte:#04x} at offset {exc.start} is not UTF-8)"
        ) from exc
    except (EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(path, f"cannot be read (truncated or corrupt gzip?): {exc}") from exc
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if "\x00" in text:
        raise InputError(path, "binary file (NUL bytes), not a Newick tree")
    if not text.strip():
        raise InputError(path, "empty Newick file")
    if not text.strip().endswith(";"):
        raise InputError(path, "Newick tree does not end with ';' (truncated?)")
    try:
        # scikit-bio warns (FormatIdentificationWarning) before raising on a malformed tree;
        # the InputError below says it once, in our words
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return TreeNode.read(io.StringIO(text), format="newick")
    except Exception as exc:  # skbio raises several parser errors
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(path, f"not a valid Newick tree ({reason})") from exc


def write_tree(tree, path: str | os.PathLike[str]) -> None:  # noqa: ANN001
    """Write a TreeNode as Newick (atomic)."""
    buf = io.StringIO()
    tree.write(buf, format="newick")
    with atomic_open(path) as fh:
        fh.write(buf.getvalue())
