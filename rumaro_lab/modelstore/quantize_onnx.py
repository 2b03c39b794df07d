"""Static int8 quantization of one ONNX model; run by `build.build_models` inside the build venv.

This file is a script for the throw-away build venv (it needs the ``onnx`` package, which the
project itself does not install); the package never imports it.

    python quantize_onnx.py --model nanodet.onnx --out nanodet-int8.onnx \\
        --calibration calib.npy --ops Conv [--per-channel] [--reduce-range]

Calibration: onnxruntime's MinMax calibrator over the rows of ``calib.npy`` (real model inputs,
one image each, made by the extractor's own pre-processing from the bundled sample photos).
Format QDQ, activations uint8, weights int8 per output channel. ``--reduce-range`` keeps weights
in 7 bits, which avoids the u8 x s8 saturation of AVX2 / AVX-512 kernels. Only the ``--ops``
are quantized: in NanoDet, quantizing its Pad / MaxPool / Concat nodes too destroyed the output
(the pads before max-pooling hold very large negative constants that swallow the int8 range).

Prints one JSON line: seconds, and how close the int8 model stays to the float one on the
calibration inputs (correlation of each output with more than 2 values, worst over images and
outputs; the largest absolute difference).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


class Rows:
    """Feeds the calibration rows one image at a time (onnxruntime's CalibrationDataReader)."""

    def __init__(self, name: str, data: np.ndarray) -> None:
        self.name, self.data, self.i = name, data, 0

    def get_next(self):
        if self.i >= len(self.data):
            return None
        self.i += 1
        return {self.name: self.data[self.i - 1:self.i]}

    def rewind(self) -> None:
        self.i = 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--calibration", required=True)
    parser.add_argument("--ops", nargs="+", required=True)
    parser.add_argument("--per-channel", action="store_true")
    parser.add_argument("--reduce-range", action="store_true")
    parser.add_argument("--opset", type=int, help="first raise the model to this opset (per-channel"
                        " int8 needs >= 13; some wheels ship opset 9 models)")
    args = parser.parse_args()
    # onnxruntime.quantization needs `onnx`, which only the build venv has
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    started = time.perf_counter()
    data = np.load(args.calibration)
    if args.opset:
        import onnx
        from onnx import version_converter

        model = onnx.load(args.model)
        if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < args.opset:
            raised = args.out + ".opset.onnx"
            onnx.save(version_converter.convert_version(model, args.opset), raised)
            args.model = raised
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    float_session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    name = float_session.get_inputs()[0].name
    quantize_static(args.model, args.out, Rows(name, data), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=args.per_channel, reduce_range=args.reduce_range,
                    op_types_to_quantize=args.ops)
    int8_session = ort.InferenceSession(args.out, options, providers=["CPUExecutionProvider"])
    worst, largest = 1.0, 0.0
    for i in range(len(data)):
        x = {name: data[i:i + 1]}
        for a, b in zip(float_session.run(None, x), int8_session.run(None, x), strict=True):
            largest = max(largest, float(np.max(np.abs(a - b))))
            if a.size > 2 and np.std(a) > 0 and np.std(b) > 0:  # (2 softmax outputs: always 1)
                worst = min(worst, float(np.corrcoef(a.ravel(), b.ravel())[0, 1]))
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "images": len(data),
                      "worst_output_correlation": round(worst, 4),
                      "max_abs_diff": round(largest, 4)}))


if __name__ == "__main__":
    main()
