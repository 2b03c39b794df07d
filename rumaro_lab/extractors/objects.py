"""Objects: COCO-80 things in the photo, grouped into families that matter for engagement.

Two detectors, both built by ``make models`` from the pinned npm package (docs/models.md):

- ``nanodet`` (default; RangiLyu/nanodet, Apache-2.0). Input: the image stretched to 416 x 416,
  NCHW, **BGR normalised with NanoDet's own mean and std** (its training pre-processing). The
  human library feeds RGB / 255 instead; on our hand-labelled set that halves the recall (0.33
  vs 0.74 at score 0.35) and brings a flood of "toilet" and "sink" false positives. Output per stride (8, 16, 32): class scores [N, 80] (already sigmoid) and box
  distributions [N, 44] = 4 sides (left, top, right, bottom) x 11 bins. Decoding: softmax over
  the bins, expectation x stride, measured from the cell centre ((col + 0.5) x stride,
  (row + 0.5) x stride); then per-class non-maximum suppression.
  By default (``int8=True``) NanoDet runs as ``nanodet-int8``: the same network with its
  convolutions quantized to int8 by ``make models`` (onnxruntime static quantization, calibrated
  on the bundled sample photos, each as the shared 640-px copy through `nanodet_input`), 2.2x
  faster (43 -> 19 ms per photo); on the hand-labelled objects benchmark it has the same
  recall (20/27) with 20 false positives instead of 22. ``int8=False`` runs the float model.
- ``centernet`` (opt-in: ``Objects(detector="centernet")`` after ``rumaro models build --with
  centernet``). Its origin (610265158/mobilenetv3_centernet) has NO license file, so it is never
  built unless you ask. It finds more (skis, a cat) but is slower. Input: 512 x 512 RGB 0-255;
  output: 100 rows (x1, y1, x2, y2 in input pixels, score, class); class-agnostic NMS.

Features (a detection counts when its score >= ``min_score``: 0.35 for NanoDet, 0.25 for
CenterNet, chosen on the hand-labelled benchmark):

- ``count``: all detections; ``labels``: the distinct labels found, sorted, comma-separated;
- ``FAMILY_count`` for each family of `FAMILIES` (accessories, sports, food, animals, vehicles,
  furniture, screens) and ``person_count``;
- ``person_max_score``: the best person score of any box, also those under ``min_score`` (0.0
  when the detector has no person candidate): the person gate of ``faces``, ``people`` and
  ``pose`` (`rumaro_lab.extractors.person_gate`) reads it;
- for each label of `KEY_LABELS`: ``LABEL`` (bool: found) and ``LABEL_score`` (best score; null
  when not found), label names with ``_`` for spaces (``wine_glass``, ``cell_phone``);
- artifact ``detections``: ``[[label, score, x, y, w, h], ...]`` normalised to 0..1, best first.

>>> FAMILIES["accessories"]
('tie', 'handbag', 'backpack', 'umbrella', 'suitcase')
>>> feature_name("cell phone")
'cell_phone'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .base import Availability, Extractor, Features
from .packaged_models import SHARED_SIDE, shared_fit
from .schema import Feature, artifact, binary, continuous, count, text

#: COCO-80 names in the models' class order (as in human's src/object/labels.ts)
COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)

#: Families counted as ``objects.FAMILY_count`` (documented in docs/models.md).
FAMILIES: dict[str, tuple[str, ...]] = {
    "accessories": ("tie", "handbag", "backpack", "umbrella", "suitcase"),
    "sports": ("frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
               "baseball glove", "skateboard", "surfboard", "tennis racket"),
    "food": ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
             "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake"),
    "animals": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                "giraffe"),
    "vehicles": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
    "furniture": ("chair", "couch", "bed", "dining table", "bench", "potted plant"),
    "screens": ("tv", "laptop", "cell phone", "keyboard", "mouse", "remote"),
}

#: Labels with their own presence flag and best score: the ones the mission's features use.
KEY_LABELS: tuple[str, ...] = (
    "tie", "handbag", "backpack", "umbrella", "suitcase",
    "sports ball", "skis", "surfboard", "tennis racket", "baseball bat", "baseball glove",
    "bicycle",
    "cup", "wine glass", "bottle", "cake", "pizza", "dining table",
    "dog", "cat", "horse", "car", "boat", "airplane",
    "laptop", "cell phone", "tv", "book",
)

MODELS = {"nanodet": "nanodet", "centernet": "centernet"}
#: NanoDet's training normalisation, per BGR channel (nanodet's config files)
NANODET_MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
NANODET_STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
_NANODET_SCALE = (1 / NANODET_STD).astype(np.float32)
#: Score thresholds chosen on benchmarks/labels/objects.csv (docs/models.md has the table)
DEFAULT_MIN_SCORE = {"nanodet": 0.35, "centernet": 0.25}
_STRIDES = (8, 16, 32)
_BINS = 11


def nanodet_input(rgb: np.ndarray, size: int = 416) -> np.ndarray:
    """NanoDet's input: `rgb` stretched to size x size, BGR, its training mean / std, NCHW.

    >>> nanodet_input(np.zeros((20, 30, 3), np.uint8), 32).shape
    (1, 3, 32, 32)
    """
    resized = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
    # one BGR plane at a time, stacked as CHW: a third of the time of normalising HWC and then
    # copying a strided transpose (1.2 vs 3.4 ms from a 640-px copy)
    planes = [(resized[:, :, 2 - c].astype(np.float32) - NANODET_MEAN[c]) * _NANODET_SCALE[c]
              for c in range(3)]
    return np.stack(planes)[None]


def model_name(detector: str, int8: bool) -> str:
    """The built model a detector runs: NanoDet's int8 build unless `int8` is off."""
    return "nanodet-int8" if detector == "nanodet" and int8 else MODELS[detector]


