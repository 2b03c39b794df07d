"""The close-up probe (`rumaro_lab.extractors.closeup`): real bundled models on real photos.

Photos from benchmarks/data/feed_eval (redistributable, labelled by eye): close-ups the rules
before the probe called scenery (a dahlia, a drum kit) and two views. The probe never saw them
(it is trained on benchmarks/labels/closeup_train.csv).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rumaro_lab.errors import ModelMissingError
from rumaro_lab.extractors import make_extractor
from rumaro_lab.extractors.closeup import PROBE_FILE, CloseupProbe, fit_probe
from rumaro_lab.extractors.photo_type import RULES, classify
from rumaro_lab.images import file_sha256, load_image
from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FEED_EVAL = REPO / "benchmarks" / "data" / "feed_eval"
CLOSEUPS = ("feed_156.jpg", "feed_004.jpg")  # an orange dahlia; a drum kit and a guitar
VIEWS = ("feed_176.jpg", "feed_102.jpg")


@pytest.fixture(scope="module")
def racy():
    extractor = make_extractor("racy")
    assert extractor.availability().ok, extractor.availability().reason
    return extractor


def test_probe_tells_closeups_from_views_on_unseen_photos(racy):
    labels = pd.read_csv(FEED_EVAL / "labels.csv").set_index("file")
    probe = CloseupProbe.load()
    for name in CLOSEUPS + VIEWS:
        p = probe.probability(racy.image_features(load_image(FEED_EVAL / name).rgb))
        if labels.loc[name, "photo_type"] == "other":
            assert p >= RULES["closeup_min"], (name, p)
        else:
            assert p < 0.3, (name, p)


def test_racy_reports_closeup_and_photo_type_uses_it(racy):
    image = load_image(FEED_EVAL / CLOSEUPS[0])
    pose = make_extractor("pose")
    deps = {"pose": pose.check_output(pose.extract(image, {}, {}))}
    out = racy.check_output(racy.extract(image, deps, {}))
    assert out["closeup"] >= RULES["closeup_min"]
    nobody = {"count": 0}
    assert classify(nobody, {"detected": False}, None, None, racy=out)[:2] == ("other", "other:closeup")
    # without racy in the run the old rules apply: no person, no big object -> scenery
    assert classify(nobody, {"detected": False}, None, None)[0] == "scenery"


def test_retrained_weights_change_the_cache_keys(tmp_path, racy, monkeypatch):
    """A retrained probe must not reuse answers cached with the old weights."""
    import rumaro_lab.extractors.closeup as closeup

    before = racy.cache_config_hash()
    probe = CloseupProbe.load()
    other = tmp_path / "probe.json"
    CloseupProbe(probe.mean, probe.scale, -probe.coef, probe.intercept, probe.meta).save(other)
    monkeypatch.setattr(closeup, "PROBE_FILE", other)
    assert racy.cache_config_hash() != before
    assert make_extractor("racy", suggestive=False).cache_config_hash() != before


def test_stored_weights_match_the_training_table():
    meta = json.loads(PROBE_FILE.read_text())["meta"]
    labels = pd.read_csv(REPO / "benchmarks" / "labels" / "closeup_train.csv")
    assert f"({len(labels)} photos:" in meta["trained_on"]
    assert set(labels["label"]) == {"scenery", "other"}
    assert not set(labels["file"]) & set(pd.read_csv(FEED_EVAL / "labels.csv")["file"])


def test_fit_probe_weighs_both_classes_equally():
    rng = np.random.default_rng(1)
    features = rng.random((40, 6))  # no signal: the answer is the prior
    unbalanced = np.r_[np.zeros(10), np.ones(30)]
    probe = fit_probe(features, unbalanced, alpha=10.0)
    assert abs(probe.probability(features.mean(axis=0)) - 0.5) < 0.05


def test_model_built_before_the_probe_says_run_make_models(tmp_path):
    """An nsfwjs file without the feature output (built by an older `make models`)."""
    from tests.test_extractors_local_rules import _onnx_channel_mean

    models = REPO / "models"
    target = tmp_path / "models"
    target.mkdir()
    manifest = json.loads((models / "manifest.json").read_text())
    for entry in manifest["models"].values():
        shutil.copy2(models / entry["file"], target / entry["file"])
    old = target / "nsfwjs-mobilenet-v2.onnx"
    old.write_bytes(_onnx_channel_mean(224))  # one output only
    manifest["models"]["nsfwjs-mobilenet-v2"]["sha256"] = file_sha256(old)
    (target / "manifest.json").write_text(json.dumps(manifest))
    racy = make_extractor("racy", settings=Settings(_env_file=None, models_dir=target))
    with pytest.raises(ModelMissingError, match="make models"):
        racy.ensure_ready()


def test_racy_public_methods_load_their_own_models():
    """`suggestive`, `image_features` and `nsfw` work on a fresh extractor, as `extract` does
    (they used to fail with AttributeError until something else had loaded the models)."""
    from rumaro_lab.extractors.racy import NSFWJS_CLASSES

    photo = load_image(FEED_EVAL / CLOSEUPS[0]).rgb
    out = make_extractor("racy").suggestive(photo)
    assert set(out) == {*NSFWJS_CLASSES, "closeup"}
    assert sum(out[c] for c in NSFWJS_CLASSES) == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= make_extractor("racy").nsfw(photo) <= 1.0
    assert make_extractor("racy").image_features(photo).shape == (1280,)
    with pytest.raises(ValueError, match="suggestive=True"):
        make_extractor("racy", suggestive=False).suggestive(photo)
