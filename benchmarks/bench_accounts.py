"""Many accounts, one pool: 20 accounts x 10 posts against one account of 200 posts. Prints JSON.

Every run is cold (its own empty cache) on the same 200 distinct images (real-aspect photos made
from benchmarks/data/feed_eval as in bench_local.py, each file distinct in bytes):

- ``one_account``: `extract_account` on one 200-post account;
- ``accounts_one_run``: `extract_accounts` on 20 accounts of 10 posts (what `rumaro extract A B ...`
  and `rumaro batch` do): one plan, one pool, models loaded once per worker;
- ``accounts_one_by_one`` (for contrast): `extract_account` called 20 times (a new pool, and the
  models loaded again, for every account), skipped with ``--no-contrast``;
- with ``--dask``, the first two again on a local Dask cluster (2 worker processes, 1 thread each).

Goal (issue 16): ``accounts_one_run`` <= 1.3 x ``one_account``, on the local pool and on Dask.

    .venv/bin/python benchmarks/bench_accounts.py [--workers 2] [--extractors image,faces] [--dask]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, build_account  # noqa: E402
from bench_local import make_photos  # noqa: E402

from rumaro_lab.extractors import DEFAULT_EXTRACTORS  # noqa: E402
from rumaro_lab.extractors.runner import extract_account, extract_accounts  # noqa: E402
from rumaro_lab.settings import Settings  # noqa: E402


def make_accounts(settings: Settings, photos: Path, layout: dict[str, int]) -> list[str]:
    """Accounts named in `layout` (name -> posts) from the photos in `photos`, no file shared."""
    made = 0
    for account, n in layout.items():
        made += build_account(settings, account, n, photos, first=made)
    return list(layout)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extractors", default=None, help="comma-separated (default: the default set)")
    parser.add_argument("--dask", action="store_true")
    parser.add_argument("--no-contrast", action="store_true")
    args = parser.parse_args()
    extractors = args.extractors.split(",") if args.extractors else list(DEFAULT_EXTRACTORS)
    result = {"benchmark": "bench_accounts", "workers": args.workers, "extractors": extractors,
              "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="rumaro-bench-accounts-") as tmp:
        tmp = Path(tmp)
        photos = make_photos(tmp / "photos", 24)
        settings = Settings(_env_file=None, data_dir=tmp / "data", models_dir=REPO / "models",
                            workers=args.workers, cache_dir=tmp / "cache0")
        single = make_accounts(settings, photos[0].parent, {"big": 200})
        many = make_accounts(settings, photos[0].parent, {f"acc{i:02d}": 10 for i in range(20)})

        def fresh(label: str) -> Settings:
            shutil.rmtree(tmp / label, ignore_errors=True)
            return settings.model_copy(update={"cache_dir": tmp / label})

        runs = {
            "one_account": lambda s=None: extract_account(single[0], fresh("c1"), extractors=extractors,
                                                          progress=False),
            "accounts_one_run": lambda s=None: extract_accounts(many, fresh("c2"), extractors=extractors,
                                                                progress=False),
        }
        if not args.no_contrast:
            def one_by_one():
                s = fresh("c3")
                for account in many:
                    extract_account(account, s, extractors=extractors, progress=False)
            runs["accounts_one_by_one"] = one_by_one
        local = {name: timed(fn) for name, fn in runs.items()}
        local["ratio_accounts_one_run_to_one_account"] = round(
            local["accounts_one_run"] / local["one_account"], 3)
        result["local_pool"] = local
        if args.dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                address = cluster.scheduler_address
                dask = {
                    "one_account": timed(lambda: extract_account(
                        single[0], fresh("d1"), extractors=extractors, scheduler=address,
                        progress=False)),
                    "accounts_one_run": timed(lambda: extract_accounts(
                        many, fresh("d2"), extractors=extractors, scheduler=address,
                        progress=False)),
                }
            dask["ratio_accounts_one_run_to_one_account"] = round(
                dask["accounts_one_run"] / dask["one_account"], 3)
            result["dask"] = dask
    result["targets"] = {"local_at_most_1.3": result["local_pool"][
        "ratio_accounts_one_run_to_one_account"] <= 1.3}
    if "dask" in result:
        result["targets"]["dask_at_most_1.3"] = result["dask"]["ratio_accounts_one_run_to_one_account"] <= 1.3
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
