"""``load_design``: the design, comparisons and clinical settings of a study file, read the
way ``load_study`` reads them, while other sections may have problems (the report reads the
copy of the study file a run keeps, whose reads and tables may be gone)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microtrial.design import Comparison
from microtrial.study import load_design, load_study

MD = pd.DataFrame({"sample-id": ["P1-0", "P1-12", "P2-0", "P2-12", "C1-0", "C2-0"],
                   "subject": ["P1", "P1", "P2", "P2", "C1", "C2"],
                   "group": ["patient"] * 4 + ["control"] * 2, "week": [0, 12, 0, 12, 0, 0]})
HEAD = ("name: t\nmetadata: metadata.tsv\n"
        "design: {subject: subject, group: {column: group, reference: control}, "
        "time: {column: week, reference: 0.0}}\n")


def _metadata(d: Path) -> pd.DataFrame:
    from microtrial.io.metadata import read_metadata

    MD.to_csv(d / "metadata.tsv", sep="\t", index=False)
    return read_metadata(d / "metadata.tsv")


def test_the_same_comparisons_as_load_study(tmp_path: Path) -> None:
    md = _metadata(tmp_path)
    study = tmp_path / "study.yaml"
    study.write_text(HEAD + "table: table.tsv\nclinical: {table: clinical.tsv, baseline: '0', followup: '12'}\n")
    found = load_design(study, md)
    full = load_study(study)  # defaults derived from the design, levels in canonical text
    assert found.problems == ()
    assert found.comparisons == full.comparisons
    assert [c.name for c in found.comparisons] == ["patient-vs-control", "12-vs-0"]
    assert found.design == full.design and found.design.time.reference == "0"
    assert found.name == "t" and found.clinical.followup == "12"


def test_sections_with_problems_are_left_out_and_listed(tmp_path: Path) -> None:
    md = _metadata(tmp_path)
    study = tmp_path / "study.yaml"
    # no reads or table, an unknown option, a comparison typed with a numeric level
    study.write_text(HEAD + "options: {permutatons: 9}\ncomparisons:\n"
                     "- {name: w, kind: paired, column: week, levels: [12.0, 0], where: {group: patient}}\n")
    found = load_design(study, md)
    assert any("one of 'reads'" in p for p in found.problems)
    assert any("options.permutatons" in p for p in found.problems)
    assert found.comparisons == (Comparison("w", "paired", "week", ("12", "0"), {"group": "patient"},
                                            subject="subject"),)
    # a design with problems is left out; the comparisons are still read (no subject then)
    study.write_text("metadata: metadata.tsv\ndesign: {group: {column: group, reference: control}}\n"
                     "comparisons:\n- {name: pc, kind: between, column: group, levels: [patient, control]}\n")
    found = load_design(study, md)
    assert found.design is None and any("design.subject" in p for p in found.problems)
    assert [c.name for c in found.comparisons] == ["pc"]
    # without metadata and without comparisons in the file: none
    study.write_text(HEAD)
    assert load_design(study).comparisons == ()
