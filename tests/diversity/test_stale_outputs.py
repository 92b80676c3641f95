"""The diversity stage re-run into its own folder leaves none of the earlier run's files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from microtrial.cli import main
from microtrial.io.runinfo import write_run_info

GOLDEN = Path(__file__).parent / "golden"


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    """The small simulated paired design of golden/ (24 samples, group, time, subject)."""
    tp, mp = tmp_path / "table.tsv", tmp_path / "metadata.tsv"
    t = pd.read_csv(GOLDEN / "paired-table.tsv", sep="\t", index_col=0)
    m = pd.read_csv(GOLDEN / "paired-metadata.tsv", sep="\t", index_col=0)
    t.rename_axis("#OTU ID").to_csv(tp, sep="\t")
    m.rename_axis("sample-id").to_csv(mp, sep="\t")
    return tp, mp


def _diversity(tp: Path, mp: Path, out: Path, metrics: str) -> None:
    assert main(["diversity", "--table", str(tp), "--metadata", str(mp), "--group", "group",
                 "--subject", "subject", "--time", "time", "--permutations", "9", "--rarefy", "none",
                 "--metrics", metrics, "-o", str(out)]) == 0


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_fewer_metrics_leave_no_stale_beta_files(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    out = tmp_path / "out"
    _diversity(tp, mp, out, "braycurtis,aitchison")
    assert (out / "beta-aitchison.tsv").exists() and (out / "pcoa-explained-aitchison.tsv").exists()
    (out / "notes.txt").write_text("the user's own\n")
    _diversity(tp, mp, out, "braycurtis")
    left = _files(out)
    assert not {n for n in left if "aitchison" in n}
    assert {"beta-braycurtis.tsv", "pcoa-braycurtis.tsv", "notes.txt"} <= left
    info = json.loads((out / "run-info.json").read_text())
    assert set(info["outputs"]) == left - {"run-info.json", "notes.txt"}
    permanova = (out / "permanova.tsv").read_text()
    assert "braycurtis" in permanova and "aitchison" not in permanova


def test_another_stages_outputs_in_the_folder_are_kept(tmp_path: Path) -> None:
    """``denoise -o d`` then ``diversity --table d/... -o d``: the table is an input here."""
    tp, mp = _inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    table = out / "feature-table.tsv"
    tp.rename(table)
    write_run_info(out, command="denoise", options={}, outputs=[table])
    _diversity(table, mp, out, "braycurtis")
    assert table.exists()
    _diversity(table, mp, out, "braycurtis")  # the same again: diversity's run-info now
    assert table.exists()
