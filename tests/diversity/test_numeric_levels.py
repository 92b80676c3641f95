"""``microtrial diversity`` with a numeric 0/1 grouping column (no ``#q2:types`` line, so
read as 0.0/1.0): the levels are ``0`` and ``1`` and every sample is compared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from diversity_inputs import golden_paired, write_inputs

from microtrial.cli import main


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    t, m = golden_paired()
    # 12 patient samples (dose 1) and 12 controls (dose 0); week 0/12 per subject
    m["dose"] = (m["group"] == "patient").astype(int)
    m["week"] = m["time"].map({"baseline": 0, "week12": 12})
    return write_inputs(tmp_path, t, m)


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Path, str]:
    tp, mp = _inputs(tmp_path)
    out = tmp_path / "out"
    rc = main(["diversity", "--table", str(tp), "--metadata", str(mp), "--permutations", "9",
               "--metrics", "braycurtis", *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    return out, err


@pytest.mark.parametrize(("reference", "name", "n_test", "n_ref"), [
    (None, "dose-1-vs-0", 12, 12),
    ("0", "dose-1-vs-0", 12, 12),
    ("0.0", "dose-1-vs-0", 12, 12),
    ("1.0", "dose-0-vs-1", 12, 12),
])
def test_numeric_group_column_compares_all_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   reference: str | None, name: str, n_test: int,
                                                   n_ref: int) -> None:
    args = ["--group", "dose"] + ([] if reference is None else ["--reference", reference])
    out, err = _run(tmp_path, capsys, *args)
    assert "0 sample(s)" not in err and "skipping" not in err, err
    tests = pd.read_csv(out / "diversity-tests.tsv", sep="\t")
    assert set(tests["comparison"]) == {name}
    assert (tests["n_test"] == n_test).all() and (tests["n_reference"] == n_ref).all()
    perm = pd.read_csv(out / "permanova.tsv", sep="\t")
    assert list(perm["comparison"]) == [name] and list(perm["n"]) == [24]


def test_numeric_time_column_pairs_subjects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _run(tmp_path, capsys, "--subject", "subject", "--time", "week", "--reference", "0")
    assert "skipping" not in err, err
    tests = pd.read_csv(out / "diversity-tests.tsv", sep="\t")
    assert set(tests["comparison"]) == {"week-12-vs-0"}
    assert (tests["n_test"] == 12).all() and (tests["n_reference"] == 12).all()


@pytest.mark.parametrize("args", [["--group", "group"], ["--subject", "subject", "--time", "time"]])
def test_negative_seed_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        args: list[str]) -> None:
    tp, mp = _inputs(tmp_path)
    out = tmp_path / "out"
    rc = main(["diversity", "--table", str(tp), "--metadata", str(mp), "--permutations", "9",
               "--metrics", "braycurtis", *args, "--seed", "-1", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.strip().splitlines() == [
        "error: --seed: -1 is not in the range 0<=x<=4294967295"], err
    assert not out.exists()


@pytest.mark.parametrize("healthy", ["dose=0", "dose=0.0"])
def test_numeric_healthy_level_scores_dysbiosis(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                healthy: str) -> None:
    out, err = _run(tmp_path, capsys, "--group", "dose", "--healthy", healthy)
    assert "no dysbiosis score" not in err, err
    scores = pd.read_csv(out / "dysbiosis.tsv", sep="\t")
    assert int(scores["reference"].sum()) == 12  # the 12 control samples
