"""Body pose: 33 keypoints of the main person and named descriptors (MediaPipe Pose).

Model: MediaPipe Pose (BlazePose GHUM, Apache-2.0) with ``model_complexity=1`` (the only
complexity whose model ships in the mediapipe 0.10.21 wheel; 0 and 2 try to download),
``static_image_mode=True`` and the person segmentation mask. It sees ONE person per image (the
most prominent); multi-person counts come from ``people`` (MoveNet MultiPose). The image is
scaled to ``max_side`` px on its long side first (the model itself looks at 256 px).

A keypoint is *visible* when MediaPipe's visibility >= ``RULES["min_visibility"]``. A pose counts
as ``detected`` when at least ``RULES["min_visible_keypoints"]`` keypoints are visible and the
person mask covers at least ``RULES["min_body_share"]`` of the frame: below either, in our checks,
the "bodies" were hallucinated on scenery (an airplane in the sky had 17 keypoints and 1% mask).

Features (``pose.*``; all but ``detected`` and ``visible_keypoints`` are null when no pose is
detected):

- ``detected``; ``visible_keypoints`` (0..33; 0..17 with ``backend="movenet"``); ``mean_visibility``
  (over the keypoints the backend has: 33, or MoveNet's 17);
- ``full_body_visible``: head (nose), a hip, a knee and an ankle all visible;
- ``posture``: standing | sitting | lying | unknown, from the torso's angle to the vertical and
  the thighs' angle (`posture`), thresholds in `RULES`;
- ``arms_raised``: a visible wrist above its shoulder by ``RULES["arms_raised_margin"]`` x torso
  length; ``hands_visible``: a wrist visible; ``hand_near_face``: a visible wrist within
  ``RULES["hand_face_distance"]`` x shoulder width of the nose (eating, drinking, phoning);
- ``facing_camera``: nose and both eyes visible, and the person's left shoulder on the image's
  right by at least ``RULES["facing_shoulder_ratio"]`` x torso length (turned bodies have
  overlapping shoulders, backs have them reversed);
- ``torso_angle``: degrees between the shoulders-to-hips line and the vertical;
- ``body_share``: share of the frame covered by the person mask (mask > 0.5);
- artifact ``keypoints``: 33 ``[x, y, visibility]`` (x, y in 0..1 of the frame), MediaPipe's order;
- artifact ``mask``: the person mask as ``{"w", "h", "bits"}`` (``mask_side`` px on the long side,
  bits packed row-major with numpy.packbits, base64): `decode_mask` reads it. ``racy`` and
  ``apparel`` use it so the mask is computed once per image.

``backend="movenet"`` (issue 16: a lighter way to the same answer, where measured equal) takes the
keypoints of the largest person ``people`` (MoveNet MultiPose) found instead of running MediaPipe
Pose: the 17 COCO keypoints go to their places among the 33 (the others stay invisible), and a
MoveNet score s becomes the visibility ``min(1, s / 0.6)``, so that MoveNet's own "visible"
(s >= 0.3, as in ``people``) is visibility 0.5 here and every threshold keeps its meaning; the
minimum number of visible keypoints is scaled by 17/33. The
person mask comes from MediaPipe's selfie segmentation (~3 ms) kept inside that person's box grown
by 10 % (alone it marks cups and birds as people; inside a box MoveNet drew it does not need
to decide who is a person). The comparison of the two backends is benchmarks/eval_pose_backends.py.

Person gate: when ``objects`` saw no person box scoring 0.2 or more and neither ``faces`` nor
``people`` found anyone, MediaPipe Pose is not run and the answer is "not detected"
(`rumaro_lab.extractors.person_gate`; option ``person_gate``).

>>> RULES["min_visible_keypoints"], KEYPOINTS[0], len(KEYPOINTS)
(8, 'nose', 33)
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import RumaroError
from .base import Availability, Extractor, Features
from .faces import MIN_SIDE, mediapipe_availability
from .packaged_models import fit_within, quiet_native_logs, shared_fit
from .person_gate import nobody_seen
from .schema import artifact, binary, category, continuous, count

KEYPOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
K = {name: i for i, name in enumerate(KEYPOINTS)}
#: the values of ``pose.posture``
POSTURES = ("standing", "sitting", "lying", "unknown")

#: Every threshold of the pose descriptors, in one place (tested in tests/test_extractors_local*).
RULES: dict[str, float] = {
    "min_visibility": 0.5,          # a keypoint is "visible" at or above this
    "min_visible_keypoints": 8,     # fewer visible keypoints: no pose detected
    "min_body_share": 0.02,         # a person mask under this share of the frame: no pose
    "lying_torso_angle": 60.0,      # torso this far (deg) from vertical: lying
    "upright_torso_angle": 35.0,    # torso within this (deg) of vertical: upright
    "standing_thigh_angle": 40.0,   # upright, thighs within this (deg) of vertical: standing
    "sitting_thigh_angle": 50.0,    # upright, thighs beyond this (deg) from vertical: sitting
    "arms_raised_margin": 0.1,      # wrist above shoulder by this x torso length
    "hand_face_distance": 0.6,      # wrist within this x shoulder width of the nose
    "facing_shoulder_ratio": 0.25,  # left shoulder right of the right one by this x torso length
}

#: COCO-17 (MoveNet) keypoint i -> its index among MediaPipe's 33
COCO_TO_MEDIAPIPE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: a MoveNet score of 0.3 (``people``'s "visible") is a visibility of 0.5 (`RULES`)
MOVENET_VISIBILITY_SCALE = 0.6

_MODEL_FILES = (
    "modules/pose_landmark/pose_landmark_full.tflite",
    "modules/pose_detection/pose_detection.tflite",
    "modules/selfie_segmentation/selfie_segmentation.tflite",
)


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A boolean mask as a compact JSON-able dict (packed bits, base64)."""
    h, w = mask.shape
    bits = base64.b64encode(np.packbits(mask.astype(bool).ravel()).tobytes()).decode("ascii")
    return {"w": int(w), "h": int(h), "bits": bits}


