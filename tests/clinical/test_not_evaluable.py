"""Clinical tables that cannot give a result: an all-empty core set measure (no subject
evaluable) and an immune table without the follow-up visit end in one error line naming
the file; subjects not evaluable are a logged warning naming the column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from microtrial.cli import main

CLINICAL = """subject\tvisit\tphga\tptga\tmmt8\thaq\textramuscular\tck
P1\tbaseline\t5\t6\t60\t1.5\t3\t800
P1\tweek12\t2\t3\t70\t1.0\t1\t300
P2\tbaseline\t4\t5\t65\t1.0\t2\t400
P2\tweek12\t4\t5\t60\t1.0\t2\t420
P3\tbaseline\t3\t3\t70\t0.5\t2\t500
P3\tweek12\t1\t2\t75\t0.25\t1\t200
"""
IMMUNE = """subject\tvisit\ttreg_pct_cd4\tth17_pct_cd4
P1\tbaseline\t8\t1.2
P1\tweek12\t12\t
P2\tbaseline\t10\t1.5
P2\tweek12\t11\t
P3\tbaseline\t6\t1.1
P3\tweek12\t9.5\t
"""


def _blank(text: str, column: str, subjects: tuple[str, ...] = ("P1", "P2", "P3")) -> str:
    lines = text.splitlines()
    i = lines[0].split("\t").index(column)
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split("\t")
        if cells[0] in subjects:
            cells[i] = ""
        out.append("\t".join(cells))
    return "\n".join(out) + "\n"


def _run(tmp_path: Path, clinical: str, immune: str | None = None) -> tuple[int, Path]:
    (tmp_path / "clinical.tsv").write_text(clinical)
    args = ["clinical", "--clinical", str(tmp_path / "clinical.tsv"), "--uln", "ck=200"]
    if immune is not None:
        (tmp_path / "immune.tsv").write_text(immune)
        args += ["--immune", str(tmp_path / "immune.tsv")]
    out = tmp_path / "out"
    return main([*args, "-o", str(out)]), out


def test_empty_core_column_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(tmp_path, _blank(CLINICAL, "phga"))
    err = capsys.readouterr().err.splitlines()
    assert rc == 2
    assert err == [f"error: {tmp_path / 'clinical.tsv'}: no subject is evaluable for IMACS DOI and TIS "
                   "(column 'phga' has no value at visit 'baseline' or 'week12')"]
    assert not (out / "clinical-response.tsv").exists()


def test_subjects_not_evaluable_are_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(tmp_path, _blank(CLINICAL, "haq", ("P2",)))
    err = capsys.readouterr().err.splitlines()
    assert rc == 0
    assert err == [f"warning: {tmp_path / 'clinical.tsv'}: 1 of 3 subjects not evaluable for IMACS DOI "
                   "and TIS: P2 (haq missing at baseline and follow-up)"]
    resp = pd.read_csv(out / "clinical-response.tsv", sep="\t").set_index("subject")
    assert resp["imacs_doi"].isna().tolist() == [False, True, False]


def test_immune_without_followup_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline_only = "\n".join(x for x in IMMUNE.splitlines() if "week12" not in x) + "\n"
    rc, out = _run(tmp_path, CLINICAL, baseline_only)
    err = capsys.readouterr().err.splitlines()
    assert rc == 2
    assert err == [f"error: {tmp_path / 'immune.tsv'}: visit: no visit 'week12' (--followup); "
                   "visits found: baseline"]
    assert not (out / "immune-paired.tsv").exists()


def test_immune_without_any_subject_at_both_visits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shifted = IMMUNE.replace("P1\tweek12", "P4\tweek12").replace("P2\tweek12", "P5\tweek12").replace(
        "P3\tweek12", "P6\tweek12")
    rc, _ = _run(tmp_path, CLINICAL, shifted)
    err = capsys.readouterr().err.splitlines()
    assert rc == 2
    assert err == [f"error: {tmp_path / 'immune.tsv'}: visit: no subject has both a 'baseline' and a "
                   "'week12' visit"]


def test_immune_column_without_pairs_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(tmp_path, CLINICAL, IMMUNE)
    err = capsys.readouterr().err.splitlines()
    assert rc == 0
    assert err == [f"warning: {tmp_path / 'immune.tsv'}: column 'th17_pct_cd4' has no subject measured at "
                   "both 'baseline' and 'week12': not tested"]
    paired = pd.read_csv(out / "immune-paired.tsv", sep="\t").set_index("measure")
    assert paired.loc["th17_pct_cd4", "n"] == 0
    assert paired.loc["th17_pct_cd4", "method"] == "not computed: no subject measured at both baseline and week12"
    assert paired.loc["treg_pct_cd4", "method"] == "exact"
