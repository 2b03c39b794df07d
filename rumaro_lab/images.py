"""The one safe way to open an image, and the content hash that keys the feature cache.

`load_image` reads the file once, hashes its bytes (sha256: the same photo under another name is
the same cache entry), refuses images over a pixel budget before decoding them (decompression
bombs), applies the EXIF orientation (phones store portraits sideways), and returns RGB uint8
whatever the source mode (grey, palette, CMYK, alpha, 16-bit).

>>> from PIL import Image; import io
>>> buf = io.BytesIO(); Image.new("L", (4, 3), 128).save(buf, "PNG")
>>> img = load_image(buf.getvalue(), source="grey.png")
>>> img.rgb.shape, img.rgb.dtype.name, img.sha256 == bytes_sha256(buf.getvalue())
((3, 4, 3), 'uint8', True)
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError

#: Largest image decoded, in pixels (~ 8000 x 6000). Instagram serves at most 1440 px wide.
MAX_PIXELS = 50_000_000

_HASH_CHUNK = 1 << 20


def bytes_sha256(data: bytes) -> str:
    """Hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (no decoding)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: RGB pixels (H x W x 3, uint8), the file's bytes and their sha256."""

    rgb: np.ndarray = field(repr=False)
    sha256: str
    source: str
    data: bytes = field(repr=False, default=b"")

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels shown on white, as Instagram shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        return Image.fromarray((arr / top * 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, F ...


def decode_image(data: bytes, source: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode bytes to an oriented RGB array, or raise `ImageLoadError` naming `source`."""
    if not data:
        raise ImageLoadError.for_path(source, "the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise ImageLoadError.for_path(
                    source, f"{width}x{height} pixels is over the limit of {max_pixels:,}"
                )
            img.load()  # raises on truncated data
            img = ImageOps.exif_transpose(img)
            rgb = np.asarray(_to_rgb(img), dtype=np.uint8)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError.for_path(source, "not an image (unknown format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError.for_path(source, f"too many pixels ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError.for_path(source, f"corrupt or truncated ({exc})") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageLoadError.for_path(source, f"unexpected pixel layout {rgb.shape}")
    return np.ascontiguousarray(rgb)


def load_image(
    image: str | Path | bytes, *, source: str | None = None, max_pixels: int = MAX_PIXELS
) -> LoadedImage:
    """Read (path) or take (bytes) an image, hash it and decode it safely.

    Raises `ImageLoadError` with the file name and the reason for a missing, empty, truncated,
    oversized or non-image file.
    """
    if isinstance(image, bytes | bytearray):
        data = bytes(image)
        label = source or "<bytes>"
    else:
        label = source or str(image)
        try:
            data = Path(image).read_bytes()
        except FileNotFoundError:
            raise ImageLoadError.for_path(label, "file not found") from None
        except IsADirectoryError:
            raise ImageLoadError.for_path(label, "is a directory") from None
        except OSError as exc:
            raise ImageLoadError.for_path(label, f"cannot read ({exc.strerror or exc})") from None
    rgb = decode_image(data, label, max_pixels=max_pixels)
    return LoadedImage(rgb=rgb, sha256=bytes_sha256(data), source=label, data=data)
