"""Golden outputs: a built model is checked by what it computes, not by its file hash.

Conversions are not byte-reproducible (tf2onnx orders nodes differently from run to run), so each
model's outputs on a fixed public-domain image are summarised (`summarize_outputs`) and committed
as ``sources/golden/NAME.json``; every build must reproduce them within the model's tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelBuildError
from ..fileio import write_json
from ..settings import Settings
from .registry import GOLDEN_DIR, onnx_session, package_label, read_sources, sources_dir

#: detection lists (x1, y1, x2, y2, score, class): only confident rows are compared
_DETECTION_MIN_SCORE = 0.2
_N_SAMPLES = 64


def golden_inputs(settings: Settings) -> dict[str, np.ndarray]:
    """The fixed model inputs of the conversion checks, all from one committed PNG.

    Resampling is done by integer indexing, which is exact on every platform (an interpolating
    resize could differ in the last bit between library versions and move the outputs).
    """
    from PIL import Image

    sources = read_sources(settings)
    png = sources_dir(settings) / sources["golden_image"]
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.uint8)

    def resample(img: np.ndarray, size: int) -> np.ndarray:
        rows = (np.arange(size) * img.shape[0]) // size
        cols = (np.arange(size) * img.shape[1]) // size
        return img[rows][:, cols]

    face = rgb[8:120, 72:184]  # the astronaut's face and shoulders
    nanodet = (resample(rgb, 416).astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
    return {
        "movenet-multipose": rgb[None].astype(np.int32),
        "nanodet": nanodet,
        "nanodet-int8": nanodet,
        "centernet": resample(rgb, 512)[None].astype(np.float32),
        "faceres": resample(face, 224)[None].astype(np.float32),
        "nsfwjs-mobilenet-v2": (resample(rgb, 224).astype(np.float32) / 255.0)[None],
        "open-nsfw-int8": (resample(rgb, 224)[..., ::-1].astype(np.float32) - 110.0)[None].copy(),
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
    """``golden/NAME.json`` beside the sources.json in force (see `sources_dir`)."""
    return sources_dir(settings) / GOLDEN_DIR / f"{name}.json"


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
    # beside an overriding sources.json, else into the package's own folder (a checkout)
    target = golden_path(name, settings)
    write_json(target, {
        "model": name,
        "package": package_label(sources, name),
        "input": sources["golden_image"],
        "note": "written by `rumaro models build --write-golden`; see rumaro_lab.modelstore.golden.golden_inputs",
        "outputs": outputs,
    })
    return target
