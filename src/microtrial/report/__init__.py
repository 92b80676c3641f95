"""The study report: one self-contained HTML file built from the result tables of a run.

The report reads the files a run writes (by the names of CONTRACT.md) and knows no stage:
a missing table leaves its section out with a note, never a crash. The study's design and
comparisons come from the caller (:func:`design_of_study`, resolved by the study loader) or
from what the folder's ``run-info.json`` recorded (:func:`recorded_design`).
"""

from __future__ import annotations

from microtrial.report._build import results_metadata, write_report
from microtrial.report._data import (
           Design,
           design_of_study,
           read_design,
           recorded_design,
           study_design,
)

__all__ = ["Design", "design_of_study", "read_design", "recorded_design", "results_metadata", "study_design",
           "write_report"]
