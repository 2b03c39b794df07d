"""Convert TensorFlow.js graph models to ONNX. Runs INSIDE the throw-away build venv only.

`rumaro_lab.modelstore.build.build_models` creates that venv (models/build/venv: tensorflow-cpu, tf2onnx,
tensorflowjs and tfjs-graph-converter, pinned in models/sources.json) and calls this script; the
rumaro_lab package itself never imports TensorFlow. The recipe and its pitfalls are in
docs/models.md:

1. tfjs graph model -> SavedModel with tfjs-graph-converter in TFLITE compatibility mode (TF 2.21
   rejects the fused ops of the plain mode);
2. SavedModel -> ONNX (opset 17) with tf2onnx, after telling it to ignore the internal
   ``_input_shapes`` node attribute it cannot serialise;
3. fidelity check: the ONNX model and the SavedModel run on the same fixed input (a .npy file per
   model, written by rumaro_lab from the committed golden image) and must agree within --tolerance.

Usage (what build_models runs)::

    venv/bin/python rumaro_lab/modelstore/convert_tfjs.py --package-dir models/build/package/models \\
        --out-dir models/build/out --inputs-dir models/build/golden_inputs \\
        --model movenet-multipose --model nanodet

It prints one JSON line per model: {"model", "onnx", "max_abs_diff", "seconds"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import types
from pathlib import Path


def _register_bare_tensorflowjs() -> None:
    """Make `tensorflowjs` importable without running its heavy package __init__.

    tfjs-graph-converter needs only `tensorflowjs.converters.common` and
    `tensorflowjs.read_weights`; the real package __init__ imports tf_keras, decision forests and
    jax, none of which are installed (on purpose: they would pull in a second TensorFlow).
    """
    import importlib.util

    if "tensorflowjs" in sys.modules:
        return
    spec = importlib.util.find_spec("tensorflowjs")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("tensorflowjs is not installed in this environment")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, path in (("tensorflowjs", root), ("tensorflowjs.converters", root / "converters")):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules.setdefault(name, module)


def convert(model_json: Path, out_path: Path, opset: int) -> Path:
    """tfjs graph model (JSON + .bin beside it) -> SavedModel (temporary) -> ONNX file."""
    _register_bare_tensorflowjs()
    import tf2onnx.convert
    import tf2onnx.tf_utils
    from tfjs_graph_converter.api import CompatMode, graph_model_to_saved_model

    # tf2onnx cannot serialise this internal attribute the converted graphs carry.
    tf2onnx.tf_utils.TF_IGNORED_NODE_ATTRS.add("_input_shapes")

    saved = Path(tempfile.mkdtemp(prefix="savedmodel-", dir=out_path.parent)) / "model"
    graph_model_to_saved_model(str(model_json), str(saved), compat_mode=CompatMode.TFLITE)
    argv = sys.argv
    try:
        sys.argv = [
            "tf2onnx.convert", "--saved-model", str(saved), "--output", str(out_path),
            "--opset", str(opset),
        ]
        tf2onnx.convert.main()
    finally:
        sys.argv = argv
    return saved


def _confident_rows(detections, min_score: float = 0.2):
    """Rows (x1, y1, x2, y2, score, class) above `min_score`, sorted: the part that matters.

    CenterNet's top-100 list is ordered by score; scores that agree to ~1e-4 still swap the
    order of the many near-equal weak rows, so only the confident rows are compared.
    """
    import numpy as np

    rows = detections.reshape(-1, detections.shape[-1])
    rows = rows[rows[:, 4] >= min_score]
    return rows[np.lexsort((rows[:, 0], -np.round(rows[:, 4], 2)))]


def fidelity(saved_model: Path, onnx_path: Path, inputs: Path) -> float:
    """Largest absolute difference between the SavedModel's and the ONNX model's outputs.

    Detection lists (last axis of 6: box, score, class) are compared on their confident rows,
    relative to the box scale (pixels of a 512 input), so the number stays comparable.
    """
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    x = np.load(inputs)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    onnx_out = {o.name: v for o, v in zip(session.get_outputs(), session.run(None, feed), strict=True)}

    loaded = tf.saved_model.load(str(saved_model))
    fn = loaded.signatures["serving_default"]
    (arg_name,) = fn.structured_input_signature[1].keys()
    tf_out = {k: v.numpy() for k, v in fn(**{arg_name: tf.constant(x)}).items()}

    worst = 0.0
    for value in onnx_out.values():
        # ONNX output names are the graph's tensor names ("Identity:0"); match by shape + values.
        candidates = [v for v in tf_out.values() if v.shape == value.shape]
        if not candidates:
            raise SystemExit(f"{onnx_path.name}: no TensorFlow output with shape {value.shape}")
        if value.shape[-1] == 6 and value.ndim == 3:
            ours = _confident_rows(value)
            diffs = []
            for v in candidates:
                theirs = _confident_rows(v)
                if theirs.shape != ours.shape:
                    diffs.append(float("inf"))
                    continue
                scale = np.array([512.0] * 4 + [1.0, 1.0])
                diffs.append(float(np.max(np.abs(theirs - ours) / scale, initial=0.0)))
            worst = max(worst, min(diffs))
        else:
            worst = max(worst, min(float(np.max(np.abs(v - value))) for v in candidates))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, required=True, help="the package's models/")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--inputs-dir", type=Path, required=True, help="NAME.npy fixed inputs")
    parser.add_argument(
        "--model", action="append", required=True,
        help="model name, optionally NAME:TOLERANCE to override --tolerance (repeat)",
    )
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    import shutil

    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    for spec in args.model:
        name, _, tol = spec.partition(":")
        tolerance = float(tol) if tol else args.tolerance
        started = time.perf_counter()
        onnx_path = args.out_dir / f"{name}.onnx"
        print(f"converting {name} ...", file=sys.stderr, flush=True)
        saved = convert(args.package_dir / f"{name}.json", onnx_path, args.opset)
        try:
            diff = fidelity(saved, onnx_path, args.inputs_dir / f"{name}.npy")
        finally:
            shutil.rmtree(saved.parent, ignore_errors=True)
        ok = diff <= tolerance
        failed |= not ok
        print(json.dumps({
            "model": name, "onnx": str(onnx_path), "max_abs_diff": diff, "tolerance": tolerance, "ok": ok,
            "seconds": round(time.perf_counter() - started, 1),
        }), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
