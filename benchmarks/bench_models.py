"""Speed of the built ONNX models and of the extractors that use them, in ms per image.

For each built model: the median time of one onnxruntime call on its input size with 1 intra-op
thread (what a runner worker uses) and with 2 threads (for comparison with docs/models.md), and
for each extractor (people, objects, and age_gender on one face when built) the median time of
`extract` on real 1080 x 1080 photos (Instagram's size), pre- and post-processing included.
The full default pipeline's images/s is measured by the lead with the runner.

Usage: .venv/bin/python benchmarks/bench_models.py [--shared-dir ../shared] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from rumaro_lab.errors import ModelMissingError
from rumaro_lab.extractors.age_gender import AgeGender
from rumaro_lab.extractors.objects import Objects
from rumaro_lab.extractors.people import People
from rumaro_lab.images import LoadedImage, load_image
from rumaro_lab.modelstore import golden_inputs, locate_model, onnx_session, read_sources
from rumaro_lab.settings import Settings

HERE = Path(__file__).resolve().parent
PHOTOS = (
    "mmpose_keypoints/coco/000000000785.jpg",
    "mmpose_keypoints/coco/000000196141.jpg",
    "pd_demo_images/skimage_coffee.png",
    "interfaces_cc0/001.jpg",
    "spacex_instaloader/spacex/2021-09-15_23-10-17_UTC_1.jpg",
)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path, default=HERE.parents[1] / "shared")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    settings = Settings(_env_file=None, models_dir=HERE.parent / "models")
    inputs = golden_inputs(settings)

    models = {}
    for name in read_sources(settings)["models"]:
        try:
            path = locate_model(name, settings)
        except ModelMissingError:
            models[name] = {"built": False}
            continue
        x = inputs[name]
        entry = {"built": True, "mb": round(path.stat().st_size / 1e6, 1)}
        for threads in (1, 2):
            session = onnx_session(path, threads=threads)
            feed = {session.get_inputs()[0].name: x}
            entry[f"ms_model_{threads}_thread"] = median_ms(lambda s=session, f=feed: s.run(None, f),
                                                            args.repeat)
        models[name] = entry

    photos = []
    for rel in PHOTOS:
        rgb = load_image(args.shared_dir / "data" / rel).rgb
        rgb = cv2.resize(rgb, (1080, 1080), interpolation=cv2.INTER_AREA)
        photos.append(LoadedImage(rgb=rgb, sha256="", source=rel))

    extractors = {}
    for label, extractor, deps in (
        ("people", People(settings), {}),
        ("objects (nanodet)", Objects(settings), {}),
        ("objects (centernet, opt-in)", Objects(settings, detector="centernet"), {}),
        ("age_gender (1 face, opt-in)", AgeGender(settings),
         {"faces": {"boxes": [[0.3, 0.15, 0.4, 0.45, 0.9]]}}),
    ):
        try:
            extractor.ensure_ready()
        except ModelMissingError as exc:
            extractors[label] = {"available": False, "reason": str(exc)}
            continue
        per_photo = [median_ms(lambda e=extractor, p=photo, d=deps: e.extract(p, d, {}),
                               max(3, args.repeat // 4)) for photo in photos]
        extractors[label] = {"available": True, "ms_per_image_median": float(np.median(per_photo))}

    print(json.dumps({
        "note": "1 intra-op thread per session in the runner; full pipeline images/s: measured by the lead",
        "models": models,
        "extractors_on_1080px_photos": extractors,
    }, indent=2))


if __name__ == "__main__":
    main()
