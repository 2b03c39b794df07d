import io

import numpy as np
import pytest
from PIL import Image

from rumaro_lab.errors import ImageLoadError
from rumaro_lab.images import bytes_sha256, file_sha256, load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_real_photo_loads_as_rgb_and_hash_is_of_file_bytes(test_data):
    path = test_data / "pd_demo_images" / "skimage_astronaut.png"
    img = load_image(path)
    assert img.rgb.shape == (512, 512, 3) and img.rgb.dtype == np.uint8
    assert img.sha256 == file_sha256(path) == bytes_sha256(path.read_bytes())


def test_exif_orientation_is_applied():
    # 6 = rotate 90 degrees clockwise for display: a 40x20 landscape becomes 20x40.
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(_encode(img, "JPEG", exif=exif.tobytes()))
    assert loaded.rgb.shape[:2] == (40, 20)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "I;16"])
def test_any_mode_becomes_rgb(mode):
    img = Image.new(mode, (8, 6))
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    loaded = load_image(_encode(img, fmt))
    assert loaded.rgb.shape == (6, 8, 3)


def test_transparent_pixels_are_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert load_image(_encode(img, "PNG")).rgb.min() == 255


def test_truncated_jpeg_names_the_file(test_data):
    data = (test_data / "interfaces_cc0" / "004.jpg").read_bytes()
    with pytest.raises(ImageLoadError) as info:
        load_image(data[: len(data) // 2], source="004.jpg")
    assert "004.jpg" in str(info.value) and "truncated" in str(info.value)


def test_not_an_image_and_missing_and_empty(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image(text)
    with pytest.raises(ImageLoadError, match="file not found"):
        load_image(tmp_path / "absent.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(empty)


def test_pixel_limit_refuses_before_decoding():
    data = _encode(Image.new("L", (2000, 2000)), "PNG")
    with pytest.raises(ImageLoadError, match="over the limit"):
        load_image(data, max_pixels=1_000_000)
