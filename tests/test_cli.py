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


def test_import_of_a_folder_without_posts_fails_and_names_the_subfolder(tmp_path, capsys):
    from rumaro_lab.posts.importing import sample_dir
    from rumaro_lab.settings import Settings

    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "import", str(sample_dir()), "--account", "sample"])
    err = capsys.readouterr().err
    assert code != 0
    assert "no posts in" in err and str(sample_dir() / "sample") in err
    # nothing was written: an earlier import of the account would have been kept
    assert not Settings(_env_file=None, data_dir=data).posts_path("sample").exists()


def test_import_of_a_folder_with_only_unreadable_posts_keeps_the_old_table(tmp_path, capsys):
    import lzma

    from rumaro_lab.posts.importing import sample_dir
    from rumaro_lab.posts.schema import read_posts
    from rumaro_lab.settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    assert main(["--data-dir", str(settings.data_dir), "import", str(sample_dir() / "sample"),
                 "--account", "sample"]) == 0
    before = len(read_posts(settings.posts_path("sample")))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "2024-01-01_00-00-00_UTC.json.xz").write_bytes(lzma.compress(b'{"node": {"sho'))
    code = main(["--data-dir", str(settings.data_dir), "import", str(broken), "--account", "sample"])
    err = capsys.readouterr().err
    assert code != 0 and "no instaloader posts" in err and "2024-01-01_00-00-00_UTC" in err
    assert len(read_posts(settings.posts_path("sample"))) == before == 61
