"""``microtrial report`` refuses folders and tables it cannot use, with one error line and
no report.html."""

from __future__ import annotations

import pytest

from cli_checks import one_error as _one_error
from microtrial.errors import InputError
from microtrial.report import write_report


def test_folder_without_results(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _one_error(capsys, ["report", str(empty), "-o", str(tmp_path / "rep")])
    assert line.startswith(f"error: {empty}: holds none of the result tables of a run")
    assert not (tmp_path / "rep" / "report.html").exists()


def test_missing_truth_folder(results, tmp_path, capsys):
    nope = tmp_path / "nope"
    line = _one_error(capsys, ["report", str(results), "-o", str(tmp_path / "rep"), "--truth", str(nope)])
    assert line.startswith(f"error: {nope}: no such folder")
    assert not (tmp_path / "rep" / "report.html").exists()


def test_good_tables_make_a_report(results, tmp_path):
    from microtrial.pipeline.report import report_stage

    path = report_stage(results, tmp_path / "rep", group="group")  # the groups draw the alpha boxes
    assert path.exists() and (tmp_path / "rep" / "figures" / "alpha-shannon.png").exists()


def test_ragged_alpha_table(results, tmp_path, capsys):
    alpha = results / "alpha-diversity.tsv"
    with alpha.open("a") as fh:
        fh.write("s5\t1\t2\t3\t4\n")
    line = _one_error(capsys, ["report", str(results), "-o", str(tmp_path / "rep")])
    assert line.startswith(f"error: {alpha}: not a readable tab-separated table")
    assert not (tmp_path / "rep" / "report.html").exists()


def test_binary_alpha_table(results, tmp_path):
    alpha = results / "alpha-diversity.tsv"
    alpha.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(InputError) as exc:
        write_report(results, tmp_path / "rep")
    assert exc.value.path == str(alpha)
    assert not (tmp_path / "rep" / "report.html").exists()


def test_non_numeric_alpha_value(results, tmp_path, capsys):
    alpha = results / "alpha-diversity.tsv"
    alpha.write_text(alpha.read_text().replace("1.7", "n/a?"))
    line = _one_error(capsys, ["report", str(results), "-o", str(tmp_path / "rep")])
    assert line == f"error: {alpha}: shannon: 'n/a?' (row 's2') is not a number"
    assert not (tmp_path / "rep" / "report.html").exists()
