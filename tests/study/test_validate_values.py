"""``validate`` reads the clinical and immune tables as the clinical stage does, so a bad
value fails validation instead of a run minutes later."""

from __future__ import annotations

import pytest

from microtrial.cli import main
from microtrial.errors import StudyError
from microtrial.study import validate_study


def test_non_numeric_clinical_score(study_dir, capsys):
    clinical = study_dir / "clinical.tsv"
    clinical.write_text(clinical.read_text().replace("P1\tweek12\t2\t2\t74", "P1\tweek12\t2\t2\tn.d."))
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    assert info.value.problems == [
        f"{study_dir / 'study.yaml'}: line 34: clinical.table: clinical.tsv: line 3: mmt8: "
        "subject 'P1' visit 'week12': 'n.d.' is not a number"]
    assert main(["validate", str(study_dir / "study.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {info.value.problems[0]}\n"


def test_clinical_value_outside_its_scale(study_dir):
    clinical = study_dir / "clinical.tsv"
    clinical.write_text(clinical.read_text().replace("P2\tbaseline\t5\t6\t66", "P2\tbaseline\t5\t6\t96"))
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    assert len(info.value.problems) == 1
    assert "line 4: mmt8: subject 'P2' visit 'baseline': 96 is outside the scale's range 0-80" \
        in info.value.problems[0]


def test_non_numeric_immune_value(study_dir):
    immune = study_dir / "immune.tsv"
    immune.write_text(immune.read_text().replace("16.4", "high"))
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    assert info.value.problems == [
        f"{study_dir / 'study.yaml'}: line 38: immune: immune.tsv: line 5: treg_pct: "
        "subject 'P2' visit 'week12': 'high' is not a number"]
