"""Identity end to end: every post keeps its own image file, every feature row says which bytes it
was computed from, and a repeated post is named a duplicate of the file it repeats."""

from __future__ import annotations

import logging
import os
import shutil

import pandas as pd
import pytest
from hostile import STAMP, legacy_node, same_date_table, tiny_png, write_metadata
from PIL import Image
from runner_extractors import MeanColour

from rumaro_lab.extractors.runner import extract_account
from rumaro_lab.images import file_sha256
from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts


def test_1000_posts_sharing_one_date_import_as_1000_distinct_byte_identical_files(settings, tmp_path):
    table = same_date_table(tmp_path / "export", 1000)
    summary = import_path(table, settings, account="samedate")
    assert (summary.n_posts, summary.n_skipped, summary.n_duplicates) == (1000, 0, 0)
    posts = read_posts(summary.path)
    source = pd.read_csv(table, dtype=str).set_index("post_id")["image"]
    media = [m[0] for m in posts["media"]]
    assert len(set(media)) == 1000
    for post_id, rel, (sha,) in zip(posts["post_id"], media, posts["media_sha256"], strict=True):
        data = (settings.data_dir / rel).read_bytes()
        assert data == (table.parent / source[post_id]).read_bytes(), post_id
        assert rel == f"raw/samedate/{STAMP}_{post_id}.png"  # instaloader's name + the post id
        assert sha == file_sha256(settings.data_dir / rel)
    # importing again changes nothing: same names, files left alone
    before = {p.name: p.stat().st_mtime_ns for p in settings.raw_dir("samedate").iterdir()}
    again = read_posts(import_path(table, settings, account="samedate").path)
    assert [m[0] for m in again["media"]] == media
    after = {p.name: p.stat().st_mtime_ns for p in settings.raw_dir("samedate").iterdir()}
    assert after == before


def test_unique_names_stay_instaloader_names_and_sidecars_keep_their_indexes(settings, tmp_path):
    images = [tmp_path / f"{i}.png" for i in range(4)]
    for i, path in enumerate(images):
        path.write_bytes(tiny_png(i))
    table = tmp_path / "t.csv"
    pd.DataFrame({"post_id": ["a", "b", "c"],
                  "taken_at": ["2024-03-05 10:00:00", "2024-03-05 10:00:00", "2024-03-06 08:00:00"],
                  "media": ["0.png", "1.png;2.png", "3.png"]}).to_csv(table, index=False)
    posts = read_posts(import_path(table, settings, account="names").path).set_index("post_id")
    assert posts.loc["a", "media"] == ["raw/names/2024-03-05_10-00-00_UTC_a.png"]
    assert posts.loc["b", "media"] == ["raw/names/2024-03-05_10-00-00_UTC_b_1.png",
                                       "raw/names/2024-03-05_10-00-00_UTC_b_2.png"]
    assert posts.loc["c", "media"] == ["raw/names/2024-03-06_08-00-00_UTC.png"]


def test_a_later_import_never_overwrites_another_posts_file(settings, tmp_path):
    first = same_date_table(tmp_path / "one", 1, name="one.csv")
    second = same_date_table(tmp_path / "two", 1, name="two.csv", first_id=1)
    kept = read_posts(import_path(first, settings, account="acct").path)["media"][0][0]
    assert kept == f"raw/acct/{STAMP}.png"
    original = (settings.data_dir / kept).read_bytes()
    later = read_posts(import_path(second, settings, account="acct").path)
    assert later["media"][0] == [f"raw/acct/{STAMP}_1.png"]
    assert (settings.data_dir / kept).read_bytes() == original
    assert (settings.data_dir / later["media"][0][0]).read_bytes() != original


def _folder_post(folder, base, post_id, shortcode, seed, mtime=None):
    meta = write_metadata(folder / f"{base}.json.xz", legacy_node(post_id, shortcode, 1_709_632_800))
    image = folder / f"{base}.jpg"
    image.write_bytes(tiny_png(seed))
    if mtime is not None:
        for path in (meta, image):
            os.utime(path, (mtime, mtime))
    return meta, image


def test_two_folders_with_one_timestamp_keep_both_posts_images(settings, tmp_path):
    base = "2024-03-05_10-00-00_UTC"
    for sub in ("a", "b"):
        (tmp_path / sub / "acct").mkdir(parents=True)
    _folder_post(tmp_path / "a" / "acct", base, "1", "First", 1)
    _folder_post(tmp_path / "b" / "acct", base, "2", "Second", 2)
    import_path(tmp_path / "a" / "acct", settings)
    posts = read_posts(import_path(tmp_path / "b" / "acct", settings).path)
    raw = settings.raw_dir("acct")
    assert posts["media"][0] == [f"raw/acct/{base}_2.jpg"]
    assert (raw / f"{base}.jpg").read_bytes() == tiny_png(1)  # the first post's image is untouched
    assert (raw / f"{base}_2.jpg").read_bytes() == tiny_png(2)
    # the raw folder is itself importable: each post finds its own files (not slide 2 of the other)
    both = read_posts(import_path(raw, settings, account="again").path).set_index("shortcode")
    assert both.loc["First", "media"] == [f"raw/again/{base}.jpg"]
    assert both.loc["Second", "media"] == [f"raw/again/{base}_2.jpg"]


