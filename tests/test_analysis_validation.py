"""Statistical validation on simulated accounts: CI coverage, false positives, power, prediction.

Repetitions are kept small (a few hundred posts, few features) so the file runs in seconds; the
tolerances are binomial: with 200 repetitions the coverage of a 95% CI has a standard error of
about 1.5 points.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rumaro_lab.analysis import (
    correlations,
    fit_model,
    power_table,
    predictive_check,
    prepare_dataset,
)
from rumaro_lab.analysis.simulate import simulate_account

REPS = 200


def test_negbin_confidence_intervals_cover_the_truth_about_95_percent():
    truth = {"sim.x1": 1.3, "sim.flag1": 0.8}
    covered = []
    for rep in range(REPS):
        df = prepare_dataset(*simulate_account(250, truth, categorical=False, seed=1000 + rep))
        table = fit_model(df, "likes", ["sim.x1", "sim.flag1"], kind="negbin", per_sd=False,
                          controls=("t_years",)).set_index("term")
        for term, rate_ratio in truth.items():
            covered.append(table.loc[term, "ci_low"] <= rate_ratio <= table.loc[term, "ci_high"])
    coverage = float(np.mean(covered))
    assert 0.90 <= coverage <= 0.99, coverage


def test_no_effect_gives_few_discoveries_at_q_005():
    features = [f"sim.x{k}" for k in range(1, 5)] + ["sim.flag1"]
    model_hits, corr_hits = [], []
    for rep in range(REPS):
        df = prepare_dataset(*simulate_account(150, {}, n_continuous=4, categorical=False,
                                               seed=5000 + rep))
        table = fit_model(df, "likes", features, kind="negbin", controls=("t_years",))
        q = table.loc[table["role"] == "feature", "q_value"].astype(float)
        model_hits.append(bool((q < 0.05).any()))
        corr = correlations(df, features, outcomes=["likes"], methods=["spearman"])
        corr_hits.append(bool((corr["q_value"].astype(float) < 0.05).any()))
    # every null is true, so BH's FDR is the chance of any discovery: about 5% or less
    limit = 0.05 + 3 * np.sqrt(0.05 * 0.95 / REPS)
    assert np.mean(model_hits) <= limit, np.mean(model_hits)
    assert np.mean(corr_hits) <= limit, np.mean(corr_hits)


def test_power_table_detectable_rate_ratio_gives_about_80_percent_power():
    base = prepare_dataset(*simulate_account(300, {}, n_continuous=0, categorical=False, seed=7))
    row = power_table(base, "likes", ["sim.flag1"], controls=("t_years",)).iloc[0]
    detectable = float(row["detectable_rate_ratio"])
    assert 1.05 < detectable < 2.0
    significant = []
    for rep in range(120):
        df = prepare_dataset(*simulate_account(300, {"sim.flag1": detectable}, n_continuous=0,
                                               categorical=False, seed=9000 + rep))
        table = fit_model(df, "likes", ["sim.flag1"], kind="negbin", controls=("t_years",)).set_index("term")
        significant.append(table.loc["sim.flag1", "p_value"] < 0.05)
    power = float(np.mean(significant))
    assert 0.65 <= power <= 0.93, (detectable, power)


def test_predictive_check_reports_signal_and_its_absence():
    signal = prepare_dataset(*simulate_account(400, {"sim.x1": 1.6, "sim.flag1": 1.4}, n_continuous=3,
                                                seed=31))
    table = predictive_check(signal, "likes", ["sim.x1", "sim.x2", "sim.x3", "sim.flag1"], permutations=99)
    overall = table[table["fold"] == "all"].set_index("model")
    assert overall.loc["controls+features", "spearman"] > overall.loc["controls", "spearman"] + 0.1
    assert overall.loc["gain", "p_value"] <= 0.02
    assert set(table["fold"]) == {"1", "2", "3", "4", "5", "all"}
    # expanding window: each fold trains on everything before its block
    folds = table[(table["fold"] != "all") & (table["model"] == "controls")]
    assert folds["n_train"].is_monotonic_increasing

    p_values = []
    for rep in range(8):
        null = prepare_dataset(*simulate_account(300, {}, n_continuous=3, seed=60 + rep))
        check = predictive_check(null, "likes", ["sim.x1", "sim.x2", "sim.x3", "sim.flag1"],
                                 permutations=49, seed=rep)
        gain = check[(check["fold"] == "all") & (check["model"] == "gain")].iloc[0]
        assert gain["spearman"] < 0.1  # ridge keeps useless features from hurting or helping much
        p_values.append(float(gain["p_value"]))
    # permutation p-values under no effect are uniform: not concentrated near 0
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert np.mean(np.array(p_values) < 0.05) <= 0.25


def test_predictive_check_too_few_posts_is_a_clear_error():
    from rumaro_lab.errors import AnalysisError

    df = prepare_dataset(*simulate_account(12, seed=2))
    with pytest.raises(AnalysisError, match="predictive check"):
        predictive_check(df, "likes", ["sim.x1"])
