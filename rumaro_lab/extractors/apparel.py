"""Apparel from pose-guided body regions: garment colours and bare arms / legs / torso.

No clothing model ships offline (../shared/MODELS.md), so this reads the clothes off the body
regions that the pose keypoints outline, inside the person mask (both from ``pose``, computed
once per image):

- torso: the shoulders-hips quadrilateral (without visible hips, the chest: a box
  ``REGIONS["chest_depth"]`` x shoulder width deep below the shoulders); arms: shoulder-elbow and elbow-wrist strips; legs:
  hip-knee and knee-ankle strips (strip width ``REGIONS["limb_width"]`` x shoulder width);
- per region, the share of skin-coloured pixels (the YCrCb rule of `racy.SKIN_YCRCB`) and the
  dominant colour of the *non-skin* pixels (k-means, named as in ``image``): the garment;
- flags: ``bare_torso`` / ``bare_arms`` / ``bare_legs`` when the region's skin share is at least
  ``REGIONS["bare_*"]``; a region with fewer than ``REGIONS["min_pixels"]`` person pixels
  (not visible, out of frame) is null.

Known limits: beige/brown garments and blond hair fall inside the skin box, so a camel coat reads
partly as skin; strong coloured light shifts everything. The flags are for averages over many
posts, not for judging one photo.

With ``objects`` in the run: ``accessories`` (COCO accessory labels found: tie, handbag,
backpack, umbrella, suitcase, comma-separated; "" when none), ``bag`` and ``tie`` (bool); null
without ``objects``.

User-supplied apparel model (hook; none ships): register an ONNX classifier with its sha256 via
``rumaro_lab.modelstore.register_user_model("apparel-classifier", "path/model.onnx", settings)`` (it
is recorded in ``models/user.json``) and run ``Apparel(user_model="apparel-classifier",
user_labels=("dress", "shirt", ...))``. The file is re-verified against its sha256 at setup and
fed the person crop (bounding box of the person mask, or the whole frame without one) as
``[1, 3, S, S]`` float32 RGB in 0..1 normalised with the ImageNet mean and std
(``user_normalise=False`` to skip), S = ``user_input_size``; its first output is read as
``[1, K]`` class scores (``user_output``: "softmax" for logits, "sigmoid", or "probabilities").
``user_label`` / ``user_score`` give the top class. Without a user model both are null.

>>> REGIONS["bare_arms"], sorted(ACCESSORY_LABELS)[:2]
(0.5, ['backpack', 'handbag'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from ..errors import ModelMissingError, RumaroError
from .base import Extractor, Features
from .image_stats import COLOUR_NAMES, colour_name, palette, to_hex
from .packaged_models import shared_fit
from .pose import K, parse_keypoints
from .racy import person_mask_at, skin_mask
from .schema import binary, category, continuous, text

#: Every threshold of the region rules, in one place (tested).
REGIONS: dict[str, float] = {
    "min_visibility": 0.5,   # keypoints used to draw regions
    "limb_width": 0.35,      # arm/leg strip width, x shoulder width
    "chest_depth": 0.8,      # without visible hips: torso = this x shoulder width below shoulders
    "min_pixels": 25,        # fewer person pixels in a region: null
    "bare_torso": 0.5,       # skin share of the torso for bare_torso
    "bare_arms": 0.5,        # skin share of the arms for bare_arms
    "bare_legs": 0.4,        # skin share of the lower legs (knee-ankle) for bare_legs
    "min_garment_share": 0.3,  # need this share of non-skin pixels to name a garment colour
}
ACCESSORY_LABELS = ("tie", "handbag", "backpack", "umbrella", "suitcase")
_BAGS = ("handbag", "backpack", "suitcase")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def region_masks(kp: np.ndarray, shape: tuple[int, int],
                 rules: Mapping[str, float] = REGIONS) -> dict[str, np.ndarray]:
    """Boolean masks (H x W) of torso, arms, upper legs and lower legs from 33 keypoints."""
    h, w = shape
    vis = kp[:, 2] >= rules["min_visibility"]
    px = np.column_stack([kp[:, 0] * w, kp[:, 1] * h])
    masks = {name: np.zeros(shape, np.uint8) for name in ("torso", "arms", "thighs", "shins")}
    shoulders = vis[K["left_shoulder"]] and vis[K["right_shoulder"]]
    if not shoulders:
        return {k: v.astype(bool) for k, v in masks.items()}
    shoulder_w = float(np.linalg.norm(px[K["left_shoulder"]] - px[K["right_shoulder"]]))
    thick = max(1, int(round(rules["limb_width"] * shoulder_w)))
    corners = ["left_shoulder", "right_shoulder", "right_hip", "left_hip"]
    if all(vis[K[c]] for c in corners):
        poly = np.round(px[[K[c] for c in corners]]).astype(np.int32)
        cv2.fillPoly(masks["torso"], [poly], 1)
    else:
        # Head-and-shoulders shots: no hips, so take the chest below the shoulders,
        # ``chest_depth`` x shoulder width deep (clipped by the frame).
        left, right = px[K["left_shoulder"]], px[K["right_shoulder"]]
        drop = np.array([0.0, rules["chest_depth"] * shoulder_w])
        poly = np.round(np.array([left, right, right + drop, left + drop])).astype(np.int32)
        cv2.fillPoly(masks["torso"], [poly], 1)
    limbs = {"arms": [("shoulder", "elbow"), ("elbow", "wrist")],
             "thighs": [("hip", "knee")], "shins": [("knee", "ankle")]}
    for region, segments in limbs.items():
        for side in ("left", "right"):
            for a, b in segments:
                i, j = K[f"{side}_{a}"], K[f"{side}_{b}"]
                if vis[i] and vis[j]:
                    p1 = tuple(int(v) for v in np.round(px[i]))
                    p2 = tuple(int(v) for v in np.round(px[j]))
                    cv2.line(masks[region], p1, p2, 1, thickness=thick)
    return {k: v.astype(bool) for k, v in masks.items()}


def _garment(rgb: np.ndarray, region: np.ndarray, skin: np.ndarray,
             rules: Mapping[str, float]) -> tuple[str, str] | None:
    cloth = region & ~skin
    if cloth.sum() < rules["min_pixels"] or cloth.sum() < rules["min_garment_share"] * region.sum():
        return None
    colour, _share = palette(rgb[cloth], 3)[0]
    colour = np.clip(colour, 0, 255)
    return to_hex(colour), colour_name(colour)


class Apparel(Extractor):
    """Garment colours, bare arms/legs/torso from pose regions; accessories (objects)."""

    name, version = "apparel", "2"
    requires = ("pose",)
    optional_requires = ("objects",)
    features = {
        "upper_color": text("dominant non-skin colour of the torso as #rrggbb (the top garment)"),
        "upper_color_name": category(COLOUR_NAMES, "name of the top garment's colour",
                                     reference="black"),
        "lower_color": text("dominant non-skin colour of the thighs as #rrggbb (the bottom garment)"),
        "lower_color_name": category(COLOUR_NAMES, "name of the bottom garment's colour",
                                     reference="black"),
        "torso_skin_share": continuous("share of skin-coloured pixels in the torso region",
                                       unit="fraction of region"),
        "arms_skin_share": continuous("share of skin-coloured pixels in the arm strips",
                                      unit="fraction of region"),
        "legs_skin_share": continuous("share of skin-coloured pixels in the shin strips",
                                      unit="fraction of region"),
        "bare_torso": binary("the torso is mostly skin (shirtless, swimwear)"),
        "bare_arms": binary("the arms are mostly skin (sleeveless, short sleeves)"),
        "bare_legs": binary("the shins are mostly skin (shorts, skirt)"),
        "accessories": text("COCO accessories found: tie, handbag, backpack, umbrella, suitcase"),
        "bag": binary("a handbag, backpack or suitcase is detected"),
        "tie": binary("a tie is detected"),
        "user_label": text("top class of a user-registered apparel model (null without one)"),
        "user_score": continuous("score of that class", unit="0..1", role="diagnostic"),
    }
    default_config = {
        "region_side": 256,
        "rules": None,
        "user_model": None,
        "user_labels": None,
        "user_input_size": 224,
        "user_normalise": True,
        "user_output": "softmax",
    }

    @property
    def rules(self) -> dict[str, float]:
        return {**REGIONS, **(self.config["rules"] or {})}

    def registry_models(self) -> tuple[str, ...]:
        # a user model re-registered under the same name with new weights gets new cache keys
        return (self.config["user_model"],) if self.config["user_model"] else ()

    def setup(self) -> None:
        self._user = None
        name = self.config["user_model"]
        if not name:
            return
        from ..modelstore.registry import locate_model, onnx_session
        from ..settings import Settings

        labels = self.config["user_labels"]
        if not labels:
            raise RumaroError(f"apparel: user model {name!r} needs user_labels",
                              hint="pass user_labels=(...) in the model's class order")
        try:
            path = locate_model(name, self.settings or Settings())
        except ModelMissingError as exc:
            exc.hint = ("register it with rumaro_lab.modelstore.register_user_model "
                        f"({name!r}, path, settings); see docs/extractors.md")
            raise
        self._user = onnx_session(path, threads=1)
        self._user_input = self._user.get_inputs()[0].name

    def run_user_model(self, rgb: np.ndarray, person: np.ndarray | None) -> tuple[str, float]:
        """Top (label, score) of the registered user model on the person crop."""
        self.ensure_ready()
        if self._user is None:
            raise ValueError("apparel: run_user_model needs user_model= (a registered model)")
        crop = rgb
        if person is not None and person.any():
            ys, xs = np.nonzero(person)
            sy, sx = rgb.shape[0] / person.shape[0], rgb.shape[1] / person.shape[1]
            y0, y1 = int(ys.min() * sy), int((ys.max() + 1) * sy)
            x0, x1 = int(xs.min() * sx), int((xs.max() + 1) * sx)
            crop = rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
        size = int(self.config["user_input_size"])
        x = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        if self.config["user_normalise"]:
            x = (x - IMAGENET_MEAN) / IMAGENET_STD
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        scores = np.asarray(self._user.run(None, {self._user_input: x})[0], np.float64).reshape(-1)
        kind = self.config["user_output"]
        if kind == "softmax":
            scores = np.exp(scores - scores.max())
            scores /= scores.sum()
        elif kind == "sigmoid":
            scores = 1 / (1 + np.exp(-scores))
        labels = list(self.config["user_labels"])
        if len(labels) != len(scores):
            raise RumaroError(f"apparel: user model gives {len(scores)} scores for "
                              f"{len(labels)} user_labels", hint="fix user_labels")
        top = int(np.argmax(scores))
        return labels[top], float(scores[top])

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        out: Features = {}
        objects = deps.get("objects")
        if objects is not None:
            found = [label for label in ACCESSORY_LABELS if objects.get(label)]
            out["accessories"] = ",".join(found)
            out["bag"] = any(objects.get(label) for label in _BAGS)
            out["tie"] = bool(objects.get("tie"))
        pose = deps["pose"]
        kp = parse_keypoints(pose.get("keypoints")) if pose.get("detected") else None
        small = shared_fit(image, self.config["region_side"])
        person = person_mask_at(pose.get("mask"), small.shape[:2]) if kp is not None else None
        if self._user is not None:
            out["user_label"], out["user_score"] = self.run_user_model(image.rgb, person)
        if kp is None:
            return out
        rules = self.rules
        skin = skin_mask(small)
        regions = region_masks(kp, small.shape[:2], rules)
        if person is not None:
            regions = {k: v & person for k, v in regions.items()}
        arms = regions["arms"]
        legs = regions["shins"]

        def share(mask: np.ndarray) -> float | None:
            return float(skin[mask].mean()) if mask.sum() >= rules["min_pixels"] else None

        torso_skin, arms_skin, legs_skin = share(regions["torso"]), share(arms), share(legs)
        out.update({
            "torso_skin_share": torso_skin,
            "arms_skin_share": arms_skin,
            "legs_skin_share": legs_skin,
            "bare_torso": None if torso_skin is None else torso_skin >= rules["bare_torso"],
            "bare_arms": None if arms_skin is None else arms_skin >= rules["bare_arms"],
            "bare_legs": None if legs_skin is None else legs_skin >= rules["bare_legs"],
        })
        upper = _garment(small, regions["torso"], skin, rules)
        if upper:
            out["upper_color"], out["upper_color_name"] = upper
        lower = _garment(small, regions["thighs"], skin, rules)
        if lower:
            out["lower_color"], out["lower_color_name"] = lower
        return out
