"""People: how many, how big, whole bodies or not (MoveNet MultiPose Lightning, ONNX).

Sees up to 6 people with 17 COCO keypoints each (nose, eyes, ears, shoulders, elbows, wrists,
hips, knees, ankles), where MediaPipe Pose sees one. The model (Apache-2.0) is built by
``make models`` from the pinned npm package (docs/models.md); nothing is downloaded here.

Pre-processing as the model expects: the image is scaled so its long side is `input_size`
(a multiple of 32), padded to a square with equal borders, and fed as int32 RGB 0-255. Each of the
6 output rows is 17 x (y, x, score) normalised to the padded square, then a box (ymin, xmin,
ymax, xmax) and a person score; the padding is removed afterwards so every coordinate is a
fraction of the original frame.

Features (a person counts when its score >= ``min_person_score``; a keypoint is visible when its
score >= ``min_keypoint_score``):

- ``count``: people found (0 is a normal answer);
- ``largest_share``: area of the largest person's box / frame area (null without people);
- ``largest_cx``, ``largest_cy``: centre of that box (0..1 of the frame);
- ``full_body_count``: people whose head, a hip and an ankle are all visible;
- ``group``: 3 or more people;
- ``mean_visibility``: mean keypoint score over the people found (null without people);
- ``largest_visible_keypoints``: visible keypoints of the largest person (null without people);
- ``max_score``: best person score (null without people);
- artifact ``boxes``: ``[[x, y, w, h, score], ...]`` normalised to 0..1, largest first;
- artifact ``keypoints``: per person (same order) 17 ``[x, y, score]`` in COCO order.

Person gate: when ``objects`` saw no person box scoring 0.2 or more and ``faces`` found no face,
MoveNet is not run and the answer is "nobody" (count 0), as MoveNet's own would be on such a
photo save for false people (`rumaro_lab.extractors.person_gate`; option ``person_gate``).

>>> People.features["count"].kind, People.name
('count', 'people')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .base import Availability, Extractor, Features
from .packaged_models import SHARED_SIDE, shared_fit
from .person_gate import nobody_seen
from .schema import artifact, binary, continuous, count, largest_box

MODEL = "movenet-multipose"

#: COCO-17 keypoint order of the model's output
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_HEAD = [0, 1, 2, 3, 4]
_HIPS = [11, 12]
_ANKLES = [15, 16]


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Scale the long side to `size`, pad to a square with equal borders.

    Returns the square image and where the picture sits in it: (x, y, width, height) in pixels.
    """
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return square, (pad_x, pad_y, new_w, new_h)


def decode(
    raw: np.ndarray, size: int, content: tuple[int, int, int, int], min_person_score: float
) -> list[dict[str, Any]]:
    """Output rows [6, 56] -> people with keypoints and boxes in 0..1 of the original frame.

    `content` is where the picture sits in the padded square (`letterbox`'s second value).
    """
    pad_x, pad_y, new_w, new_h = content
    scale_x, scale_y = size / new_w, size / new_h
    off_x, off_y = pad_x / size, pad_y / size

    def fx(v: np.ndarray | float) -> np.ndarray:
        return np.clip((np.asarray(v) - off_x) * scale_x, 0.0, 1.0)

    def fy(v: np.ndarray | float) -> np.ndarray:
        return np.clip((np.asarray(v) - off_y) * scale_y, 0.0, 1.0)

    people = []
    for row in np.asarray(raw, dtype=np.float64).reshape(-1, 56):
        score = float(row[55])
        if score < min_person_score:
            continue
        kp = row[:51].reshape(17, 3)  # y, x, score
        ymin, xmin, ymax, xmax = row[51:55]
        x0, x1 = float(fx(xmin)), float(fx(xmax))
        y0, y1 = float(fy(ymin)), float(fy(ymax))
        people.append({
            "score": score,
            "box": [x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0)],
            "keypoints": np.stack([fx(kp[:, 1]), fy(kp[:, 0]), kp[:, 2]], axis=1),
        })
    people.sort(key=lambda p: p["box"][2] * p["box"][3], reverse=True)
    return people


