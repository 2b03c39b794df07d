"""Image statistics: light, colour, sharpness, dominant colours and size (no model).

Features (``image.*``):

- ``brightness``: mean luma (Rec. 601 weights) in 0..1; ``contrast``: its standard deviation
  (RMS contrast);
- ``saturation``: mean HSV saturation in 0..1;
- ``colourfulness``: Hasler & Süsstrunk (2003) M = sigma_rgyb + 0.3 mu_rgyb on 0..255 channels
  (about 0 for grey, 15 "slightly", 33 "moderately", 59 "quite", 82+ "highly" colourful);
- ``sharpness``: variance of the Laplacian of the grey image *scaled to 540 px on the long side*,
  so a photo and its 4x upload have comparable values (higher = sharper; < ~100 looks blurred);
- ``aspect_ratio`` (width / height), ``width``, ``height`` (pixels of the decoded image);
- ``dominant_color`` (``#rrggbb``), ``dominant_color_name`` (nearest of `COLOUR_NAMES` in CIELAB),
  ``dominant_color_share`` (share of pixels in that cluster) and ``palette`` (an artifact:
  (``[[hex, name, share], ...]``, largest first): k-means (k = ``n_colours``, k-means++ with a fixed
  seed, so reruns agree) on a 64 px thumbnail.

>>> from rumaro_lab.images import LoadedImage
>>> import numpy as np
>>> red = LoadedImage(rgb=np.full((30, 60, 3), (200, 20, 20), np.uint8), sha256="x", source="red")
>>> out = ImageStats().extract(red, {}, {})
>>> out["dominant_color_name"], out["aspect_ratio"], round(out["saturation"], 2)
('red', 2.0, 0.9)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .base import Extractor, Features
from .packaged_models import fit_within, shared_fit
from .schema import artifact, category, continuous, count, text

#: Readable colour names and a representative sRGB value each; a colour is named after the
#: nearest entry in CIELAB (perceptually closer than RGB distances).
COLOUR_NAMES: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "dark grey": (80, 80, 80),
    "grey": (140, 140, 140),
    "light grey": (200, 200, 200),
    "white": (245, 245, 245),
    "red": (200, 30, 30),
    "dark red": (120, 20, 25),
    "pink": (240, 150, 180),
    "orange": (240, 130, 30),
    "brown": (120, 75, 40),
    "beige": (220, 200, 160),
    "yellow": (240, 220, 40),
    "olive": (120, 120, 40),
    "green": (40, 150, 50),
    "dark green": (20, 70, 35),
    "teal": (20, 130, 130),
    "light blue": (140, 190, 235),
    "blue": (35, 80, 200),
    "navy": (20, 30, 80),
    "purple": (120, 50, 150),
    "tan": (215, 165, 125),
}

_NAMES = list(COLOUR_NAMES)
_NAME_LAB = cv2.cvtColor(
    np.array([list(COLOUR_NAMES.values())], dtype=np.uint8), cv2.COLOR_RGB2LAB
)[0].astype(np.float32)


def colour_name(rgb: tuple[int, int, int] | np.ndarray) -> str:
    """The nearest readable name of an sRGB colour.

    >>> colour_name((10, 20, 120)), colour_name((250, 250, 250))
    ('navy', 'white')
    """
    lab = cv2.cvtColor(np.asarray(rgb, dtype=np.uint8).reshape(1, 1, 3), cv2.COLOR_RGB2LAB)
    dist = np.linalg.norm(_NAME_LAB - lab.reshape(1, 3).astype(np.float32), axis=1)
    return _NAMES[int(np.argmin(dist))]


def to_hex(rgb: np.ndarray | tuple[int, int, int]) -> str:
    r, g, b = (int(round(float(v))) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def palette(pixels: np.ndarray, k: int, seed: int = 0) -> list[tuple[np.ndarray, float]]:
    """k-means colours of `pixels` (N x 3, RGB) and their shares, largest share first."""
    pixels = pixels.reshape(-1, 3).astype(np.float32)
    if len(pixels) == 0:
        return []
    # distinct colours, counted on packed 24-bit integers (10x faster than unique rows)
    packed = pixels.astype(np.int32) @ np.array([65536, 256, 1], dtype=np.int32)
    k = max(1, min(k, len(np.unique(packed))))
    if k == 1:
        return [(pixels.mean(axis=0), 1.0)]
    # imported here: SciPy's clustering takes 0.4 s to import, which a run would otherwise spend
    # while planning, before any worker starts
    from scipy.cluster.vq import kmeans2

    centres, labels = kmeans2(pixels, k, minit="++", seed=np.random.default_rng(seed))
    counts = np.bincount(labels, minlength=k)
    order = np.argsort(-counts, kind="stable")
    return [(centres[i], counts[i] / len(pixels)) for i in order if counts[i] > 0]


def hasler_susstrunk(rgb: np.ndarray) -> float:
    """Colourfulness M of Hasler & Süsstrunk (2003) on 0..255 RGB."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = np.hypot(rg.std(), yb.std())
    mu = np.hypot(rg.mean(), yb.mean())
    return float(sigma + 0.3 * mu)


class ImageStats(Extractor):
    """Light, colour, sharpness, dominant colours and size (no model)."""

    name, version = "image", "3"
    features = {
        "brightness": continuous("mean luma (Rec. 601)", unit="0..1"),
        "contrast": continuous("RMS contrast: standard deviation of the luma", unit="0..1"),
        "saturation": continuous("mean HSV saturation", unit="0..1"),
        "colourfulness": continuous("Hasler & Suesstrunk colourfulness M (0 grey, 82+ highly colourful)",
                                    unit="M"),
        "sharpness": continuous("variance of the Laplacian at 540 px (< ~100 looks blurred)",
                                unit="variance"),
        "aspect_ratio": continuous("width / height of the decoded image", unit="ratio"),
        "width": count("width of the decoded image", unit="px"),
        "height": count("height of the decoded image", unit="px"),
        "dominant_color": text("the largest colour cluster as #rrggbb"),
        "dominant_color_name": category(COLOUR_NAMES, "name of the dominant colour (nearest in CIELAB)",
                                        reference="white"),
        "dominant_color_share": continuous("share of pixels in the dominant colour cluster",
                                           unit="fraction of pixels"),
    }
    artifacts = {"palette": artifact("palette", "[[hex, name, share], ...] largest cluster first")}
    default_config = {"n_colours": 5, "stats_side": 540, "palette_side": 64}

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        # One downscale serves every statistic: means and spreads barely move, and the
        # sharpness becomes comparable across upload sizes.
        small = shared_fit(image, self.config["stats_side"])
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        thumb = fit_within(small, self.config["palette_side"])
        colours = palette(thumb, self.config["n_colours"])
        top_rgb, top_share = colours[0]
        return {
            "brightness": float(grey.mean()) / 255.0,
            "contrast": float(grey.std()) / 255.0,
            "saturation": float(hsv[..., 1].mean()) / 255.0,
            "colourfulness": hasler_susstrunk(small),
            "sharpness": float(cv2.Laplacian(grey, cv2.CV_32F).var()),
            "aspect_ratio": image.width / image.height,
            "width": image.width,
            "height": image.height,
            "dominant_color": to_hex(top_rgb),
            "dominant_color_name": colour_name(np.clip(top_rgb, 0, 255)),
            "dominant_color_share": float(top_share),
            "palette": [[to_hex(c), colour_name(np.clip(c, 0, 255)), round(float(s), 4)]
                        for c, s in colours],
        }
