"""Speed of the default local set on real-aspect photos: a per-stage profile, the bare-model floor
and the runner's rate. Prints one JSON object.

Photos: 24 images of benchmarks/data/feed_eval (4 of each photo type: portrait, full_body,
group, scenery, other, graphic), centre-cropped to Instagram's shapes, alternately 4:5
(1080 x 1350) and 1:1 (1080 x 1080), upscaled where needed, saved as JPEG quality 90.

1. **Profile** (one process, one thread per model, after a warm-up, CPU time of this process so
   that other jobs on the machine inflate it as little as possible): per image, decoding and
   hashing (`load_image`), the shared 640-px resize, and for each extractor its whole ``extract``
   call and the time spent inside its model calls (onnxruntime ``run``, MediaPipe ``process``,
   LiteRT ``invoke``: the calls are timed in place by wrapping the loaded model objects). The
   *bare-model floor* is the sum of the model calls: what an image costs if nothing but the
   models ran. ``overhead_ratio`` = everything / floor.
   ``person_gate_closed``: on how many photos the person gate skipped the person models
   (`rumaro_lab.extractors.person_gate`).
2. **Runner** (``extract_account``, cold cache, ``--workers`` processes, ``--posts`` posts made of
   those photos, each file distinct): images/s by the wall clock, and the CPU time of the whole
   run (this process + the worker processes' CPU on the images, which the runner reports, model
   loading included, + the forkserver's, which imports the model runtimes once for the workers)
   turned into the rate that many idle cores would give
   (``cpu_projected_images_per_s``; process start-up is not in it). ``of_floor`` = rate / (cores / floor).
   Targets (issue 16): >= 14 images/s on 2 cores, cold cache, >= 0.7 of the floor.

The machine's load average is printed at the start and the end: when other jobs run, wall-clock
rates are low and the CPU-time figures are the ones to compare.

    .venv/bin/python benchmarks/bench_local.py [--posts 200] [--workers 2] [--images 24]
        [--pose-backend mediapipe|movenet] [--option NAME.OPTION=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEED_EVAL, REPO, build_account  # noqa: E402

from rumaro_lab.extractors import DEFAULT_EXTRACTORS, make_extractor  # noqa: E402
from rumaro_lab.extractors.options import parse_options, with_options  # noqa: E402
from rumaro_lab.extractors.packaged_models import shared_fit  # noqa: E402
from rumaro_lab.extractors.person_gate import nobody_seen  # noqa: E402
from rumaro_lab.extractors.plan import plan_extractors  # noqa: E402
from rumaro_lab.images import load_image  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402

SHAPES = ((1080, 1350), (1080, 1080))  # (width, height): 4:5 and 1:1
TYPES = ("portrait", "full_body", "group", "scenery", "other", "graphic")


def make_photos(folder: Path, n: int) -> list[Path]:
    labels = pd.read_csv(FEED_EVAL / "labels.csv")
    picked = [f for i in range(n) for t in TYPES
              if len(files := labels.loc[labels["photo_type"] == t, "file"].tolist()) > i
              for f in [files[i]]][:n]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(picked):
        rgb = np.asarray(Image.open(FEED_EVAL / name).convert("RGB"))
        width, height = SHAPES[i % 2]
        h, w = rgb.shape[:2]
        scale = max(width / w, height / h)
        big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        y0, x0 = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
        path = folder / f"{i:02d}.jpg"
        Image.fromarray(big[y0:y0 + height, x0:x0 + width]).save(path, quality=90)
        paths.append(path)
    return paths


class _Timed:
    """A loaded model object whose run / process / invoke calls add their CPU time to `clock`."""

    METHODS = ("run", "process", "invoke")

    def __init__(self, target, clock: list[float]):
        self._target, self._clock = target, clock

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if name not in self.METHODS:
            return value

        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return value(*args, **kwargs)
            finally:
                self._clock[0] += time.process_time() - start
        return timed


def _instrument(extractor, clock: list[float]) -> None:
    """Wrap every model object the extractor loaded (attributes, or lists of them)."""
    def is_model(obj) -> bool:
        return any(callable(getattr(obj, m, None)) for m in _Timed.METHODS) and not isinstance(
            obj, (str, bytes, dict))
    for key, value in list(vars(extractor).items()):
        if key in ("settings", "config"):
            continue
        if isinstance(value, list) and value and all(is_model(v) for v in value):
            setattr(extractor, key, [_Timed(v, clock) for v in value])
        elif is_model(value) and not callable(value):
            setattr(extractor, key, _Timed(value, clock))


def profile(paths: list[Path], repeat: int, options: dict | None = None) -> dict:
    from rumaro_lab.extractors.backends import _limit_native_threads

    _limit_native_threads()  # as in a worker process: one OpenCV thread
    plan = plan_extractors(list(DEFAULT_EXTRACTORS))
    clocks = {s.name: [0.0] for s in plan.steps}
    extractors = {}
    for step in plan.steps:
        ex = make_extractor(step.name, **(options or {}).get(step.name, {}))
        ex.ensure_ready()
        _instrument(ex, clocks[step.name])
        extractors[step.name] = ex
    per = {n: {"extract": [], "model": []} for n in extractors}
    decode, resize = [], []
    gate_closed = 0
    for path in paths:
        for _ in range(repeat + 1):  # the first pass is a warm-up, not recorded
            t0 = time.process_time()
            image = load_image(path)
            t1 = time.process_time()
            shared_fit(image, 640)  # the one resize faces, pose, text and racy then share
            t2 = time.process_time()
            deps: dict = {}
            row = {}
            for name, ex in extractors.items():
                clocks[name][0] = 0.0
                start = time.process_time()
                step = plan.step(name)
                deps[name] = ex.check_output(ex.extract(image, {d: deps[d] for d in step.deps}, {}))
                row[name] = (time.process_time() - start, clocks[name][0])
            if _ == 0:
                gate_closed += nobody_seen(deps)
            if _ > 0:
                decode.append(t1 - t0)
                resize.append(t2 - t1)
                for name, (e, m) in row.items():
                    per[name]["extract"].append(e)
                    per[name]["model"].append(m)
    ms = lambda values: round(1000 * statistics.mean(values), 2)  # noqa: E731
    stages = {n: {"extract_ms": ms(v["extract"]), "model_ms": ms(v["model"])} for n, v in per.items()}
    floor = sum(s["model_ms"] for s in stages.values())
    total = ms(decode) + sum(s["extract_ms"] for s in stages.values())
    return {"decode_and_hash_ms": ms(decode), "resize_640_ms": ms(resize),
            "extractors": stages, "bare_model_floor_ms": round(floor, 1),
            "everything_ms": round(total, 1), "overhead_ratio": round(total / floor, 3),
            "person_gate_closed": f"{gate_closed} of {len(paths)} photos",
            "note": "mean CPU ms per image over the photos and repeats (one thread per model)"}


def runner(paths: list[Path], posts: int, workers: int, tmp: Path, floor_ms: float,
           options: dict | None = None) -> dict:
    from rumaro_lab.extractors.runner import extract_account

    settings = Settings(_env_file=None, data_dir=tmp / "data", cache_dir=tmp / "cache",
                        models_dir=REPO / "models", workers=workers)
    n = build_account(settings, "bench_local", posts, paths[0].parent)
    main0 = time.process_time()
    names = with_options(DEFAULT_EXTRACTORS, options or {})
    summary = extract_account("bench_local", settings, extractors=names,
                              workers=workers, progress=False)
    # the workers' CPU (reported per image by the runner, model loading included) + this process
    # + the forkserver's (it imports the model runtimes once for the workers)
    cpu = summary.worker_cpu_seconds + (time.process_time() - main0) + _forkserver_cpu()
    floor_rate = workers / (floor_ms / 1000)
    projected = n / (cpu / workers)
    return {"posts": n, "workers": workers, "extractors": list(summary.extractors),
            "failed": summary.n_failed, "seconds": round(summary.seconds, 2),
            "images_per_s": round(summary.images_per_s, 2),
            "cpu_seconds": round(cpu, 1), "cpu_ms_per_image": round(1000 * cpu / n, 1),
            "cpu_projected_images_per_s": round(projected, 2),
            "floor_images_per_s": round(floor_rate, 2),
            "of_floor_wall": round(summary.images_per_s / floor_rate, 3),
            "of_floor_cpu": round(projected / floor_rate, 3)}


def _forkserver_cpu() -> float:
    """CPU seconds of multiprocessing's forkserver (alive until this process ends), 0 if none."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-runner", action="store_true")
    parser.add_argument("--pose-backend", choices=("mediapipe", "movenet"), default=None,
                        help="pose's backend (default: pose's own default); = --option pose.backend=B")
    parser.add_argument("--option", action="append", default=[], metavar="NAME.OPTION=VALUE",
                        help="an extractor option, as `rumaro extract --option` takes it (repeatable)")
    args = parser.parse_args()
    items = args.option + ([f"pose.backend={args.pose_backend}"] if args.pose_backend else [])
    options = parse_options(items)
    result = {"benchmark": "bench_local", "cpu_count": os.cpu_count(),
              "pose_backend": options.get("pose", {}).get("backend",
                                                          make_extractor("pose").config["backend"]),
              "options": items,
              "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="rumaro-bench-local-") as tmp:
        tmp = Path(tmp)
        paths = make_photos(tmp / "photos", args.images)
        result["photos"] = {"n": len(paths), "shapes": ["1080x1350", "1080x1080"],
                            "source": "benchmarks/data/feed_eval, 4 per photo type"}
        result["profile"] = profile(paths, args.repeat, options)
        if not args.skip_runner:
            run = runner(paths, args.posts, args.workers, tmp, result["profile"]["bare_model_floor_ms"],
                         options)
            result["runner"] = run
            result["targets"] = {"at_least_14_images_per_s": run["images_per_s"] >= 14,
                                 "at_least_0.7_of_floor": run["of_floor_wall"] >= 0.7,
                                 "cpu_projected_at_least_14": run["cpu_projected_images_per_s"] >= 14,
                                 "cpu_projected_at_least_0.7_of_floor": run["of_floor_cpu"] >= 0.7}
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
