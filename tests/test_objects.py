"""objects: NanoDet on real photos (built model), decoding checked on a synthetic output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rumaro_lab.errors import ModelMissingError
from rumaro_lab.extractors.objects import (
    FAMILIES,
    KEY_LABELS,
    Objects,
    decode_nanodet,
    feature_name,
)
from rumaro_lab.images import load_image
from rumaro_lab.modelstore.registry import packaged_sources_dir
from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def objects() -> Objects:
    extractor = Objects(Settings(_env_file=None, models_dir=REPO / "models"))
    extractor.ensure_ready()
    return extractor


def run(objects: Objects, path: Path) -> dict:
    return objects.check_output(objects.extract(load_image(path), {}, {}))


def test_skier_has_a_person_and_skis(objects, test_data):
    out = run(objects, test_data / "mmpose_keypoints" / "coco" / "000000000785.jpg")
    assert out["person_count"] == 1
    assert out["skis"] is True and out["skis_score"] >= 0.35
    assert out["sports_count"] >= 1 and out["labels"].split(",") == sorted(set(out["labels"].split(",")))


def test_baseball_has_people_a_bat_and_a_glove(objects, shared_data):
    out = run(objects, shared_data / "mmpose_keypoints" / "coco" / "000000196141.jpg")
    assert out["person_count"] >= 3
    assert out["baseball_bat"] is True and out["baseball_glove"] is True
    assert out["sports_count"] >= 2
    detections = out["detections"]
    assert len(detections) == out["count"]
    assert [d[1] for d in detections] == sorted((d[1] for d in detections), reverse=True)
    assert all(0 <= v <= 1 for d in detections for v in d[2:])


def test_scenery_has_no_person(objects, test_data):
    for name in ("skimage_rocket.jpg", "skimage_grass.png"):
        out = run(objects, test_data / "pd_demo_images" / name)
        assert out["person_count"] == 0 and out["tie"] is False
        assert out["tie_score"] is None  # not found: no score, not 0


def test_everyday_objects(objects, test_data):
    coffee = run(objects, test_data / "pd_demo_images" / "skimage_coffee.png")
    assert coffee["cup"] is True and coffee["food_count"] >= 1 and coffee["person_count"] == 0
    cat = run(objects, test_data / "pd_demo_images" / "skimage_chelsea.png")
    assert cat["cat"] is True and cat["animals_count"] >= 1


def test_families_and_features_are_consistent():
    columns = Objects.columns()
    for family in FAMILIES:
        assert f"objects.{family}_count" in columns
    for label in KEY_LABELS:
        assert columns[f"objects.{feature_name(label)}"] == "boolean"
        assert columns[f"objects.{feature_name(label)}_score"] == "Float64"
    assert FAMILIES["accessories"] == ("tie", "handbag", "backpack", "umbrella", "suitcase")


def test_nanodet_decoding_softmax_expectation_from_the_cell_centre():
    size, min_score = 416, 0.5
    outputs = []
    for stride in (8, 16, 32):
        cells = (size // stride) ** 2
        scores = np.zeros((1, cells, 80), dtype=np.float32)
        dist = np.full((1, cells, 44), -30.0, dtype=np.float32)
        outputs += [scores, dist]
    scores, dist = outputs[2], outputs[3]  # stride 16: a 26 x 26 grid
    cell = 3 * 26 + 5  # row 3, column 5 -> centre (88, 56)
    scores[0, cell, 16] = 0.9  # "dog"
    logits = dist[0, cell].reshape(4, 11)
    logits[0, 2] = logits[1, 1] = logits[2, 4] = 0.0  # left 2, top 1, right 4 bins...
    logits[3, 3] = logits[3, 4] = 0.0  # ...bottom half on 3 and half on 4: expectation 3.5
    boxes, found, classes = decode_nanodet(outputs, size, min_score)
    assert classes.tolist() == [16] and found.tolist() == pytest.approx([0.9])
    assert boxes[0] == pytest.approx([88 - 32, 56 - 16, 88 + 64, 56 + 56], abs=1e-3)


def test_centernet_is_opt_in(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy2(packaged_sources_dir() / "sources.json", models)
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    manifest["models"].pop("centernet", None)
    (models / "manifest.json").write_text(json.dumps(manifest))
    extractor = Objects(Settings(_env_file=None, models_dir=models), detector="centernet")
    with pytest.raises(ModelMissingError, match="--with centernet"):
        extractor.ensure_ready()


def test_int8_build_gives_the_float_models_answers(objects, test_data):
    """The default int8 NanoDet (make models' quantized build) against the float model on real
    photos: the same people, every confident float label found again with a close score."""
    assert objects.model == "nanodet-int8"
    float_model = Objects(objects.settings, int8=False)
    assert float_model.model == "nanodet"
    paths = sorted((test_data / "pd_demo_images").iterdir()) + sorted(
        (test_data / "interfaces_cc0").glob("*.jpg"))[:8] + [
        test_data / "mmpose_keypoints" / "coco" / "000000000785.jpg"]
    differences = []
    for path in paths:
        rgb = load_image(path).rgb
        int8 = {d["label"]: d["score"] for d in objects.detect(rgb)}
        full = {d["label"]: d["score"] for d in float_model.detect(rgb)}
        assert ("person" in int8) == ("person" in full), path.name
        for label, score in full.items():
            if score >= 0.5:
                assert label in int8 and abs(int8[label] - score) <= 0.1, (path.name, label)
        differences += [abs(int8[label] - full[label]) for label in set(int8) & set(full)]
    assert len(differences) >= 15 and float(np.mean(differences)) <= 0.05


def test_int8_model_is_built_from_the_float_one_and_recorded(objects):
    manifest = json.loads((Path(objects.settings.models_dir) / "manifest.json").read_text())
    entry = manifest["models"]["nanodet-int8"]
    assert entry["derived_from"] == "nanodet"
    assert entry["quantization"]["ops"] == ["Conv"]
    assert entry["quantization"]["images"] >= 50  # the bundled sample photos
    assert entry["quantization"]["worst_output_correlation"] >= 0.8
