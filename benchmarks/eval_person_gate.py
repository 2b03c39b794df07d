"""The person gate against running every person model on every photo. Prints one JSON object.

The gate (`rumaro_lab.extractors.person_gate`) skips the faces' tiles, MoveNet (``people``) and
MediaPipe Pose (``pose``) on photos where NanoDet saw no person box scoring 0.2 or more and no
face was found. This script runs the default set twice through the runner, with the gate (the
default) and with ``person_gate=False`` on the three extractors, and reports per data set:

- ``images``, ``gate_closed`` (photos where it skipped the person models) and, on feed_eval,
  how many of each hand-labelled photo type;
- ``changed``: photos whose person answers differ (``people.count``, ``pose.detected``,
  ``faces.count``, ``photo_type.label``), each with ``person``: whether a person is in it, from
  feed_eval's labels (portrait / full_body / group, or a face counted) or, for the other sets,
  from benchmarks/labels/person_gate_by_eye.csv (each changed photo looked at; null: not
  looked at yet). ``changed_with_person`` counts the persons the gate lost;
- ``lowest_person_score_without_face``: on photos known to show a person (feed_eval's person
  labels; every photo of interfaces_cc0 and mmpose_keypoints), the lowest
  ``objects.person_max_score`` where an ungated person model found someone and no face was
  found: the margin above 0.2 of the photos that only the gate's NanoDet score lets through.

Sets: benchmarks/data/feed_eval (186, labelled), the bundled sample (62), and where ../shared/data
is present: interfaces_cc0 (100 CC0 portraits), mmpose_keypoints (19), pd_demo_images,
spacex_instaloader and the first 150 garment photos of clothing_small_cc0 (hangers, flat lays,
models). The CPU time saved is measured by bench_local.py.

    .venv/bin/python benchmarks/eval_person_gate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEED_EVAL, REPO, SHARED_DATA  # noqa: E402

from rumaro_lab.extractors import DEFAULT_EXTRACTORS, make_extractor  # noqa: E402
from rumaro_lab.extractors.person_gate import PERSON_GATE_SCORE, nobody_seen  # noqa: E402
from rumaro_lab.extractors.runner import extract_images  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402

GATED = ("faces", "people", "pose")
ANSWERS = ("people.count", "pose.detected", "faces.count", "photo_type.label")
PERSON_TYPES = ("portrait", "full_body", "group")
#: sets whose every photo shows a person
PERSON_SETS = ("interfaces_cc0", "mmpose_keypoints")
BY_EYE = REPO / "benchmarks" / "labels" / "person_gate_by_eye.csv"


def data_sets() -> dict[str, list[Path]]:
    sets = {"feed_eval": sorted(FEED_EVAL.glob("*.jpg")),
            "sample": sorted((REPO / "data" / "sample").rglob("*.jpg"))}
    for name, limit in (("interfaces_cc0", None), ("mmpose_keypoints", None),
                        ("pd_demo_images", None), ("spacex_instaloader", None),
                        ("clothing_small_cc0", 150)):
        files = sorted((SHARED_DATA / name).rglob("*.jpg"))[:limit]
        if files:
            sets[name] = files
    return sets


def features(paths: list[Path], gate: bool) -> pd.DataFrame:
    settings = Settings(_env_file=None, cache_dir=REPO / ".cache" / "bench",
                        models_dir=REPO / "models", workers=2)
    names = [make_extractor(n, person_gate=False) if n in GATED and not gate else n
             for n in DEFAULT_EXTRACTORS]
    table = extract_images(paths, settings, extractors=names, progress=False)
    return table.set_index("image")


def person_truth(name: str, images, labels: pd.DataFrame) -> pd.Series:
    """Whether each photo shows a person, where known (feed_eval labels, person sets, by eye)."""
    by_eye = pd.read_csv(BY_EYE)
    by_eye = by_eye[by_eye["set"] == name].set_index("image")["person"]
    truth = {}
    for image in images:
        file = Path(image).name
        if name == "feed_eval":
            row = labels.loc[file]
            truth[image] = bool(row["photo_type"] in PERSON_TYPES or row["n_faces"] > 0)
        elif name in PERSON_SETS:
            truth[image] = True
        else:
            truth[image] = bool(by_eye[file]) if file in by_eye.index else None
    return pd.Series(truth, dtype="boolean")


def compare(name: str, paths: list[Path], labels: pd.DataFrame) -> dict:
    on, off = features(paths, True), features(paths, False)
    off = off.loc[on.index]
    closed = _closed(on)
    out: dict = {"images": len(on), "gate_closed": int(closed.sum())}
    label = pd.Series([labels["photo_type"].get(Path(p).name) for p in on.index], index=on.index)
    person = person_truth(name, on.index, labels)
    if label.notna().any():
        out["gate_closed_by_label"] = label[closed].value_counts().sort_index().to_dict()
        out["labelled"] = label.value_counts().sort_index().to_dict()
    changed = []
    for image in on.index:
        diffs = {col: [_plain(off.at[image, col]), _plain(on.at[image, col])] for col in ANSWERS
                 if not _same(on.at[image, col], off.at[image, col])}
        if diffs:
            changed.append({"image": Path(image).name, "label": label.get(image),
                            "person": _plain(person[image]), "ungated_then_gated": diffs})
    out["changed"] = changed
    out["changed_with_person"] = sum(c["person"] is True for c in changed)
    out["changed_not_looked_at"] = sum(c["person"] is None for c in changed)
    found = (off["people.count"].fillna(0) > 0) | off["pose.detected"].fillna(False).astype(bool)
    no_face = off["faces.count"].fillna(0) == 0
    scores = on.loc[found & no_face & person.fillna(False).astype(bool), "objects.person_max_score"]
    out["lowest_person_score_without_face"] = (
        {"score": round(float(scores.min()), 3), "image": Path(scores.idxmin()).name,
         "label": label.get(scores.idxmin())} if len(scores) else None)
    return out


def _closed(on: pd.DataFrame) -> pd.Series:
    """Where the gate skipped the person models: `nobody_seen` itself on the gated run's columns
    (what pose saw: objects, faces and people)."""
    def deps(row) -> dict:
        return {name: {key: _plain(row[f"{name}.{key}"])}
                for name, key in (("objects", "person_max_score"), ("faces", "count"),
                                  ("people", "count"))}
    return pd.Series([nobody_seen(deps(row)) for _, row in on.iterrows()], index=on.index)


def _same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b) and a == b)


def _plain(value):
    return None if pd.isna(value) else value.item() if hasattr(value, "item") else value


def main() -> None:
    labels = pd.read_csv(FEED_EVAL / "labels.csv").set_index("file")
    sets = data_sets()
    result = {"benchmark": "eval_person_gate", "person_gate_score": PERSON_GATE_SCORE,
              "sets": {name: compare(name, paths, labels) for name, paths in sets.items()}}
    result["images"] = sum(s["images"] for s in result["sets"].values())
    result["gate_closed"] = sum(s["gate_closed"] for s in result["sets"].values())
    for key in ("changed_with_person", "changed_not_looked_at"):
        result[key] = sum(s[key] for s in result["sets"].values())
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
