"""Text in the picture: how much of it, how many lines, how big (PP-OCRv4 text detection).

Model: PaddleOCR's PP-OCRv4 DBNet text detector, the file
``rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx`` inside the ``rapidocr_onnxruntime``
1.4.4 wheel (Apache-2.0; checked against `DET_SHA256`), run directly with onnxruntime. The wheel
is installed with ``--no-deps`` (requirements/no-deps.txt): it declares the GUI OpenCV build,
which would overwrite ``cv2``. None of RapidOCR's Python code is imported, so neither its
``pyclipper`` nor ``shapely`` is needed.

Pre-processing (RapidOCR's ``DetPreProcess``): the picture scaled so its long side is
``long_side`` px (320 by default), each side rounded to a multiple of 32, BGR, ``x / 127.5 - 1``.
The scaled picture comes from the 640-px copy that ``faces`` and ``pose`` use (`shared_fit`):
one resize of the full image per worker and image.

Post-processing (RapidOCR's ``DBPostProcess``: threshold 0.3, box score 0.5, unclip 1.6, 2x2
dilation) with the unclip in closed form: RapidOCR grows the minimum-area rectangle of each
region by ``d = area * unclip / perimeter`` with pyclipper and takes the minimum-area rectangle
again, which for a rectangle is the rectangle grown by ``d`` on every side. One addition, the
*blob filter*: at 256-640 px this Chinese-trained detector reads a large object on a plain
background (a shoe, a face) as one giant glyph; a box taller than ``blob_height`` (0.10) of the
image and less than ``blob_aspect`` (1.5) times as wide as tall is dropped. Real text that tall
is a line of several characters, so it is wider (a lone huge glyph is lost).

Features: ``area_share`` (union of the text boxes / image area), ``box_count`` (boxes, roughly
lines), ``largest_line_height`` (tallest box / image height; a box's height is its side closer to
vertical; DB boxes are ~1.2-1.5x the ink height). With ``recognize=True`` (opt-in: ~10-40 ms per
line) the PP-OCRv4 recogniser of the same wheel reads every box: ``words`` (the text, lines
joined with `` | ``) and ``word_count``; both are null otherwise.

>>> Text.default_config["long_side"], input_size(1350, 1080, 320)
(320, (320, 256))
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .base import Availability, Extractor, Features
from .packaged_models import (
    SHARED_SIDE,
    PackagedModelMissing,
    package_file,
    shared_fit,
    verified_file,
)
from .schema import artifact, continuous, count, text

PACKAGE = "rapidocr_onnxruntime"
DET_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
REC_FILE = "models/ch_PP-OCRv4_rec_infer.onnx"
#: sha256 of those files in rapidocr_onnxruntime==1.4.4
DET_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
REC_SHA256 = "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
HINT = "run `make install` (it installs rapidocr_onnxruntime==1.4.4 with --no-deps)"
NO_TEXT = ("text.box_count", "no text")


def input_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) fed to the network: long side <= `long_side`, both multiples of 32 (>= 32)."""
    ratio = min(1.0, long_side / max(height, width))
    h = max(32, int(round(int(height * ratio) / 32) * 32))
    w = max(32, int(round(int(width * ratio) / 32) * 32))
    return h, w


def height_width(box: np.ndarray) -> tuple[float, float]:
    """(height, width) of a rectangle (4 x 2 points): the height is the side closer to vertical."""
    a, b = box[1] - box[0], box[2] - box[1]
    la, lb = float(np.hypot(*a)), float(np.hypot(*b))
    return (la, lb) if abs(a[1]) * lb > abs(b[1]) * la else (lb, la)


