"""Shared study-test inputs: the sample ids of ``tests/data/study`` and an in-place edit."""

from __future__ import annotations

from pathlib import Path

SAMPLES = ["P1-0", "P1-12", "P2-0", "P2-12", "C1-0", "C2-0"]


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in the file ``path`` by ``new``."""
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
