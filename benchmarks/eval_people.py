"""Multi-person pose against ground truth: PCK@0.2, person counts, speed; MoveNet vs MediaPipe.

Ground truth: ../shared/data/mmpose_keypoints, the COCO-17 sets (coco/test_coco.json: 4 COCO
images, 12 people with 181 labelled keypoints; ochuman/test_ochuman.json: 3 images, 5 heavily
occluded people with 73 keypoints). Plus the person counts of benchmarks/labels/objects.csv
(49 images, hand-labelled: portraits, groups, scenery, garments).

- PCK@0.2: a labelled keypoint is correct when the prediction lies within 0.2 x max(box width,
  box height) of it (the box of that annotated person), whatever the predicted score. Each
  annotated person is matched to the unused prediction with the most correct keypoints.
- MediaPipe Pose (model_complexity=1, the pose extractor's model) sees one person per image: its
  PCK is reported over all keypoints and over the largest annotated person of each image only,
  where it is on equal terms.
- Person counts: exact-count and presence accuracy of `people.count` (and of NanoDet's
  person_count, for comparison) against the labels.
- ms_per_image: median wall time per image (1 thread; the full pipeline's images/s is measured by
  the lead with the runner).

Usage: .venv/bin/python benchmarks/eval_people.py [--shared-dir ../shared] [--no-mediapipe]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from rumaro_lab.extractors.objects import Objects
from rumaro_lab.extractors.people import People
from rumaro_lab.images import load_image
from rumaro_lab.settings import Settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import pck_correct  # noqa: E402
from eval_objects import read_labels  # noqa: E402

SETS = ("coco/test_coco.json", "ochuman/test_ochuman.json")
#: MediaPipe Pose landmark index of each COCO-17 keypoint
MEDIAPIPE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def load_ground_truth(root: Path) -> list[dict]:
    images = []
    for name in SETS:
        data = json.loads((root / name).read_text())
        for info in data["images"]:
            anns = [a for a in data["annotations"] if a["image_id"] == info["id"]]
            people = []
            for a in anns:
                kp = np.asarray(a["keypoints"], dtype=float).reshape(17, 3)
                if (kp[:, 2] > 0).any():
                    people.append({"keypoints": kp, "bbox": a["bbox"]})
            images.append({"path": root / Path(name).parent / info["file_name"], "set": name,
                           "annotated": len(anns), "people": people})
    return images


def pck_hits(pred: np.ndarray, truth: dict, width: int, height: int) -> int:
    """Correct keypoints of one prediction (17 x [x, y] in 0..1) for one annotated person."""
    pixels = np.column_stack([pred[:, 0] * width, pred[:, 1] * height])
    return pck_correct(pixels, truth["keypoints"], truth["bbox"])[0]


def match(preds: list[np.ndarray], people: list[dict], width: int, height: int) -> list[int]:
    """Greedy: each annotated person (largest first) takes the unused prediction scoring best."""
    order = sorted(range(len(people)), key=lambda i: -people[i]["bbox"][2] * people[i]["bbox"][3])
    used, hits = set(), [0] * len(people)
    for i in order:
        best, best_j = 0, None
        for j, pred in enumerate(preds):
            if j not in used and (h := pck_hits(pred, people[i], width, height)) > best:
                best, best_j = h, j
        if best_j is not None:
            used.add(best_j)
            hits[i] = best
    return hits


def mediapipe_pose():
    import mediapipe as mp

    pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)

    def run(rgb: np.ndarray) -> list[np.ndarray]:
        result = pose.process(rgb)
        if not result.pose_landmarks:
            return []
        lm = result.pose_landmarks.landmark
        return [np.array([[lm[i].x, lm[i].y] for i in MEDIAPIPE_TO_COCO])]

    return run


def timed(fn, images: list[np.ndarray]) -> tuple[list, float]:
    fn(images[0])  # warm-up
    outputs, times = [], []
    for rgb in images:
        started = time.perf_counter()
        outputs.append(fn(rgb))
        times.append((time.perf_counter() - started) * 1000)
    return outputs, round(statistics.median(times), 1)


def evaluate_pose(name: str, fn, truth: list[dict], rgbs: list[np.ndarray]) -> dict:
    preds, ms = timed(fn, rgbs)
    total = correct = largest_total = largest_correct = 0
    for item, rgb, pred in zip(truth, rgbs, preds, strict=True):
        height, width = rgb.shape[:2]
        hits = match(pred, item["people"], width, height)
        visible = [int((p["keypoints"][:, 2] > 0).sum()) for p in item["people"]]
        total += sum(visible)
        correct += sum(hits)
        big = max(range(len(item["people"])),
                  key=lambda i: item["people"][i]["bbox"][2] * item["people"][i]["bbox"][3])
        largest_total += visible[big]
        largest_correct += pck_hits(pred[0], item["people"][big], width, height) if pred else 0
    return {
        "model": name,
        "pck@0.2": f"{correct}/{total}",
        "pck@0.2_rate": round(correct / total, 3),
        "pck@0.2_largest_person": f"{largest_correct}/{largest_total}",
        "pck@0.2_largest_person_rate": round(largest_correct / largest_total, 3),
        "ms_per_image_median": ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path, default=HERE.parents[1] / "shared")
    parser.add_argument("--no-mediapipe", action="store_true")
    args = parser.parse_args()
    data = args.shared_dir / "data"
    settings = Settings(_env_file=None, models_dir=HERE.parent / "models")
    people = People(settings)

    truth = load_ground_truth(data / "mmpose_keypoints")
    rgbs = [load_image(item["path"]).rgb for item in truth]
    results = {"ground_truth": {
        "images": len(truth),
        "people_with_keypoints": sum(len(t["people"]) for t in truth),
        "keypoints": int(sum((p["keypoints"][:, 2] > 0).sum() for t in truth for p in t["people"])),
    }, "pose": []}

    results["pose"].append(evaluate_pose(
        "movenet-multipose (people)", lambda rgb: [p["keypoints"][:, :2] for p in people.detect(rgb)],
        truth, rgbs))
    if not args.no_mediapipe:
        results["pose"].append(evaluate_pose("mediapipe pose (complexity 1)", mediapipe_pose(),
                                             truth, rgbs))

    counts = []
    for item, rgb in zip(truth, rgbs, strict=True):
        counts.append({"image": item["path"].name, "predicted": len(people.detect(rgb)),
                       "with_keypoints": len(item["people"]), "annotated": item["annotated"]})
    results["counts_on_pose_sets"] = counts

    rows = read_labels(HERE / "labels" / "objects.csv")
    label_rgbs = [load_image(data / row["image"]).rgb for row in rows]
    objects = Objects(settings)
    by_model = {
        "people.count": [len(people.detect(rgb)) for rgb in label_rgbs],
        "objects.person_count (nanodet)": [
            sum(d["label"] == "person" for d in objects.detect(rgb)) for rgb in label_rgbs],
    }
    if not args.no_mediapipe:
        pose = mediapipe_pose()  # one person at most: its count is 0 or 1
        by_model["mediapipe pose (0 or 1)"] = [len(pose(rgb)) for rgb in label_rgbs]
    truth_counts = [row["persons"] for row in rows]
    results["counts_on_labelled_set"] = {
        name: {
            "images": len(rows),
            "exact_count_accuracy": round(np.mean([p == t for p, t in zip(pred, truth_counts, strict=True)]), 3),
            "presence_accuracy": round(np.mean([(p > 0) == (t > 0) for p, t in zip(pred, truth_counts, strict=True)]), 3),
            "group_accuracy": round(np.mean([(p >= 3) == (t >= 3) for p, t in zip(pred, truth_counts, strict=True)]), 3),
            "misses": [f"{Path(r['image']).name}: {p} vs {t}" for r, p, t in
                       zip(rows, pred, truth_counts, strict=True) if p != t],
        }
        for name, pred in by_model.items()
    }
    print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
