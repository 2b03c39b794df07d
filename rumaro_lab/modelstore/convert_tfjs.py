"""Convert TensorFlow.js models to ONNX. Runs INSIDE the throw-away build venv only.

`rumaro_lab.modelstore.build.build_models` creates that venv (models/build/venv: tensorflow-cpu, tf2onnx,
tensorflowjs and tfjs-graph-converter, pinned in models/sources.json) and calls this script; the
rumaro_lab package itself never imports TensorFlow. The recipe and its pitfalls are in
docs/models.md:

1. ``tfjs_graph`` (human-models): tfjs graph model -> SavedModel with tfjs-graph-converter in
   TFLITE compatibility mode (TF 2.21 rejects the fused ops of the plain mode);
   ``tfjs_layers_js`` (nsfwjs): a tfjs Keras *layers* model whose ``model.min.js`` and
   ``group1-shardNofM.min.js`` are JS modules exporting the model JSON and base64 weight shards;
   node dumps them, the weights are dequantized (uint8 x scale + min, as tfjs does), the Keras
   2.2.4 topology is rebuilt with Keras 3 (``class_name`` Model -> Functional,
   ``batch_input_shape`` -> ``batch_shape``; the manifest's ``depthwise_kernel`` is Keras 3's
   ``kernel``) and exported as a SavedModel;
2. SavedModel -> ONNX (opset 17) with tf2onnx, after telling it to ignore the internal
   ``_input_shapes`` node attribute it cannot serialise;
3. fidelity check: the ONNX model and the SavedModel (or the Keras model) run on the same fixed
   input (a .npy file per model, written by rumaro_lab from the committed golden image) and must
   agree within the model's tolerance.

Usage (what build_models runs; one ``--model NAME:TOLERANCE:FORMAT:FOLDER`` per model)::

    venv/bin/python rumaro_lab/modelstore/convert_tfjs.py --out-dir models/build/out \\
        --inputs-dir models/build/golden_inputs \\
        --model nanodet:0.0001:tfjs_graph:models/build/unpacked/human-models/package/models

It prints one JSON line per model: {"model", "onnx", "max_abs_diff", "seconds"}.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
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
    from tfjs_graph_converter.api import CompatMode, graph_model_to_saved_model

    saved = Path(tempfile.mkdtemp(prefix="savedmodel-", dir=out_path.parent)) / "model"
    graph_model_to_saved_model(str(model_json), str(saved), compat_mode=CompatMode.TFLITE)
    _tf2onnx(saved, out_path, opset)
    return saved


def _tf2onnx(saved: Path, out_path: Path, opset: int) -> None:
    import tf2onnx.convert
    import tf2onnx.tf_utils

    # tf2onnx cannot serialise this internal attribute the converted graphs carry.
    tf2onnx.tf_utils.TF_IGNORED_NODE_ATTRS.add("_input_shapes")
    argv = sys.argv
    try:
        sys.argv = ["tf2onnx.convert", "--saved-model", str(saved), "--output", str(out_path),
                    "--opset", str(opset)]
        tf2onnx.convert.main()
    finally:
        sys.argv = argv


# -- tfjs layers models wrapped in JS modules (nsfwjs) -------------------------------------
# Dumps the exports of the JS modules: model.min.js -> model.json, each shard -> NAME.b64
_NODE_DUMP = r"""
const fs = require('fs'), path = require('path');
const [modelDir, outDir] = process.argv.slice(1);
const m = require(path.resolve(modelDir, 'model.min.js'));
const j = (m && m.modelTopology) ? m : m.default;
fs.writeFileSync(path.join(outDir, 'model.json'), JSON.stringify(j));
for (const group of j.weightsManifest) {
  for (const p of group.paths) {
    let s = require(path.resolve(modelDir, p + '.min.js'));
    if (typeof s !== 'string') s = s.default;
    if (typeof s !== 'string') throw new Error('shard ' + p + ' does not export a string');
    fs.writeFileSync(path.join(outDir, p + '.b64'), s);
  }
}
"""


def _dump_js(model_dir: Path, work: Path) -> tuple[dict, dict[str, bytes]]:
    """model.json and {shard path: bytes} of a JS-wrapped tfjs model (node reads the modules)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH (it reads the JS-wrapped model files)")
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([node, "-e", _NODE_DUMP, str(model_dir), str(work)], check=True)
    model_json = json.loads((work / "model.json").read_text(encoding="utf-8"))
    shards = {p: base64.b64decode((work / f"{p}.b64").read_text(encoding="ascii"), validate=True)
              for group in model_json["weightsManifest"] for p in group["paths"]}
    return model_json, shards


