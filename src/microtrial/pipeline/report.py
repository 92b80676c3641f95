"""``report``: a results folder -> ``report.html`` (with ``figures/``, ``tables/``, ``exports/``).

Finds the study's design the way the run resolved it, then calls
:func:`microtrial.report.write_report`:

1. what the folder's ``run-info.json`` recorded (a finished run: its resolved design and
   comparisons; a diversity or differential run: its comparisons);
2. else the folder's copy of the study file (``inputs/study.yaml``, kept by ``run``), read by
   the study loader (:func:`microtrial.study.load_design`) against the folder's metadata;
3. else no design (samples shown ungrouped), unless the design's columns are named
   (``microtrial report --group/--time/--subject``), which also replace those of 1 and 2.

``microtrial run`` calls ``write_report`` itself with its loaded study's design.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from microtrial.errors import InputError, OptionError, StudyError
from microtrial.options import mention

if TYPE_CHECKING:
    from microtrial.report import Design

log = logging.getLogger(__name__)


def study_copy_design(results_dir: Path) -> Design | None:
    """The design of the results folder's ``inputs/study.yaml`` as a
    :class:`microtrial.report.Design`, or None without one (a file that is not YAML is
    logged and skipped; sections with problems are left out, logged)."""
    from microtrial.report import results_metadata, study_design
    from microtrial.study import load_design

    path = Path(results_dir) / "inputs" / "study.yaml"
    if not path.is_file():
        return None
    try:
        found = load_design(path, results_metadata(Path(results_dir)))
    except StudyError as exc:
        log.warning("the report does not take the design from %s: %s", path, exc)
        return None
    if found.problems:
        log.warning("%s has %d problem(s); the report uses its valid sections: %s", path,
                    len(found.problems), "; ".join(found.problems))
    return study_design(found.design, found.comparisons, name=found.name, clinical=found.clinical,
                        source="inputs/study.yaml")


def report_stage(results_dir: Path, out_dir: Path | None = None, *, title: str | None = None,
                 truth_dir: Path | None = None, group: str | None = None, time: str | None = None,
                 subject: str | None = None, reference: str | None = None,
                 exports: bool = True, static_figures: bool = True) -> Path:
    """``microtrial report``: rebuild the report of ``results_dir`` (see the module notes).

    ``group``, ``time``, ``subject`` name design columns of the folder's metadata
    (``reference``: the reference level of group/time, else a control/baseline-like level).

    Raises
    ------
    InputError
        ``results_dir`` is not a results folder, or a table cannot be read.
    OptionError
        A named column is not in the metadata, or ``reference`` in neither column.
    """
    from microtrial.design import column_levels, design_of_columns, user_level
    from microtrial.report import recorded_design, results_metadata, write_report

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(results_dir, "not a results folder")
    columns = None
    if reference is not None and group is None and time is None:
        raise OptionError("report.reference", f"goes with {mention('report.group')} or {mention('report.time')}")
    if group is not None or time is not None or subject is not None:
        md = results_metadata(results_dir)
        if md is None:
            raise OptionError("report.group" if group else "report.time" if time else "report.subject",
                              f"{results_dir} holds no sample metadata (metadata-with-response.tsv "
                              "or inputs/metadata.tsv) to take the column from")
        for key, col in (("report.group", group), ("report.time", time), ("report.subject", subject)):
            if col is not None and col not in md.columns:
                raise OptionError(key, f"no column '{col}' in the metadata (columns: "
                                       f"{', '.join(map(str, md.columns))})")
        if reference is not None and not any(
                user_level(reference, md[c]) in column_levels(md[c]) for c in (group, time) if c):
            raise OptionError("report.reference", f"level '{reference}' is in neither "
                                                  f"{' nor '.join(repr(c) for c in (group, time) if c)}")
        columns = design_of_columns(md, group=group, time=time, subject=subject, reference=reference)
    design = recorded_design(results_dir)
    if design is None:
        design = study_copy_design(results_dir)
    return write_report(results_dir, out_dir, title=title, truth_dir=truth_dir, design=design,
                        columns=columns, exports=exports, static_figures=static_figures)
