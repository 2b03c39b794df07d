"""`import_path` on real instaloader output (../shared/data/spacex_instaloader; the bundled sample),
bad input, tables (images from tests/data), CLI."""

from __future__ import annotations

import json
import logging
import lzma
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
import responses

from rumaro_lab.cli import main
from rumaro_lab.errors import InvalidAccountName
from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts

SIDECAR = "2021-09-15_23-10-17_UTC"
#: the bundled sample account: a real-layout instaloader folder that ships with the repository
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample" / "sample"


@pytest.fixture()
def no_network(monkeypatch):
    """Any connection attempt fails the test; `responses` (nothing registered) catches requests."""

    def refuse(*args, **kwargs):
        raise AssertionError("the import tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture()
def spacex_dir(shared_data):
    return shared_data / "spacex_instaloader" / "spacex"


@pytest.fixture()
def spacex_copy(spacex_dir, tmp_path):
    """A writable copy of the real folder, to damage."""
    folder = tmp_path / "in" / "spacex"
    shutil.copytree(spacex_dir, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _edit_node(path, change):
    with lzma.open(path, "rt") as handle:
        data = json.load(handle)
    change(data["node"])
    with lzma.open(path, "wt") as handle:
        json.dump(data, handle)


def test_spacex_import_matches_its_index_exactly(settings, spacex_dir, shared_data, no_network):
    summary = import_path(spacex_dir, settings)
    index = pd.read_csv(shared_data / "spacex_instaloader" / "index.csv", keep_default_na=False)
    posts = read_posts(summary.path).set_index("shortcode")
    assert (summary.account, summary.n_posts, summary.n_skipped) == ("spacex", 9, 0)
    assert len(no_network.calls) == 0
    assert set(posts.index) == set(index["shortcode"])
    for row in index.itertuples():
        post = posts.loc[row.shortcode]
        assert post["likes"] == row.likes and post["comments"] == row.comments
        assert post["taken_at"] == pd.Timestamp(row.taken_at_utc, tz="UTC")
        assert post["media_type"] == {"GraphImage": "image", "GraphVideo": "video", "GraphSidecar": "sidecar"}[row.typename]
        assert (post["accessibility_caption"] if pd.notna(post["accessibility_caption"]) else "") == row.accessibility_caption
        assert len(post["caption"]) == row.caption_len and len(post["hashtags"]) == row.n_hashtags
        # media: the index's images, copied byte for byte into data/raw/spacex, cover first
        expected = [f"raw/{p}" for p in row.images.split(";")]
        assert post["media"] == expected
        for rel, src in zip(post["media"], row.images.split(";"), strict=True):
            assert (settings.data_dir / rel).read_bytes() == (shared_data / "spacex_instaloader" / src).read_bytes()
    sidecar = posts.loc["CT3DcbYFmHS"]
    assert sidecar["media"] == [f"raw/spacex/{SIDECAR}_1.jpg", f"raw/spacex/{SIDECAR}_2.jpg"]
    assert posts["followers"].isna().all(), "spacex's saved nodes have no follower count: unknown, not 0"
    assert posts["is_pinned"].isna().all()
    assert str(posts["taken_at"].dtype) == "datetime64[ns, UTC]"
    # raw data: json, captions and images in instaloader's layout
    raw = settings.raw_dir("spacex")
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in spacex_dir.iterdir())


def test_reimport_leaves_identical_raw_files_alone(settings, spacex_dir):
    import_path(spacex_dir, settings)
    raw_image = settings.raw_dir("spacex") / f"{SIDECAR}_1.jpg"
    before = raw_image.stat().st_mtime_ns, raw_image.stat().st_ino
    again = import_path(spacex_dir, settings)
    assert again.n_posts == 9
    assert (raw_image.stat().st_mtime_ns, raw_image.stat().st_ino) == before


def test_bad_posts_are_skipped_with_file_and_reason_the_rest_imports(settings, spacex_copy, caplog):
    truncated = spacex_copy / "2021-06-17_22-12-42_UTC.json.xz"
    truncated.write_bytes(truncated.read_bytes()[:700])
    corrupt = spacex_copy / "2021-06-21_17-24-03_UTC.json.xz"
    corrupt.write_bytes(b"\xfd7zXZ\x00 this is not xz data at all")
    bad_json = spacex_copy / "2021-07-20_00-59-46_UTC.json.xz"
    bad_json.write_bytes(lzma.compress(b'{"node": {"shortcode": "CRh53mJFrRl", "taken_at'))
    (spacex_copy / "2021-08-31_23-14-07_UTC.jpg").unlink()
    half_image = spacex_copy / f"{SIDECAR}_2.jpg"
    half_image.write_bytes(half_image.read_bytes()[:20_000])

    with caplog.at_level(logging.WARNING, logger="rumaro_lab.posts"):
        summary = import_path(spacex_copy, settings)

    assert summary.n_posts == 4 and summary.n_skipped == 5
    reasons = dict(summary.skipped)
    assert "truncated" in reasons[truncated.name]
    assert "corrupt" in reasons[corrupt.name]
    assert "JSON" in reasons[bad_json.name]
    assert "2021-08-31_23-14-07_UTC.jpg is missing" in reasons["2021-08-31_23-14-07_UTC.json.xz"]
    assert f"{SIDECAR}_2.jpg" in reasons[f"{SIDECAR}.json.xz"]
    assert "5 skipped" in str(summary)
    for name in reasons:
        assert any(name in r.getMessage() for r in caplog.records), f"{name} not logged"
    posts = read_posts(summary.path)
    assert len(posts) == 4 and not (set(posts["shortcode"]) & {"CQPNT9hF7aN", "CT3DcbYFmHS"})


def test_hidden_likes_followers_pinned_and_caption_tags(settings, spacex_copy):
    _edit_node(spacex_copy / "2021-06-17_22-12-42_UTC.json.xz",
               lambda n: n["edge_media_preview_like"].update(count=-1))
    # newer instaloader stores 0 with the owner's "hide like counts" switch on: still unknown
    _edit_node(spacex_copy / "2021-06-21_17-24-03_UTC.json.xz",
               lambda n: (n["edge_media_preview_like"].update(count=0),
                          n["iphone_struct"].update(like_and_view_counts_disabled=True)))
    _edit_node(spacex_copy / "2021-07-20_00-59-46_UTC.json.xz",
               lambda n: (n.update(pinned_for_users=[{"id": "20311520"}]),
                          n["owner"].update(edge_followed_by={"count": 61_000_000}),
                          n["edge_media_to_caption"]["edges"][0]["node"].update(
                              text="Liftoff! #Falcon9 #Starlink with @NASA and @nasa_astronauts. #falcon9")))
    summary = import_path(spacex_copy, settings)
    posts = read_posts(summary.path).set_index("shortcode")
    assert pd.isna(posts.loc["CQPNT9hF7aN", "likes"]) and posts.loc["CQPNT9hF7aN", "comments"] == 1043
    assert pd.isna(posts.loc["CQY_dWglDLa", "likes"])
    pinned = posts.loc["CRh53mJFrRl"]
    assert pinned["is_pinned"] is True or pinned["is_pinned"] == True  # noqa: E712 - pandas boolean
    assert pinned["followers"] == 61_000_000
    assert pinned["hashtags"] == ["falcon9", "starlink"] and pinned["mentions"] == ["nasa", "nasa_astronauts"]
    assert posts.drop(index="CRh53mJFrRl")["followers"].isna().all()


def test_profile_metadata_gives_followers(settings, spacex_copy):
    profile = {"node": {"id": "20311520", "username": "spacex", "edge_followed_by": {"count": 40_200_000}},
               "instaloader": {"version": "4.16", "node_type": "Profile"}}
    (spacex_copy / "spacex_20311520.json.xz").write_bytes(lzma.compress(json.dumps(profile).encode()))
    summary = import_path(spacex_copy, settings)
    posts = read_posts(summary.path)
    assert summary.n_posts == 9 and summary.n_skipped == 0
    assert (posts["followers"] == 40_200_000).all()
    assert (settings.raw_dir("spacex") / "spacex_20311520.json.xz").is_file()


def test_duplicates_are_removed(settings, spacex_copy):
    # the same post saved twice (e.g. two instaloader runs with different name patterns)
    for suffix in (".json.xz", ".jpg", ".txt"):
        shutil.copy(spacex_copy / f"2021-06-17_22-12-42_UTC{suffix}", spacex_copy / f"dup_2021-06-17_UTC{suffix}")
    summary = import_path(spacex_copy, settings)
    posts = read_posts(summary.path)
    assert summary.n_posts == 9 and summary.n_duplicates == 1
    assert posts["post_id"].is_unique


def test_images_without_metadata_are_reported(settings, spacex_copy):
    shutil.copy(spacex_copy / "2021-06-17_22-12-42_UTC.jpg", spacex_copy / "holiday.jpg")
    summary = import_path(spacex_copy, settings)
    assert summary.n_posts == 9 and "holiday.jpg" in dict(summary.skipped)


def test_csv_table_import(settings, test_data, tmp_path, no_network):
    table = tmp_path / "posts.csv"
    folder = test_data / "interfaces_cc0"
    frame = pd.DataFrame({
        "post_id": ["p1", "p2", "p3"],
        "taken_at": ["2021-06-17T22:12:42Z", "2021-09-15 23:10:17+00:00", "2021-07-01T10:00:00"],
        "likes": [10, -1, 5],
        "comments": [1, 2, ""],
        "caption": ["#Mars with @elonmusk", "two images", "missing image"],
        "media": [str(folder / "001.jpg"),
                  f"{folder}/002.jpg;{folder}/003.jpg",
                  "nowhere/absent.jpg"],
        "followers": [100, 100, 100],
    })
    frame.to_csv(table, index=False)
    summary = import_path(table, settings, account="otherplatform")
    posts = read_posts(summary.path).set_index("post_id")
    assert summary.n_posts == 2 and summary.n_skipped == 1
    assert "absent.jpg is missing" in summary.skipped[0][1] and "row 4" in summary.skipped[0][0]
    assert posts.loc["p1", "likes"] == 10 and pd.isna(posts.loc["p2", "likes"])
    assert posts.loc["p1", "hashtags"] == ["mars"] and posts.loc["p1", "mentions"] == ["elonmusk"]
    assert posts.loc["p2", "media_type"] == "sidecar"
    assert posts.loc["p2", "media"] == [f"raw/otherplatform/{SIDECAR}_1.jpg", f"raw/otherplatform/{SIDECAR}_2.jpg"]
    assert posts.loc["p2", "taken_at"] == pd.Timestamp("2021-09-15 23:10:17", tz="UTC")
    assert (settings.data_dir / posts.loc["p1", "media"][0]).read_bytes() == (
        folder / "001.jpg").read_bytes()
    assert (posts["source"] == "table").all()


def test_json_table_import_uses_paths_relative_to_the_table(settings, test_data, tmp_path):
    shutil.copy(test_data / "pd_demo_images/skimage_rocket.jpg", tmp_path / "a.jpg")
    rows = [{"account": "blog.photos", "shortcode": "X1", "taken_at": "2022-01-02T03:04:05+01:00",
             "like_count": 7, "comments": 0, "images": ["a.jpg"], "is_pinned": True}]
    (tmp_path / "posts.json").write_text(json.dumps({"posts": rows}))
    summary = import_path(tmp_path / "posts.json", settings)
    posts = read_posts(summary.path)
    assert summary.account == "blog.photos" and summary.n_posts == 1
    assert posts.loc[0, "likes"] == 7 and posts.loc[0, "comments"] == 0  # a real zero stays zero
    assert posts.loc[0, "taken_at"] == pd.Timestamp("2022-01-02T02:04:05", tz="UTC")
    assert bool(posts.loc[0, "is_pinned"]) is True


def test_account_names_are_validated_before_paths(settings):
    with pytest.raises(InvalidAccountName):
        import_path(SAMPLE_DIR, settings, account="../../etc")
    assert not (settings.data_dir / "raw").exists()


def test_cli_import_prints_summary(settings, spacex_dir, capsys):
    code = main(["--data-dir", str(settings.data_dir), "import", str(spacex_dir), "--account", "SpaceX"])
    out = capsys.readouterr().out
    assert code == 0
    assert "spacex: 9 posts imported" in out and "0 skipped" in out
    assert settings.posts_path("spacex").is_file()


def test_cli_import_missing_path_is_one_line_error(settings, tmp_path, capsys):
    code = main(["--data-dir", str(settings.data_dir), "import", str(tmp_path / "nope")])
    captured = capsys.readouterr()
    assert code != 0
    assert "nothing to import" in captured.err and "Traceback" not in captured.err
    assert len([line for line in captured.err.splitlines() if line.startswith("error")]) == 1


def test_index_csv_table_gives_the_same_numbers_as_the_folder(settings, shared_data):
    folder = read_posts(import_path(shared_data / "spacex_instaloader" / "spacex", settings).path)
    table = read_posts(import_path(shared_data / "spacex_instaloader" / "index.csv", settings,
                                   account="spacex_table").path)
    columns = ["shortcode", "taken_at", "likes", "comments", "media_type"]
    pd.testing.assert_frame_equal(folder[columns], table[columns])
    assert [len(m) for m in table["media"]] == [len(m) for m in folder["media"]]


def test_sidecar_with_a_missing_slide_is_skipped(settings, spacex_copy):
    (spacex_copy / f"{SIDECAR}_2.jpg").unlink()
    summary = import_path(spacex_copy, settings)
    assert summary.n_posts == 8
    assert "2 slides but only 1 image" in dict(summary.skipped)[f"{SIDECAR}.json.xz"]


def test_a_folder_of_account_folders_points_to_the_right_one(settings, spacex_dir):
    from rumaro_lab.posts.importing import UnimportablePath

    with pytest.raises(UnimportablePath) as info:
        import_path(spacex_dir.parent, settings)
    assert str(spacex_dir) in info.value.hint
