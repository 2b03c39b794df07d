"""Which pose backend describes the main person correctly: MediaPipe Pose (``backend="mediapipe"``)
or MoveNet's keypoints (``backend="movenet"``)? Prints JSON.

1. **Keypoint ground truth** (``ground_truth``): the 19 images of ../shared/data/mmpose_keypoints
   that carry person keypoint annotations: coco (4) and ochuman (3) in COCO's 17-keypoint format,
   crowdpose (2) and aic (3) with 14 keypoints (no face; "head"/"head top" and neck), mhp (2) and
   mpii (5) with MPII's 16 (no face; head top). Reference person: the annotated person with the
   largest box. Reference labels: the annotated keypoints go to their places among the 33
   (`pose.KEYPOINTS`, by name) with visibility 1 or 0, and `pose.describe` -- the very rules of
   the extractor -- derives the descriptors from them, so a reference label is what the extractor
   would answer if its keypoints were the annotation. Two readings of "visible":
   ``labelled`` (v > 0: the joint is in the frame, possibly occluded; MPII's joints_vis = 1) and
   ``unoccluded`` (v == 2; MPII has no occlusion flag and counts as labelled). The descriptors:
   ``detected`` (the reference is always true: every image has an annotated person),
   ``full_body_visible``, ``posture`` (scored over all images, and over those whose reference
   posture is not "unknown"), ``arms_raised``, ``hands_visible``; on the 17-keypoint sets only,
   also ``facing_camera`` and ``hand_near_face`` (they need the nose and eyes). On the sets without
   a face, the head keypoint stands in for the nose in ``full_body_visible`` only. A backend that
   detects no pose answers false / "unknown". ``same_person``: the prediction fits the reference
   person best (PCK@0.2, `_common.pck_correct`) of all annotated persons.
2. **feed_eval by its labels** (``feed_eval_truth``; benchmarks/data/feed_eval, 186 images):
   ``detected`` on the 56 person images (portrait, full_body, group: should be true) and on the 70
   scenery + other images (should be false); ``full_body_visible`` against photo_type ==
   full_body on the 48 portrait + full_body images; ``facing_camera`` and ``apparel.bare_torso``
   against labels set by eye on the 56 person images (benchmarks/labels/pose_by_eye.csv: facing =
   face and chest of the main person both turned less than ~45 degrees from the camera, 39 decided
   and 17 left undecided; bare torso = chest or belly skin of the main person visible, which is
   exactly the README's 2 ``revealing`` images, one photo); ``racy.skin_share`` of those two.
3. **Between backends** (``between_backends``): agreement of every binary and category feature of
   ``pose``, ``apparel``'s flags and ``activity.label``, the rank correlation of
   ``pose.body_share`` and ``racy.skin_share``, and photo-type agreement with the labels under
   each backend, on feed_eval, the 139 images of benchmarks/labels/photo_type.csv and the covers of
   the bundled sample (61). The whole default set runs through the runner (cached in
   ``.cache/bench``), once per backend.

Every proportion comes with its Wilson 95% interval; ``paired`` counts the images only one backend
got right (``mediapipe_only``, ``movenet_only``) and the exact two-sided sign-test p of that split.

    RUMARO_SHARED_DIR=/work/shared .venv/bin/python benchmarks/eval_pose_backends.py [--skip-between]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, SHARED_DATA, feed_eval_table, pck_correct, proportion_ci  # noqa: E402

from rumaro_lab.extractors import DEFAULT_EXTRACTORS, make_extractor  # noqa: E402
from rumaro_lab.extractors.pose import KEYPOINTS, K, describe  # noqa: E402
from rumaro_lab.extractors.runner import extract_images  # noqa: E402
from rumaro_lab.images import load_image  # noqa: E402
from rumaro_lab.posts.importing import sample_dir  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402

BACKENDS = ("mediapipe", "movenet")
COMPARED = ("pose.detected", "pose.full_body_visible", "pose.posture", "pose.arms_raised",
            "pose.facing_camera", "pose.hands_visible", "pose.hand_near_face",
            "apparel.bare_arms", "apparel.bare_legs", "apparel.bare_torso", "activity.label",
            "photo_type.label")
MMPOSE = SHARED_DATA / "mmpose_keypoints"
#: set -> (annotation file, format): "coco" = COCO-style json, "mpii" = MPII's list
GT_SETS = {"coco": ("coco/test_coco.json", "coco"), "ochuman": ("ochuman/test_ochuman.json", "coco"),
           "crowdpose": ("crowdpose/test_crowdpose.json", "coco"), "aic": ("aic/test_aic.json", "coco"),
           "mhp": ("mhp/test_mhp.json", "coco"), "mpii": ("mpii/test_mpii.json", "mpii")}
MPII_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
              "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
              "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
HEAD_NAMES = ("head", "head_top")
FACE_DESCRIPTORS = ("facing_camera", "hand_near_face")
BODY_DESCRIPTORS = ("full_body_visible", "posture", "arms_raised", "hands_visible")
EYE_LABELS = REPO / "benchmarks" / "labels" / "pose_by_eye.csv"


def extractors(backend: str) -> list:
    return [n if n != "pose" else make_extractor("pose", backend=backend) for n in DEFAULT_EXTRACTORS]


def settings() -> Settings:
    return Settings(_env_file=None, cache_dir=REPO / ".cache" / "bench",
                    models_dir=REPO / "models", workers=2)


def run(paths: list[Path], backend: str) -> pd.DataFrame:
    return extract_images(paths, settings(), extractors=extractors(backend), progress=False)


def share(k: int, n: int) -> dict:
    return {"correct": int(k), "n": int(n), "accuracy": round(k / n, 3) if n else None,
            "ci95": proportion_ci(int(k), int(n))}


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Images only backend a (mediapipe) / only b (movenet) got right; exact sign-test p."""
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2 ** n if n else 1.0
    return {"mediapipe_only": only_a, "movenet_only": only_b, "sign_test_p": round(min(1.0, 2 * tail), 3)}


