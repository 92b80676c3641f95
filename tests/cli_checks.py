"""Checking the CLI's failure contract: exit status 2 and stderr ending in one
``error: <file or option>: <what is wrong>`` line, nothing else but ``warning:`` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from microtrial.cli import main


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str], *, out: Path | None = None,
              allow_warnings: bool = False) -> str:
    """Run ``microtrial argv``; assert exit status 2, exactly one ``error: `` line (the
    last), no traceback, only ``warning: `` lines before it if ``allow_warnings``, and no
    folder ``out``; return the error line."""
    rc = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert "Traceback" not in err, err
    others = [x for x in lines[:-1] if not (allow_warnings and x.startswith("warning: "))]
    assert lines and lines[-1].startswith("error: ") and not others, err
    if out is not None:
        assert not out.exists()
    return lines[-1]
