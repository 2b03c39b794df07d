"""Photo-type accuracy on the hand-labelled set benchmarks/labels/photo_type.csv. Prints JSON.

The labels were given by looking at each image (contact sheets): 39 images from
../shared/data (public-domain / CC0 scikit-image photos, SpaceX posts, mmpose COCO/OCHuman/MPII/
CrowdPose/AIC/MHP test images, 2 DeepFashion2 samples) plus the 100 CC0 portraits of
interfaces_cc0 (all head-and-shoulders: reported separately so they don't flatter the total).

Variants: ``faces+pose`` (the rules without optional inputs) and, when the MoveNet / NanoDet
models are built (``make models``), ``+people+objects``.

    .venv/bin/python benchmarks/eval_photo_type.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA  # noqa: E402

from rumaro_lab.extractors import make_extractor  # noqa: E402
from rumaro_lab.extractors.photo_type import LABELS  # noqa: E402
from rumaro_lab.images import load_image  # noqa: E402

LABELS_CSV = Path(__file__).resolve().parent / "labels" / "photo_type.csv"


def summarise(table: pd.DataFrame, column: str) -> dict:
    hits = table["label"] == table[column]
    confusion = pd.crosstab(table["label"], table[column]).reindex(
        index=list(LABELS), columns=list(LABELS), fill_value=0)
    per_class = {lab: {"n": int((table["label"] == lab).sum()),
                       "recall": round(float(hits[table["label"] == lab].mean()), 3)
                       if (table["label"] == lab).any() else None} for lab in LABELS}
    return {"n": len(table), "accuracy": round(float(hits.mean()), 3), "per_class": per_class,
            "confusion_rows_truth_cols_predicted": confusion.to_dict(orient="index"),
            "errors": table.loc[~hits, ["path", "label", column]].values.tolist()}


def main() -> None:
    start = time.perf_counter()
    labels = pd.read_csv(LABELS_CSV)
    names = ["faces", "pose", "photo_type"]
    optional = []
    for name in ("people", "objects"):
        ex = make_extractor(name)
        if ex.availability().ok:
            optional.append(name)
    extractors = {n: make_extractor(n) for n in names[:2] + optional + ["photo_type"]}
    for ex in extractors.values():
        ex.ensure_ready()
    typer = extractors["photo_type"]
    predictions = {"faces+pose": [], "with_optional": []}
    for path in labels["path"]:
        image = load_image(SHARED_DATA / path)
        deps = {}
        for name, ex in extractors.items():
            if name != "photo_type":
                deps[name] = ex.check_output(ex.extract(image, deps, {}))
        base = {k: deps[k] for k in ("faces", "pose")}
        predictions["faces+pose"].append(typer.extract(image, base, {})["label"])
        predictions["with_optional"].append(typer.extract(image, deps, {})["label"])
    labels["faces+pose"] = predictions["faces+pose"]
    labels["with_optional"] = predictions["with_optional"]
    portraits = labels["source"] == "interfaces_cc0"
    result = {"benchmark": "photo_type", "labels": str(LABELS_CSV.name),
              "optional_inputs": optional}
    for column in ("faces+pose", "with_optional"):
        result[column] = {
            "mixed_39": summarise(labels[~portraits], column),
            "interfaces_cc0_100_portraits": {
                "accuracy": round(float((labels.loc[portraits, column] == "portrait").mean()), 3)},
            "all": {"n": len(labels),
                    "accuracy": round(float((labels["label"] == labels[column]).mean()), 3)},
        }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
