"""Validation of the estimands and their errors on simulated accounts; prints JSON.

1. **Confounded accounts** (`simulate_accounts`: bigger accounts post the flag more and get more
   likes per follower; the true within rate ratio is 1): how often the 95% interval of the
   ``within`` and of the ``pooled`` estimate covers 1. Within should be ~95%, pooled far less.
2. **Clustered-error coverage** with 10 and with 20 accounts, a true within rate ratio of 1.3,
   posts of an account sharing AR(1) shocks: coverage of the within CR2 t(G-1) interval
   (target 0.92-0.98), next to what model-based errors would give.
3. **False positives**: null replicates; share with p < 0.05 for the within CR2 test (accounts
   of 10-20), and, for one account, the share of replicates with *any* of 5 null features at
   q < 0.05 (NB2, model-based errors). Target <= 6%.
4. **Predictive-check null**: permutation p-values of the within-account predictive check on
   accounts without signal (one account: time folds; 5 accounts: leave-one-account-out too);
   rejection rate at 0.05 and a Kolmogorov-Smirnov test of uniformity.

    .venv/bin/python benchmarks/validate_estimands.py [--reps 500] [--predictive-reps 60]
        [--only confounded --only false_positives ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
import pandas as pd
from scipy import stats

from rumaro_lab.analysis import fit_model, predictive_check, prepare_dataset
from rumaro_lab.analysis.simulate import simulate_account, simulate_accounts

CONTROLS = ("t_years",)


def _row(table: pd.DataFrame, term: str) -> pd.Series:
    return table.set_index("term").loc[term]


def _interval(df, estimand, errors=None):
    row = _row(fit_model(df, "likes", ["sim.flag1"], kind="negbin", estimand=estimand,
                         errors=errors, controls=CONTROLS), "sim.flag1")
    return float(row["ci_low"]), float(row["ci_high"]), float(row["p_value"]), float(row["rate_ratio"])


def _binomial(share: float, n: int) -> float:
    return round(float(np.sqrt(share * (1 - share) / n)), 4)


def confounded(reps: int) -> dict:
    covered = {"within": [], "pooled": []}
    estimates = {"within": [], "pooled": []}
    for rep in range(reps):
        df = prepare_dataset(*simulate_accounts(15, (20, 60), 1.0, seed=10_000 + rep))
        for estimand in covered:
            low, high, _, ratio = _interval(df, estimand)
            covered[estimand].append(low <= 1.0 <= high)
            estimates[estimand].append(ratio)
    return {
        "replicates": reps, "accounts": 15, "posts_per_account": "20-60", "true_within_rate_ratio": 1.0,
        **{f"{e}_coverage_of_1": round(float(np.mean(c)), 4) for e, c in covered.items()},
        **{f"{e}_median_rate_ratio": round(float(np.median(v)), 3) for e, v in estimates.items()},
        "standard_error_of_a_coverage": _binomial(0.95, reps),
    }


def clustered_coverage(reps: int, accounts: int) -> dict:
    truth = 1.3
    cr2, model = [], []
    for rep in range(reps):
        df = prepare_dataset(*simulate_accounts(accounts, (20, 60), truth, confounding=0.0,
                                                seed=20_000 + 1000 * accounts + rep))
        low, high, _, _ = _interval(df, "within")
        cr2.append(low <= truth <= high)
        low, high, _, _ = _interval(df, "within", errors="model")
        model.append(low <= truth <= high)
    return {"replicates": reps, "accounts": accounts, "true_within_rate_ratio": truth,
            "cr2_t_coverage": round(float(np.mean(cr2)), 4),
            "model_based_coverage": round(float(np.mean(model)), 4),
            "target": [0.92, 0.98]}


def false_positives(reps: int) -> dict:
    within = []
    for rep in range(reps):
        accounts = 10 + rep % 11
        df = prepare_dataset(*simulate_accounts(accounts, (20, 60), 1.0, confounding=0.0,
                                                seed=30_000 + rep))
        within.append(_interval(df, "within")[2] < 0.05)
    single = []
    features = [f"sim.x{k}" for k in range(1, 5)] + ["sim.flag1"]
    for rep in range(reps):
        df = prepare_dataset(*simulate_account(150, {}, n_continuous=4, categorical=False,
                                               seed=40_000 + rep))
        table = fit_model(df, "likes", features, kind="negbin", controls=CONTROLS)
        q = table.loc[table["role"] == "feature", "q_value"].astype(float)
        single.append(bool((q < 0.05).any()))
    return {"replicates": reps,
            "within_cr2_rejection_rate_at_0.05 (10-20 accounts)": round(float(np.mean(within)), 4),
            "one_account_any_of_5_features_at_q_0.05": round(float(np.mean(single)), 4),
            "target_at_most": 0.06, "standard_error": _binomial(0.05, reps)}


def predictive_null(reps: int, permutations: int = 99) -> dict:
    one, time_several, loao = [], [], []
    for rep in range(reps):
        df = prepare_dataset(*simulate_account(200, {}, n_continuous=3, seed=50_000 + rep))
        gain = _gains(predictive_check(df, "likes", ["sim.x1", "sim.x2", "sim.x3", "sim.flag1"],
                                       permutations=permutations, seed=rep))
        one.append(gain["time"])
        frames = [prepare_dataset(*simulate_account(60, {}, n_continuous=3, account=f"a{k}",
                                                     followers=10 ** (3 + k), seed=60_000 + 10 * rep + k))
                  for k in range(5)]
        gains = _gains(predictive_check(pd.concat(frames, ignore_index=True), "likes",
                                        ["sim.x1", "sim.x2", "sim.x3", "sim.flag1"],
                                        permutations=permutations, seed=rep))
        time_several.append(gains["time"])
        loao.append(gains["leave-one-account-out"])
    out = {"replicates": reps, "permutations": permutations}
    for name, values in (("one_account_time", one), ("five_accounts_time", time_several),
                         ("five_accounts_leave_one_out", loao)):
        values = np.array(values)
        out[name] = {"rejection_rate_at_0.05": round(float(np.mean(values <= 0.05)), 4),
                     "ks_uniform_p": round(float(stats.kstest(values, "uniform").pvalue), 4),
                     "mean_p": round(float(values.mean()), 3)}
    return out


def _gains(table: pd.DataFrame) -> dict[str, float]:
    rows = table[(table["fold"] == "all") & (table["model"] == "gain")]
    return {str(r["check"]): float(r["p_value"]) for _, r in rows.iterrows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--coverage-reps", type=int, default=400)
    parser.add_argument("--predictive-reps", type=int, default=60)
    parser.add_argument("--only", choices=["confounded", "clustered_coverage", "false_positives",
                                           "predictive_null"], action="append",
                        help="run only these parts (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    start = time.perf_counter()
    result = {"benchmark": "validate_estimands"}
    parts = {
        "confounded": lambda: confounded(args.reps),
        "clustered_coverage": lambda: [clustered_coverage(args.coverage_reps, g) for g in (10, 20)],
        "false_positives": lambda: false_positives(args.reps),
        "predictive_null": lambda: predictive_null(args.predictive_reps),
    }
    for name, run in parts.items():
        if not args.only or name in args.only:
            result[name] = run()
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
