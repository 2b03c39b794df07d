"""The `text` extractor (PP-OCRv4 from the rapidocr_onnxruntime wheel), the graphic photo type,
nsfwjs in `racy`, and the shared downscaled copy, on rendered text cards and real CC0 photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from rumaro_lab.errors import ExtractorDeclarationError
from rumaro_lab.extractors import make_extractor
from rumaro_lab.extractors.packaged_models import shared_fit
from rumaro_lab.extractors.photo_type import RULES, classify, graphic_rule
from rumaro_lab.extractors.racy import NSFWJS_CLASSES, nsfwjs_input
from rumaro_lab.images import LoadedImage, load_image

LINES = ("GOOD MORNING", "SALE 50% OFF", "NEW COLLECTION", "LINK IN BIO")


def text_card(lines=LINES, size=(1080, 1350), font_size=80) -> LoadedImage:
    """A quote/promo card: dark words on a pale background, one line per entry."""
    img = Image.new("RGB", size, (246, 240, 228))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_size)
    y = size[1] // 4
    for line in lines:
        draw.text((90, y), line, fill=(30, 30, 30), font=font)
        y += int(font_size * 1.8)
    return LoadedImage(rgb=np.asarray(img), sha256="card", source="card")


@pytest.fixture(scope="module")
def text_ex():
    return make_extractor("text")


def test_a_text_card_is_mostly_text(text_ex):
    out = text_ex(text_card())
    assert out["box_count"] >= len(LINES) - 1
    assert out["area_share"] >= 0.05
    assert 0.03 <= out["largest_line_height"] <= 0.2
    assert out["words"] is None and out["word_count"] is None  # recognition is opt-in
    assert all(0 <= v <= 1 for box in out["boxes"] for v in box[:2])


def test_a_portrait_has_little_or_no_text(text_ex, shared_data):
    out = text_ex(load_image(shared_data / "interfaces_cc0" / "009.jpg"))
    assert out["area_share"] < 0.02
    if out["box_count"] == 0:
        assert out["largest_line_height"] is None  # no text: no line height (not 0)


def test_blank_and_tiny_images_give_no_text(text_ex):
    blank = LoadedImage(rgb=np.full((400, 300, 3), 255, np.uint8), sha256="b", source="blank")
    tiny = LoadedImage(rgb=np.zeros((5, 7, 3), np.uint8), sha256="t", source="tiny")
    for image in (blank, tiny):
        out = text_ex(image)
        assert out["box_count"] == 0 and out["area_share"] == 0.0


def test_words_are_read_when_asked():
    out = make_extractor("text", recognize=True)(text_card(("HELLO WORLD",), font_size=110))
    assert "HELLO" in out["words"].upper() and out["word_count"] >= 1


def test_text_options_are_checked():
    with pytest.raises(ExtractorDeclarationError):
        make_extractor("text", recognise=True)  # a typo
    with pytest.raises(ExtractorDeclarationError):
        make_extractor("text", recognize="yes")


def test_shared_fit_resizes_once_per_image_and_is_read_only():
    image = text_card()
    first = shared_fit(image, 640)
    assert shared_fit(image, 640) is first and max(first.shape[:2]) == 640
    assert not first.flags.writeable
    small = LoadedImage(rgb=np.zeros((100, 80, 3), np.uint8), sha256="s", source="s")
    assert shared_fit(small, 640) is small.rgb  # never enlarged, never copied


@pytest.mark.parametrize(("text", "expected"), [
    ({"area_share": 0.04, "box_count": 3}, "graphic:text"),      # a text post
    ({"area_share": 0.06, "box_count": 1}, "graphic:text"),      # a big headline on a photo
    ({"area_share": 0.04, "box_count": 1}, None),                # one caption or watermark
    ({"area_share": 0.02, "box_count": 5}, None),                # small print
    ({"area_share": 0.0, "box_count": 0}, None),
    (None, None),                                                # text not in the run
])
def test_graphic_rule_thresholds(text, expected):
    assert graphic_rule(text, RULES) == expected


def test_a_text_post_is_a_graphic_even_with_people():
    label, rule, n = classify({"count": 3, "largest_area_share": 0.02}, {"detected": False},
                              {"count": 3}, None, RULES, {"area_share": 0.3, "box_count": 9})
    assert (label, rule, n) == ("graphic", "graphic:text", 3)
    assert classify({"count": 3}, {"detected": False}, {"count": 3}, None)[0] == "group"


def test_photo_type_labels_a_rendered_card_graphic():
    card = text_card()
    deps = {"faces": make_extractor("faces")(card)}
    deps["pose"] = make_extractor("pose")(card)
    deps["text"] = make_extractor("text")(card)
    out = make_extractor("photo_type")(card, deps)
    assert out["label"] == "graphic" and out["rule"] == "graphic:text"


def test_racy_gives_nsfwjs_probabilities(shared_data):
    image = load_image(shared_data / "interfaces_cc0" / "009.jpg")
    out = make_extractor("racy")(image, {"pose": make_extractor("pose")(image)})
    probs = [out[c] for c in NSFWJS_CLASSES]
    assert abs(sum(probs) - 1) < 1e-3 and out["neutral"] > 0.5 and out["sexy"] < 0.3
    skipped = make_extractor("racy", suggestive=False)(image, {"pose": {"detected": False}})
    assert skipped["sexy"] is None and skipped["nsfw_score"] is not None


def test_nsfwjs_input_is_the_align_corners_stretch():
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    x = nsfwjs_input(rgb, size=4)
    assert x.shape == (1, 4, 4, 3) and x.dtype == np.float32
    # corners are sampled exactly (align_corners): the first and last pixels survive
    assert np.allclose(x[0, 0, 0], rgb[0, 0] / 255) and np.allclose(x[0, -1, -1], rgb[-1, -1] / 255)
    same = np.full((224, 224, 3), 51, np.uint8)
    assert np.allclose(nsfwjs_input(same), 0.2)
