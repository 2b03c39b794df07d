"""Privacy for shown photos: blur every face before a photo goes into a figure or a report.

Photos of people are personal data, so anything that *shows* a photo (the top/bottom posts grid,
an HTML report) blurs faces by default; ``blur=False`` (``--no-blur`` on the CLI) opts out.

Where the faces are comes from the face boxes the extractors already computed: any artifact
declared with kind ``face_boxes`` (a list of ``[x, y, w, h, score]`` boxes normalised to 0..1;
see `rumaro_lab.extractors.schema`). When they are unknown for a photo (the extractor did not
run, or failed), the default extractor that declares face boxes runs on it now. When no
detector can run at all, the *whole* photo is blurred: privacy fails closed, never open.

>>> import numpy as np
>>> rgb = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
>>> out = blur_boxes(rgb, parse_boxes("[[0.4, 0.4, 0.2, 0.2, 0.9]]"))
>>> bool(out[40:60, 40:60].std() < rgb[40:60, 40:60].std() / 4), bool((out[:20] == rgb[:20]).all())
(True, True)
>>> parse_boxes("[]"), parse_boxes(None)
([], None)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .errors import RumaroError
from .images import LoadedImage, load_image

log = logging.getLogger(__name__)

FACE_BOXES = "face_boxes"  # the artifact kind privacy reads


@dataclass(frozen=True)
class Box:
    """A face box in fractions of the frame (0..1), top-left corner plus size."""

    x: float
    y: float
    w: float
    h: float
    score: float | None = None


def parse_boxes(value: object) -> list[Box] | None:
    """Face boxes (a list, or its JSON text) -> `Box` list; ``None`` when unknown (null, NaN,
    unreadable).

    An empty list is a real answer ("no face") and is kept apart from unknown, which makes
    the caller look for faces itself.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        items = json.loads(value) if isinstance(value, str) else value
        boxes = []
        for item in items:
            x, y, w, h = (float(v) for v in item[:4])
            score = float(item[4]) if len(item) > 4 and item[4] is not None else None
            boxes.append(Box(x, y, w, h, score))
        return boxes
    except (TypeError, ValueError, IndexError) as exc:
        log.warning("unreadable face boxes %r (%s): detecting faces again", value, exc)
        return None


def _pixelate(region: np.ndarray) -> np.ndarray:
    # Pixelate then smooth: a Gaussian blur alone can be partly inverted, 6 blocks cannot.
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, min(6, w)), max(1, min(6, h))), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = max(3, (min(h, w) // 4) | 1)
    return cv2.GaussianBlur(big, (k, k), 0)


def blur_boxes(rgb: np.ndarray, boxes: Sequence[Box], margin: float = 0.25) -> np.ndarray:
    """A copy of `rgb` with each box (grown by `margin` on every side) blurred beyond recognition.

    The blurred patch is an ellipse with a soft edge, so the result still reads as a photo.
    """
    out = rgb.copy()
    height, width = rgb.shape[:2]
    for box in boxes:
        x0 = int(max(0, math.floor((box.x - margin * box.w) * width)))
        y0 = int(max(0, math.floor((box.y - margin * box.h) * height)))
        x1 = int(min(width, math.ceil((box.x + box.w * (1 + margin)) * width)))
        y1 = int(min(height, math.ceil((box.y + box.h * (1 + margin)) * height)))
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        region = out[y0:y1, x0:x1]
        blurred = _pixelate(region)
        mask = np.zeros(region.shape[:2], np.float32)
        cv2.ellipse(mask, (((x1 - x0) / 2, (y1 - y0) / 2), (x1 - x0, y1 - y0), 0), 1.0, -1)
        feather = max(3, (min(x1 - x0, y1 - y0) // 8) | 1)
        mask = cv2.GaussianBlur(mask, (feather, feather), 0)[..., None]
        # The box itself is always fully covered; only the grown margin fades out.
        ix0, iy0 = int(box.x * width) - x0, int(box.y * height) - y0
        ix1, iy1 = int(math.ceil((box.x + box.w) * width)) - x0, int(math.ceil((box.y + box.h) * height)) - y0
        mask[max(0, iy0):max(0, iy1), max(0, ix0):max(0, ix1)] = 1.0
        out[y0:y1, x0:x1] = (mask * blurred + (1 - mask) * region).round().astype(np.uint8)
    return out


def blur_all(rgb: np.ndarray) -> np.ndarray:
    """The whole photo blurred (used when no face detector can run: fail closed)."""
    return _pixelate_whole(rgb)


def _pixelate_whole(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, w // 24), max(1, h // 24)), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 6)


class FaceBlurrer:
    """Blur the faces of photos, finding faces with the faces extractor when boxes are unknown.

    One instance loads the detector at most once (on the first photo that needs it)::

        blurrer = FaceBlurrer(settings)
        pixels = blurrer(load_image("data/raw/sample/a.jpg"), boxes=face_boxes(row))
    """

    def __init__(self, settings=None, margin: float = 0.25):
        self.settings = settings
        self.margin = margin
        self._detector = None
        self._boxes_key: str | None = None
        self._detector_error: str | None = None

    def detect(self, image: LoadedImage) -> list[Box] | None:
        """Face boxes found by the faces extractor now; ``None`` when it can't run."""
        if self._detector_error is not None:
            return None
        try:
            if self._detector is None:
                self._detector, self._boxes_key = _face_detector(self.settings)
            found = self._detector(image)
        except Exception as exc:  # any failure of the detector means: fail closed
            self._detector_error = str(exc) if isinstance(exc, RumaroError) else repr(exc)
            log.warning(
                "face detection unavailable (%s): photos whose faces are unknown are blurred whole",
                self._detector_error,
            )
            return None
        return parse_boxes(found.get(self._boxes_key))

    def boxes(self, image: LoadedImage, boxes: object = None) -> list[Box] | None:
        """The known boxes, else detected ones, else ``None`` (unknown)."""
        known = parse_boxes(boxes)
        return known if known is not None else self.detect(image)

    def __call__(self, image: LoadedImage, boxes: object = None) -> np.ndarray:
        """RGB pixels of `image` with every face blurred (the whole photo if faces are unknown)."""
        found = self.boxes(image, boxes)
        if found is None:
            return blur_all(image.rgb)
        return blur_boxes(image.rgb, found, margin=self.margin)


def _face_detector(settings):
    """The first default extractor that declares a face-boxes artifact, and that artifact's key."""
    from .extractors import DEFAULT_EXTRACTORS, make_extractor, registered_classes

    for cls in registered_classes(DEFAULT_EXTRACTORS):
        for key, art in cls.artifacts.items():
            if art.kind == FACE_BOXES and not cls.requires:
                return make_extractor(cls.name, settings), key
    raise RumaroError("no default extractor declares face boxes")


def face_boxes(row: pd.Series | dict) -> object:
    """The first known face-boxes artifact of a dataset row (None when there is none)."""
    from .extractors.schema import feature_schema

    columns = list(row.keys()) if isinstance(row, dict) else list(row.index)
    for column in feature_schema(columns).artifact_columns(FACE_BOXES):
        value = row.get(column)
        if column in columns and parse_boxes(value) is not None:
            return value
    return None


def shown_photo(
    path: str | Path,
    boxes: object = None,
    blur: bool = True,
    blurrer: FaceBlurrer | None = None,
    settings=None,
) -> np.ndarray:
    """The pixels to show for the photo at `path`: faces blurred unless ``blur=False``."""
    image = load_image(path, source=str(path))
    if not blur:
        return image.rgb
    return (blurrer or FaceBlurrer(settings))(image, boxes)
