"""`rumaro check`: exit 0 on a whole data folder; on a broken one, exit 1 and name each item with
what is wrong and how to fix it (missing raw file, changed image, shared image, stale features,
a killed write's temp file, a corrupt cache)."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from hostile import same_date_table
from PIL import Image
from runner_extractors import MeanColour

from rumaro_lab.check import check_data
from rumaro_lab.cli import main
from rumaro_lab.errors import CacheError
from rumaro_lab.extractors.runner import extract_account
from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts, write_posts


@pytest.fixture()
def account(settings, tmp_path):
    import_path(same_date_table(tmp_path / "export", 4), settings, account="good")
    extract_account("good", settings, extractors=[MeanColour], workers=1)
    return "good"


def _check(settings, capsys, *account):
    code = main(["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir), "check", *account])
    return code, capsys.readouterr().out


def _media(settings, i):
    return read_posts(settings.posts_path("good"))["media"][i][0]


def test_a_whole_account_passes(settings, account, capsys):
    code, out = _check(settings, capsys, account)
    assert code == 0, out
    assert "good: 4 posts, 4 raw files, 4 feature rows" in out and "4 entries" in out
    assert "no problems found" in out
    assert _check(settings, capsys)[0] == 0  # every account


def test_a_missing_raw_file_is_named(settings, account, capsys):
    rel = _media(settings, 2)
    (settings.data_dir / rel).unlink()
    code, out = _check(settings, capsys, account)
    assert code == 1
    assert f"{rel}: missing or unreadable (post 2)" in out and "fix: restore the file" in out


def test_a_changed_image_is_named_in_raw_files_and_in_features(settings, account, capsys):
    rel = _media(settings, 1)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(settings.data_dir / rel)
    code, out = _check(settings, capsys, account)
    assert code == 1
    assert f"{rel}: changed since it was imported (post 1" in out
    assert f"features.parquet of good, post 1: computed from other bytes than {rel}" in out
    assert "rumaro extract good" in out
    # extracting again fixes the features; the raw file still differs from what was imported
    extract_account("good", settings, extractors=[MeanColour], workers=1)
    out = _check(settings, capsys, account)[1]
    assert "computed from other bytes" not in out and "changed since it was imported" in out


def test_posts_sharing_one_image_and_stale_features_are_named(settings, account, capsys):
    posts = read_posts(settings.posts_path("good"))
    posts.at[3, "media"] = posts.at[0, "media"]  # the bug of old imports: two posts, one file
    posts.at[3, "media_sha256"] = posts.at[0, "media_sha256"]
    posts = pd.concat([posts, posts.iloc[[1]].assign(post_id="new")], ignore_index=True)
    write_posts(posts, settings.posts_path("good"))
    code, out = _check(settings, capsys, account)
    assert code == 1
    assert f"{posts.at[0, 'media'][0]}: shared by posts 0, 3" in out
    assert "no row for 1 post(s) (e.g. new)" in out
    assert "features.parquet of good, post 3: computed from" in out


def test_a_temp_file_left_by_a_killed_write_is_named_and_swept_by_the_next_write(settings, account, capsys):
    stale = settings.posts_path("good").parent / ".posts.999999999-0123abcd.tmp.parquet"
    stale.write_bytes(b"PAR1 half a table")
    code, out = _check(settings, capsys, account)
    assert code == 1 and str(stale) in out and "interrupted write" in out
    extract_account("good", settings, extractors=[MeanColour], workers=1)  # writes elsewhere
    assert stale.exists()
    write_posts(read_posts(settings.posts_path("good")), settings.posts_path("good"))
    assert not stale.exists()
    assert _check(settings, capsys, account)[0] == 0


def test_an_unreadable_posts_table_is_named(settings, account, capsys):
    path = settings.posts_path("good")
    path.write_bytes(path.read_bytes()[:100])
    code, out = _check(settings, capsys, account)
    assert code == 1 and f"{path}: cannot be read" in out and "rumaro import" in out


def test_an_entry_that_does_not_parse_is_named_and_extract_computes_it_again(settings, account, capsys):
    db = settings.cache_dir / "features.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE features SET features = '{\"r\": 1.0, trunc' WHERE image_sha256 = "
                     "(SELECT MIN(image_sha256) FROM features)")
    code, out = _check(settings, capsys)
    assert code == 1 and f"cache {db}: 1 entries do not parse" in out and "rumaro extract" in out
    summary = extract_account("good", settings, extractors=[MeanColour], workers=1)
    assert (summary.computed, summary.cache_hits) == (1, 3)
    assert _check(settings, capsys)[0] == 0


def test_a_corrupt_cache_file_is_named_and_extract_says_what_to_do(settings, account, capsys):
    db = settings.cache_dir / "features.sqlite"
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) >= 2 * page
    data[page:] = b"\x5a" * (len(data) - page)  # garbage over everything but the header page
    db.write_bytes(bytes(data))
    code, out = _check(settings, capsys)
    assert code == 1 and f"cache {db}: unreadable" in out and f"fix: delete {db}" in out
    with pytest.raises(CacheError, match="damaged|cannot open"):
        extract_account("good", settings, extractors=[MeanColour], workers=1)


def test_no_posts_table_and_an_unknown_account(settings, tmp_path, capsys):
    settings.raw_dir("rawonly").mkdir(parents=True)
    code, out = _check(settings, capsys)
    assert code == 1 and "no posts table (raw files are there)" in out and "rumaro import" in out
    report = check_data(settings, "nobody")
    assert not report.ok and "nobody" in str(report)
