"""The report shows the study's comparisons as the run resolved them (levels in the
metadata's text, the design's default comparisons when the study lists none), takes a
diversity run's recorded comparisons, and guesses no column: without a design the samples
are ungrouped unless ``microtrial report --group/--time/--subject`` names the columns."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from cli_checks import one_error
from microtrial.design import Comparison

# three patients at weeks 0 and 12, three controls at week 0 (week is numeric)
SAMPLES = ["P1-0", "P1-12", "P2-0", "P2-12", "P3-0", "P3-12", "C1-0", "C2-0", "C3-0"]
SHANNON = [1.0, 2.0, 1.2, 2.2, 1.4, 2.6, 3.0, 3.1, 3.2]
HEAD = ("name: resolved\nmetadata: metadata.tsv\ntable: feature-table.tsv\n"
        "design: {subject: subject, group: {column: group, reference: control}, "
        "time: {column: week, reference: 0.0}}\n")
# by hand: patients at week 0: 1.0, 1.2, 1.4 (median 1.2); at week 12: 2.0, 2.2, 2.6 (2.2);
# controls at week 0: 3.0, 3.1, 3.2 (3.1)
PAIRED = ("Shannon diversity was higher in 12 than 0 (median 2.2 vs 1.2; Wilcoxon signed-rank, "
          "p = 0.03).")
BETWEEN = "Shannon diversity was lower in patient than control (median 1.2 vs 3.1; Mann-Whitney, p = 0.01)."


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    (d / "inputs").mkdir(parents=True)
    pd.DataFrame({"sample-id": SAMPLES, "subject": [s.split("-")[0] for s in SAMPLES],
                  "group": ["patient"] * 6 + ["control"] * 3,
                  "week": [int(s.split("-")[1]) for s in SAMPLES]}).to_csv(
        d / "metadata-with-response.tsv", sep="\t", index=False)
    pd.DataFrame({"sample-id": SAMPLES, "shannon": SHANNON}).to_csv(
        d / "alpha-diversity.tsv", sep="\t", index=False)
    pd.DataFrame({"comparison": ["12-vs-0", "w12", "patient-vs-control"], "index": ["shannon"] * 3,
                  "test": ["wilcoxon-signed-rank", "wilcoxon-signed-rank", "mann-whitney"],
                  "p_value": [0.03, 0.03, 0.01]}).to_csv(d / "diversity-tests.tsv", sep="\t", index=False)
    return d


def _page(folder: Path, out: Path, **kw: object) -> str:
    from microtrial.pipeline.report import report_stage

    return report_stage(folder, out, static_figures=False, exports=False, **kw).read_text()  # type: ignore[arg-type]


def test_levels_typed_as_numbers_match_the_metadata(folder: Path, tmp_path: Path) -> None:
    # the study file types week 12 as 12.0: the run resolves it to the metadata's "12"
    (folder / "inputs" / "study.yaml").write_text(
        HEAD + "comparisons:\n- {name: w12, kind: paired, column: week, levels: [12.0, 0], "
        "where: {group: patient}}\n")
    page = _page(folder, tmp_path / "rep")
    assert PAIRED in page and BETWEEN not in page  # only the listed comparison


def test_the_designs_default_comparisons_when_the_study_lists_none(folder: Path, tmp_path: Path) -> None:
    (folder / "inputs" / "study.yaml").write_text(HEAD)
    page = _page(folder, tmp_path / "rep")
    assert BETWEEN in page and PAIRED in page


def test_the_comparisons_a_diversity_run_recorded(folder: Path, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from microtrial.report import write_report

    comps = [Comparison("patient-vs-control", "between", "group", ("patient", "control"), {"week": "0"})]
    (folder / "run-info.json").write_text(json.dumps(
        {"command": "diversity", "options": {"comparisons": [dataclasses.asdict(c) for c in comps]}}))
    with caplog.at_level(logging.INFO, logger="microtrial.report"):
        page = write_report(folder, tmp_path / "rep", static_figures=False, exports=False).read_text()
    assert BETWEEN in page
    assert "group 'group' (reference 'control')" in caplog.text and "inferred" in caplog.text
    t1 = pd.read_csv(tmp_path / "rep" / "tables" / "table1-cohort.tsv", sep="\t", dtype=str)
    assert [c for c in t1.columns if c not in ("characteristic", "test")] == ["control", "patient"]


def test_no_design_no_guess_unless_the_columns_are_named(folder: Path, tmp_path: Path) -> None:
    # columns named group/week/subject are not taken for the design on their own
    _page(folder, tmp_path / "rep")
    t1 = pd.read_csv(tmp_path / "rep" / "tables" / "table1-cohort.tsv", sep="\t", dtype=str)
    assert [c for c in t1.columns if c not in ("characteristic", "test")] == ["all"]
    assert "group" in set(t1["characteristic"].str.split(":").str[0])  # an ordinary column
    # named on the command line: groups at the reference week, and the comparisons that
    # microtrial diversity --group/--time names (each level against the reference, all samples)
    pd.DataFrame({"comparison": ["group-patient-vs-control"], "index": ["shannon"], "test": ["mann-whitney"],
                  "p_value": [0.01]}).to_csv(folder / "diversity-tests.tsv", sep="\t", index=False)
    page = _page(folder, tmp_path / "rep2", group="group", time="week", subject="subject", reference="0")
    t1 = pd.read_csv(tmp_path / "rep2" / "tables" / "table1-cohort.tsv", sep="\t", dtype=str).set_index(
        "characteristic")
    assert t1.loc["subjects, n", "patient"] == "3" and t1.loc["samples at baseline, n", "control"] == "3"
    # patients' six samples: median (1.4 + 2.0) / 2 = 1.7; controls 3.1
    assert ("Shannon diversity was lower in patient than control (median 1.7 vs 3.1; Mann-Whitney, "
            "p = 0.01).") in page


def test_named_columns_are_checked(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error(capsys, ["report", str(folder), "-o", str(tmp_path / "rep"), "--group", "arm"],
                     out=tmp_path / "rep")
    assert line == "error: --group: no column 'arm' in the metadata (columns: subject, group, week)"
    line = one_error(capsys, ["report", str(folder), "-o", str(tmp_path / "rep"), "--reference", "0"],
                     out=tmp_path / "rep")
    assert line == "error: --reference: goes with --group or --time"
    line = one_error(capsys, ["report", str(folder), "-o", str(tmp_path / "rep"), "--group", "group",
                              "--reference", "healthy"], out=tmp_path / "rep")
    assert line == "error: --reference: level 'healthy' is in neither 'group'"
