"""``validate`` compares levels as the stages do (numeric metadata columns included), and
rejects ``response`` levels the clinical stage never writes, non-numeric metabolite values
and an empty ``comparisons`` list."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from microtrial.cli import main
from microtrial.clinical import responders_metadata
from microtrial.errors import StudyError
from microtrial.io.metadata import read_metadata
from microtrial.study import validate_study
from microtrial.study._validate import RESPONSE_LEVELS

from ._files import edit as _edit


def _add_dose(study_dir: Path) -> Path:
    """A ``dose`` column 1 (patients) / 0 (controls), with no #q2:types line: read as numbers."""
    md = study_dir / "metadata.tsv"
    lines = md.read_text().splitlines()
    out = [lines[0] + "\tdose"]
    for line in lines[2:]:
        out.append(line + ("\t1" if "\tpatient\t" in line else "\t0"))
    md.write_text("\n".join(out) + "\n")
    assert read_metadata(md)["dose"].dtype == float
    return md


@pytest.mark.parametrize("reference", ["0", '"0"', '"0.0"', "0.0"])
@pytest.mark.parametrize("test_level", ["1", '"1.0"'])
def test_numeric_group_column(study_dir: Path, reference: str, test_level: str) -> None:
    md = _add_dose(study_dir)
    y = study_dir / "study.yaml"
    _edit(y, "group: {column: group, reference: control}", f"group: {{column: dose, reference: {reference}}}")
    _edit(y, "column: group\n    levels: [patient, control]",
          f"column: dose\n    levels: [{test_level}, {reference}]")
    _edit(y, "where: {group: patient}", "where: {dose: 1}")
    _edit(y, "where: {group: patient, time: baseline}", "where: {dose: 1.0, time: baseline}")
    s = validate_study(y)
    assert s.design.group.reference == "0"
    between, paired, response = s.comparisons
    assert between.levels == ("1", "0") and dict(between.where) == {"time": "baseline"}
    assert dict(paired.where) == {"dose": "1"} and dict(response.where) == {"dose": "1", "time": "baseline"}
    metadata = read_metadata(md)
    rows = between.samples(metadata)  # baseline: P1-0, P2-0 (dose 1); C1-0, C2-0 (dose 0)
    assert (rows["dose"] == "1").sum() == 2 and (rows["dose"] == "0").sum() == 2
    rows = paired.samples(metadata)  # both visits of P1 and P2
    assert sorted(rows.index) == ["P1-0", "P1-12", "P2-0", "P2-12"]


def test_numeric_group_column_default_comparisons(study_dir: Path) -> None:
    _add_dose(study_dir)
    y = study_dir / "study.yaml"
    _edit(y, "group: {column: group, reference: control}", 'group: {column: dose, reference: "0.0"}')
    text = y.read_text()
    y.write_text(text[: text.index("comparisons:")] + text[text.index("clinical:"):])
    s = validate_study(y)
    assert [(c.name, c.levels, dict(c.where)) for c in s.comparisons] == [
        ("1-vs-0", ("1", "0"), {"time": "baseline"}),
        ("week12-vs-baseline", ("week12", "baseline"), {"dose": "1"}),
    ]


def test_numeric_level_missing_from_the_column(study_dir: Path) -> None:
    _add_dose(study_dir)
    y = study_dir / "study.yaml"
    _edit(y, "group: {column: group, reference: control}", "group: {column: dose, reference: 2}")
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert info.value.problems == [
        f"{y}: line 5: design.group.reference: level '2' is not in column 'dose' of "
        "metadata.tsv (levels: 0, 1)"]


def test_two_spellings_of_one_numeric_level(study_dir: Path) -> None:
    _add_dose(study_dir)
    y = study_dir / "study.yaml"
    _edit(y, "column: group\n    levels: [patient, control]", 'column: dose\n    levels: [1, "1.0"]')
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert info.value.problems == [
        f"{y}: line 21: comparisons.0.levels: '1' and '1.0' are the same level (1) of the "
        "numeric column 'dose'"]


