"""Helpers shared by the benchmark scripts: a benchmark account and a cheap real extractor."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from rumaro_lab.extractors.base import Extractor
from rumaro_lab.extractors.schema import continuous, count
from rumaro_lab.posts.schema import write_posts

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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


def build_account(settings, account: str, n_posts: int, source: Path) -> int:
    """`n_posts` single-image posts from the jpgs in `source`, each file distinct in bytes.

    Copies are tagged after the JPEG end marker (decoders ignore it), so every post has its own
    sha256 and a cold run really computes every image, as with a real account.
    """
    images = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not images:
        raise SystemExit(f"no images in {source}")
    raw = settings.raw_dir(account)
    raw.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_posts):
        src = images[i % len(images)]
        target = raw / f"{i:05d}{src.suffix.lower()}"
        if i < len(images):
            shutil.copyfile(src, target)
        else:
            target.write_bytes(src.read_bytes() + f"rumaro-bench-{i}".encode())
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
