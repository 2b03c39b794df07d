"""Exposed and covered body parts (NudeNet 320n detector): OPTIONAL and off by default.

NudeNet's wheel (nudenet==3.4.2, model ``320n.onnx``) is licensed AGPL-3.0, so it is not a
dependency of rumaro_lab: install it yourself with ``make nsfw-parts`` (pip ``--no-deps``, so it
does not bring a second OpenCV wheel) and ask for it explicitly (``--extractors nudenet``).
Without the package the extractor reports itself unavailable with that hint.

The package's own pre- and post-processing is used (pad to a square, 320 px, YOLOv8 decoding and
NMS); only the onnxruntime session is replaced by a one-thread one (one worker per core).

Features (``nudenet.*``; a part counts when its score >= ``min_score``):
``exposed_count``, ``covered_count``, ``max_exposed_score`` (null when nothing exposed),
flags ``breast_exposed`` (female), ``male_breast_exposed``, ``buttocks_exposed``,
``genitalia_exposed`` (female or male), ``belly_exposed``, ``armpits_exposed``, ``feet_exposed``,
and the artifact ``parts``: ``[[class, score, x, y, w, h], ...]`` normalised to 0..1.

>>> NudeNetParts.local, "nudenet" in NudeNetParts.description
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import Availability, Extractor, Features
from .packaged_models import PackagedModelMissing, fit_within, package_file
from .schema import artifact, binary, continuous, count

INSTALL_HINT = ("optional, AGPL-3.0: install it with `make nsfw-parts` "
                "(pip install --no-deps nudenet==3.4.2)")

#: feature flag -> NudeNet classes that set it
FLAGS: dict[str, tuple[str, ...]] = {
    "breast_exposed": ("FEMALE_BREAST_EXPOSED",),
    "male_breast_exposed": ("MALE_BREAST_EXPOSED",),
    "buttocks_exposed": ("BUTTOCKS_EXPOSED",),
    "genitalia_exposed": ("FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED"),
    "belly_exposed": ("BELLY_EXPOSED",),
    "armpits_exposed": ("ARMPITS_EXPOSED",),
    "feet_exposed": ("FEET_EXPOSED",),
}


class NudeNetParts(Extractor):
    """Exposed/covered body parts (optional nudenet package, AGPL-3.0; off by default)."""

    name, version = "nudenet", "2"
    features = {
        "exposed_count": count("exposed body parts detected", unit="parts"),
        "covered_count": count("covered body parts detected", unit="parts"),
        "max_exposed_score": continuous("best score of an exposed part (null: none)", unit="0..1"),
        **{flag: binary(f"NudeNet finds {flag.replace('_', ' ')}") for flag in FLAGS},
    }
    artifacts = {"parts": artifact("detections", "[[class, score, x, y, w, h], ...], 0..1 of the "
                                   "frame, best first")}
    default_config = {"min_score": 0.4, "max_side": 640}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        try:
            package_file("nudenet", "320n.onnx", hint=INSTALL_HINT)
        except PackagedModelMissing as exc:
            return Availability(False, str(exc))
        return Availability(True)

    def setup(self) -> None:
        from nudenet import NudeDetector

        from ..modelstore.registry import onnx_session

        path = package_file("nudenet", "320n.onnx", hint=INSTALL_HINT)
        self._detector = NudeDetector(model_path=str(path))
        # NudeNet's session uses every core; the runner already runs one process per core.
        self._detector.onnx_session = onnx_session(path, threads=1)

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        small = fit_within(image.rgb, self.config["max_side"])
        h, w = small.shape[:2]
        # NudeNet converts RGBA -> BGR itself, then swaps to RGB for the network.
        rgba = np.dstack([small, np.full((h, w), 255, np.uint8)])
        parts = [d for d in self._detector.detect(rgba) if d["score"] >= self.config["min_score"]]
        exposed = [d for d in parts if d["class"].endswith("_EXPOSED")]
        found = {d["class"] for d in parts}
        out: Features = {
            "exposed_count": len(exposed),
            "covered_count": sum(d["class"].endswith("_COVERED") for d in parts),
            "max_exposed_score": max((d["score"] for d in exposed), default=None),
            "parts": [
                [d["class"], round(d["score"], 4), round(d["box"][0] / w, 4),
                 round(d["box"][1] / h, 4), round(d["box"][2] / w, 4), round(d["box"][3] / h, 4)]
                for d in sorted(parts, key=lambda d: -d["score"])
            ],
        }
        out.update({flag: any(c in found for c in classes) for flag, classes in FLAGS.items()})
        return out
