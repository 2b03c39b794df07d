"""Keypoint accuracy (PCK@0.2) of the `pose` extractor on COCO-style annotations. Prints JSON.

Data: ../shared/data/mmpose_keypoints coco (4 images) and ochuman (3 images, heavy occlusion),
17 COCO keypoints per annotated person. MediaPipe Pose returns ONE person: it is compared with
the annotated person it fits best (most keypoints within the threshold). The 12 COCO keypoints
MediaPipe shares with COCO are mapped by name (nose, eyes, ears, shoulders, elbows, wrists, hips,
knees, ankles: 17 of its 33).

PCK@0.2 (`_common.pck_correct`, the definition eval_people.py uses too): a labelled keypoint
(v > 0) is correct when the predicted one (visibility >= 0.5; an invisible prediction counts as a
miss) lies within 0.2 x max(box width, box height) of the annotated person.
Also reported: how many annotated persons the single-person model covers.

    .venv/bin/python benchmarks/eval_pose.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA, pck_correct  # noqa: E402

from rumaro_lab.extractors import make_extractor  # noqa: E402
from rumaro_lab.extractors.pose import RULES, K  # noqa: E402
from rumaro_lab.images import load_image  # noqa: E402

MMPOSE = SHARED_DATA / "mmpose_keypoints"
SETS = {"coco": "coco/test_coco.json", "ochuman": "ochuman/test_ochuman.json"}
COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
MAP = [K[name] for name in COCO17]


def score_person(pred: np.ndarray, truth: np.ndarray, bbox: list[float]) -> tuple[int, int]:
    """(correct, labelled) keypoints of one annotated person against the prediction (pixels)."""
    return pck_correct(pred[:, :2], truth, bbox, pred_visible=pred[:, 2] >= RULES["min_visibility"])


def evaluate(pose, folder: str, annotation: str) -> dict:
    data = json.loads((MMPOSE / annotation).read_text())
    per_image = []
    correct = labelled = persons = covered = 0
    for image in data["images"]:
        img = load_image(MMPOSE / folder / image["file_name"])
        out = pose.extract(img, {}, {})
        people = [a for a in data["annotations"]
                  if a["image_id"] == image["id"] and a.get("num_keypoints", 0) > 0]
        persons += len(people)
        row = {"image": image["file_name"], "annotated": len(people), "detected": out["detected"]}
        if out["detected"]:
            kp = np.asarray(out["keypoints"])[MAP]
            pred = np.column_stack([kp[:, 0] * img.width, kp[:, 1] * img.height, kp[:, 2]])
            scores = [score_person(pred, np.asarray(a["keypoints"], float).reshape(17, 3),
                                   a["bbox"]) for a in people]
            best = max(scores, key=lambda s: s[0]) if scores else (0, 0)
            row.update(correct=best[0], labelled=best[1])
            correct += best[0]
            labelled += best[1]
            covered += 1
        per_image.append(row)
    return {"images": len(data["images"]), "annotated_persons": persons,
            "persons_covered": covered, "pck_0.2": round(correct / labelled, 3) if labelled else None,
            "correct": correct, "labelled_of_matched": labelled, "per_image": per_image}


def main() -> None:
    start = time.perf_counter()
    pose = make_extractor("pose")
    pose.ensure_ready()
    result = {"benchmark": "pose", **{n: evaluate(pose, n, p) for n, p in SETS.items()}}
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