# --- 1. keypoint ground truth -------------------------------------------------------------------

def _name(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def load_set(annotation: str, fmt: str) -> list[dict]:
    """Per image: file, and annotated persons as (names, N x 3 keypoints in px, box x y w h)."""
    data = json.loads((MMPOSE / annotation).read_text())
    folder = MMPOSE / annotation.split("/")[0]
    if fmt == "mpii":
        out = []
        for row in data:
            joints = np.asarray(row["joints"], float)
            vis = np.asarray(row["joints_vis"], float) * 2  # labelled; MPII has no occlusion flag
            kp = np.column_stack([joints, vis])
            seen = kp[vis > 0]
            x0, y0 = seen[:, :2].min(axis=0)
            x1, y1 = seen[:, :2].max(axis=0)
            out.append({"file": folder / row["image"],
                        "persons": [(MPII_NAMES, kp, [x0, y0, x1 - x0, y1 - y0])]})
        return out
    names = tuple(_name(n) for n in data["categories"][0]["keypoints"])
    out = []
    for image in data["images"]:
        persons = [(names, np.asarray(a["keypoints"], float).reshape(-1, 3), a["bbox"])
                   for a in data["annotations"]
                   if a["image_id"] == image["id"] and np.asarray(a["keypoints"])[2::3].max() > 0]
        if persons:
            out.append({"file": folder / image["file_name"], "persons": persons})
    return out


def to_33(names: tuple[str, ...], kp: np.ndarray, width: int, height: int, rule: str) -> np.ndarray:
    """Annotated keypoints (px, COCO v flags) as 33 x 3 in MediaPipe's order, visibility 1/0.

    rule ``labelled``: v > 0 counts as visible; ``unoccluded``: v == 2. A head keypoint (sets
    without a face) stands in for the nose.
    """
    out = np.zeros((len(KEYPOINTS), 3))
    for name, (x, y, v) in zip(names, kp, strict=True):
        slot = K.get("nose" if name in HEAD_NAMES else name)
        if slot is None:
            continue
        visible = v > 0 if rule == "labelled" else v >= 2
        out[slot] = (x / width, y / height, 1.0 if visible else 0.0)
    return out


def reference(names, kp, width, height, rule) -> dict:
    ref = describe(to_33(names, kp, width, height, rule), width / height)
    return {key: ref[key] for key in (*BODY_DESCRIPTORS, *FACE_DESCRIPTORS)}


def predicted(out: dict) -> dict:
    """The extractor's answer, an undetected pose read as false / "unknown"."""
    if not out.get("detected"):
        return {"detected": False, "posture": "unknown",
                **{k: False for k in BODY_DESCRIPTORS + FACE_DESCRIPTORS if k != "posture"}}
    return {"detected": True, **{k: out.get(k) for k in (*BODY_DESCRIPTORS, *FACE_DESCRIPTORS)}}


def matched_person(out: dict, persons: list, width: int, height: int) -> int | None:
    """Index of the annotated person the predicted keypoints fit best (PCK@0.2), None if none."""
    if not out.get("detected"):
        return None
    kp = np.asarray(out["keypoints"])
    scores = []
    for names, truth, box in persons:
        slots = [K.get(n) for n in names]
        keep = [i for i, s in enumerate(slots) if s is not None]
        pred = kp[[slots[i] for i in keep]]
        pred_px = np.column_stack([pred[:, 0] * width, pred[:, 1] * height])
        scores.append(pck_correct(pred_px, truth[keep], box, pred_visible=pred[:, 2] >= 0.5)[0])
    return int(np.argmax(scores)) if max(scores) > 0 else None


def ground_truth() -> dict:
    st = settings()
    people = make_extractor("people", settings=st)
    poses = {b: make_extractor("pose", settings=st, backend=b) for b in BACKENDS}
    rows = []
    for set_name, (annotation, fmt) in GT_SETS.items():
        for item in load_set(annotation, fmt):
            img = load_image(item["file"])
            persons = item["persons"]
            main = int(np.argmax([box[2] * box[3] for _, _, box in persons]))
            names, kp, _ = persons[main]
            row = {"set": set_name, "image": item["file"].name, "persons": len(persons),
                   "has_face": "nose" in names and "left_eye" in names}
            for rule in ("labelled", "unoccluded"):
                row[f"ref_{rule}"] = reference(names, kp, img.width, img.height, rule)
            deps = {"people": people.extract(img, {}, {})}
            for backend, pose in poses.items():
                out = pose.extract(img, deps, {})
                row[backend] = predicted(out)
                row[f"{backend}_same_person"] = matched_person(out, persons, img.width, img.height) == main
            rows.append(row)
    result: dict = {"sets": {s: {"images": sum(r["set"] == s for r in rows),
                                 "annotated_persons": sum(r["persons"] for r in rows if r["set"] == s),
                                 "keypoints": "17 (COCO, with face)" if any(r["has_face"] for r in rows if r["set"] == s)
                                 else "14-16 (no face; head stands in for the nose)"}
                             for s in GT_SETS},
                    "images": len(rows)}
    result["detected"] = {b: share(sum(r[b]["detected"] for r in rows), len(rows)) for b in BACKENDS}
    result["same_person_as_reference"] = {
        b: share(sum(r[f"{b}_same_person"] for r in rows), len(rows)) for b in BACKENDS}
    for rule in ("labelled", "unoccluded"):
        block: dict = {}
        for key in (*BODY_DESCRIPTORS, *FACE_DESCRIPTORS):
            subset = [r for r in rows if r["has_face"] or key in BODY_DESCRIPTORS]
            variants = {"all": subset}
            if key == "posture":
                variants["reference_known"] = [r for r in subset if r[f"ref_{rule}"]["posture"] != "unknown"]
            for variant, rs in variants.items():
                ref = [r[f"ref_{rule}"][key] for r in rs]
                hits = {b: np.array([r[b][key] == t for r, t in zip(rs, ref, strict=True)], bool) for b in BACKENDS}
                name = key if variant == "all" else f"{key}_{variant}"
                entry = {"n": len(rs), "reference_counts": pd.Series(ref, dtype=object).value_counts().to_dict()}
                entry.update({b: share(int(h.sum()), len(h)) for b, h in hits.items()})
                entry["paired"] = paired(hits["mediapipe"], hits["movenet"])
                block[name] = entry
        result[f"reference_{rule}"] = block
    result["per_image"] = [
        {"set": r["set"], "image": r["image"],
         **{f"ref.{k}": v for k, v in r["ref_labelled"].items()},
         **{f"{b}.{k}": v for b in BACKENDS for k, v in r[b].items()},
         **{f"{b}.same_person": r[f"{b}_same_person"] for b in BACKENDS}}
        for r in rows]
    return result


# --- 2. feed_eval by its labels -------------------------------------------------------------------

def _flag(series: pd.Series) -> np.ndarray:
    return series.astype(object).map(lambda v: False if pd.isna(v) else bool(v)).to_numpy(bool)


def feed_eval_truth(feed: dict[str, pd.DataFrame]) -> dict:
    labels = feed["mediapipe"]
    eye = pd.read_csv(EYE_LABELS, dtype=str, keep_default_na=False)
    out: dict = {}
    checks = {  # name: (images, right answer per image)
        "detected_on_person_images": (labels["photo_type"].isin(["portrait", "full_body", "group"]),
                                      lambda t: _flag(t["pose.detected"])),
        "not_detected_on_scenery_other": (labels["photo_type"].isin(["scenery", "other"]),
                                          lambda t: ~_flag(t["pose.detected"])),
    }
    single = labels["photo_type"].isin(["portrait", "full_body"])
    for name, (mask, answer) in checks.items():
        hits = {b: answer(t)[mask.to_numpy()] for b, t in feed.items()}
        out[name] = {"n": int(mask.sum()), **{b: share(int(h.sum()), len(h)) for b, h in hits.items()},
                     "paired": paired(hits["mediapipe"], hits["movenet"])}
    truth = (labels.loc[single, "photo_type"] == "full_body").to_numpy()
    hits = {b: _flag(t["pose.full_body_visible"])[single.to_numpy()] == truth for b, t in feed.items()}
    out["full_body_visible_vs_photo_type_full_body"] = {
        "n": int(single.sum()), "positives": int(truth.sum()),
        **{b: share(int(h.sum()), len(h)) for b, h in hits.items()},
        "paired": paired(hits["mediapipe"], hits["movenet"]),
        "recall": {b: share(int((_flag(t["pose.full_body_visible"])[single.to_numpy()] & truth).sum()),
                            int(truth.sum())) for b, t in feed.items()}}
    for column, feature in (("facing_camera", "pose.facing_camera"), ("bare_torso", "apparel.bare_torso")):
        decided = eye[eye[column] != ""]
        idx = labels.reset_index().set_index("file").loc[decided["file"], "index"].to_numpy()
        truth = (decided[column] == "true").to_numpy()
        answers = {b: _flag(t[feature]).take(idx) for b, t in feed.items()}
        hits = {b: a == truth for b, a in answers.items()}
        out[f"{column}_vs_eye_labels"] = {
            "n": len(truth), "positives": int(truth.sum()), "undecided": int((eye[column] == "").sum()),
            **{b: share(int(h.sum()), len(h)) for b, h in hits.items()},
            "recall": {b: share(int((a & truth).sum()), int(truth.sum())) for b, a in answers.items()},
            "specificity": {b: share(int((~a & ~truth).sum()), int((~truth).sum())) for b, a in answers.items()},
            "paired": paired(hits["mediapipe"], hits["movenet"])}
    bare = labels["revealing"].astype(str).str.lower() == "true"
    out["skin_share_of_the_2_bare_torso_images"] = {
        b: {"values": [None if v != v else round(float(v), 3) for v in t.loc[bare.to_numpy(), "racy.skin_share"]],
            "rank_among_56_person_images": [
                int(r) for r in t.loc[labels["revealing"].notna().to_numpy(), "racy.skin_share"]
                .rank(ascending=False)[bare[labels["revealing"].notna()].to_numpy()]]}
        for b, t in feed.items()}
    return out


# --- 3. between backends --------------------------------------------------------------------------

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


def agreement(truth, predicted_labels) -> dict:
    hits = np.asarray(truth, dtype=object) == np.asarray(predicted_labels, dtype=object)
    return share(int(hits.sum()), len(hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-between", action="store_true",
                        help="skip the photo_type.csv and sample sets of the between-backends part")
    args = parser.parse_args()
    start = time.perf_counter()
    result: dict = {"benchmark": "pose_backends", "ground_truth": ground_truth()}
    feed = {b: feed_eval_table(extractors(b)) for b in BACKENDS}
    result["feed_eval_186"] = {
        "truth": feed_eval_truth(feed),
        "photo_type_agreement_with_labels": {
            b: agreement(t["photo_type"], t["photo_type.label"]) for b, t in feed.items()},
        "photo_type_paired": paired(*(np.asarray(feed[b]["photo_type"] == feed[b]["photo_type.label"])
                                      for b in BACKENDS)),
        "between_backends": compare(feed["mediapipe"], feed["movenet"]),
    }
    if not args.skip_between:
        labels = pd.read_csv(REPO / "benchmarks" / "labels" / "photo_type.csv")
        paths = [SHARED_DATA / p for p in labels["path"]]
        earlier = {b: run(paths, b) for b in BACKENDS}
        result["photo_type_csv_139"] = {
            "photo_type_agreement_with_labels": {
                b: agreement(labels["label"], t["photo_type.label"].astype(str)) for b, t in earlier.items()},
            "between_backends": compare(earlier["mediapipe"], earlier["movenet"]),
        }
        truth = json.loads((sample_dir() / "truth.json").read_text())
        covers = [sample_dir() / "sample" / p["files"][0] for p in truth["posts"]]
        sample = {b: run(covers, b) for b in BACKENDS}
        truth_labels = [p["label"] for p in truth["posts"]]
        result["sample_61"] = {
            "photo_type_agreement_with_generative_labels": {
                b: agreement(truth_labels, t["photo_type.label"].astype(str)) for b, t in sample.items()},
            "between_backends": compare(sample["mediapipe"], sample["movenet"]),
        }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
