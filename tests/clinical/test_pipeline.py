"""clinical_stage and ``microtrial clinical`` end to end on a tiny hand-scored cohort."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.pipeline.clinical import clinical_stage

CLINICAL = """subject\tvisit\tgroup\tphga\tptga\tmmt8\thaq\textramuscular\tck\taldolase
P1\tbaseline\tIL2\t5\t6\t60\t1.5\t3\t800\t10
P1\tweek12\tIL2\t2\t3\t70\t1.0\t1\t300\t8
P2\tbaseline\tIL2\t4\t5\t65\t1.0\t0\t400\tNA
P2\tweek12\tIL2\t4\t5\t60\t1.0\t2\t420\t
P3\tbaseline\tIL2\t3\t3\t70\t0.5\t2\t250\t8
P3\tweek12\tIL2\t\t2\t75\t0.25\t1\t200\t7
"""
# Hand scoring (ULN ck 200, aldolase 7.6):
# P1: enzyme ck (800/200 = 4x > 10/7.6 = 1.3x). phga (5-2)/5 = 60% -> 20; ptga (6-3)/6 = 50% -> 10;
#     mmt (70-60)/60 = 16.67% -> 20; haq (1.5-1)/1.5 = 33.3% -> 7.5; ck (800-300)/800 = 62.5% -> 7.5;
#     extramuscular (3-1)/3 = 66.7% -> 20. TIS 85 major; 5 improved, 0 worse -> DOI met.
# P2: phga, ptga, haq 0%; mmt (60-65)/65 = -7.7%; ck (400-420)/400 = -5%; extramuscular 0 -> 2:
#     worsened. 0 improved -> DOI not met; TIS 0 none.
# P3: phga missing at follow-up -> not evaluable.
IMMUNE = """subject\tvisit\ttreg_pct_cd4
P1\tbaseline\t8
P1\tweek12\t12
P2\tbaseline\t10
P2\tweek12\t11
P3\tbaseline\t6
P3\tweek12\t9.5
"""


@pytest.fixture()
def cohort(tmp_path):
    (tmp_path / "clinical.tsv").write_text(CLINICAL)
    (tmp_path / "immune.tsv").write_text(IMMUNE)
    return tmp_path


def test_clinical_stage(cohort) -> None:
    out = cohort / "out"
    s = clinical_stage(cohort / "clinical.tsv", out, immune=cohort / "immune.tsv",
                       uln={"ck": 200, "aldolase": 7.6})
    assert s.responders == {"P1": True, "P2": False, "P3": None}
    resp = pd.read_csv(out / "clinical-response.tsv", sep="\t", dtype=str, keep_default_na=False).set_index("subject")
    assert list(resp.columns[:4]) == ["imacs_doi", "tis", "tis_category", "not_evaluable"]
    assert resp.loc["P1", ["imacs_doi", "tis", "tis_category", "enzyme"]].tolist() == ["true", "85", "major", "ck"]
    assert resp.loc["P2", ["imacs_doi", "tis", "tis_category"]].tolist() == ["false", "0", "none"]
    assert resp.loc["P2", "pct_extramuscular"] == "-inf"
    assert resp.loc["P3", "imacs_doi"] == "" and "phga missing at follow-up" in resp.loc["P3", "not_evaluable"]
    rates = pd.read_csv(out / "response-rates.tsv", sep="\t").set_index(["group", "endpoint"])
    assert rates.loc[("all", "imacs_doi"), ["responders", "evaluable"]].tolist() == [1, 2]
    imm = pd.read_csv(out / "immune-paired.tsv", sep="\t").iloc[0]
    # differences 4, 1, 3.5: V = 6, exact two-sided p = 2 * P(V >= 6) = 2/8 = 0.25
    assert imm["statistic_v"] == 6 and imm["p_value"] == pytest.approx(0.25) and imm["method"] == "exact"
    info = json.loads((out / "run-info.json").read_text())
    assert info["command"] == "clinical" and info["options"]["uln"] == {"ck": 200.0, "aldolase": 7.6}


def test_clinical_stage_errors(cohort) -> None:
    with pytest.raises(InputError, match="no visit 'month6'"):
        clinical_stage(cohort / "clinical.tsv", cohort / "o", followup="month6")
    with pytest.raises(InputError, match="unknown enzyme"):
        clinical_stage(cohort / "clinical.tsv", cohort / "o", uln={"cpk": 200})
    assert not (cohort / "o" / "clinical-response.tsv").exists()


def test_cli(cohort, capsys) -> None:
    out = cohort / "cli-out"
    rc = main(["clinical", "--clinical", str(cohort / "clinical.tsv"), "--immune", str(cohort / "immune.tsv"),
               "--uln", "ck=200,aldolase=7.6", "--population", "juvenile", "-o", str(out)])
    assert rc == 0
    assert "1/2" in capsys.readouterr().out
    resp = pd.read_csv(out / "clinical-response.tsv", sep="\t").set_index("subject")
    assert resp.loc["P1", "tis_category"] == "major"  # 85 >= 70 (juvenile)
    bad = cohort / "bad.tsv"
    bad.write_text(CLINICAL.replace("P2\tweek12\tIL2\t4\t5\t60", "P2\tweek12\tIL2\t4\t5\t95"))
    rc = main(["clinical", "--clinical", str(bad), "-o", str(cohort / "bad-out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and "bad.tsv" in err and "mmt8" in err and "'P2'" in err and "'week12'" in err
    assert not (cohort / "bad-out" / "clinical-response.tsv").exists()
    assert main(["clinical", "--help"]) == 0


def test_failed_rerun_into_a_used_folder_does_not_look_complete(cohort, monkeypatch) -> None:
    """run-info.json marks a complete folder; a run that fails while writing removes the
    earlier run's, and a run that fails on its inputs leaves the earlier folder as it was."""
    import microtrial.pipeline.clinical as stage

    out = cohort / "out"
    clinical_stage(cohort / "clinical.tsv", out, uln={"ck": 200, "aldolase": 7.6})
    assert (out / "run-info.json").exists()
    with pytest.raises(InputError):  # bad input: nothing touched
        clinical_stage(cohort / "clinical.tsv", out, followup="month6")
    assert (out / "run-info.json").exists()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stage, "write_tsv", disk_full)
    with pytest.raises(OSError):
        clinical_stage(cohort / "clinical.tsv", out, uln={"ck": 200, "aldolase": 7.6})
    assert not (out / "run-info.json").exists()
