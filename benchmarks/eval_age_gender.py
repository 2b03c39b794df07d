"""The optional age_gender extractor: what can be measured about its error here.

No data set here has real ages or self-reported genders. What can be measured:
- gender agreement with the perceived gender in the photo titles of ../shared/data/interfaces_cc0
  (CREDITS.md links each portrait to a stock-photo page whose title often says "woman", "man",
  "girl"...). Titles are a photographer's perception, not the person's identity: this is a
  rough agreement rate, not an accuracy;
- stability under the face crop (margins 0.15 / 0.25 / 0.35 around the detected face): how
  often gender flips and how much the age estimate moves (gear, the other model of the package,
  was rejected for flipping);
- the spread of estimated ages (no ground truth: the age error is UNMEASURED);
- ms per face.

Faces are found with MediaPipe FaceDetection (full range), as the faces extractor does.
Needs the opt-in model: `rumaro models build --with faceres`.

Usage: .venv/bin/python benchmarks/eval_age_gender.py [--shared-dir ../shared]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import numpy as np

from rumaro_lab.extractors.age_gender import AgeGender
from rumaro_lab.images import load_image
from rumaro_lab.settings import Settings

HERE = Path(__file__).resolve().parent
FEMALE = {"woman", "women", "girl", "lady", "female", "businesswoman"}
MALE = {"man", "men", "boy", "male", "businessman", "guy"}


def title_genders(credits: Path) -> dict[str, str]:
    """file name -> "female" | "male" from unambiguous title words only."""
    out = {}
    for line in credits.read_text(encoding="utf-8").splitlines():
        match = re.search(r"\[(\d+\.jpg)\]\(([^)]+)\)", line)
        if not match:
            continue
        words = set(re.split(r"[^a-z]+", match.group(2).lower().rsplit("/photo/", 1)[-1]))
        female, male = bool(words & FEMALE), bool(words & MALE)
        if female != male:
            out[match.group(1)] = "female" if female else "male"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path, default=HERE.parents[1] / "shared")
    args = parser.parse_args()
    folder = args.shared_dir / "data" / "interfaces_cc0"
    titles = title_genders(folder / "CREDITS.md")

    import mediapipe as mp

    detector = mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                         min_detection_confidence=0.5)
    settings = Settings(_env_file=None, models_dir=HERE.parent / "models")
    models = {m: AgeGender(settings, margin=m) for m in (0.15, 0.25, 0.35)}
    rows, times = [], []
    for path in sorted(folder.glob("*.jpg")):
        rgb = load_image(path).rgb
        result = detector.process(rgb)
        if not result.detections:
            continue
        box = max((d.location_data.relative_bounding_box for d in result.detections),
                  key=lambda b: b.width * b.height)
        box = [box.xmin, box.ymin, box.width, box.height]
        estimates = {}
        for margin, model in models.items():
            started = time.perf_counter()
            (estimates[margin],) = model.estimate(rgb, [box])
            times.append((time.perf_counter() - started) * 1000)
        rows.append({"file": path.name, "title": titles.get(path.name), "est": estimates})

    def gender(p: float) -> str:
        return "male" if p > 0.5 else "female"

    labelled = [r for r in rows if r["title"]]
    agree = [gender(r["est"][0.25]["p_male"]) == r["title"] for r in labelled]
    by_title = {
        g: round(float(np.mean([gender(r["est"][0.25]["p_male"]) == g
                                for r in labelled if r["title"] == g])), 3)
        for g in ("female", "male") if any(r["title"] == g for r in labelled)
    }
    flips = [len({gender(e["p_male"]) for e in r["est"].values()}) > 1 for r in rows]
    age_range = [max(e["age"] for e in r["est"].values()) - min(e["age"] for e in r["est"].values())
                 for r in rows]
    ages = [r["est"][0.25]["age"] for r in rows]
    print(json.dumps({
        "images": len(list(folder.glob("*.jpg"))),
        "faces_found": len(rows),
        "gender_vs_title_words": {
            "labelled_by_title": len(labelled),
            "agreement": round(float(np.mean(agree)), 3) if agree else None,
            "agreement_by_title_gender": by_title,
            "note": "titles are perceived gender from stock-photo pages, not identity",
        },
        "crop_stability": {
            "margins": list(models),
            "gender_flip_rate": round(float(np.mean(flips)), 3),
            "age_range_median_years": round(statistics.median(age_range), 1),
            "age_range_max_years": round(max(age_range), 1),
        },
        "age": {
            "error": "unmeasured: no ground-truth ages in the shared data",
            "estimated_min": round(min(ages), 1), "estimated_median": round(statistics.median(ages), 1),
            "estimated_max": round(max(ages), 1),
        },
        "ms_per_face_median": round(statistics.median(times), 1),
    }, indent=2))


if __name__ == "__main__":
    main()
