"""Newick trees via scikit-bio's TreeNode."""

from __future__ import annotations

import io
import os

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text


def read_tree(path: str | os.PathLike[str]):  # noqa: ANN201 - skbio.TreeNode
    """Read a Newick tree into :class:`skbio.TreeNode`."""
    from skbio import TreeNode

    try:
        with open_text(path) as fh:
            text = fh.read()
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    if not text.strip():
        raise InputError(path, "empty Newick file")
    if not text.strip().endswith(";"):
        raise InputError(path, "Newick tree does not end with ';'")
    try:
        return TreeNode.read(io.StringIO(text), format="newick")
    except Exception as exc:  # skbio raises several parser errors
        raise InputError(path, f"not a valid Newick tree ({exc})") from exc


def write_tree(tree, path: str | os.PathLike[str]) -> None:  # noqa: ANN001
    """Write a TreeNode as Newick (atomic)."""
    buf = io.StringIO()
    tree.write(buf, format="newick")
    with atomic_open(path) as fh:
        fh.write(buf.getvalue())
