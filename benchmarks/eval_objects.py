"""Object detection against hand labels: label recall, false positives, person presence.

benchmarks/labels/objects.csv lists ~50 real images from ../shared/data (COCO and other pose
test images, public-domain photos, the SpaceX account, clothing photos, CC0 portraits) with the
COCO labels a person sees in them (`expected`), labels that would also be fair to report
(`acceptable`: small, partly hidden or ambiguous things) and the number of clearly visible people.

For each detector that is built (nanodet, as its default int8 build and as the float model;
centernet if you opted in) and each score
threshold it prints, as JSON:
- recall: expected (image, label) pairs found / expected pairs;
- false_positives: (image, label) pairs reported that are neither expected nor acceptable
  (person excluded: it is scored by person_presence_accuracy);
- person_presence_accuracy: "a person is detected" agrees with persons > 0;
- ms_per_image: median wall time of `Objects.detect` (1 thread, after a warm-up).

Usage: .venv/bin/python benchmarks/eval_objects.py [--shared-dir ../shared]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

from rumaro_lab.errors import ModelMissingError
from rumaro_lab.extractors.objects import Objects
from rumaro_lab.extractors.packaged_models import SHARED_SIDE, fit_within
from rumaro_lab.images import load_image
from rumaro_lab.settings import Settings

HERE = Path(__file__).resolve().parent
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.5)


def extractor_default(detector: str) -> float:
    from rumaro_lab.extractors.objects import DEFAULT_MIN_SCORE

    return DEFAULT_MIN_SCORE[detector]


def read_labels(path: Path) -> list[dict]:
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append({
                "image": row["image"],
                "persons": int(row["persons"]),
                "expected": {x for x in row["expected"].split(";") if x},
                "acceptable": {x for x in row["acceptable"].split(";") if x},
            })
    return rows


def score(rows: list[dict], detections: list[list[dict]], threshold: float) -> dict:
    hits = expected = false_pos = presence_ok = 0
    missed, spurious = [], []
    for row, found in zip(rows, detections, strict=True):
        labels = {d["label"] for d in found if d["score"] >= threshold}
        expected += len(row["expected"])
        hits += len(row["expected"] & labels)
        missed += [f"{Path(row['image']).name}:{x}" for x in sorted(row["expected"] - labels)]
        extra = labels - row["expected"] - row["acceptable"] - {"person"}
        false_pos += len(extra)
        spurious += [f"{Path(row['image']).name}:{x}" for x in sorted(extra)]
        presence_ok += ("person" in labels) == (row["persons"] > 0)
    return {
        "threshold": threshold,
        "recall": round(hits / expected, 3) if expected else None,
        "found": hits,
        "expected": expected,
        "false_positives": false_pos,
        "false_positives_per_image": round(false_pos / len(rows), 3),
        "person_presence_accuracy": round(presence_ok / len(rows), 3),
        "missed": missed,
        "spurious": spurious,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path, default=HERE.parents[1] / "shared")
    parser.add_argument("--labels", type=Path, default=HERE / "labels" / "objects.csv")
    args = parser.parse_args()
    data = args.shared_dir / "data"
    rows = read_labels(args.labels)
    # what `Objects.extract` looks at: the shared 640-px copy of each photo
    images = [fit_within(load_image(data / row["image"]).rgb, SHARED_SIDE) for row in rows]
    settings = Settings(_env_file=None, models_dir=HERE.parent / "models")

    results = {"images": len(rows), "labels_file": str(args.labels.relative_to(HERE.parent)),
               "detectors": {}}
    variants = {"nanodet": ("nanodet", True), "nanodet_float": ("nanodet", False),
                "centernet": ("centernet", False)}
    for variant, (detector, int8) in variants.items():
        extractor = Objects(settings, detector=detector, int8=int8, min_score=min(THRESHOLDS))
        try:
            extractor.ensure_ready()
        except ModelMissingError as exc:
            results["detectors"][variant] = {"available": False, "reason": str(exc)}
            continue
        extractor.detect(images[0])  # warm-up
        detections, times = [], []
        for rgb in images:
            started = time.perf_counter()
            detections.append(extractor.detect(rgb))
            times.append((time.perf_counter() - started) * 1000)
        results["detectors"][variant] = {
            "available": True,
            "model": extractor.model,
            "default_min_score": extractor_default(detector),
            "ms_per_image_median": round(statistics.median(times), 1),
            "by_threshold": [score(rows, detections, t) for t in THRESHOLDS],
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