def feature_name(label: str) -> str:
    """COCO label -> feature name part (``"wine glass"`` -> ``"wine_glass"``)."""
    return label.replace(" ", "_")


def _features() -> dict[str, Feature]:
    out = {"count": count("objects detected (all COCO classes)", unit="objects"),
           "labels": text("the distinct labels found, sorted, comma-separated"),
           "person_count": count("person boxes detected", unit="people", role="diagnostic"),
           "person_max_score": continuous(
               "best person score of any box, also under min_score (0: no person candidate);"
               " the person gate of faces, people and pose", unit="0..1", role="diagnostic")}
    out.update({f"{family}_count": count(f"{family} objects detected ({', '.join(members)})",
                                         unit="objects")
                for family, members in FAMILIES.items()})
    for label in KEY_LABELS:
        out[feature_name(label)] = binary(f"a {label} is detected")
        out[f"{feature_name(label)}_score"] = continuous(f"best {label} score (null: none)",
                                                         unit="0..1", role="diagnostic")
    return out


def decode_nanodet(
    outputs: list[np.ndarray], size: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NanoDet outputs -> (boxes x1,y1,x2,y2 in input pixels, scores, class ids) above min_score.

    Outputs are matched to strides by their cell count (size/stride squared) and told apart
    from the box distributions by their width (80 classes vs 44 = 4 x 11 bins).
    """
    by_cells: dict[int, dict[str, np.ndarray]] = {}
    for arr in outputs:
        arr = np.asarray(arr)[0]
        kind = "scores" if arr.shape[1] == len(COCO_LABELS) else "dist"
        by_cells.setdefault(arr.shape[0], {})[kind] = arr
    boxes, scores, classes = [], [], []
    bins = np.arange(_BINS, dtype=np.float32)
    for stride in _STRIDES:
        side = size // stride
        level = by_cells.get(side * side)
        if level is None:
            raise ValueError(f"nanodet: no output with {side * side} cells")
        cell, cls = np.nonzero(level["scores"] >= min_score)
        if cell.size == 0:
            continue
        logits = level["dist"][cell].reshape(-1, 4, _BINS).astype(np.float64)
        logits -= logits.max(axis=2, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=2, keepdims=True)
        distance = (prob * bins).sum(axis=2) * stride  # left, top, right, bottom
        cx = (cell % side + 0.5) * stride
        cy = (cell // side + 0.5) * stride
        boxes.append(np.stack([cx - distance[:, 0], cy - distance[:, 1],
                               cx + distance[:, 2], cy + distance[:, 3]], axis=1))
        scores.append(level["scores"][cell, cls])
        classes.append(cls)
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


def nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, per_class: bool
) -> np.ndarray:
    """Indices kept by non-maximum suppression (OpenCV's), best score first."""
    if len(scores) == 0:
        return np.zeros(0, dtype=int)
    xywh = np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2]].astype(float).tolist()
    if per_class:
        keep = cv2.dnn.NMSBoxesBatched(xywh, scores.astype(float).tolist(),
                                       classes.astype(int).tolist(), 0.0, iou)
    else:
        keep = cv2.dnn.NMSBoxes(xywh, scores.astype(float).tolist(), 0.0, iou)
    keep = np.asarray(keep, dtype=int).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