class People(Extractor):
    """People count, sizes, full bodies, group (MoveNet MultiPose, ONNX)."""

    name, version = "people", "4"  # 4: the person gate
    features = {
        "count": count("people found (MoveNet MultiPose, at most 6)", unit="people", role="primary"),
        **largest_box("person's box", share="largest_share"),
        "full_body_count": count("people whose whole body (head to ankles) is visible", unit="people"),
        "group": binary("a group photo: at least group_min (3) people", role="primary"),
        "mean_visibility": continuous("mean keypoint score over the people", unit="0..1",
                                      role="diagnostic"),
        "largest_visible_keypoints": count("visible keypoints of the largest person (of 17)",
                                           unit="keypoints", role="diagnostic"),
        "max_score": continuous("highest person score", unit="0..1", role="diagnostic"),
    }
    artifacts = {
        "boxes": artifact("boxes", "person boxes [x, y, w, h, score], 0..1 of the frame, largest first"),
        "keypoints": artifact("keypoints", "per person 17 COCO keypoints [x, y, score], 0..1 of the frame"),
    }
    default_config = {
        "input_size": 256,
        "min_person_score": 0.2,
        "min_keypoint_score": 0.3,
        "group_min": 3,
        "person_gate": True,
    }
    optional_requires = ("objects", "faces")  # the person gate

    @classmethod
    def availability(cls, settings=None) -> Availability:
        from ..modelstore.registry import model_availability

        return model_availability(MODEL, settings)

    def registry_models(self) -> tuple[str, ...]:
        return (MODEL,)

    def setup(self) -> None:
        from ..modelstore.registry import locate_model, onnx_session
        from ..settings import Settings

        size = int(self.config["input_size"])
        if size % 32:
            raise ValueError(f"people: input_size must be a multiple of 32, got {size}")
        self._session = onnx_session(locate_model(MODEL, self.settings or Settings()))
        self._input = self._session.get_inputs()[0].name

    def detect(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        """People in an RGB uint8 image, largest first (boxes/keypoints in 0..1 of the frame)."""
        self.ensure_ready()
        size = int(self.config["input_size"])
        square, content = letterbox(rgb, size)
        (raw,) = self._session.run(None, {self._input: square[None].astype(np.int32)})
        return decode(raw[0], size, content, float(self.config["min_person_score"]))

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        # from the shared 640-px copy: a quarter of the cost of letterboxing the full photo
        nobody = bool(self.config["person_gate"]) and nobody_seen(deps)
        people = [] if nobody else self.detect(shared_fit(image, SHARED_SIDE))
        threshold = float(self.config["min_keypoint_score"])
        out: Features = {
            "count": len(people),
            "group": len(people) >= int(self.config["group_min"]),
            "full_body_count": sum(_full_body(p["keypoints"][:, 2], threshold) for p in people),
            "boxes": [[round(v, 4) for v in p["box"]] + [round(p["score"], 3)] for p in people],
            "keypoints": [np.round(p["keypoints"], 4).tolist() for p in people],
        }
        if people:
            largest = people[0]
            x, y, w, h = largest["box"]
            out.update({
                "largest_share": w * h,
                "largest_cx": x + w / 2,
                "largest_cy": y + h / 2,
                "mean_visibility": float(np.mean([p["keypoints"][:, 2].mean() for p in people])),
                "largest_visible_keypoints": int((largest["keypoints"][:, 2] >= threshold).sum()),
                "max_score": max(p["score"] for p in people),
            })
        return out


def _full_body(scores: np.ndarray, threshold: float) -> bool:
    """Head, a hip and an ankle visible: the whole body is in the frame."""
    visible = scores >= threshold
    return bool(visible[_HEAD].any() and visible[_HIPS].any() and visible[_ANKLES].any())