def decode_mask(data: Mapping[str, Any] | None) -> np.ndarray | None:
    """The ``pose.mask`` artifact back to a boolean H x W array (None when null).

    >>> m = np.zeros((3, 5), bool); m[1, 2:] = True
    >>> bool((decode_mask(encode_mask(m)) == m).all())
    True
    """
    if not data:
        return None
    h, w = data["h"], data["w"]
    bits = np.unpackbits(np.frombuffer(base64.b64decode(data["bits"]), dtype=np.uint8))
    return bits[: h * w].reshape(h, w).astype(bool)


def parse_keypoints(keypoints: Any) -> np.ndarray | None:
    """The ``pose.keypoints`` artifact as a 33 x 3 array (x, y, visibility), None when null."""
    if keypoints is None or len(keypoints) == 0:
        return None
    return np.asarray(keypoints, dtype=np.float64)


def _angle_from_vertical(top: np.ndarray, bottom: np.ndarray) -> float:
    dx, dy = bottom[0] - top[0], bottom[1] - top[1]
    return math.degrees(math.atan2(abs(dx), abs(dy)))


def describe(kp: np.ndarray, aspect: float, rules: Mapping[str, float] = RULES) -> dict[str, Any]:
    """Named descriptors from 33 x 3 keypoints (x, y in 0..1, visibility).

    `aspect` is width / height: angles are measured in pixel units, not in stretched 0..1 ones.
    """
    vis = kp[:, 2] >= rules["min_visibility"]
    pts = kp[:, :2] * np.array([aspect, 1.0])  # x in units of the frame height

    def seen(*names: str) -> bool:
        return all(vis[K[n]] for n in names)

    def mid(a: str, b: str) -> np.ndarray:
        return (pts[K[a]] + pts[K[b]]) / 2

    out: dict[str, Any] = {"posture": "unknown", "torso_angle": None}
    shoulders = seen("left_shoulder", "right_shoulder")
    hips = [s for s in ("left", "right") if seen(f"{s}_hip")]
    torso_len = None
    if shoulders and hips:
        top = mid("left_shoulder", "right_shoulder")
        bottom = np.mean([pts[K[f"{s}_hip"]] for s in hips], axis=0)
        torso_len = float(np.linalg.norm(bottom - top))
        torso = _angle_from_vertical(top, bottom)
        out["torso_angle"] = torso
        thighs = [_angle_from_vertical(pts[K[f"{s}_hip"]], pts[K[f"{s}_knee"]])
                  for s in ("left", "right") if seen(f"{s}_hip", f"{s}_knee")]
        if torso >= rules["lying_torso_angle"]:
            out["posture"] = "lying"
        elif torso <= rules["upright_torso_angle"] and thighs:
            thigh = float(np.mean(thighs))
            if thigh <= rules["standing_thigh_angle"]:
                out["posture"] = "standing"
            elif thigh >= rules["sitting_thigh_angle"]:
                out["posture"] = "sitting"
    shoulder_width = (float(np.linalg.norm(pts[K["left_shoulder"]] - pts[K["right_shoulder"]]))
                      if shoulders else None)
    scale = torso_len or (2 * shoulder_width if shoulder_width else None)

    raised = False
    for side in ("left", "right"):
        if scale and seen(f"{side}_wrist", f"{side}_shoulder"):
            lift = pts[K[f"{side}_shoulder"], 1] - pts[K[f"{side}_wrist"], 1]
            raised = raised or bool(lift >= rules["arms_raised_margin"] * scale)
    out["arms_raised"] = raised
    out["hands_visible"] = bool(vis[K["left_wrist"]] or vis[K["right_wrist"]])
    near = False
    if shoulder_width and vis[K["nose"]]:
        for side in ("left", "right"):
            if vis[K[f"{side}_wrist"]]:
                dist = np.linalg.norm(pts[K[f"{side}_wrist"]] - pts[K["nose"]])
                near = near or bool(dist <= rules["hand_face_distance"] * shoulder_width)
    out["hand_near_face"] = near
    facing = False
    if shoulders and scale and seen("nose", "left_eye", "right_eye"):
        spread = pts[K["left_shoulder"], 0] - pts[K["right_shoulder"], 0]
        facing = bool(spread >= rules["facing_shoulder_ratio"] * scale)
    out["facing_camera"] = facing
    out["full_body_visible"] = bool(
        vis[K["nose"]]
        and (vis[K["left_hip"]] or vis[K["right_hip"]])
        and (vis[K["left_knee"]] or vis[K["right_knee"]])
        and (vis[K["left_ankle"]] or vis[K["right_ankle"]])
    )
    return out


