"""Hostile instaloader metadata, made in code: corrupt xz, truncated JSON, a node without a
shortcode, a sidecar with one image missing; and both node shapes instaloader writes. Each bad
file is reported by name with a reason; every other post imports."""

from __future__ import annotations

import json
import lzma

import pandas as pd
import pytest
from hostile import legacy_node, tiny_png, web_info_node, write_metadata

from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def _post(folder, base, node, n_images=1, slides=False, json_only=False):
    meta = folder / f"{base}.json"
    if json_only:
        meta.write_text(json.dumps({"node": node, "instaloader": {"node_type": "Post"}}))
    else:
        write_metadata(folder / f"{base}.json.xz", node)
    for i in range(n_images):
        name = f"{base}_{i + 1}.jpg" if slides else f"{base}.jpg"
        (folder / name).write_bytes(tiny_png(hash((base, i)) % 10_000))


@pytest.fixture()
def folder(tmp_path):
    folder = tmp_path / "acct"
    folder.mkdir()
    stamp = lambda k: f"2023-11-{14 + k:02d}_22-13-20_UTC"  # noqa: E731
    # good posts, both shapes, single and sidecar, and an uncompressed .json
    _post(folder, stamp(0), legacy_node("101", "LegacyA", T0))
    _post(folder, stamp(1), legacy_node("102", "LegacyS", T0 + 86400, slides=2), 2, slides=True)
    _post(folder, stamp(2), web_info_node("103", "WebA", T0 + 2 * 86400))
    _post(folder, stamp(3), web_info_node("104", "WebS", T0 + 3 * 86400, slides=3), 3, slides=True)
    _post(folder, stamp(4), legacy_node("105", "PlainJson", T0 + 4 * 86400), json_only=True)
    # bad ones
    _post(folder, stamp(5), legacy_node("106", "Corrupt", T0 + 5 * 86400))
    (folder / f"{stamp(5)}.json.xz").write_bytes(b"\xfd7zXZ\x00\x00garbage, not xz")
    _post(folder, stamp(6), legacy_node("107", "Truncated", T0 + 6 * 86400))
    text = json.dumps({"node": legacy_node("107", "Truncated", T0)})
    (folder / f"{stamp(6)}.json.xz").write_bytes(lzma.compress(text[: len(text) // 2].encode()))
    no_code = legacy_node("108", "x", T0 + 7 * 86400)
    del no_code["shortcode"]
    _post(folder, stamp(7), no_code)
    bare = {"id": "109", "taken_at_timestamp": T0 + 8 * 86400}  # no shortcode, no instaloader section
    (folder / f"{stamp(8)}.json.xz").write_bytes(lzma.compress(json.dumps({"node": bare}).encode()))
    (folder / f"{stamp(8)}.jpg").write_bytes(tiny_png(9))
    _post(folder, stamp(9), web_info_node("110", "OneMissing", T0 + 9 * 86400, slides=2), 1, slides=True)
    return folder


def test_each_bad_file_is_named_with_its_reason_and_the_rest_imports(settings, folder):
    summary = import_path(folder, settings)
    reasons = dict(summary.skipped)
    assert summary.account == "acct"
    assert summary.n_posts == 5, summary
    assert "corrupt or truncated xz" in reasons["2023-11-19_22-13-20_UTC.json.xz"]
    assert "invalid or truncated JSON" in reasons["2023-11-20_22-13-20_UTC.json.xz"]
    assert "no shortcode" in reasons["2023-11-21_22-13-20_UTC.json.xz"]
    assert "no shortcode" in reasons["2023-11-22_22-13-20_UTC.json.xz"]
    assert "sidecar of 2 slides but only 1 image" in reasons["2023-11-23_22-13-20_UTC.json.xz"]
    assert len(reasons) == 5
    text = str(summary)
    for name in reasons:
        assert name in text


def test_both_node_shapes_give_the_same_fields(settings, folder):
    posts = read_posts(import_path(folder, settings).path).set_index("shortcode")
    assert list(posts.index) == ["LegacyA", "LegacyS", "WebA", "WebS", "PlainJson"]  # by date
    legacy, web = posts.loc["LegacyA"], posts.loc["WebA"]
    assert (legacy["post_id"], legacy["likes"], legacy["comments"]) == ("101", 10, 2)
    assert (web["post_id"], web["likes"], web["comments"]) == ("103", 20, 3)
    assert legacy["taken_at"] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert web["taken_at"] == pd.Timestamp(T0 + 2 * 86400, unit="s", tz="UTC")
    assert legacy["hashtags"] == ["legacy"] and web["hashtags"] == ["webinfo"]
    assert posts.loc["LegacyS", "media_type"] == posts.loc["WebS", "media_type"] == "sidecar"
    assert len(posts.loc["LegacyS", "media"]) == 2 and len(posts.loc["WebS", "media"]) == 3
    assert posts.loc["WebS", "media"][0].endswith("_1.jpg")  # cover first
    assert all(len(m) == len(s) for m, s in zip(posts["media"], posts["media_sha256"], strict=True))
