"""Does ``pose`` from MoveNet's keypoints (``backend="movenet"``) give the same answers as
MediaPipe Pose (``backend="mediapipe"``)? Prints JSON.

The whole default set runs twice through the runner (cached in ``.cache/bench``), once per pose
backend, on three sets: benchmarks/data/feed_eval (186 labelled images), the 139 images of
benchmarks/labels/photo_type.csv (39 varied + 100 CC0 portraits) and the covers of the bundled
sample (61). Reported:

- agreement of every binary and category feature of ``pose`` (and of ``apparel``'s flags and
  ``activity.label``, which read pose), and the rank correlation of ``pose.body_share`` and
  ``racy.skin_share``, between the backends;
- photo-type agreement with the labels under each backend (feed_eval, photo_type.csv, the
  sample's generative labels);
- the CPU cost of ``pose`` under each backend (benchmarks/bench_local.py has the full profile).

    .venv/bin/python benchmarks/eval_pose_backends.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, SHARED_DATA, feed_eval_table  # noqa: E402

from rumaro_lab.extractors import DEFAULT_EXTRACTORS, make_extractor  # noqa: E402
from rumaro_lab.extractors.runner import extract_images  # noqa: E402
from rumaro_lab.posts.importing import sample_dir  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402

COMPARED = ("pose.detected", "pose.full_body_visible", "pose.posture", "pose.arms_raised",
            "pose.facing_camera", "pose.hands_visible", "pose.hand_near_face",
            "apparel.bare_arms", "apparel.bare_legs", "apparel.bare_torso", "activity.label",
            "photo_type.label")


def extractors(backend: str) -> list:
    return [n if n != "pose" else make_extractor("pose", backend=backend) for n in DEFAULT_EXTRACTORS]


def run(paths: list[Path], backend: str) -> pd.DataFrame:
    settings = Settings(_env_file=None, cache_dir=REPO / ".cache" / "bench",
                        models_dir=REPO / "models", workers=2)
    return extract_images(paths, settings, extractors=extractors(backend), progress=False)


def compare(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    out = {}
    for column in COMPARED:
        x, y = a[column].astype(object), b[column].astype(object)
        both_null = x.isna() & y.isna()
        same = both_null | (x == y).fillna(False).astype(bool)
        out[column] = round(float(same.mean()), 3)
    for column in ("pose.body_share", "racy.skin_share"):
        x, y = a[column].astype(float), b[column].astype(float)
        ok = x.notna() & y.notna()
        out[f"{column}_spearman"] = round(float(x[ok].corr(y[ok], method="spearman")), 3) if ok.sum() > 2 else None
        out[f"{column}_n_both"] = int(ok.sum())
    return out


def main() -> None:
    start = time.perf_counter()
    result: dict = {"benchmark": "pose_backends"}
    feed = {b: feed_eval_table(extractors(b)) for b in ("mediapipe", "movenet")}
    result["feed_eval_186"] = {
        "between_backends": compare(feed["mediapipe"], feed["movenet"]),
        "photo_type_agreement_with_labels": {
            b: round(float((t["photo_type"] == t["photo_type.label"]).mean()), 3) for b, t in feed.items()},
    }
    labels = pd.read_csv(REPO / "benchmarks" / "labels" / "photo_type.csv")
    paths = [SHARED_DATA / p for p in labels["path"]]
    earlier = {b: run(paths, b) for b in ("mediapipe", "movenet")}
    result["photo_type_csv_139"] = {
        "between_backends": compare(earlier["mediapipe"], earlier["movenet"]),
        "photo_type_agreement_with_labels": {
            b: round(float((labels["label"].values == t["photo_type.label"].astype(str).values).mean()), 3)
            for b, t in earlier.items()},
    }
    truth = json.loads((sample_dir() / "truth.json").read_text())
    covers = [sample_dir() / "sample" / p["files"][0] for p in truth["posts"]]
    sample = {b: run(covers, b) for b in ("mediapipe", "movenet")}
    truth_labels = [p["label"] for p in truth["posts"]]
    result["sample_61"] = {
        "between_backends": compare(sample["mediapipe"], sample["movenet"]),
        "photo_type_agreement_with_generative_labels": {
            b: round(float((pd.Series(truth_labels) == t["photo_type.label"].astype(str)).mean()), 3)
            for b, t in sample.items()},
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
