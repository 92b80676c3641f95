"""The study report: one self-contained HTML file built from the result tables of a run.

The report reads the files a run writes (by the names of CONTRACT.md) and knows no stage:
a missing table leaves its section out with a note, never a crash.
"""

from __future__ import annotations

from microtrial.report._build import write_report

__all__ = ["write_report"]
