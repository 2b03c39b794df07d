"""Hostile account names, wherever a name comes from (an option, a table column, an instaloader
folder): path traversal, empty, too long are refused before any path is made; upper case is the
same account."""

from __future__ import annotations

import pandas as pd
import pytest
from hostile import distinct_images, legacy_node, tiny_png, write_metadata

from rumaro_lab.cli import main
from rumaro_lab.errors import InvalidAccountName
from rumaro_lab.posts.importing import import_path

BAD = {"traversal": "../../etc", "slash": "a/b", "empty": "", "too_long": "x" * 31, "dots": ".."}


def _table(tmp_path, account=None):
    image = distinct_images(tmp_path / "images", 1)[0]
    columns = {"post_id": ["1"], "taken_at": ["2024-03-05"], "media": [f"images/{image.name}"]}
    if account is not None:
        columns["username"] = [account]
    path = tmp_path / "posts.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


def _nothing_written(settings, tmp_path):
    assert not (settings.data_dir / "raw").exists() and not (settings.data_dir / "interim").exists()
    assert not (tmp_path / "etc").exists() and not (settings.data_dir.parent / "etc").exists()


@pytest.mark.parametrize("name", BAD.values(), ids=BAD.keys())
def test_bad_names_are_refused_as_options_before_any_path(settings, tmp_path, name, capsys):
    table = _table(tmp_path)
    with pytest.raises(InvalidAccountName) as info:
        import_path(table, settings, account=name)
    assert repr(name) in str(info.value)
    for command in (["import", str(table), "--account", name], ["extract", name], ["check", name]):
        code = main(["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir), *command])
        err = capsys.readouterr().err
        assert code == 2 and "invalid account name" in err and "Traceback" not in err, command
    _nothing_written(settings, tmp_path)


@pytest.mark.parametrize("name", ["../../etc", "x" * 31])
def test_bad_names_from_a_table_column_are_refused(settings, tmp_path, name):
    with pytest.raises(InvalidAccountName):
        import_path(_table(tmp_path, account=name), settings)
    _nothing_written(settings, tmp_path)


def test_a_folder_whose_owner_name_is_bad_says_to_name_the_account(settings, tmp_path):
    folder = tmp_path / "Holiday Photos"
    folder.mkdir()
    base = "2024-03-05_10-00-00_UTC"
    write_metadata(folder / f"{base}.json.xz", legacy_node("1", "Abc", 1_709_632_800, owner=None))
    (folder / f"{base}.jpg").write_bytes(tiny_png(1))
    with pytest.raises(InvalidAccountName) as info:
        import_path(folder, settings)
    assert "--account" in info.value.hint
    _nothing_written(settings, tmp_path)
    assert import_path(folder, settings, account="holiday").n_posts == 1


def test_upper_case_is_the_same_account(settings, tmp_path):
    summary = import_path(_table(tmp_path), settings, account="@MyBlog")
    assert summary.account == "myblog" and settings.posts_path("myblog").is_file()
    assert [p.name for p in (settings.data_dir / "raw").iterdir()] == ["myblog"]
    code = main(["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir), "check", "MYBLOG"])
    assert code == 0
