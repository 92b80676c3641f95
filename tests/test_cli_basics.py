from __future__ import annotations

from microtrial.cli import main


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "microtrial" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys):
    assert main(["no-such-command"]) == 2
