"""An unfinished run (no run-info.json) gets one warning and says so in the report itself;
a --truth folder without truth files is an error naming --truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from microtrial.cli import main
from microtrial.report import write_report


@pytest.fixture
def results(results: Path) -> Path:
    """The shared results folder (conftest.py) plus a finished stage's log."""
    d = results
    (d / "logs").mkdir()
    (d / "logs" / "diversity.run-info.json").write_text(json.dumps({"command": "diversity"}))
    return d


def test_incomplete_folder_warns_once_and_says_so(results: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert main(["report", str(results), "-o", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: incomplete results folder: {results} has no "
                                               "run-info.json"), err
    assert "missing expected outputs: feature-table.biom, permanova.tsv, differential-consensus.tsv" in err[0]
    assert "stages that finished: diversity" in err[0]
    page = (out / "report.html").read_text()
    assert "Incomplete results folder" in page
    assert "missing expected outputs: feature-table.biom, permanova.tsv, differential-consensus.tsv" in page
    assert "Every output folder holds run-info.json" not in page


def test_complete_folder_has_no_warning(results: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (results / "run-info.json").write_text(json.dumps({"command": "run"}))
    out = tmp_path / "rep"
    assert main(["report", str(results), "-o", str(out)]) == 0
    assert capsys.readouterr().err == ""
    page = (out / "report.html").read_text()
    assert "Incomplete results folder" not in page and "Every output folder holds run-info.json" in page


def test_report_inside_a_running_run_is_not_flagged(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # microtrial run writes the report as its last stage, then its run-info.json
    path = write_report(results, results / ".staging" / "report", finishing_run=True)
    assert "Incomplete results folder" not in path.read_text()
    assert capsys.readouterr().err == ""
    assert "Incomplete results folder" in write_report(results, results / "elsewhere").read_text()


def test_truth_folder_without_truth_files(results: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (results / "run-info.json").write_text(json.dumps({"command": "run"}))
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "readme.txt").write_text("not a truth file\n")
    out = tmp_path / "rep"
    assert main(["report", str(results), "-o", str(out), "--truth", str(truth)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: --truth: {truth} holds none of a simulator's truth files (asv-sequences.fasta, "
                   "counts.tsv, composition.tsv, responders.tsv, associations.tsv, function-pathways.tsv)"]
    assert not (out / "report.html").exists()
