"""The `faces` rules (version 3) on real images with the real bundled MediaPipe models.

A face seen by one view only (full range, short range or one tile) must be found again by the
short-range model on a crop around it; group shots whose biggest face is 1-3 % of the frame still
get the tiles. Measured numbers: benchmarks/eval_faces.py and docs/extractors.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from face_crops import as_photo, haar_square_48

from rumaro_lab.extractors import make_extractor
from rumaro_lab.images import load_image

#: benchmarks/data/feed_eval: redistributable real-feed-like images with hand-counted faces
FEED_EVAL = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "feed_eval"


@pytest.fixture(scope="module")
def faces():
    ex = make_extractor("faces")
    assert ex.availability().ok, ex.availability().reason
    ex.ensure_ready()
    return ex


@pytest.fixture(scope="module")
def faces_unverified():
    ex = make_extractor("faces", verify=False)
    ex.ensure_ready()
    return ex


def feed(name: str) -> Path:
    path = FEED_EVAL / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (benchmarks/ is not installed with the package)")
    return path


@pytest.mark.parametrize("name", [
    "feed_054.jpg",  # person on a staircase seen from below, no face visible: full range 0.60
    "feed_056.jpg",  # a giant panda's face: short range 0.70
    "feed_078.jpg",  # a field of paper lanterns: one tile 0.70
])
def test_a_face_seen_by_one_view_only_and_not_found_again_is_dropped(faces, faces_unverified,
                                                                      name):
    image = load_image(feed(name))
    assert faces_unverified(image)["count"] == 1  # the rule, not the thresholds, removes it
    assert faces(image)["count"] == 0
    views = [f for f in faces.detect_views(image.rgb) if "status" in f]
    assert [f["status"] for f in views] == ["rejected"]
    assert views[0]["verified"] < faces.config["verify_min_confidence"]


@pytest.mark.parametrize("name", ["002.jpg", "004.jpg", "012.jpg"])
def test_a_real_face_seen_by_one_view_only_is_verified_and_kept(faces, test_data, name):
    # Close faces that only the short-range model sees (looking down, profile, cap).
    image = load_image(test_data / "interfaces_cc0" / name)
    out = faces(image)
    assert out["count"] == 1
    kept = [f for f in faces.detect_views(image.rgb) if f.get("kept")]
    assert len(kept) == 1 and kept[0]["status"] == "verified"
    assert kept[0]["verified"] >= faces.config["verify_min_confidence"]


def test_confirmed_faces_need_no_extra_model_call(faces, test_data):
    image = load_image(test_data / "pd_demo_images" / "skimage_astronaut.png")
    views = [f for f in faces.detect_views(image.rgb) if "status" in f]
    assert views and all(f["status"] == "confirmed" and "verified" not in f for f in views)


def test_a_group_shot_with_one_mid_size_face_still_gets_the_tiles(faces):
    # Mariachi band: the nearest face is 2.8 % of the frame; the trumpet player behind it is
    # found only in a tile (5 faces by eye, 2 of them in profile).
    image = load_image(feed("feed_048.jpg"))
    assert make_extractor("faces", tile_skip_face_share=0.01)(image)["count"] == 3
    assert faces(image)["count"] == 4
    kept = [f for f in faces.detect_views(image.rgb) if f.get("kept")]
    assert any(f["view"].startswith("tile") for f in kept)


def test_a_face_that_fills_the_frame_is_found_by_the_padded_view(faces, test_data):
    # The sunglasses portrait cut to its Haar square: no margin around the face, and both
    # whole-frame views miss it.
    crop = as_photo(haar_square_48(test_data / "interfaces_cc0" / "004.jpg"))
    assert make_extractor("faces", pad_view=0).detect(crop) == []
    views = faces.detect_views(crop)
    kept = [f for f in views if f.get("kept")]
    assert len(kept) == 1 and kept[0]["view"] == "padded"
    assert kept[0]["status"] == "verified"  # the short-range view may not confirm its own model
    x, y, w, h = kept[0]["box"]
    assert w * h > 0.5  # the face fills the frame; the box is clipped to it


def test_the_padded_view_runs_only_when_no_face_was_found(faces, test_data):
    image = load_image(test_data / "pd_demo_images" / "skimage_astronaut.png")
    assert "padded" not in {f["view"] for f in faces.detect_views(image.rgb)}


def test_the_padded_view_keeps_only_faces_that_fill_the_frame(faces, shared_data):
    # A real SpaceX post: a booster landing. The padded view alone sees a "face" (0.72, verified)
    # in its landing legs, half the frame's width: a face that small has margin, and the
    # whole-frame views saw none there.
    image = load_image(shared_data / "spacex_instaloader" / "spacex" / "2021-06-21_17-24-03_UTC.jpg")
    assert faces(image)["count"] == 0
    loose = make_extractor("faces", pad_view_min_face=0.0)
    assert [f["view"] for f in loose.detect_views(image.rgb) if f.get("kept")] == ["padded"]
