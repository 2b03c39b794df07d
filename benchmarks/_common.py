"""Helpers shared by the benchmark scripts: a benchmark account and a cheap real extractor."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from rumaro_lab.extractors.base import Extractor
from rumaro_lab.extractors.schema import continuous, count
from rumaro_lab.posts.schema import write_posts

REPO = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout, or $RUMARO_SHARED_DIR/data (as the tests)
SHARED_DATA = Path(os.environ.get("RUMARO_SHARED_DIR", REPO.parent / "shared")) / "data"


class BenchStats(Extractor):
    """Brightness, contrast, saturation and sharpness with numpy: cheap, real, no model.

    Used when the `image` extractor (issue 5) is not installed, so that the runner's own cost
    can be measured against real per-image work.
    """

    name, version = "bench_stats", "1"
    features = {"brightness": continuous("mean luma", unit="0..1"),
                "contrast": continuous("luma standard deviation", unit="0..1"),
                "saturation": continuous("mean saturation", unit="0..1"),
                "sharpness": continuous("Laplacian variance"),
                "width": count("width", unit="px"), "height": count("height", unit="px")}

    def extract(self, image, deps, post):
        rgb = image.rgb.astype(np.float32) / 255.0
        grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        top, bottom = rgb.max(axis=2), rgb.min(axis=2)
        saturation = np.where(top > 0, (top - bottom) / np.maximum(top, 1e-6), 0.0)
        laplacian = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1]
                     - 4 * grey[1:-1, 1:-1])
        return {"brightness": float(grey.mean()), "contrast": float(grey.std()),
                "saturation": float(saturation.mean()), "sharpness": float(laplacian.var()),
                "width": image.width, "height": image.height}


def build_account(settings, account: str, n_posts: int, source: Path, first: int = 0) -> int:
    """`n_posts` single-image posts from the jpgs in `source`, each file distinct in bytes.

    Copies are tagged after the JPEG end marker (decoders ignore it), so every post has its own
    sha256 and a cold run really computes every image, as with a real account. `first` is the
    number of posts already made from `source` for other accounts of the same run: numbering
    continues from there, so no two accounts share a file either.
    """
    images = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not images:
        raise SystemExit(f"no images in {source}")
    raw = settings.raw_dir(account)
    raw.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_posts):
        k = first + i
        src = images[k % len(images)]
        target = raw / f"{i:05d}{src.suffix.lower()}"
        if k < len(images):
            shutil.copyfile(src, target)
        else:
            target.write_bytes(src.read_bytes() + f"rumaro-bench-{k}".encode())
        rows.append({"account": account, "post_id": str(i), "likes": i, "comments": i // 10,
                     "media_type": "image",
                     "media": [target.relative_to(settings.data_dir).as_posix()]})
    write_posts(pd.DataFrame(rows), settings.posts_path(account))
    return len(rows)


def pck_correct(pred_px: np.ndarray, truth: np.ndarray, bbox, threshold: float = 0.2,
                pred_visible: np.ndarray | None = None) -> tuple[int, int]:
    """PCK, the one definition every benchmark uses: (correct, labelled) keypoints of one person.

    A labelled keypoint (v > 0) is correct when the prediction (x, y in pixels) lies within
    `threshold` x max(box width, box height) of the annotated person's box; a prediction marked
    not visible (`pred_visible` False) counts as a miss.
    """
    labelled = truth[:, 2] > 0
    limit = threshold * max(bbox[2], bbox[3])
    ok = np.hypot(pred_px[:, 0] - truth[:, 0], pred_px[:, 1] - truth[:, 1]) <= limit
    if pred_visible is not None:
        ok &= pred_visible
    return int((ok & labelled).sum()), int(labelled.sum())


FEED_EVAL = REPO / "benchmarks" / "data" / "feed_eval"
#: target real-feed mix / observed share of each photo type in feed_eval (its README)
FEED_WEIGHTS = {"graphic": 0.775, "portrait": 0.93, "full_body": 3.49, "group": 2.79,
                "scenery": 0.80, "other": 0.69}


def feed_eval_table(extractors=None, workers: int = 2, cache_dir: Path | None = None) -> pd.DataFrame:
    """labels.csv of benchmarks/data/feed_eval joined with the features of its 186 images.

    Extracted through the runner (the default set unless `extractors`), cached in
    ``.cache/bench`` so that the eval scripts share one extraction.
    """
    from rumaro_lab.extractors.runner import extract_images
    from rumaro_lab.settings import Settings

    labels = pd.read_csv(FEED_EVAL / "labels.csv")
    settings = Settings(_env_file=None, cache_dir=cache_dir or REPO / ".cache" / "bench",
                        models_dir=REPO / "models", workers=workers)
    table = extract_images([FEED_EVAL / f for f in labels["file"]], settings,
                           extractors=extractors, progress=False)
    table.insert(0, "file", [Path(p).name for p in table["image"]])
    return labels.merge(table, on="file", validate="one_to_one")


def proportion_ci(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """Wilson 95% interval of k successes out of n."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(float(centre - half), 3), round(float(centre + half), 3)]
