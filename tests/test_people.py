"""people: MoveNet MultiPose on real photos (built model, real images, ground truth where any)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rumaro_lab.extractors.people import KEYPOINTS, People
from rumaro_lab.images import load_image
from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def people() -> People:
    extractor = People(Settings(_env_file=None, models_dir=REPO / "models"))
    extractor.ensure_ready()
    return extractor


def run(people: People, path: Path) -> dict:
    image = load_image(path)
    return people.check_output(people.extract(image, {}, {}))


def test_skier_is_one_full_body_person_with_correct_keypoints(people, test_data):
    coco = test_data / "mmpose_keypoints" / "coco"
    out = run(people, coco / "000000000785.jpg")
    assert out["count"] == 1 and out["full_body_count"] == 1 and out["group"] is False

    truth = next(a for a in json.loads((coco / "test_coco_000000000785.json").read_text())["annotations"]
                 if a["image_id"] == 785)
    width, height = 640, 425
    x, y, w, h = out["boxes"][0][:4]
    gx, gy, gw, gh = truth["bbox"]
    inter = max(0, min(x + w, (gx + gw) / width) - max(x, gx / width)) * \
        max(0, min(y + h, (gy + gh) / height) - max(y, gy / height))
    iou = inter / (w * h + gw * gh / (width * height) - inter)
    assert iou > 0.6
    assert out["largest_share"] == pytest.approx(w * h, rel=1e-3)

    keypoints = np.asarray(out["keypoints"][0])
    assert keypoints.shape == (len(KEYPOINTS), 3)
    gt = np.asarray(truth["keypoints"], dtype=float).reshape(17, 3)
    dist = np.hypot(keypoints[:, 0] * width - gt[:, 0], keypoints[:, 1] * height - gt[:, 1])
    assert (dist <= 0.2 * max(gw, gh)).sum() >= 15  # PCK@0.2 on the 17 labelled keypoints


def test_baseball_and_ski_race_have_several_people(people, shared_data):
    coco = shared_data / "mmpose_keypoints" / "coco"
    baseball = run(people, coco / "000000196141.jpg")
    assert baseball["count"] >= 3 and baseball["group"] is True
    boxes = baseball["boxes"]
    areas = [b[2] * b[3] for b in boxes]
    assert len(boxes) == baseball["count"] and areas == sorted(areas, reverse=True)
    race = run(people, coco / "000000197388.jpg")
    assert race["count"] >= 4 and race["full_body_count"] >= 3


@pytest.mark.parametrize("name", ["skimage_rocket.jpg", "skimage_grass.png"])
def test_scenery_has_no_person(people, test_data, name):
    out = run(people, test_data / "pd_demo_images" / name)
    assert out["count"] == 0 and out["group"] is False and out["full_body_count"] == 0
    # no person: sizes are unknown, not 0
    assert out["largest_share"] is None and out["mean_visibility"] is None
    assert out["boxes"] == []


def test_portrait_is_one_person_without_full_body(people, test_data):
    out = run(people, test_data / "interfaces_cc0" / "001.jpg")
    assert out["count"] == 1 and out["full_body_count"] == 0
    assert out["largest_share"] > 0.3  # a head-and-shoulders crop fills the frame


def test_padding_is_removed_so_a_mirrored_photo_gives_mirrored_boxes(people, test_data):
    rgb = load_image(test_data / "mmpose_keypoints" / "coco" / "000000000785.jpg").rgb
    (a,) = people.detect(rgb)
    (b,) = people.detect(np.ascontiguousarray(rgb[:, ::-1]))
    # the landscape frame is padded top and bottom; mirroring must flip x and keep y
    assert a["box"][0] == pytest.approx(1 - b["box"][0] - b["box"][2], abs=0.02)
    assert a["box"][1] == pytest.approx(b["box"][1], abs=0.02)
    assert a["box"][3] == pytest.approx(b["box"][3], abs=0.02)


def test_missing_model_makes_it_unavailable(tmp_path):
    availability = People.availability(Settings(_env_file=None, models_dir=tmp_path))
    assert not availability.ok and "make models" in availability.reason
