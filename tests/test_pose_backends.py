"""`pose`'s two backends on real images with the real bundled models (issue 16).

The default backend must keep describing what benchmarks/eval_pose_backends.py measured it on: the
annotated skier (tests/data/mmpose_keypoints) as the annotation itself reads through the same rules
(`pose.describe`), and every CC0 portrait of tests/data as a detected, not-full-body person. The
``movenet`` backend (MoveNet's keypoints from ``people``) is checked on the skier too.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rumaro_lab.extractors import make_extractor
from rumaro_lab.extractors.pose import COCO_TO_MEDIAPIPE, KEYPOINTS, Pose, describe
from rumaro_lab.images import load_image

SKIER = "000000000785.jpg"
COMPARED = ("full_body_visible", "posture", "arms_raised", "hands_visible", "facing_camera")


@pytest.fixture(scope="module")
def models():
    made = {"people": make_extractor("people"), "default": make_extractor("pose"),
            "movenet": make_extractor("pose", backend="movenet")}
    for ex in made.values():
        assert ex.availability().ok, ex.availability().reason
        ex.ensure_ready()
    return made


def run(models, backend: str, image) -> dict:
    pose = models[backend]
    deps = {"people": models["people"].check_output(models["people"].extract(image, {}, {}))}
    return pose.check_output(pose.extract(image, deps, {}))


def annotated_reference(test_data) -> dict:
    """The skier's annotated keypoints through `describe`, as eval_pose_backends.py derives them."""
    folder = test_data / "mmpose_keypoints" / "coco"
    data = json.loads((folder / "test_coco_000000000785.json").read_text())
    image = next(i for i in data["images"] if i["file_name"] == SKIER)
    person = max((a for a in data["annotations"] if a["image_id"] == image["id"]),
                 key=lambda a: a["bbox"][2] * a["bbox"][3])
    coco = np.asarray(person["keypoints"], float).reshape(17, 3)
    kp = np.zeros((len(KEYPOINTS), 3))
    kp[list(COCO_TO_MEDIAPIPE)] = np.column_stack(
        [coco[:, 0] / image["width"], coco[:, 1] / image["height"], coco[:, 2] > 0])
    return describe(kp, image["width"] / image["height"])


def test_the_default_backend_is_mediapipe():
    # measured (docs/extractors.md, "Pose from MoveNet instead of MediaPipe Pose"): MoveNet's
    # keypoints miss the person in close-up portraits, so MediaPipe Pose stays the default
    assert Pose.default_config["backend"] == "mediapipe"


@pytest.mark.parametrize("backend", ["default", "movenet"])
def test_skier_descriptors_match_its_annotation(models, test_data, backend):
    reference = annotated_reference(test_data)
    assert reference["full_body_visible"] and reference["posture"] == "standing"  # a real check
    out = run(models, backend, load_image(test_data / "mmpose_keypoints" / "coco" / SKIER))
    assert out["detected"] is True
    assert {k: out[k] for k in COMPARED} == {k: reference[k] for k in COMPARED}


def test_default_backend_sees_every_portrait_as_a_detected_upper_body(models, test_data):
    portraits = sorted((test_data / "interfaces_cc0").glob("*.jpg"))
    assert len(portraits) >= 10
    for path in portraits:
        out = run(models, "default", load_image(path))
        assert out["detected"] is True, path.name
        assert out["full_body_visible"] is False, path.name
        assert out["posture"] == "unknown", path.name  # no hips: no torso angle
        assert out["body_share"] > 0.1, path.name


def test_movenet_backend_counts_only_its_own_keypoints(models, test_data):
    out = run(models, "movenet", load_image(test_data / "mmpose_keypoints" / "coco" / SKIER))
    kp = np.asarray(out["keypoints"])
    others = np.setdiff1d(np.arange(len(KEYPOINTS)), COCO_TO_MEDIAPIPE)
    assert (kp[others, 2] == 0).all()  # the 16 places MoveNet has no keypoint for
    assert out["visible_keypoints"] <= len(COCO_TO_MEDIAPIPE)
    # the mean over MoveNet's 17, not over 33 places of which 16 are empty (<= 17/33 before)
    assert out["mean_visibility"] == pytest.approx(kp[list(COCO_TO_MEDIAPIPE), 2].mean(), abs=1e-3)
    assert out["mean_visibility"] > 0.6
    assert out["mask"] is not None and out["body_share"] > 0.05
