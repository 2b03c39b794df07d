"""age_gender (optional, off by default): opt-in model, face crops, unknown without a face.

The faceres model is opt-in (`rumaro models build --with faceres`), so CI does not build it; its
measured behaviour on real portraits is in benchmarks/eval_age_gender.py and docs/models.md.
"""

from __future__ import annotations

import numpy as np

from rumaro_lab.extractors import DEFAULT_EXTRACTORS
from rumaro_lab.extractors.age_gender import AgeGender, face_crop
from rumaro_lab.images import LoadedImage
from rumaro_lab.settings import Settings


def test_off_by_default_and_never_race():
    assert "age_gender" not in DEFAULT_EXTRACTORS
    assert not any("race" in name or "ethnic" in name for name in AgeGender.features)


def test_unavailable_until_the_opt_in_model_is_built(tmp_path):
    availability = AgeGender.availability(Settings(_env_file=None, models_dir=tmp_path))
    assert not availability.ok and "make models" in availability.reason


def test_no_face_gives_unknown_not_zero(tmp_path):
    extractor = AgeGender(Settings(_env_file=None, models_dir=tmp_path))  # no model needed
    image = LoadedImage(rgb=np.zeros((64, 64, 3), np.uint8), sha256="x", source="black")
    out = extractor.check_output(extractor.extract(image, {"faces": {"count": 0, "boxes": []}}, {}))
    assert out["faces"] == 0
    assert out["age"] is None and out["gender"] is None and out["mean_age"] is None


def test_face_crop_is_square_with_margin_and_pads_at_the_border():
    rgb = np.zeros((200, 400, 3), np.uint8)
    rgb[50:150, 100:200] = (255, 0, 0)  # the "face": 100 x 100 px
    crop = face_crop(rgb, [100 / 400, 50 / 200, 100 / 400, 100 / 200], margin=0.0)
    assert crop.shape == (224, 224, 3)
    assert crop[..., 0].mean() > 240  # all face
    wide = face_crop(rgb, [100 / 400, 50 / 200, 100 / 400, 100 / 200], margin=0.5)
    red = (wide[..., 0] > 128).mean()
    assert 0.2 < red < 0.3  # the face is the middle half of each side: a quarter of the area
    corner = face_crop(rgb, [0.0, 0.0, 0.1, 0.2], margin=0.5)  # leaves the frame: edge padding
    assert corner.shape == (224, 224, 3)
