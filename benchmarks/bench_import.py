"""Import speed: posts per second for the bundled sample and for a large synthetic instaloader folder.

The large folder repeats the sample's files under new dates (N copies), so it has the file count
of a real account with thousands of posts. Prints JSON. Usage:

    .venv/bin/python benchmarks/bench_import.py [--copies 20]
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rumaro_lab.posts.importing import import_path, import_sample, sample_dir
from rumaro_lab.settings import Settings


def _big_folder(target: Path, copies: int) -> int:
    source = sample_dir() / "sample"
    target.mkdir(parents=True)
    n = 0
    for copy in range(copies):
        for meta in sorted(source.glob("*_UTC.json.xz")):
            base = meta.name.removesuffix(".json.xz")
            stamp = datetime.strptime(base, "%Y-%m-%d_%H-%M-%S_UTC").replace(tzinfo=UTC) + timedelta(days=800 * copy)
            new = stamp.strftime("%Y-%m-%d_%H-%M-%S_UTC")
            with lzma.open(meta, "rt") as handle:
                data = json.load(handle)
            data["node"]["id"] = f"{data['node']['id']}{copy}"
            data["node"]["taken_at_timestamp"] = int(stamp.timestamp())
            (target / f"{new}.json.xz").write_bytes(lzma.compress(json.dumps(data).encode()))
            for image in source.glob(f"{base}*.jpg"):
                shutil.copy(image, target / image.name.replace(base, new))
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data")
        start = time.perf_counter()
        summary = import_sample(settings)
        results["sample"] = {"posts": summary.n_posts, "seconds": round(time.perf_counter() - start, 3)}
        start = time.perf_counter()
        again = import_sample(settings)  # raw files already there and identical
        results["sample_reimport"] = {"posts": again.n_posts, "seconds": round(time.perf_counter() - start, 3)}

        folder = Path(tmp) / "big" / "bigaccount"
        n = _big_folder(folder, args.copies)
        start = time.perf_counter()
        big = import_path(folder, settings)
        seconds = time.perf_counter() - start
        results["large_folder"] = {"posts": big.n_posts, "expected": n, "skipped": big.n_skipped,
                                   "seconds": round(seconds, 2), "posts_per_s": round(big.n_posts / seconds, 1)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