class Pose(Extractor):
    """Body keypoints, posture, arms raised, facing camera, person mask (MediaPipe Pose)."""

    name, version = "pose", "4"  # 4: the person gate
    features = {
        "detected": binary("a body is detected (enough visible keypoints and person mask)"),
        "full_body_visible": binary("head, a hip, a knee and an ankle are all visible",
                                    role="primary"),
        "posture": category(POSTURES, "posture from the torso and thigh angles",
                            reference="standing"),
        "arms_raised": binary("a wrist is above its shoulder"),
        "facing_camera": binary("nose and both eyes visible, shoulders square to the camera"),
        "hands_visible": binary("a wrist is visible"),
        "hand_near_face": binary("a wrist is near the nose (eating, drinking, phoning)"),
        "torso_angle": continuous("angle of the shoulders-to-hips line to the vertical",
                                  unit="degrees"),
        "body_share": continuous("share of the frame covered by the person mask",
                                 unit="fraction of image area"),
        "visible_keypoints": count("visible keypoints (of 33; of 17 with backend movenet)",
                                   unit="keypoints", role="diagnostic"),
        "mean_visibility": continuous("mean keypoint visibility (over the backend's 33 or 17)",
                                      unit="0..1", role="diagnostic"),
    }
    artifacts = {
        "keypoints": artifact("keypoints", "33 [x, y, visibility] in MediaPipe's order, 0..1 of the frame"),
        "mask": artifact("mask", "person mask {w, h, bits}: packed bits, base64 (decode_mask)"),
    }
    optional_requires = ("people", "faces", "objects")  # movenet's keypoints; the person gate
    default_config = {"backend": "mediapipe", "max_side": 640, "min_detection_confidence": 0.5,
                      "mask_side": 64, "rules": None, "person_gate": True}
    option_choices = {"backend": ("mediapipe", "movenet")}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        return mediapipe_availability(_MODEL_FILES)

    @property
    def rules(self) -> dict[str, float]:
        return {**RULES, **(self.config["rules"] or {})}

    def setup(self) -> None:
        quiet_native_logs()
        import mediapipe as mp

        if self.config["backend"] == "movenet":
            self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
            return
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, enable_segmentation=True,
            min_detection_confidence=self.config["min_detection_confidence"],
        )

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        small = np.ascontiguousarray(shared_fit(image, self.config["max_side"]))
        if min(small.shape[:2]) < MIN_SIDE:  # nothing to see, and MediaPipe dislikes it
            return {"detected": False, "visible_keypoints": 0}
        if self.config["person_gate"] and nobody_seen(deps):
            return {"detected": False, "visible_keypoints": 0}
        if self.config["backend"] == "movenet":
            kp, mask = self._from_people(deps, small)
        else:
            kp, mask = self._from_mediapipe(small)
        if kp is None:
            return {"detected": False, "visible_keypoints": 0}
        rules = self.rules
        movenet = self.config["backend"] == "movenet"
        n_visible = int((kp[:, 2] >= rules["min_visibility"]).sum())
        # MoveNet has 17 keypoints to MediaPipe's 33 (5 on the head to 11): the same share
        needed = rules["min_visible_keypoints"] * (
            len(COCO_TO_MEDIAPIPE) / len(KEYPOINTS) if movenet else 1)
        if n_visible < needed:
            return {"detected": False, "visible_keypoints": n_visible}
        body_share = float(mask.mean()) if mask is not None else None
        if body_share is not None and body_share < rules["min_body_share"]:
            return {"detected": False, "visible_keypoints": n_visible}
        # over the keypoints the backend has: the 16 places MoveNet leaves empty are not zeros
        own = kp[list(COCO_TO_MEDIAPIPE), 2] if movenet else kp[:, 2]
        out: Features = {"detected": True, "visible_keypoints": n_visible,
                         "mean_visibility": float(own.mean()), "body_share": body_share}
        out.update(describe(kp, image.width / image.height, rules))
        out["keypoints"] = np.round(kp, 4).tolist()
        if mask is not None:
            small_mask = fit_within(mask.astype(np.uint8) * 255, self.config["mask_side"]) > 127
            out["mask"] = encode_mask(small_mask)
        return out

    def _from_mediapipe(self, small: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        result = self._pose.process(small)
        if result.pose_landmarks is None:
            return None, None
        kp = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
        mask = result.segmentation_mask > 0.5 if result.segmentation_mask is not None else None
        return kp, mask

    def _from_people(self, deps: Mapping[str, Features],
                     small: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        people = deps.get("people")
        if people is None:
            raise RumaroError("pose backend 'movenet' needs the people extractor in the run",
                              hint="run `make models` (people's MoveNet model) or use backend='mediapipe'")
        if not people.get("count") or not people.get("keypoints"):
            return None, None
        coco = np.asarray(people["keypoints"][0], dtype=np.float64)
        kp = np.zeros((len(KEYPOINTS), 3))
        kp[list(COCO_TO_MEDIAPIPE)] = coco
        kp[:, 2] = np.clip(kp[:, 2] / MOVENET_VISIBILITY_SCALE, 0, 1)
        h, w = small.shape[:2]
        x, y, bw, bh = people["boxes"][0][:4]
        grow = 0.1
        x0, y0 = int(max(0, (x - grow * bw) * w)), int(max(0, (y - grow * bh) * h))
        x1, y1 = int(min(w, (x + bw * (1 + grow)) * w)), int(min(h, (y + bh * (1 + grow)) * h))
        mask = np.zeros((h, w), bool)
        result = self._segmenter.process(small)
        if result.segmentation_mask is not None:
            mask[y0:y1, x0:x1] = result.segmentation_mask[y0:y1, x0:x1] > 0.5
        return kp, mask
