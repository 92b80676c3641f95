"""Degenerate distances (all 0, no spread within groups): PERMANOVA, PERMDISP and ANOSIM
report NaN with one logged warning saying why, never a raw numpy RuntimeWarning or a
made-up p-value."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.cli import main
from microtrial.diversity import anosim, permanova, permdisp

IDS = [f"s{i}" for i in range(6)]
GROUPS = pd.Series(list("aaabbb"), index=IDS)


def _zero() -> pd.DataFrame:
    return pd.DataFrame(np.zeros((6, 6)), index=IDS, columns=IDS)


def test_all_zero_distances_give_nan_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    md = pd.DataFrame({"g": GROUPS})
    with caplog.at_level(logging.WARNING, logger="microtrial"):
        res = permanova(_zero(), md, ["g"], permutations=99)
        f, p, z = permdisp(_zero(), GROUPS, permutations=99)
        r, pa = anosim(_zero(), GROUPS, permutations=99)
    row = res.set_index("term").loc["g"]
    assert np.isnan(row["pseudo_F"]) and np.isnan(row["p_value"])
    assert np.isnan(f) and np.isnan(p) and (z == 0).all()
    assert np.isnan(r) and np.isnan(pa)
    text = [rec.getMessage() for rec in caplog.records]
    assert len(text) == 3, text
    assert all("distance" in t and "undefined (NaN)" in t for t in text), text
    assert text[0].startswith("PERMANOVA") and text[1].startswith("PERMDISP") and text[2].startswith("ANOSIM")


def test_no_spread_within_groups(caplog: pytest.LogCaptureFixture) -> None:
    # distance 0 within groups, 1 between: PERMANOVA's F is infinite but its permutation
    # test still works (vegan: p = share of permutations separating the groups as well);
    # PERMDISP's F is 0/0 (every distance to the centroid is the same)
    d = (GROUPS.to_numpy()[:, None] != GROUPS.to_numpy()[None, :]).astype(float)
    dm = pd.DataFrame(d, index=IDS, columns=IDS)
    with caplog.at_level(logging.WARNING, logger="microtrial"):
        res = permanova(dm, pd.DataFrame({"g": GROUPS}), ["g"], permutations=199, seed=1)
        f, p, _ = permdisp(dm, GROUPS, permutations=99)
        r, pa = anosim(dm, GROUPS, permutations=99)
    row = res.set_index("term").loc["g"]
    assert row["pseudo_F"] == np.inf and row["R2"] == pytest.approx(1.0)
    # 2 of the 20 splits of 6 samples into 3 + 3 reproduce the grouping
    assert 0.02 < row["p_value"] < 0.25
    assert np.isnan(f) and np.isnan(p)
    assert r == pytest.approx(1.0) and pa < 0.25
    assert [rec.getMessage().split(" ")[0] for rec in caplog.records] == ["PERMDISP"]


def test_one_feature_table_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "ft_onefeature.tsv"
    table.write_text("#OTU ID\t" + "\t".join(IDS) + "\nOTU1\t" + "\t".join(str(5 + i) for i in range(6)) + "\n")
    md = tmp_path / "md.tsv"
    md.write_text("sample-id\tgroup\n" + "".join(f"{s}\t{g}\n" for s, g in GROUPS.items()))
    out = tmp_path / "out"
    rc = main(["diversity", "--table", str(table), "--metadata", str(md), "--group", "group",
               "--metrics", "braycurtis", "--permutations", "9", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "RuntimeWarning" not in err, err
    assert all(line.startswith("warning: ") for line in err.splitlines()), err
    assert len(err.splitlines()) == 3, err
    for name in ("permanova.tsv", "permdisp.tsv", "anosim.tsv"):
        res = pd.read_csv(out / name, sep="\t")
        assert len(res) == 1 and res["p_value"].isna().all(), (name, res)
