from __future__ import annotations

import errno

import pytest

from microtrial.cli import main


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "microtrial" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys):
    assert main(["no-such-command"]) == 2


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_help_is_clicks_usual_help(capsys):
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("Usage: microtrial [OPTIONS] COMMAND [ARGS]...")
    assert main(["demo", "--help"]) == 0
    assert capsys.readouterr().out.startswith("Usage: microtrial demo [OPTIONS]")


# errors click catches itself: one line naming the option, no usage block, exit 2
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["demo", "--threads", "0", "-o", "{tmp}/out"], "error: --threads: 0 is not in the range"),
        (["simulate", "-o", "{tmp}/file"], "error: --output-dir: "),
        (["simulate", "-o", "{tmp}/out", "--region", "V9"], "error: --region: 'V9' is not one of"),
        (["simulate", "-o", "{tmp}/out", "--seed", "abc"], "error: --seed: "),
        (["tree"], "error: SEQUENCES: missing argument"),
        (["diversity"], "error: --table: missing option"),
        (["qza", "import", "x.tsv", "-o", "x.qza"], "error: --type: missing option (Choose from: "),
        (["demo", "--threads"], "error: --threads: requires an argument"),
        (["simulate", "--patient", "3"], "error: --patient: no such option (did you mean --patients?)"),
        (["no-such-command"], "error: no-such-command: no such command"),
        (["classify", "-o", "{tmp}/out"], "error: microtrial classify: SEQUENCES is required"),
    ],
)
def test_click_errors_are_one_line(tmp_path, capsys, args, expected):
    (tmp_path / "file").write_text("")
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(expected), line
    assert "Invalid value for" not in line and "Usage" not in line


def test_bare_group_still_shows_its_help(capsys):
    assert main(["qza"]) == 2
    assert capsys.readouterr().err.startswith("Usage: microtrial qza [OPTIONS] COMMAND")


# every OSError (not only missing/unreadable files) is one line naming the file
@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OSError(errno.EROFS, "Read-only file system", "{out}"), "error: {out}: Read-only file system"),
        (OSError(errno.ENOSPC, "No space left on device", "{out}"), "error: {out}: No space left on device"),
        (OSError(errno.ENOSPC, "No space left on device"), "error: No space left on device"),
        (FileExistsError(errno.EEXIST, "File exists", "{out}"), "error: {out}: File exists"),
        (OSError(errno.EXDEV, "Invalid cross-device link", "{out}", None, "{out}2"),
         "error: {out} -> {out}2: Invalid cross-device link"),
    ],
)
def test_any_oserror_is_one_line(tmp_path, capsys, monkeypatch, exc, expected):
    import microtrial.io.qza as qza

    out = str(tmp_path / "t.qza")
    exc.filename = None if exc.filename is None else exc.filename.format(out=out)
    exc.filename2 = None if exc.filename2 is None else exc.filename2.format(out=out)

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(qza, "import_file", fail)
    (tmp_path / "t.tsv").write_text("#OTU ID\tA\nf1\t4\n")
    rc = main(["qza", "import", str(tmp_path / "t.tsv"), "--type", "FeatureTable[Frequency]", "-o", out])
    assert rc == 2
    assert _one_error_line(capsys) == expected.format(out=out)


def test_oserror_traceback_with_debug(tmp_path, capsys, monkeypatch):
    import microtrial.io.qza as qza

    def fail(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", "x.qza")

    monkeypatch.setattr(qza, "import_file", fail)
    assert main(["--debug", "qza", "import", "t.tsv", "--type", "FeatureTable[Frequency]", "-o", "x.qza"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1] == "error: x.qza: Read-only file system"


def test_output_under_a_file_is_one_line(tmp_path, capsys):
    # the parent folder of -o is an existing file (was a FileExistsError traceback)
    (tmp_path / "t.tsv").write_text("#OTU ID\tA\nf1\t4\n")
    (tmp_path / "afile").write_text("")
    rc = main(["qza", "import", str(tmp_path / "t.tsv"), "--type", "FeatureTable[Frequency]",
               "-o", str(tmp_path / "afile" / "t.qza")])
    assert rc == 2
    assert _one_error_line(capsys) == f"error: {tmp_path / 'afile'}: Not a directory"


def test_uncaught_eoferror_is_an_error_not_an_interrupt(tmp_path, capsys, monkeypatch):
    # click turns EOFError into Abort ("interrupted", exit 130); a truncated gzip is no Ctrl-C
    import microtrial.io.qza as qza

    def fail(*args, **kwargs):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(qza, "import_file", fail)
    assert main(["qza", "import", "t.tsv", "--type", "FeatureTable[Frequency]", "-o", "x.qza"]) == 2
    assert "ended unexpectedly" in _one_error_line(capsys)


def test_ctrl_c_still_exits_130(capsys, monkeypatch):
    import microtrial.io.qza as qza

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(qza, "import_file", fail)
    assert main(["qza", "import", "t.tsv", "--type", "FeatureTable[Frequency]", "-o", "x.qza"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_warnings_are_one_plain_line_when_not_a_terminal(tmp_path, capsys):
    """Logged to a file or CI (stderr not a TTY): ``warning: <message>``, never wrapped."""
    import logging

    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2  # configures logging
    capsys.readouterr()
    message = "a long warning " * 12 + "\nwith a second line"
    logging.getLogger("microtrial.test").warning(message)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("warning: a long warning") and err.rstrip().endswith("with a second line")
