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
- *tiles*: when no face of at least ``tile_skip_face_share`` (3 %) of the frame was found, the
  full-range model also runs on four overlapping quarter tiles (threshold
  ``tile_min_confidence``). It looks at 192 px, so the 20-30 px faces of full-body and group
  shots in a 640 px image shrink to a few pixels; tiles double them (COCO face recall 0.11 ->
  0.33, benchmarks/eval_faces.py). Portraits skip the tiles (4 model calls saved): their faces
  are 4-33 % of the frame in the 100 CC0 portraits. Group shots whose nearest face is 1-3 % of
  the frame still get them (version 2 skipped from 1 % and missed the faces behind).

**Person gate.** When ``objects`` runs first (the default set) and saw no person box scoring
0.2 or more, and the whole-frame views found no face, the tiles are not run (option
``person_gate``; `rumaro_lab.extractors.person_gate`): on graphics, scenery and products they
cost ~19 ms and found only false faces (benchmarks/eval_person_gate.py).

*Padded view*: when neither whole-frame view found a face, the short-range model runs once more
on the frame with a mid-grey border of ``pad_view`` (25 %) of its size on each side. A face that
fills the frame (an extreme close-up, or a pre-cropped face such as the CK+ and FER2013 images)
has no margin around it, and BlazeFace misses it: of 160 faces pre-cropped to their 48-px Haar
squares (the interfaces_cc0 portraits, benchmarks/eval_emotion.py) the two views find 141, with
this view 159. Only faces at least ``pad_view_min_face`` (0.6) of the frame's shorter side are kept
from it (the pre-cropped faces are 0.77-0.97): smaller faces have the margin the whole-frame
views need, and what this view alone finds there was a false face (a rocket's landing legs, 0.53,
in a real SpaceX post). Its faces are confirmed by the full-range model or a tile, or verified (the
verification crop is padded with the same grey where it leaves the frame); the short-range view
does not confirm them, as it is the same model on the same pixels.

Boxes cut by a tile border come back as smaller partial faces: a box mostly inside a kept box is
dropped as well (`merge_boxes`).

**Confirmation.** Every model call (full range, short range, each tile) is a *view*. A face seen
by a second view (an overlapping box of the other model or of another tile, at any score >=
``confirm_min_confidence``, 0.3) is kept at the thresholds above. A face seen by one view only is
*verified*: the short-range model runs once more on a square crop ``verify_crop`` (3) times the
box's size, centred on it, where a real face fills a third of the crop as in a selfie. The face
is kept only when that finds it again at >= ``verify_min_confidence`` (0.7, the short-range
threshold). Shoes, a cap, a wheel hub, lanterns and a panda's face that fooled one view score
0-0.6 there; real faces 0.70-0.94 (LFW, interfaces_cc0, COCO, OCHuman, garment photos of
clothing_small_cc0; benchmarks/eval_faces.py). False faces that two views agree on (a hand, a
dandelion head, half-masked faces) stay. It costs one short-range call per unconfirmed face
(0.13 per feed_eval image).

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
from .person_gate import nobody_seen
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


def _model_input(view: str) -> str:
    """Views that confirm each other must differ in model or pixels: the padded view is the
    short-range model on the same pixels, so it cannot confirm a short-range face (nor the
    reverse)."""
    return "short" if view == "padded" else view


