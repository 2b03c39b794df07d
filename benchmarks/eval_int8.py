"""The int8 builds against their float models on real-feed-like photos. Prints one JSON object.

`make models` quantizes the convolutions of NanoDet (``objects``) and OpenNSFW (``racy``) to int8
(docs/models.md). This script runs both precisions on benchmarks/data/feed_eval (186 labelled
real-feed-like images) as the extractors do (the shared 640-px copy of each photo) and reports:

- racy: rank correlation, largest and mean absolute difference of ``nsfw_score``, and whether
  the 5 highest-scored photos are the same;
- objects: per photo, the labels found at the default score threshold; share of photos with
  the same label set, the mean Jaccard overlap, and the person count agreement;
- CPU ms per photo of each model call (one thread).

The accuracy of NanoDet against hand labels is in eval_objects.py (both precisions).

    .venv/bin/python benchmarks/eval_int8.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEED_EVAL  # noqa: E402

from rumaro_lab.extractors import make_extractor  # noqa: E402
from rumaro_lab.extractors.packaged_models import SHARED_SIDE, fit_within  # noqa: E402
from rumaro_lab.images import load_image  # noqa: E402


def timed(fn, x):
    started = time.process_time()
    out = fn(x)
    return out, (time.process_time() - started) * 1000


def main() -> None:
    photos = sorted(FEED_EVAL.glob("feed_*.jpg"))
    smalls = [fit_within(load_image(p).rgb, SHARED_SIDE) for p in photos]
    racy = {True: make_extractor("racy", int8=True), False: make_extractor("racy", int8=False)}
    objects = {True: make_extractor("objects", int8=True), False: make_extractor("objects", int8=False)}
    for int8 in (True, False):  # load the models and warm them up
        racy[int8].ensure_ready()
        racy[int8].nsfw(smalls[0])
        objects[int8].ensure_ready()
        objects[int8].detect(smalls[0])
    scores = {True: [], False: []}
    labels = {True: [], False: []}
    ms = {("racy", True): [], ("racy", False): [], ("objects", True): [], ("objects", False): []}
    for small in smalls:
        for int8 in (True, False):
            score, t = timed(racy[int8].nsfw, small)
            scores[int8].append(score)
            ms[("racy", int8)].append(t)
            found, t = timed(objects[int8].detect, small)
            ms[("objects", int8)].append(t)
            labels[int8].append([d["label"] for d in found])
    a, b = np.array(scores[True]), np.array(scores[False])
    sets = [(set(x), set(y)) for x, y in zip(labels[True], labels[False], strict=True)]
    jaccard = [len(x & y) / len(x | y) if x | y else 1.0 for x, y in sets]
    persons = [x.count("person") == y.count("person")
               for x, y in zip(labels[True], labels[False], strict=True)]
    print(json.dumps({
        "benchmark": "int8_vs_float",
        "photos": {"set": "benchmarks/data/feed_eval", "n": len(photos),
                   "input": "the shared 640-px copy, as the extractors see it"},
        "racy.nsfw_score": {
            "spearman": round(float(spearmanr(a, b)[0]), 4),
            "max_abs_diff": round(float(np.abs(a - b).max()), 4),
            "mean_abs_diff": round(float(np.abs(a - b).mean()), 4),
            "same_top5": sorted(np.argsort(-a)[:5].tolist()) == sorted(np.argsort(-b)[:5].tolist()),
        },
        "objects": {
            "min_score": objects[True].min_score,
            "same_label_set": round(float(np.mean([x == y for x, y in sets])), 4),
            "mean_jaccard": round(float(np.mean(jaccard)), 4),
            "same_person_count": round(float(np.mean(persons)), 4),
            "labels_int8": sum(map(len, labels[True])), "labels_float": sum(map(len, labels[False])),
        },
        "cpu_ms_median": {f"{name}_{'int8' if int8 else 'float'}": round(float(np.median(v)), 1)
                          for (name, int8), v in ms.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
