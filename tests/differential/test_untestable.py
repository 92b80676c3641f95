"""Differential runs that cannot test anything end in one ``error:`` line (exit 2, no
output folder), never in header-only tables and exit 0; skipped tests are logged warnings
(one plain ``warning:`` line each), not a third ``note:`` format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_checks import one_error
from microtrial.cli import main


def _study(tmp: Path, sim, *, paired: bool = False) -> tuple[Path, Path]:
    contrast, _ = sim(n_features=30, n_da=4, n_per_group=6, paired=paired, seed=3)
    counts = contrast.counts
    table = tmp / "table.tsv"
    counts.rename_axis("#OTU ID").to_csv(table, sep="\t")
    n = counts.shape[1]
    md = pd.DataFrame({"sample-id": counts.columns,
                       "group": np.where(contrast.is_test, "patient", "control"),
                       # every sample its own subject: nobody is sampled in both groups
                       "subject": contrast.subject.to_numpy() if paired else [f"P{i}" for i in range(n)],
                       "age": np.linspace(30, 60, n), "bmi": np.nan})
    md.to_csv(tmp / "metadata.tsv", sep="\t", index=False)
    return table, tmp / "metadata.tsv"


def _error(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path) -> str:
    return one_error(capsys, ["differential", *argv, "-o", str(out)], out=out)


def test_all_zero_table_is_an_error(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str]) -> None:
    table, md = _study(tmp_path, sim)
    t = pd.read_csv(table, sep="\t", index_col=0)
    (t * 0).to_csv(table, sep="\t")
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group"],
                  tmp_path / "out")
    assert line == f"error: {table}: all counts are zero"


def test_samples_without_reads_are_left_out_with_a_warning(tmp_path: Path, sim,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    table, md = _study(tmp_path, sim)
    t = pd.read_csv(table, sep="\t", index_col=0)
    t[t.columns[0]] = 0
    t.to_csv(table, sep="\t")
    out = tmp_path / "out"
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "group",
               "--method", "aldex", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert err.splitlines() == [f"warning: 1 sample(s) of {table} have no reads and are left out: {t.columns[0]}"]
    df = pd.read_csv(out / "differential-aldex.tsv", sep="\t")
    assert set(df["n_test"] + df["n_reference"]) == {t.shape[1] - 1}


@pytest.mark.parametrize("args", [["--kind", "paired"], ["--method", "paired-wilcoxon"]])
def test_paired_without_any_pair_is_an_error(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str],
                                             args: list[str]) -> None:
    table, md = _study(tmp_path, sim)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--subject", "subject", *args], tmp_path / "out")
    where = str(md) if args[0] == "--kind" else "--method"
    assert line.startswith(f"error: {where}: "), line
    assert "no subject (column 'subject') has samples at both 'patient' and 'control'" in line


def test_all_missing_covariate_is_named(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str]) -> None:
    table, md = _study(tmp_path, sim)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--covariates", "age,bmi"], tmp_path / "out")
    assert line == f"error: {md}: covariate 'bmi' (--covariates) is missing for every sample"


@pytest.mark.parametrize(("covariate", "what"), [("group", "is the compared column"),
                                                 ("subject", "is the subject column")])
def test_covariate_equal_to_the_design_is_an_error(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str],
                                                   covariate: str, what: str) -> None:
    table, md = _study(tmp_path, sim, paired=True)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--subject", "subject", "--covariates", covariate], tmp_path / "out")
    assert line.startswith(f"error: --covariates: '{covariate}' {what} of comparison 'patient-vs-control'"), line


def test_no_test_at_all_is_an_error(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str]) -> None:
    table, md = _study(tmp_path, sim)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--method", "lmm", "--min-abundance", "0.9"], tmp_path / "out")
    assert line.startswith(f"error: {table}: no differential test could run: lmm asv patient-vs-control: "
                           f"fewer than 2 features (0) left after"), line


def test_skipped_tests_are_logged_once_not_printed_as_notes(tmp_path: Path, sim,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    table, md = _study(tmp_path, sim)
    out = tmp_path / "out"
    # age is collinear with the group (sorted by group): lmm cannot fit; aldex still runs
    m = pd.read_csv(md, sep="\t")
    m["age"] = (m["group"] == "patient").astype(float)
    m.to_csv(md, sep="\t", index=False)
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "group",
               "--method", "aldex,lmm,paired-wilcoxon", "--covariates", "age", "-o", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "note:" not in cap.err
    lines = cap.err.splitlines()
    assert all(x.startswith("warning: ") for x in lines), cap.err
    assert len(lines) == len(set(lines)) == 1, cap.err  # lmm's rank problem, once
    assert "lmm asv patient-vs-control" in lines[0]
    assert "2 test(s) skipped" in cap.out