def _grey_border(rgb: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """`rgb` with mid-grey rows above/below and columns left/right of it."""
    if not any(rows) and not any(cols):
        return rgb
    return np.pad(rgb, (rows, cols, (0, 0)), constant_values=128)


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

    name, version = "faces", "5"  # 5: the padded view (faces that fill the frame)
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
                      "tile_min_confidence": 0.7, "tile_skip_face_share": 0.03, "short_range": True,
                      "short_range_min_confidence": 0.7, "confirm_min_confidence": 0.3,
                      "verify": True, "verify_crop": 3.0, "verify_min_confidence": 0.7,
                      "person_gate": True, "pad_view": 0.25, "pad_view_min_face": 0.6}
    optional_requires = ("objects",)  # the person gate

    @classmethod
    def availability(cls, settings=None) -> Availability:
        return mediapipe_availability(_MODEL_FILES)

    def setup(self) -> None:
        quiet_native_logs()
        import mediapipe as mp

        detection = mp.solutions.face_detection
        # Raw detections down to confirm_min_confidence: a weak second view confirms a face.
        raw = min(self.config["min_confidence"], self.config["confirm_min_confidence"])
        self._full = detection.FaceDetection(model_selection=1, min_detection_confidence=raw)
        self._short = None
        if self.config["short_range"] or self.config["verify"]:
            self._short = detection.FaceDetection(model_selection=0, min_detection_confidence=raw)

    def _run(self, detector, rgb: np.ndarray, window: tuple[float, float, float, float],
             view: str, found: list[dict]) -> None:
        """Detect in `rgb`, the part `window` (x0, y0, x1, y1 in 0..1) of the frame."""
        if min(rgb.shape[:2]) < MIN_SIDE:  # MediaPipe refuses empty crops (tiles of tiny images)
            return
        wx0, wy0, wx1, wy1 = window
        sx, sy = wx1 - wx0, wy1 - wy0
        for det in detector.process(np.ascontiguousarray(rgb)).detections or []:
            rel = det.location_data.relative_bounding_box
            # Boxes may poke out of the frame: clip them to it.
            x1, y1 = max(0.0, wx0 + rel.xmin * sx), max(0.0, wy0 + rel.ymin * sy)
            x2 = min(1.0, wx0 + (rel.xmin + rel.width) * sx)
            y2 = min(1.0, wy0 + (rel.ymin + rel.height) * sy)
            if x2 > x1 and y2 > y1:
                found.append({"box": [x1, y1, x2 - x1, y2 - y1], "score": float(det.score[0]),
                              "view": view})

    def _same_face(self, a: list[float], b: list[float]) -> bool:
        """The merge rule: two boxes overlap enough to be one face."""
        a_, b_ = np.asarray(a), np.asarray(b)
        return iou(a_, b_) >= self.config["nms_iou"] or overlap_of_smaller(a_, b_) >= 0.5

    def _verify(self, small: np.ndarray, box: list[float], padded: bool = False) -> float:
        """Short-range score of the face at `box` in a square crop `verify_crop` times its size
        (`padded`: where the crop leaves the frame it is mid-grey, as in the padded view;
        otherwise it is cut at the frame's edge)."""
        h, w = small.shape[:2]
        side = self.config["verify_crop"] * max(box[2] * w, box[3] * h)
        cx, cy = (box[0] + box[2] / 2) * w, (box[1] + box[3] / 2) * h
        x0, x1 = int(cx - side / 2), int(cx + side / 2)
        y0, y1 = int(cy - side / 2), int(cy + side / 2)
        crop = small[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
        if padded:
            crop = _grey_border(crop, (max(0, -y0), max(0, y1 - h)), (max(0, -x0), max(0, x1 - w)))
        else:
            x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
        found: list[dict] = []
        self._run(self._short, crop, (x0 / w, y0 / h, x1 / w, y1 / h), "verify", found)
        return max((f["score"] for f in found if self._same_face(f["box"], box)), default=0.0)

    def _run_padded(self, small: np.ndarray, found: list[dict]) -> None:
        """The short-range model on the frame with a grey border (the ``padded`` view); only
        faces that fill the frame (``pad_view_min_face`` of its shorter side) are kept."""
        h, w = small.shape[:2]
        ph, pw = int(round(self.config["pad_view"] * h)), int(round(self.config["pad_view"] * w))
        window = (-pw / w, -ph / h, 1 + pw / w, 1 + ph / h)
        seen: list[dict] = []
        self._run(self._short, _grey_border(small, (ph, ph), (pw, pw)), window, "padded", seen)
        # Smaller faces have the margin the whole-frame views need; what this view alone finds
        # there is not a face (a rocket's landing legs in a real SpaceX post).
        smallest = self.config["pad_view_min_face"] * min(w, h)
        found.extend(f for f in seen if max(f["box"][2] * w, f["box"][3] * h) >= smallest)

    def _accept(self, small: np.ndarray, raw: list[dict]) -> list[dict]:
        """Candidates over their view's threshold, confirmed by another view or verified."""
        cfg = self.config
        floor = {"full": cfg["min_confidence"], "short": cfg["short_range_min_confidence"],
                 "padded": cfg["short_range_min_confidence"]}
        accepted = []
        for face in raw:
            if face["score"] < floor.get(face["view"], cfg["tile_min_confidence"]):
                continue
            if "status" not in face or face["status"] == "rejected":
                confirmed = any(
                    _model_input(other["view"]) != _model_input(face["view"])
                    and other["score"] >= cfg["confirm_min_confidence"]
                    and self._same_face(other["box"], face["box"]) for other in raw)
                if confirmed:
                    face["status"] = "confirmed"
                elif not cfg["verify"]:
                    face["status"] = "unverified"
                elif "verified" not in face:
                    face["verified"] = self._verify(small, face["box"], face["view"] == "padded")
                    face["status"] = ("verified" if face["verified"] >= cfg["verify_min_confidence"]
                                      else "rejected")
            if face["status"] != "rejected":
                accepted.append(face)
        return accepted

    def detect_views(self, rgb: np.ndarray, small: np.ndarray | None = None,
                     nobody: bool = False) -> list[dict]:
        """Every raw detection: ``box`` [x, y, w, h] (0..1 of the frame), ``score``, ``view``
        (full, short, padded, tile0..3) and ``status`` (confirmed, verified, rejected, unverified) for
        those over their view's threshold, ``kept`` for the ones left after merging.

        `nobody`: another model saw no person; then the tiles run only when a face was found."""
        self.ensure_ready()
        if small is None:
            small = fit_within(rgb, self.config["max_side"])
        raw: list[dict] = []
        self._run(self._full, small, (0.0, 0.0, 1.0, 1.0), "full", raw)
        if self.config["short_range"]:
            self._run(self._short, small, (0.0, 0.0, 1.0, 1.0), "short", raw)
        accepted = self._accept(small, raw)
        if not accepted and self.config["pad_view"] and self._short is not None:
            # A face that fills the frame has no margin around it and BlazeFace misses it.
            self._run_padded(small, raw)
            accepted = self._accept(small, raw)
        largest = max((f["box"][2] * f["box"][3] for f in accepted), default=0.0)
        if (self.config["tiles"] and largest < self.config["tile_skip_face_share"]
                and not (nobody and not accepted)):
            # The full-range model looks at 192 px: faces of full-body shots (~4 % of the
            # width) shrink to a few pixels. Four overlapping quarter tiles double their size.
            # Skipped when a big face was found already (portraits: saves 4 model calls).
            h, w = small.shape[:2]
            for i, (y0, y1) in enumerate(((0.0, 0.6), (0.4, 1.0))):
                for j, (x0, x1) in enumerate(((0.0, 0.6), (0.4, 1.0))):
                    tile = small[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
                    self._run(self._full, tile, (x0, y0, x1, y1), f"tile{2 * i + j}", raw)
            accepted = self._accept(small, raw)
        boxes = [[*f["box"], f["score"], k] for k, f in enumerate(accepted)]
        for _, _, _, _, _, k in merge_boxes(boxes, self.config["nms_iou"]):
            accepted[k]["kept"] = True
        return raw

    def detect(self, rgb: np.ndarray, small: np.ndarray | None = None,
               nobody: bool = False) -> list[list[float]]:
        """Merged face boxes [x, y, w, h, score] (0..1 of the frame), largest first.

        `small` is `rgb` already scaled to ``max_side`` (the copy other extractors share)."""
        kept = [[*f["box"], f["score"]] for f in self.detect_views(rgb, small, nobody)
                if f.get("kept")]
        return sorted(kept, key=lambda b: -b[2] * b[3])

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        nobody = bool(self.config["person_gate"]) and nobody_seen(deps)
        boxes = self.detect(image.rgb, shared_fit(image, self.config["max_side"]), nobody)
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
