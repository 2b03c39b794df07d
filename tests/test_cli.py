import subprocess
import sys

import pytest

from rumaro_lab.cli import main

COMMANDS = ["fetch", "import", "check", "extract", "analyze", "report", "batch", "demo", "extractors", "cache", "models"]


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command in text


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_invalid_account_is_one_line_error_not_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "rumaro_lab.cli", "--data-dir", str(tmp_path), "extract", "../etc"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "invalid account name" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_option_is_usage_error(capsys):
    assert main(["extract", "--no-such-option"]) == 2
