"""start_output: a reused output folder loses the earlier run's run-info.json."""

from __future__ import annotations

from microtrial.io.runinfo import start_output, write_run_info


def test_start_output_creates_and_clears(tmp_path) -> None:
    out = tmp_path / "a" / "b"
    assert start_output(out) == out and out.is_dir()
    write_run_info(out, command="test", options={})
    (out / "table.tsv").write_text("x\n")
    start_output(out)
    assert not (out / "run-info.json").exists()
    assert (out / "table.tsv").read_text() == "x\n"  # other files are left to be replaced
