"""Benchmark: the whole analysis of 10,000 posts x 60 features (target: under 30 s on 2 cores).

Simulates one account with planted effects (rumaro_lab.analysis.simulate), writes its posts and
features tables in a temporary data folder, then times `analyze_accounts` (every table: dataset
and feature summaries, correlations, NB2 / Poisson / OLS joint models, NB2 one feature at a
time, predictive check with 199 permutations, power) and each stage alone. Prints JSON.

    .venv/bin/python benchmarks/bench_analysis.py [--posts 10000] [--features 60]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rumaro_lab.analysis import (
    correlations,
    feature_columns,
    fit_model,
    load_dataset,
    power_table,
    predictive_check,
)
from rumaro_lab.analysis.pipeline import analyze_accounts
from rumaro_lab.analysis.simulate import simulate_account
from rumaro_lab.posts.schema import write_posts
from rumaro_lab.settings import Settings

ACCOUNT = "bench_analysis"


def build(settings: Settings, n_posts: int, n_features: int, seed: int = 0) -> dict[str, float]:
    """Write the simulated account; returns the planted rate ratios."""
    n_binary = 6
    n_continuous = n_features - n_binary - 2  # two categorical features
    truth = {"sim.x1": 1.2, "sim.x2": 0.9, "sim.flag1": 1.3, "photo_type.label=portrait": 1.5}
    posts, features = simulate_account(
        n_posts, truth, n_continuous=n_continuous, n_binary=n_binary, account=ACCOUNT, seed=seed,
        hidden_likes=n_posts // 100)
    rng = np.random.default_rng(seed + 1)
    # a second categorical feature, and the missingness real extractors produce (no face -> null)
    features["emotion.dominant"] = pd.array(
        rng.choice(["neutral", "happiness", "sadness", "surprise"], n_posts), dtype="string")
    no_face = rng.random(n_posts) < 0.4
    features.loc[no_face, "emotion.dominant"] = pd.NA
    features.loc[no_face, "sim.x3"] = pd.NA
    write_posts(posts, settings.posts_path(ACCOUNT))
    settings.features_path(ACCOUNT).parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(settings.features_path(ACCOUNT), index=False)
    return truth


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--permutations", type=int, default=199)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data",
                            reports_dir=Path(tmp) / "reports", workers=1)
        truth = build(settings, args.posts, args.features)
        cpu_start = time.process_time()
        total, written = timed(analyze_accounts, [ACCOUNT], settings,
                               permutations=args.permutations)
        cpu_total = time.process_time() - cpu_start
        stages: dict[str, float] = {}
        stages["load_dataset"], df = timed(load_dataset, [ACCOUNT], settings)
        features = feature_columns(df)
        stages["correlations"], _ = timed(correlations, df, features)
        for kind in ("negbin", "poisson", "ols_log1p"):
            stages[f"model_{kind}"], table = timed(fit_model, df, "likes", features, kind)
            if kind == "negbin":
                joint = table.set_index("term")
        stages["model_negbin_each"], _ = timed(fit_model, df, "likes", features, "negbin", separate=True)
        stages["predictive_check"], check = timed(predictive_check, df, "likes", features,
                                                  permutations=args.permutations)
        stages["power_table"], _ = timed(power_table, df, "likes", features)
    recovered = {
        name: round(float(joint.loc[term, "rate_ratio"]), 3)
        for name, term in (("sim.x1", "sim.x1"), ("sim.flag1", "sim.flag1"),
                           ("photo_type.label=portrait", "photo_type.label[portrait vs scenery]"))
    }
    print(json.dumps({
        "benchmark": "analysis",
        "posts": args.posts,
        "feature_columns": len(features),
        "permutations": args.permutations,
        "cpu_count": os.cpu_count(),
        "analyze_accounts_seconds": round(total, 2),
        "analyze_accounts_cpu_seconds": round(cpu_total, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "tables_written": len(written),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
        "target_seconds": 30,
        "within_target": total < 30,
        "planted_rate_ratios": {k: truth[k] for k in recovered},
        "negbin_rate_ratios": recovered,
        "note": "sim.x1 is per SD in the table (population SD 1), so it is comparable to the truth; "
                "a load average above the core count means other processes shared the CPUs",
        "predictive_summary": check.attrs.get("summary"),
    }, indent=2))


if __name__ == "__main__":
    main()
