"""Extraction throughput: images/s cold and warm (all cached), cache look-ups/s, runner overhead.

Prints one JSON object. Default input: a temporary account of 1,000 posts built from
../shared/data/interfaces_cc0 (100 real 500x500 photos, each copy made distinct in bytes so a
cold run computes every one). Extractor: `image` when it can run here, else a built-in numpy
statistics extractor (`bench_stats`): cheap but real work, so the runner's own cost shows.

    .venv/bin/python benchmarks/bench_extract.py                   # defaults
    .venv/bin/python benchmarks/bench_extract.py --posts 300 --source DIR --workers 2

Targets (issue 4): warm re-run of 1,000 posts < 3 s end to end; >= 20,000 cache look-ups/s;
runner overhead (everything but decoding and extractor calls) < 10% of a cold run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA, BenchStats, build_account  # noqa: E402

from rumaro_lab.errors import RumaroError  # noqa: E402
from rumaro_lab.extractors.cache import CacheKey, FeatureCache  # noqa: E402
from rumaro_lab.extractors.runner import extract_account, plan_extractors  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402

ACCOUNT = "bench"


def pick_extractors(settings, wanted: str | None):
    if wanted:
        return [w.strip() for w in wanted.split(",")], wanted
    try:
        plan_extractors(["image"], settings)
        return ["image"], "image"
    except RumaroError:
        return [BenchStats], "bench_stats (built-in: `image` can't run here)"


def run(settings, extractors, workers):
    summary = extract_account(ACCOUNT, settings, extractors=extractors, workers=workers,
                              progress=False)
    busy = summary.decode_seconds + summary.extract_seconds
    return {
        "seconds": round(summary.seconds, 3),
        "images_per_s": round(summary.images_per_s, 1),
        "computed": summary.computed,
        "cache_hits": summary.cache_hits,
        "failed": summary.n_failed,
        "decode_and_extract_seconds": round(busy, 3),
        # share of the wall time spent on anything but decoding and extractor calls
        # (workers x wall time is the capacity; meaningless when nothing was computed)
        "overhead_share": (round(max(0.0, 1 - busy / (summary.seconds * workers)), 4)
                           if summary.computed else None),
    }


def end_to_end(settings, extractors) -> float:
    """A fresh interpreter doing the warm re-run: imports, settings, hashing, cache, parquet."""
    names = [e if isinstance(e, str) else e.__name__ for e in extractors]
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from _common import BenchStats\n"
        "from rumaro_lab.extractors.runner import extract_account\n"
        "from rumaro_lab.settings import Settings\n"
        f"s = Settings(_env_file=None, data_dir={str(settings.data_dir)!r}, "
        f"cache_dir={str(settings.cache_dir)!r})\n"
        f"ex = [BenchStats if n == 'BenchStats' else n for n in {names!r}]\n"
        f"r = extract_account({ACCOUNT!r}, s, extractors=ex, progress=False)\n"
        "assert r.computed == 0, r\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def lookups_per_s(folder: Path, n: int = 50_000) -> dict:
    """Batched look-ups of `n` distinct keys in a cache holding them (realistic values)."""
    with FeatureCache(folder / "lookup.sqlite") as cache:
        value = {"brightness": 0.51234, "contrast": 0.2231, "dominant_color": "#a0b0c0",
                 "count": 2, "boxes": [[0.1, 0.2, 0.3, 0.4, 0.99]]}
        keys = [CacheKey(f"{i:064x}", "image", "1", "0" * 64) for i in range(n)]
        cache.put_many((k, value, None) for k in keys)
    with FeatureCache(folder / "lookup.sqlite") as cache:  # a fresh connection, as a run has
        start = time.perf_counter()
        found = cache.get_many(keys)
        seconds = time.perf_counter() - start
    assert len(found) == n
    return {"keys": n, "seconds": round(seconds, 3), "lookups_per_s": round(n / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--source", type=Path, default=SHARED_DATA / "interfaces_cc0")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--extractors", help="comma-separated names (default: image or built-in)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rumaro-bench-") as tmp:
        tmp = Path(tmp)
        base = Settings(_env_file=None, data_dir=tmp / "data", cache_dir=tmp / "cache-parallel",
                        workers=args.workers)
        n = build_account(base, ACCOUNT, args.posts, args.source)
        extractors, label = pick_extractors(base, args.extractors)

        cold_parallel = run(base, extractors, args.workers)
        warm = run(base, extractors, args.workers)
        warm_e2e = end_to_end(base, extractors)
        inline = base.model_copy(update={"cache_dir": tmp / "cache-inline"})
        cold_inline = run(inline, extractors, 1)
        result = {
            "benchmark": "extract",
            "posts": n,
            "source": str(args.source),
            "extractors": label,
            "workers": args.workers,
            "cpu_count": os.cpu_count(),
            "cold": cold_parallel,
            "cold_one_worker": cold_inline,
            "warm": warm,
            "warm_end_to_end_seconds": round(warm_e2e, 3),
            "cache_lookups": lookups_per_s(tmp),
            "targets": {
                "warm_end_to_end_under_3s": warm_e2e < 3.0,
                "lookups_at_least_20000_per_s": None,
                "overhead_under_10pct_of_cold_run": cold_inline["overhead_share"] < 0.10,
            },
        }
        result["targets"]["lookups_at_least_20000_per_s"] = (
            result["cache_lookups"]["lookups_per_s"] >= 20_000
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
