"""start_output: a reused output folder loses the earlier run's run-info.json and the files
that run-info.json lists as the folder's outputs, and nothing else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from microtrial.io.runinfo import start_output, write_run_info


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def _info(out: Path, outputs: object, *, command: str = "test", **fields: object) -> None:
    """A run-info.json written by hand (write_run_info refuses the odd entries tested here)."""
    info = {"schema_version": 1, "command": command, "outputs": outputs, **fields}
    (out / "run-info.json").write_text(json.dumps(info))


def test_start_output_creates_and_clears(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    assert start_output(out) == out and out.is_dir()
    write_run_info(out, command="test", options={})
    (out / "table.tsv").write_text("x\n")
    start_output(out)
    assert not (out / "run-info.json").exists()
    assert (out / "table.tsv").read_text() == "x\n"  # not listed: left to be replaced


def test_write_run_info_lists_outputs_relative_and_sorted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_run_info(out, command="test", options={},
                   outputs=[out / "z.tsv", out / "figures" / "a.png", out / "b.tsv", out / "b.tsv"])
    info = json.loads((out / "run-info.json").read_text())
    assert info["outputs"] == ["b.tsv", "figures/a.png", "z.tsv"]
    write_run_info(out, command="test", options={})
    assert json.loads((out / "run-info.json").read_text())["outputs"] == []
    with pytest.raises(ValueError, match="not inside"):
        write_run_info(out, command="test", options={}, outputs=[tmp_path / "elsewhere.tsv"])
    with pytest.raises(ValueError, match="not inside"):
        write_run_info(out, command="test", options={}, outputs=[out / ".." / "x.tsv"])
    with pytest.raises(ValueError, match="outputs="):
        write_run_info(out, command="test", options={}, extra={"outputs": ["x.tsv"]})


def test_write_run_info_relative_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("res").mkdir()
    write_run_info("res", command="test", options={}, outputs=[Path("res") / "a.tsv"])
    assert json.loads(Path("res/run-info.json").read_text())["outputs"] == ["a.tsv"]


def test_removes_listed_outputs_and_only_those(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "logs").mkdir()
    listed = [out / "beta-aitchison.tsv", out / "figures" / "pcoa.png", out / "logs" / "denoise.run-info.json",
              out / "figures" / "kept-by-user.png"]
    for p in listed:
        p.write_text("old\n")
    (out / "notes.txt").write_text("mine\n")  # the user's, not listed
    (out / "figures" / "mine.svg").write_text("mine\n")
    write_run_info(out, command="diversity", options={}, outputs=listed[:3] + [out / "gone-already.tsv"])
    start_output(out)
    assert _files(out) == {"notes.txt", "figures/mine.svg", "figures/kept-by-user.png"}
    assert not (out / "logs").exists()  # emptied by the removal: removed too
    assert (out / "figures").is_dir()  # still holds files


def test_only_the_same_command_removes(tmp_path: Path) -> None:
    """``denoise`` then ``diversity`` into one folder: diversity's inputs are denoise's outputs."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "feature-table.biom").write_text("table\n")
    write_run_info(out, command="denoise", options={}, outputs=[out / "feature-table.biom"])
    start_output(out, command="diversity")
    assert (out / "feature-table.biom").exists() and not (out / "run-info.json").exists()
    write_run_info(out, command="denoise", options={}, outputs=[out / "feature-table.biom"])
    start_output(out, command="denoise")
    assert _files(out) == set()


def test_keep_protects_this_runs_inputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "reads").mkdir(parents=True)
    for name in ("reads/a_R1_001.fastq.gz", "metadata.tsv", "old.tsv"):
        (out / name).write_text("x\n")
    write_run_info(out, command="run", options={},
                   outputs=[out / "reads" / "a_R1_001.fastq.gz", out / "metadata.tsv", out / "old.tsv"])
    start_output(out, command="run", keep=[out / "reads", str(out / "metadata.tsv")])
    assert _files(out) == {"reads/a_R1_001.fastq.gz", "metadata.tsv"}


@pytest.mark.parametrize("entry", ["../outside.txt", "sub/../../outside.txt", "ABSOLUTE", "", ".", "sub/.."])
def test_entries_leaving_the_folder_are_ignored(tmp_path: Path, entry: str) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    _info(out, [str(outside) if entry == "ABSOLUTE" else entry])
    start_output(out)
    assert outside.read_text() == "precious\n"
    assert (out / "sub").is_dir() and not (out / "run-info.json").exists()


def test_symlinks_are_never_followed_or_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.tsv").write_text("precious\n")
    os.symlink(elsewhere, out / "linked-dir")
    os.symlink(elsewhere / "data.tsv", out / "linked-file.tsv")
    _info(out, ["linked-dir/data.tsv", "linked-file.tsv", "linked-dir"])
    start_output(out)
    assert (elsewhere / "data.tsv").read_text() == "precious\n"
    assert (out / "linked-dir").is_symlink() and (out / "linked-file.tsv").is_symlink()


def test_folders_are_not_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "a.png").write_text("x\n")
    _info(out, ["figures"])
    start_output(out)
    assert (out / "figures" / "a.png").exists()


@pytest.mark.parametrize("text", [
    "{not json", "\xff\xfe garbage", "[]", '"outputs"', "null",
    '{"outputs": ["table.tsv"]}',  # no schema_version: not ours
    '{"schema_version": 99, "outputs": ["table.tsv"]}',
    '{"schema_version": 1, "outputs": "table.tsv"}',
    '{"schema_version": 1, "outputs": [null, 3, ["table.tsv"]]}',
])
def test_unreadable_or_foreign_run_info_removes_nothing_else(tmp_path: Path, text: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "table.tsv").write_text("x\n")
    (out / "run-info.json").write_bytes(text.encode("latin-1"))
    start_output(out)
    assert _files(out) == {"table.tsv"}


def test_earlier_run_outputs_by_stage_are_understood(tmp_path: Path) -> None:
    """``run`` wrote ``outputs`` as ``{stage: [paths]}`` before the key was unified."""
    out = tmp_path / "out"
    (out / "logs").mkdir(parents=True)
    for name in ("beta-aitchison.tsv", "logs/denoise.run-info.json", "report.html", "mine.txt"):
        (out / name).write_text("x\n")
    _info(out, {"diversity": ["beta-aitchison.tsv"], "denoise": ["logs/denoise.run-info.json"],
                "report": ["report.html"], "odd": "mine.txt"}, command="run")
    start_output(out, command="run")
    assert _files(out) == {"mine.txt"}
