"""Faces: how many, how large and where the largest one is (MediaPipe FaceDetection).

Model: MediaPipe BlazeFace (Apache-2.0), shipped inside the ``mediapipe`` 0.10.21 wheel. Two
detectors run on the same downscaled image (long side ``max_side`` px) and their boxes are merged
(non-maximum suppression, IoU ``nms_iou``):

- the *full-range* model (``model_selection=1``, faces up to ~5 m away) finds small faces in
  full-body and group shots;
- the *short-range* model (``model_selection=0``) finds the large, close faces of selfies and
  head-and-shoulder portraits that the full-range model misses (7 of the 100 CC0 portraits in
  ../shared/data/interfaces_cc0 are missed by full range alone, 1 by the merged pair); its
  scores are thresholded at ``short_range_min_confidence`` (0.7): its false positives on
  textures score up to ~0.68, its real faces >= ~0.77 (LFW subset);
- *tiles*: when no face of at least ``tile_skip_face_share`` of the frame was found, the
  full-range model also runs on four overlapping quarter tiles (threshold
  ``tile_min_confidence``). It looks at 192 px, so the 20-30 px faces of full-body and group
  shots in a 640 px image shrink to a few pixels; tiles double them (COCO face recall 0.11 ->
  0.33, benchmarks/eval_faces.py). Portraits skip the tiles (4 model calls saved).

Boxes cut by a tile border come back as smaller partial faces: a box mostly inside a kept box is
dropped as well (`merge_boxes`).

"No face" is a normal answer: ``count`` 0 and every per-face feature null.

Features (``faces.*``): ``any`` (a face is visible); ``count``; ``largest_area_share`` (box area / frame area of the largest
face); ``largest_cx``, ``largest_cy`` (its centre, 0..1 of the frame); ``largest_width`` (its width,
0..1 of the frame width); ``max_confidence``, ``mean_confidence`` (detector scores);
The artifact ``boxes`` holds ``[[x, y, w, h, score], ...]`` normalised to 0..1, largest first
(emotion reads it; figures blur these boxes).

>>> Faces.features["count"].kind, Faces.default_config["max_side"]
('count', 640)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import Availability, Extractor, Features
from .packaged_models import (
    PackagedModelMissing,
    fit_within,
    package_file,
    quiet_native_logs,
    shared_fit,
)
from .schema import artifact, binary, continuous, count, largest_box

#: images (or tiles) smaller than this many pixels on a side are not searched
MIN_SIDE = 8

_MODEL_FILES = (
    "modules/face_detection/face_detection_full_range_sparse.tflite",
    "modules/face_detection/face_detection_short_range.tflite",
)


def mediapipe_availability(files: tuple[str, ...]) -> Availability:
    """Whether mediapipe and the named model files inside its wheel are installed."""
    try:
        for relative in files:
            package_file("mediapipe", relative)
    except PackagedModelMissing as exc:
        return Availability(False, str(exc))
    return Availability(True)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two [x, y, w, h] boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two [x, y, w, h] boxes over the smaller one's area."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    smaller = min(a[2] * a[3], b[2] * b[3])
    return float(inter / smaller) if smaller > 0 else 0.0


def merge_boxes(boxes: list[list[float]], iou_threshold: float,
                containment: float = 0.5) -> list[list[float]]:
    """Greedy non-maximum suppression of [x, y, w, h, score] boxes, best score first kept.

    A box also goes when at least `containment` of it lies inside a kept box: a face cut by a
    tile border is found again as a smaller, partial face.
    """
    kept: list[list[float]] = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        a = np.asarray(box)
        if all(iou(a, np.asarray(k)) < iou_threshold
               and overlap_of_smaller(a, np.asarray(k)) < containment for k in kept):
            kept.append(box)
    return kept


class Faces(Extractor):
    """Face count, size and position (MediaPipe BlazeFace, full + short range)."""

    name, version = "faces", "2"
    features = {
        "any": binary("at least one face is visible (the published 'faces' estimand)",
                      role="primary"),
        "count": count("faces found", unit="faces"),
        **largest_box("face"),
        "largest_width": continuous("width of the largest face", unit="0..1 of width"),
        "max_confidence": continuous("highest detector score", unit="0..1", role="diagnostic"),
        "mean_confidence": continuous("mean detector score", unit="0..1", role="diagnostic"),
    }
    artifacts = {"boxes": artifact("face_boxes", "face boxes [x, y, w, h, score], 0..1 of the frame,"
                                   " largest first")}
    default_config = {"min_confidence": 0.5, "max_side": 640, "nms_iou": 0.3, "tiles": True,
                      "tile_min_confidence": 0.7, "tile_skip_face_share": 0.01, "short_range": True,
                      "short_range_min_confidence": 0.7}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        return mediapipe_availability(_MODEL_FILES)

    def setup(self) -> None:
        quiet_native_logs()
        import mediapipe as mp

        detection = mp.solutions.face_detection
        conf = self.config["min_confidence"]
        self._detectors = [detection.FaceDetection(model_selection=1, min_detection_confidence=conf)]
        if self.config["short_range"]:
            self._detectors.append(
                detection.FaceDetection(model_selection=0, min_detection_confidence=min(conf, 0.5))
            )

    def _run(self, detector, rgb: np.ndarray, window: tuple[float, float, float, float],
             min_score: float, boxes: list[list[float]]) -> None:
        """Detect in `rgb`, the part `window` (x0, y0, x1, y1 in 0..1) of the frame."""
        if min(rgb.shape[:2]) < MIN_SIDE:  # MediaPipe refuses empty crops (tiles of tiny images)
            return
        wx0, wy0, wx1, wy1 = window
        sx, sy = wx1 - wx0, wy1 - wy0
        for det in detector.process(np.ascontiguousarray(rgb)).detections or []:
            score = float(det.score[0])
            if score < min_score:
                continue
            rel = det.location_data.relative_bounding_box
            # Boxes may poke out of the frame: clip them to it.
            x1, y1 = max(0.0, wx0 + rel.xmin * sx), max(0.0, wy0 + rel.ymin * sy)
            x2 = min(1.0, wx0 + (rel.xmin + rel.width) * sx)
            y2 = min(1.0, wy0 + (rel.ymin + rel.height) * sy)
            if x2 > x1 and y2 > y1:
                boxes.append([x1, y1, x2 - x1, y2 - y1, score])

    def detect(self, rgb: np.ndarray, small: np.ndarray | None = None) -> list[list[float]]:
        """Merged face boxes [x, y, w, h, score] (0..1 of the frame), largest first.

        `small` is `rgb` already scaled to ``max_side`` (the copy other extractors share)."""
        if small is None:
            small = fit_within(rgb, self.config["max_side"])
        boxes: list[list[float]] = []
        full = self._detectors[0]
        self._run(full, small, (0.0, 0.0, 1.0, 1.0), self.config["min_confidence"], boxes)
        if len(self._detectors) > 1:
            self._run(self._detectors[1], small, (0.0, 0.0, 1.0, 1.0),
                      self.config["short_range_min_confidence"], boxes)
        largest = max((b[2] * b[3] for b in boxes), default=0.0)
        if self.config["tiles"] and largest < self.config["tile_skip_face_share"]:
            # The full-range model looks at 192 px: faces of full-body shots (~4 % of the
            # width) shrink to a few pixels. Four overlapping quarter tiles double their size.
            # Skipped when a big face was found already (portraits: saves 4 model calls).
            h, w = small.shape[:2]
            for y0, y1 in ((0.0, 0.6), (0.4, 1.0)):
                for x0, x1 in ((0.0, 0.6), (0.4, 1.0)):
                    tile = small[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
                    self._run(full, tile, (x0, y0, x1, y1),
                              self.config["tile_min_confidence"], boxes)
        merged = merge_boxes(boxes, self.config["nms_iou"])
        return sorted(merged, key=lambda b: -b[2] * b[3])

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        boxes = self.detect(image.rgb, shared_fit(image, self.config["max_side"]))
        if not boxes:
            return {"any": False, "count": 0, "boxes": []}
        x, y, w, h, _ = boxes[0]
        scores = [b[4] for b in boxes]
        return {
            "any": True,
            "count": len(boxes),
            "largest_area_share": w * h,
            "largest_cx": x + w / 2,
            "largest_cy": y + h / 2,
            "largest_width": w,
            "max_confidence": max(scores),
            "mean_confidence": float(np.mean(scores)),
            "boxes": [[round(v, 4) for v in b] for b in boxes],
        }