def _dequantize(model_json: dict, shards: dict[str, bytes]) -> dict:
    """{weight name: array}, as tfjs reads them: q * scale + min for quantized weights."""
    import numpy as np

    dtypes = {"float32": "<f4", "int32": "<i4", "bool": "|b1"}
    out = {}
    for group in model_json["weightsManifest"]:
        buf = b"".join(shards[p] for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = tuple(int(d) for d in spec["shape"])
            n = int(np.prod(shape, dtype=np.int64)) if shape else 1
            q = spec.get("quantization")
            if q:
                qdtype = np.dtype({"uint8": "<u1", "uint16": "<u2", "float16": "<f2"}[q["dtype"]])
                raw = np.frombuffer(buf, dtype=qdtype, count=n, offset=offset)
                arr = (raw.astype(np.float32) if q["dtype"] == "float16" else
                       (raw.astype(np.float64) * float(q["scale"]) + float(q["min"])))
                arr = arr.astype(np.dtype(dtypes[spec["dtype"]]))
                offset += qdtype.itemsize * n
            else:
                dt = np.dtype(dtypes[spec["dtype"]])
                arr = np.frombuffer(buf, dtype=dt, count=n, offset=offset).copy()
                offset += dt.itemsize * n
            out[spec["name"]] = arr.reshape(shape)
        if offset != len(buf):
            raise SystemExit(f"weight group uses {offset} bytes of {len(buf)}")
    return out


def _keras_model(model_json: dict, weights: dict):
    """Keras 3 model from a Keras 2.2.4 topology, every weight set from the manifest."""
    import keras

    config = json.loads(json.dumps(model_json["modelTopology"]["model_config"]))
    if config["class_name"] == "Model":
        config["class_name"] = "Functional"
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer" and "batch_input_shape" in layer["config"]:
            layer["config"]["batch_shape"] = layer["config"].pop("batch_input_shape")
    model = keras.Model.from_config(config["config"])
    unused = set(weights)
    for layer in model.layers:
        for var in layer.weights:
            key = f"{layer.name}/{var.name}"
            alias = f"{layer.name}/depthwise_kernel" if var.name == "kernel" else None
            name = key if key in weights else alias if alias in weights else None
            if name is None or tuple(weights[name].shape) != tuple(var.shape):
                raise SystemExit(f"no matching weight in the manifest for {key}")
            var.assign(weights[name])
            unused.discard(name)
    if unused:
        raise SystemExit(f"manifest weights not used: {sorted(unused)[:10]}")
    return model


def convert_layers_js(model_dir: Path, out_path: Path, opset: int, inputs: Path,
                      extra_outputs: tuple[str, ...] = ()) -> tuple[Path, float]:
    """JS-wrapped tfjs layers model -> Keras -> SavedModel -> ONNX; (SavedModel, |Keras - ONNX|).

    `extra_outputs` names layers whose outputs become more ONNX outputs after the model's own
    (output_1, output_2, ...), e.g. nsfwjs's ``flatten_1``: the image features its classifier
    reads, which `rumaro_lab.extractors.closeup` probes. The fidelity check covers them too.
    """
    import keras
    import numpy as np
    import onnxruntime as ort

    work = Path(tempfile.mkdtemp(prefix="layers-", dir=out_path.parent))
    model_json, shards = _dump_js(model_dir, work / "js")
    model = _keras_model(model_json, _dequantize(model_json, shards))
    if extra_outputs:
        model = keras.Model(model.inputs, [model.outputs[0],
                                           *(model.get_layer(n).output for n in extra_outputs)])
    x = np.load(inputs)
    reference = model([x], training=False)
    reference = [np.asarray(r) for r in (reference if extra_outputs else [reference])]
    saved = work / "model"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    _tf2onnx(saved, out_path, opset)
    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    ours = session.run(None, {session.get_inputs()[0].name: x})
    if len(ours) != len(reference):
        raise SystemExit(f"{out_path.name}: {len(ours)} ONNX outputs, expected {len(reference)}")
    return saved, max(float(np.max(np.abs(o - r))) for o, r in zip(ours, reference, strict=True))


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
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--inputs-dir", type=Path, required=True, help="NAME.npy fixed inputs")
    parser.add_argument("--model", action="append", required=True,
                        help="NAME:TOLERANCE:FORMAT:FOLDER (repeat); FORMAT tfjs_graph or tfjs_layers_js")
    parser.add_argument("--extra-output", action="append", default=[],
                        help="NAME=LAYER (repeat): a layers model's LAYER output as one more output")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    for spec in args.model:
        name, tol, kind, folder = spec.split(":", 3)
        tolerance = float(tol)
        started = time.perf_counter()
        onnx_path = args.out_dir / f"{name}.onnx"
        inputs = args.inputs_dir / f"{name}.npy"
        print(f"converting {name} ({kind}) ...", file=sys.stderr, flush=True)
        if kind == "tfjs_graph":
            saved = convert(Path(folder) / f"{name}.json", onnx_path, args.opset)
            try:
                diff = fidelity(saved, onnx_path, inputs)
            finally:
                shutil.rmtree(saved.parent, ignore_errors=True)
        elif kind == "tfjs_layers_js":
            extra = tuple(e.split("=", 1)[1] for e in args.extra_output if e.startswith(name + "="))
            saved, diff = convert_layers_js(Path(folder), onnx_path, args.opset, inputs, extra)
            shutil.rmtree(saved.parent, ignore_errors=True)
        else:
            raise SystemExit(f"{name}: unknown model format {kind!r}")
        ok = diff <= tolerance
        failed |= not ok
        print(json.dumps({
            "model": name, "onnx": str(onnx_path), "max_abs_diff": diff, "tolerance": tolerance, "ok": ok,
            "seconds": round(time.perf_counter() - started, 1),
        }), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
