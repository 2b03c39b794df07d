"""Face detection recall / precision of the `faces` extractor. Prints one JSON object.

Ground truth:

- COCO-style person keypoints in ../shared/data/mmpose_keypoints (coco, ochuman): a person has a
  visible face when the nose and both eyes are labelled (v > 0). A detection *finds* that face
  when its box, grown by 25 %, contains the nose. A detection that finds no annotated face is a
  false positive only if its centre lies outside every annotated person box (people without
  keypoint labels are common in these crowds); both counts are reported.
- COCO-WholeBody face boxes (``face_valid``) on the same COCO images: recall at IoU >= 0.3.
- skimage's LFW subset (100 faces, 100 non-faces, 25 x 25 grey): each upscaled to 128 px and
  centred on a 256 px grey canvas, so the faces are ~ 100 px like a selfie's.
- interfaces_cc0: the 100 CC0 portraits each hold exactly one face (recall of "count >= 1").
- clothing_small_cc0: every third of its 713 garment photos (238; flat-lays, hangers, shoes): the
  images where a face is found. Nearly all are false positives: a few garments carry a printed
  photo or a drawing of a face.
- feed_eval (benchmarks/data/feed_eval, 186 real-feed-like images, 74 faces counted by eye in
  `n_faces`): counts per image, so per image true positives min(found, labelled), false positives
  the excess, misses the shortfall; precision and recall over the set, also without the 14
  ``ambiguous:`` rows and without the 2 rows whose faces under masks were not counted, and on the
  odd- and even-numbered halves (thresholds of version 3 were chosen without the even half)
  (``--feed-only`` runs just this part; ``--details`` adds, for every image whose count differs,
  each detection with its view (full, short, padded, tile0..3), score, size and confirmation status).

    .venv/bin/python benchmarks/eval_faces.py [--feed-only] [--details]

Variants: ``default`` (faces alone); ``in_default_set`` (as the default set runs it: after
``objects``, whose person score gates the tiles, `rumaro_lab.extractors.person_gate`); ``v2_rules`` (no confirmation, tiles skipped from a 1 % face: the rules of
faces version 2); ``no_verify``; ``no_tiles``; ``full_range_only`` (no tiles, no short range, no verification).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEED_EVAL, SHARED_DATA, proportion_ci  # noqa: E402

from rumaro_lab.extractors import make_extractor  # noqa: E402
from rumaro_lab.extractors.faces import iou  # noqa: E402
from rumaro_lab.extractors.packaged_models import shared_fit  # noqa: E402
from rumaro_lab.images import LoadedImage, load_image  # noqa: E402

MMPOSE = SHARED_DATA / "mmpose_keypoints"
SETS = {"coco": "coco/test_coco.json", "ochuman": "ochuman/test_ochuman.json"}


def keypoint_faces(faces, folder: str, annotation: str) -> dict:
    data = json.loads((MMPOSE / annotation).read_text())
    by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    found = gt = fp = unlabelled = 0
    for image in data["images"]:
        img = load_image(MMPOSE / folder / image["file_name"])
        w, h = img.width, img.height
        boxes = faces(img)["boxes"]
        anns = by_image.get(image["id"], [])
        noses = []
        for ann in anns:
            kp = np.asarray(ann.get("keypoints") or [0] * 51, float).reshape(-1, 3)
            if kp[0, 2] > 0 and kp[1, 2] > 0 and kp[2, 2] > 0:
                noses.append((kp[0, 0] / w, kp[0, 1] / h))
        gt += len(noses)
        matched = set()
        for bx, by, bw, bh, _ in boxes:
            hit = [i for i, (nx, ny) in enumerate(noses)
                   if bx - bw / 4 <= nx <= bx + bw * 1.25 and by - bh / 4 <= ny <= by + bh * 1.25]
            if hit:
                matched.update(hit)
                continue
            cx, cy = (bx + bw / 2) * w, (by + bh / 2) * h
            inside = any(a["bbox"][0] <= cx <= a["bbox"][0] + a["bbox"][2]
                         and a["bbox"][1] <= cy <= a["bbox"][1] + a["bbox"][3] for a in anns)
            unlabelled += inside
            fp += not inside
        found += len(matched)
    return {"images": len(data["images"]), "faces": gt, "found": found,
            "recall": round(found / gt, 3) if gt else None,
            "detections_outside_people": fp, "detections_on_unlabelled_people": unlabelled}


def wholebody_boxes(faces) -> dict:
    data = json.loads((MMPOSE / "coco" / "test_coco_wholebody.json").read_text())
    sizes = {im["id"]: (im["width"], im["height"], im["file_name"]) for im in data["images"]}
    found = total = 0
    for ann in data["annotations"]:
        if not ann.get("face_valid"):
            continue
        w, h, name = sizes[ann["image_id"]]
        x, y, bw, bh = ann["face_box"]
        truth = np.array([x / w, y / h, bw / w, bh / h])
        boxes = faces(load_image(MMPOSE / "coco" / name))["boxes"]
        total += 1
        found += any(iou(np.asarray(b[:4]), truth) >= 0.3 for b in boxes)
    return {"faces": total, "found_iou_0.3": found}


def lfw(faces) -> dict:
    arr = np.load(SHARED_DATA / "pd_demo_images" / "skimage_lfw_subset.npy")
    tp = fp = 0
    for i, patch in enumerate(arr):
        grey = (np.clip(patch, 0, 1) * 255).astype(np.uint8)
        big = cv2.resize(grey, (128, 128), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((256, 256), 128, np.uint8)
        canvas[64:192, 64:192] = big
        rgb = np.ascontiguousarray(np.repeat(canvas[..., None], 3, axis=2))
        count = faces.extract(LoadedImage(rgb, f"lfw{i}", "lfw"), {}, {})["count"]
        if i < 100:
            tp += count > 0
        else:
            fp += count > 0
    precision = tp / (tp + fp) if tp + fp else None
    return {"faces": 100, "non_faces": 100, "recall": tp / 100, "false_positive_rate": fp / 100,
            "precision": round(precision, 3) if precision is not None else None}


class AfterObjects:
    """`faces` fed the output of ``objects``, as in the default set (the person gate)."""

    def __init__(self, faces):
        self.faces, self.config = faces, faces.config
        self.objects = make_extractor("objects")

    def extract(self, image, deps, post):
        return self.faces.extract(image, {**deps, "objects": self.objects(image)}, post)

    def __call__(self, image):
        return self.faces.check_output(self.extract(image, {}, {}))

    def ensure_ready(self):
        self.faces.ensure_ready()
        self.objects.ensure_ready()


def portraits(faces) -> dict:
    paths = sorted((SHARED_DATA / "interfaces_cc0").glob("*.jpg"))
    counts = [faces.extract(load_image(p), {}, {})["count"] for p in paths]
    return {"images": len(paths), "found_at_least_one": sum(c >= 1 for c in counts),
            "exactly_one": sum(c == 1 for c in counts)}


def garments(faces) -> dict:
    table = pd.read_csv(SHARED_DATA / "clothing_small_cc0" / "labels.csv")
    paths = table["path"].iloc[::3]
    counts = [faces(load_image(SHARED_DATA / "clothing_small_cc0" / p))["count"] for p in paths]
    return {"images": len(paths), "with_a_face": sum(c > 0 for c in counts)}


def feed_eval(faces, details: bool = False) -> dict:
    labels = pd.read_csv(FEED_EVAL / "labels.csv")
    labels["found"] = [faces(load_image(FEED_EVAL / f))["count"] for f in labels["file"]]

    def score(table: pd.DataFrame) -> dict:
        truth, found = table["n_faces"].astype(int), table["found"].astype(int)
        tp = int(np.minimum(truth, found).sum())
        fp, fn = int((found - truth).clip(lower=0).sum()), int((truth - found).clip(lower=0).sum())
        return {"images": len(table), "faces": int(truth.sum()), "true_positives": tp,
                "false_positives": fp, "missed": fn,
                "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                "recall": round(tp / (tp + fn), 3) if tp + fn else None,
                "precision_ci95": proportion_ci(tp, tp + fp), "recall_ci95": proportion_ci(tp, tp + fn)}

    notes = labels["note"].fillna("")
    wrong = labels.loc[labels["found"] != labels["n_faces"], ["file", "photo_type", "n_faces", "found"]]
    number = labels["file"].str.extract(r"(\d+)")[0].astype(int)
    result = {"all": score(labels),
              "without_ambiguous": score(labels[~notes.str.contains("ambiguous:")]),
              "without_masked_faces": score(labels[~notes.str.contains("mask")]),
              "odd_half": score(labels[number % 2 == 1]),
              "even_half_held_out": score(labels[number % 2 == 0]),
              "images_where_the_count_differs": wrong.values.tolist()}
    if details:
        result["details"] = {file: detections(faces, FEED_EVAL / file) for file in wrong["file"]}
    return result


def detections(faces, path: Path) -> list[str]:
    """One line per detection over its view's threshold: kept or not, view, score, box, status."""
    image = load_image(path)
    small = shared_fit(image, faces.config["max_side"])
    height, width = small.shape[:2]
    lines = []
    for face in sorted(faces.detect_views(image.rgb, small), key=lambda f: -f["score"]):
        if "status" not in face:
            continue
        x, y, w, h = face["box"]
        verified = f" (verify {face['verified']:.2f})" if "verified" in face else ""
        lines.append(f"{'KEPT' if face.get('kept') else 'drop'} {face['view']:<6} "
                     f"{face['score']:.3f} x={x:.3f} y={y:.3f} {w * width:.0f}x{h * height:.0f}px "
                     f"{face['status']}{verified}")
    return lines


def main() -> None:
    start = time.perf_counter()
    result = {"benchmark": "faces"}
    if "--feed-only" in sys.argv:
        result["feed_eval"] = feed_eval(make_extractor("faces"), "--details" in sys.argv)
        print(json.dumps(result, indent=2))
        return
    variants = {"default": {}, "in_default_set": {}, "v2_rules": {"verify": False, "tile_skip_face_share": 0.01},
                "no_verify": {"verify": False}, "no_tiles": {"tiles": False},
                "full_range_only": {"tiles": False, "short_range": False, "verify": False}}
    for label, config in variants.items():
        faces = make_extractor("faces", **config)
        if label == "in_default_set":
            faces = AfterObjects(faces)
        faces.ensure_ready()
        result[label] = {
            **{name: keypoint_faces(faces, name, path) for name, path in SETS.items()},
            "coco_wholebody_face_boxes": wholebody_boxes(faces),
            "lfw_subset": lfw(faces),
            "interfaces_cc0_portraits": portraits(faces),
            "clothing_small_cc0_garments": garments(faces),
            "feed_eval": feed_eval(faces, "--details" in sys.argv and label == "default"),
        }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