@pytest.mark.parametrize(("levels", "loc", "message"), [
    ("[responder, nonresponder]", "line 31: comparisons.2.levels.1",
     "level 'nonresponder' is not a level of column 'response', which the clinical stage fills "
     "with responder or non-responder (did you mean 'non-responder'?)"),
    ("[Responder, non-responder]", "line 31: comparisons.2.levels.0",
     "level 'Responder' is not a level of column 'response', which the clinical stage fills "
     "with responder or non-responder (did you mean 'responder'?)"),
])
def test_unknown_response_levels_are_rejected(study_dir: Path, levels: str, loc: str,
                                              message: str) -> None:
    y = study_dir / "study.yaml"
    _edit(y, "levels: [responder, non-responder]", f"levels: {levels}")
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert info.value.problems == [f"{y}: {loc}: {message}"]


def test_unknown_response_filter_level_is_rejected(study_dir: Path) -> None:
    y = study_dir / "study.yaml"
    _edit(y, "where: {group: patient}", "where: {group: patient, response: responders}")
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert info.value.problems == [
        f"{y}: line 27: comparisons.1.where.response: filter level 'responders' is not a level of "
        "column 'response', which the clinical stage fills with responder or non-responder "
        "(did you mean 'responder'?)"]


def test_response_column_in_the_metadata_is_replaced_by_the_clinical_stage(study_dir: Path) -> None:
    # with 'clinical', the run writes its own response column over the metadata's
    md = study_dir / "metadata.tsv"
    lines = md.read_text().splitlines()
    md.write_text("\n".join([lines[0] + "\tresponse", lines[1] + "\tcategorical"]
                            + [line + ("\tgood" if "P1" in line else "\tpoor") for line in lines[2:]])
                  + "\n")
    y = study_dir / "study.yaml"
    _edit(y, "levels: [responder, non-responder]", "levels: [good, poor]")
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert [p.split(": ")[2] for p in info.value.problems] == [
        "comparisons.2.levels.0", "comparisons.2.levels.1"]


def test_response_levels_are_those_the_clinical_stage_writes() -> None:
    md = pd.DataFrame({"subject": ["A", "B", "C"]}, index=["s1", "s2", "s3"])
    labels = responders_metadata({"A": True, "B": False, "C": None}, md, "subject")["response"]
    assert set(labels.dropna()) == set(RESPONSE_LEVELS)


def test_non_numeric_metabolite_value(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    met = study_dir / "metabolites.tsv"
    met.write_text(met.read_text().replace("P1-12\t1.9", "P1-12\t<LOD"))
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    assert len(info.value.problems) == 1
    problem = info.value.problems[0]
    assert problem.startswith(f"{study_dir / 'study.yaml'}: line 39: metabolites: cannot read: ")
    assert "metabolites.tsv: line 3: asparagine: '<LOD' of 'P1-12' is not a number" in problem
    assert main(["validate", str(study_dir / "study.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {problem}"]


def test_metabolites_of_unknown_samples_still_reported(study_dir: Path) -> None:
    met = study_dir / "metabolites.tsv"
    met.write_text(met.read_text() + "Z9-0\t1\t2\n")
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    assert len(info.value.problems) == 1
    assert info.value.problems[0].endswith("samples in metabolites.tsv not in the metadata: Z9-0")


def test_empty_comparisons_are_rejected(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    y = study_dir / "study.yaml"
    text = y.read_text()
    y.write_text(text[: text.index("comparisons:")] + "comparisons: []\n" + text[text.index("clinical:"):])
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert info.value.problems == [
        f"{y}: line 17: comparisons: the list is empty: list at least one comparison, or omit "
        "'comparisons' to derive them from the design"]
    assert main(["validate", str(y)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {info.value.problems[0]}"]