def _box_score(prob: np.ndarray, pts: np.ndarray) -> float:
    """Mean probability inside the box (RapidOCR's ``box_score_fast``)."""
    h, w = prob.shape
    xmin = int(np.clip(np.floor(pts[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(pts[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(pts[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(pts[:, 1].max()), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), np.uint8)
    cv2.fillPoly(mask, (pts - [xmin, ymin]).astype(np.int32).reshape(1, -1, 2), 1)
    return cv2.mean(prob[ymin:ymax + 1, xmin:xmax + 1], mask)[0]


def boxes_from_map(prob: np.ndarray, image_hw: tuple[int, int], config: Mapping[str, Any],
                   max_candidates: int = 1000) -> np.ndarray:
    """DB post-processing: text quadrilaterals (n, 4, 2) in image pixels, blobs removed."""
    map_h, map_w = prob.shape
    height, width = image_hw
    mask = cv2.dilate((prob > config["threshold"]).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours[:max_candidates]:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < 3:
            continue
        if _box_score(prob, cv2.boxPoints(((cx, cy), (rw, rh), angle))) < config["box_threshold"]:
            continue
        d = rw * rh * config["unclip_ratio"] / (2 * (rw + rh))
        rw, rh = rw + 2 * d, rh + 2 * d
        if min(rw, rh) < 5:
            continue
        pts = cv2.boxPoints(((cx, cy), (rw, rh), angle))
        pts[:, 0] = np.clip(np.round(pts[:, 0] / map_w * width), 0, width - 1)
        pts[:, 1] = np.clip(np.round(pts[:, 1] / map_h * height), 0, height - 1)
        # RapidOCR's filter_tag_det_res: drop boxes 3 px or less on a side
        if min(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[1] - pts[2])) <= 3:
            continue
        box_h, box_w = height_width(pts)
        if box_h > config["blob_height"] * height and box_w < config["blob_aspect"] * box_h:
            continue  # one object read as one giant glyph (see the module docstring)
        out.append(pts)
    return np.array(out, dtype=np.float32).reshape(-1, 4, 2)


def features_from_boxes(boxes: np.ndarray, height: int, width: int,
                        raster_side: int = 256) -> Features:
    """area_share (union of the boxes, on a raster), box_count, largest_line_height, boxes."""
    if len(boxes) == 0:
        return {"area_share": 0.0, "box_count": 0, "boxes": []}
    scale = min(1.0, raster_side / max(height, width))
    rh, rw = max(1, round(height * scale)), max(1, round(width * scale))
    canvas = np.zeros((rh, rw), np.uint8)
    cv2.fillPoly(canvas, list(np.round(boxes * [rw / width, rh / height]).astype(np.int32)), 1)
    heights = [height_width(b)[0] for b in boxes]
    rects = []
    for b in boxes:
        x0, y0 = b.min(axis=0)
        x1, y1 = b.max(axis=0)
        rects.append([x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height])
    rects.sort(key=lambda r: -r[2] * r[3])
    return {"area_share": float(canvas.mean()), "box_count": len(boxes),
            "largest_line_height": float(max(heights) / height),
            "boxes": [[round(float(v), 4) for v in r] for r in rects]}


def crop_line(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The (possibly tilted) text line under `box`, straightened (RapidOCR's crop)."""
    pts = box.astype(np.float32)
    w = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    h = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    crop = cv2.warpPerspective(rgb, cv2.getPerspectiveTransform(pts, target), (max(w, 1), max(h, 1)),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(crop) if crop.shape[0] >= 1.5 * crop.shape[1] else crop


def _clockwise(box: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left (the order the recogniser's crop wants)."""
    s, d = box.sum(axis=1), np.diff(box, axis=1).ravel()
    return np.array([box[np.argmin(s)], box[np.argmin(d)], box[np.argmax(s)], box[np.argmax(d)]])


class Text(Extractor):
    """Text in the picture: area share, lines, tallest line (PP-OCRv4 detection; words opt-in)."""

    name, version = "text", "1"
    features = {
        "area_share": continuous("share of the picture covered by text boxes (0 = no text)",
                                 unit="fraction of image area", role="primary"),
        "box_count": count("text boxes found (roughly lines of text)", unit="lines"),
        "largest_line_height": continuous("height of the tallest text line / picture height",
                                          unit="fraction of height", absent=NO_TEXT),
        "words": text("recognised text, lines joined with ' | ' (only with recognize=True)"),
        "word_count": count("recognised words (only with recognize=True)", unit="words",
                            role="diagnostic"),
    }
    artifacts = {"boxes": artifact("boxes", "text line boxes [x, y, w, h], 0..1 of the frame,"
                                   " largest first")}
    default_config = {"long_side": 320, "threshold": 0.3, "box_threshold": 0.5,
                      "unclip_ratio": 1.6, "blob_height": 0.10, "blob_aspect": 1.5,
                      "recognize": False, "min_word_score": 0.5, "threads": 1}
    option_choices = {"recognize": (False, True)}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        try:
            package_file(PACKAGE, DET_FILE, hint=HINT)
            package_file("onnxruntime", "__init__.py", hint="run `make install` (onnxruntime)")
        except PackagedModelMissing as exc:
            return Availability(False, str(exc))
        return Availability(True)

    def _model(self, relative: str, sha256: str):
        from ..modelstore.registry import onnx_session

        path: Path = verified_file(package_file(PACKAGE, relative, hint=HINT), sha256, HINT)
        return onnx_session(path, threads=self.config["threads"])

    def setup(self) -> None:
        self._det = self._model(DET_FILE, DET_SHA256)
        self._det_input = self._det.get_inputs()[0].name
        self._rec = None
        if self.config["recognize"]:
            self._rec = self._model(REC_FILE, REC_SHA256)
            chars = self._rec.get_modelmeta().custom_metadata_map["character"].splitlines()
            self._chars = ["", *chars, " "]  # CTC blank first, space last (as RapidOCR)

    def probability_map(self, small: np.ndarray) -> np.ndarray:
        """Text probability per pixel of the network input (the picture at `long_side`)."""
        self.ensure_ready()
        h, w = input_size(*small.shape[:2], self.config["long_side"])
        x = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
        x = x.astype(np.float32) * (1 / 127.5) - 1.0
        (out,) = self._det.run(None, {self._det_input: x.transpose(2, 0, 1)[None]})
        return out[0, 0]

    def read(self, rgb: np.ndarray, boxes: np.ndarray) -> list[str]:
        """Recognised lines (score >= min_word_score), top to bottom, left to right."""
        self.ensure_ready()
        if self._rec is None:
            raise ValueError("text: read needs recognize=True (the recognition model)")
        lines = []
        scale = np.array([rgb.shape[1], rgb.shape[0]], np.float32)
        order = sorted(range(len(boxes)), key=lambda i: (round(boxes[i][:, 1].min() * 50),
                                                         boxes[i][:, 0].min()))
        for i in order:
            crop = crop_line(rgb, _clockwise(boxes[i] * scale))
            width = max(1, min(int(np.ceil(48 * crop.shape[1] / crop.shape[0])), 2000))
            x = cv2.resize(crop[:, :, ::-1], (width, 48)).astype(np.float32) / 127.5 - 1.0
            (prob,) = self._rec.run(None, {self._rec.get_inputs()[0].name:
                                           x.transpose(2, 0, 1)[None]})
            idx, score = prob[0].argmax(axis=1), prob[0].max(axis=1)
            keep = (idx != 0) & np.r_[True, idx[1:] != idx[:-1]]
            if keep.any() and float(score[keep].mean()) >= self.config["min_word_score"]:
                lines.append("".join(self._chars[j] for j in idx[keep]).strip())
        return [line for line in lines if line]

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        small = shared_fit(image, SHARED_SIDE)
        height, width = small.shape[:2]
        boxes = boxes_from_map(self.probability_map(small), (height, width), self.config)
        out = features_from_boxes(boxes, height, width)
        if self._rec is not None:
            lines = self.read(image.rgb, boxes / np.array([width, height], np.float32))
            out["words"] = " | ".join(lines)
            out["word_count"] = sum(len(line.split()) for line in lines)
        return out