class Objects(Extractor):
    """COCO objects by family: accessories, sports, food, animals... (NanoDet, ONNX)."""

    # 3: int8 NanoDet, input from the shared 640-px copy; 4: person_max_score (the person gate)
    name, version = "objects", "4"
    features = _features()
    artifacts = {"detections": artifact("detections", "[[label, score, x, y, w, h], ...], 0..1 of the frame,"
                                         " best first")}
    option_choices = {"detector": tuple(MODELS)}
    default_config = {
        "detector": "nanodet",
        "min_score": None,  # None: the detector's measured default (DEFAULT_MIN_SCORE)
        "iou": 0.5,
        "int8": True,  # NanoDet's int8 build (same answers, half the time); False: float
    }

    @classmethod
    def availability(cls, settings=None) -> Availability:
        from ..modelstore.registry import model_availability

        config = cls.default_config
        return model_availability(model_name(config["detector"], config["int8"]), settings)

    def registry_models(self) -> tuple[str, ...]:
        return (self.model,)

    def setup(self) -> None:
        from ..modelstore.registry import locate_model, onnx_session
        from ..settings import Settings

        detector = self.config["detector"]
        self._session = onnx_session(locate_model(self.model, self.settings or Settings()))
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self._size = 416 if detector == "nanodet" else 512

    @property
    def model(self) -> str:
        """The built model this configuration runs (``nanodet-int8``, ``nanodet``, ``centernet``)."""
        return model_name(self.config["detector"], bool(self.config["int8"]))

    @property
    def min_score(self) -> float:
        """The score threshold in force (configured, or the detector's default)."""
        if self.config["min_score"] is not None:
            return float(self.config["min_score"])
        return DEFAULT_MIN_SCORE[self.config["detector"]]

    def detect(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        """Detections [{label, score, box: [x, y, w, h] in 0..1}], best first."""
        return self.detect_with_person_score(rgb)[0]

    def detect_with_person_score(self, rgb: np.ndarray) -> tuple[list[dict[str, Any]], float]:
        """`detect`'s detections, and the best person score of any candidate box (also under
        ``min_score``; 0.0 when there is none): the person gate (`person_gate`) reads it."""
        self.ensure_ready()
        height, width = rgb.shape[:2]
        size = self._size
        min_score = self.min_score
        if self.config["detector"] == "nanodet":
            outputs = self._session.run(None, {self._input: nanodet_input(rgb, size)})
            boxes, scores, classes = decode_nanodet(outputs, size, min_score)
            # the person column of every level's class scores (already sigmoid)
            person = max(float(o[0][:, 0].max()) for o in outputs if o.shape[-1] == len(COCO_LABELS))
            keep = nms(boxes, scores, classes, float(self.config["iou"]), per_class=True)
        else:
            resized = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
            (rows,) = self._session.run(None, {self._input: resized[None].astype(np.float32)})
            rows = rows[0]
            person = float(max(rows[rows[:, 5] == 0, 4], default=0.0))
            rows = rows[(rows[:, 4] >= min_score) & np.isfinite(rows[:, 5])]
            boxes, scores, classes = rows[:, :4], rows[:, 4], rows[:, 5].astype(int)
            keep = nms(boxes, scores, classes, float(self.config["iou"]), per_class=False)
        found = []
        for i in keep:
            x1, y1, x2, y2 = np.clip(boxes[i] / size, 0.0, 1.0)
            found.append({
                "label": COCO_LABELS[int(classes[i])],
                "score": float(scores[i]),
                "box": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
            })
        return found, person

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        # from the shared 640-px copy (area-averaged once per image): it aliases less than
        # stretching the full photo to 416 px, and is what the int8 build was calibrated on
        found, person_max = self.detect_with_person_score(shared_fit(image, SHARED_SIDE))
        labels = [d["label"] for d in found]
        out: Features = {
            "count": len(found),
            "labels": ",".join(sorted(set(labels))),
            "person_count": labels.count("person"),
            "person_max_score": round(person_max, 4),
            "detections": [[d["label"], round(d["score"], 3)] + [round(v, 4) for v in d["box"]]
                           for d in found],
        }
        for family, members in FAMILIES.items():
            out[f"{family}_count"] = sum(label in members for label in labels)
        for label in KEY_LABELS:
            best = max((d["score"] for d in found if d["label"] == label), default=None)
            out[feature_name(label)] = best is not None
            out[f"{feature_name(label)}_score"] = best
        return out