@pytest.mark.parametrize("incomplete", ["newer", "older"])
def test_a_repeated_post_is_a_duplicate_of_the_file_it_repeats(settings, tmp_path, incomplete):
    folder = tmp_path / "acct"
    folder.mkdir()
    a_meta, a_image = _folder_post(folder, "2024-03-05_10-00-00_UTC", "7", "Same", 1, mtime=1_700_000_000)
    b_meta, b_image = _folder_post(folder, "copy_2024-03-05_10-00-00_UTC", "7", "Same", 1, mtime=1_700_000_500)
    (b_image if incomplete == "newer" else a_image).unlink()
    summary = import_path(folder, settings)
    complete, partial = (a_meta, b_meta) if incomplete == "newer" else (b_meta, a_meta)
    assert summary.n_posts == 1 and summary.n_skipped == 0
    assert summary.duplicates == [(partial.name, summary.duplicates[0][1])]
    reason = summary.duplicates[0][1]
    assert reason.startswith(f"duplicate of {complete.name} (post 7)") and "is missing" in reason
    assert read_posts(summary.path)["media"][0] == [f"raw/acct/{complete.name.removesuffix('.json.xz')}.jpg"]


def test_both_copies_complete_keep_the_newest(settings, tmp_path):
    folder = tmp_path / "acct"
    folder.mkdir()
    _folder_post(folder, "2024-03-05_10-00-00_UTC", "7", "Same", 1, mtime=1_700_000_000)
    newer, _ = _folder_post(folder, "z_2024-03-05_10-00-00_UTC", "7", "Same", 2, mtime=1_700_000_500)
    summary = import_path(folder, settings)
    assert summary.duplicates == [("2024-03-05_10-00-00_UTC.json.xz", f"duplicate of {newer.name} (post 7)")]
    assert "1 duplicate post(s) not imported" in str(summary)


def test_an_image_changed_after_import_is_extracted_again(settings, tmp_path, caplog):
    table = same_date_table(tmp_path / "export", 3)
    import_path(table, settings, account="changed")
    first = extract_account("changed", settings, extractors=[MeanColour], workers=1)
    before = pd.read_parquet(first.path).set_index("post_id")
    target = settings.data_dir / read_posts(settings.posts_path("changed"))["media"][1][0]
    Image.new("RGB", (8, 8), (255, 0, 0)).save(target)  # same name, other bytes
    with caplog.at_level(logging.WARNING):
        second = extract_account("changed", settings, extractors=[MeanColour], workers=1)
    assert (second.computed, second.cache_hits) == (1, 2)
    after = pd.read_parquet(second.path).set_index("post_id")
    assert after.loc["1", "image_sha256"] == file_sha256(target) != before.loc["1", "image_sha256"]
    assert after.loc["1", "mean_colour.r"] == 255 and after.loc["1", "mean_colour.g"] == 0
    pd.testing.assert_frame_equal(after.drop(index="1"), before.drop(index="1"))
    assert any(target.name in r.getMessage() and "changed since" in r.getMessage() for r in caplog.records)
    # the same result as a run that never saw the old bytes
    fresh = settings.model_copy(update={"cache_dir": tmp_path / "fresh"})
    shutil.copy(second.path, tmp_path / "features.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(extract_account("changed", fresh, extractors=[MeanColour], workers=1).path),
        pd.read_parquet(tmp_path / "features.parquet"))


def test_a_file_changed_between_hashing_and_decoding_is_an_error_not_other_features(settings, tmp_path):
    from rumaro_lab.extractors.backends import Job, Worker
    from rumaro_lab.extractors.runner import plan_extractors

    image = tmp_path / "a.png"
    image.write_bytes(tiny_png(1))
    hashed = file_sha256(image)
    image.write_bytes(tiny_png(2))  # rewritten after the run hashed it
    plan = plan_extractors([MeanColour], settings)
    worker = Worker(plan, {s.name: s.instance(settings) for s in plan.steps})
    result = worker.run(Job(0, "raw/a.png", str(image), hashed, {}, plan.names, {}))
    assert result.computed == {} and "raw/a.png changed during the run" in result.load_error
