"""``microtrial differential`` with a numeric 0/1 grouping column (no ``#q2:types`` line, so
read as 0.0/1.0): the levels are ``0`` and ``1``, typed levels ``1``/``1.0`` match them and
every sample is compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.cli import main

N_PER_GROUP = 6


def _inputs(tmp: Path, sim) -> tuple[Path, Path]:
    contrast, _ = sim(n_features=30, n_da=4, n_per_group=N_PER_GROUP, seed=2)
    counts = contrast.counts
    table = tmp / "table.tsv"
    counts.rename_axis("#OTU ID").to_csv(table, sep="\t")
    md = pd.DataFrame({"sample-id": counts.columns, "dose": np.where(contrast.is_test, 1, 0)})
    md.to_csv(tmp / "metadata.tsv", sep="\t", index=False)
    return table, tmp / "metadata.tsv"


@pytest.mark.parametrize(("levels", "test", "ref"), [
    ([], "1", "0"),
    (["--levels", "1,0"], "1", "0"),
    (["--levels", "1.0,0"], "1", "0"),
    (["--levels", "0,1.0"], "0", "1"),
])
def test_numeric_group_column(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str],
                              levels: list[str], test: str, ref: str) -> None:
    table, md = _inputs(tmp_path, sim)
    out = tmp_path / "out"
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "dose",
               "--method", "aldex,lefse", "--seed", "3", *levels, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "too few samples" not in err and "skipped" not in err, err
    res = pd.read_csv(out / "differential-aldex.tsv", sep="\t", dtype={"test_level": str,
                                                                       "reference_level": str})
    assert len(res) > 0
    assert set(res["contrast"]) == {f"{test}-vs-{ref}"}
    assert set(res["test_level"]) == {test} and set(res["reference_level"]) == {ref}
    assert (res["n_test"] == N_PER_GROUP).all() and (res["n_reference"] == N_PER_GROUP).all()


@pytest.mark.parametrize(("args", "line"), [
    (["--levels", "1,1.0"],
     "error: --levels: TEST and REFERENCE are both '1' and '1.0' (the same value); give two "
     "different levels"),
    (["--levels", "1,2"], "error: --levels: 2 not in column 'dose' (0, 1)"),
    (["--method", "aldex", "--seed", "-1"],
     "error: --seed: -1 is not in the range 0<=x<=4294967295"),
    (["--method", "aldex", "--seed", str(2**32)],
     "error: --seed: 4294967296 is not in the range 0<=x<=4294967295"),
])
def test_bad_levels_and_seed_are_one_error_line(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str],
                                                args: list[str], line: str) -> None:
    table, md = _inputs(tmp_path, sim)
    out = tmp_path / "out"
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "dose",
               *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.strip().splitlines() == [line], err
    assert not out.exists()
