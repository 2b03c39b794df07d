"""Faces pre-cropped the way the FER datasets (CK+48, FER2013) ship them, for the tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rumaro_lab.images import load_image


def haar_square_48(path: Path) -> np.ndarray:
    """OpenCV's frontal-face Haar square of the largest face in the photo, grey, 48 x 48."""
    grey = cv2.cvtColor(load_image(path).rgb, cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(60, 60))
    x, y, w, h = max(found, key=lambda b: b[2] * b[3])
    return cv2.resize(grey[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA)


def as_photo(grey: np.ndarray) -> np.ndarray:
    """A grey crop as the RGB photo the extractors read."""
    return np.repeat(grey[:, :, None], 3, axis=2)
