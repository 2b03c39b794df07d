"""Estimands, clustered errors, meta-analysis, families and the single-account guards (issue 15).

The heavy replicate loops are in benchmarks/validate_estimands.py; here the same properties are
checked loosely with few replicates, so the file runs in about a minute.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from rumaro_lab import analysis
from rumaro_lab.analysis import fitters, glm
from rumaro_lab.analysis.inference import cr2_covariance
from rumaro_lab.analysis.simulate import simulate_account, simulate_accounts
from rumaro_lab.errors import AnalysisError


def _flag(table: pd.DataFrame, estimand: str) -> pd.Series:
    rows = table[(table["estimand"] == estimand) & (table["term"] == "sim.flag1")]
    assert len(rows) == 1, table[["estimand", "term", "note"]]
    return rows.iloc[0]


def test_confounded_accounts_within_covers_the_truth_pooled_does_not():
    covered = {"within": [], "pooled": []}
    for rep in range(30):
        df = analysis.prepare_dataset(*simulate_accounts(15, (20, 60), 1.0, seed=700 + rep))
        for estimand in covered:
            row = _flag(analysis.fit_model(df, "likes", ["sim.flag1"], estimand=estimand,
                                           controls=("t_years",)), estimand)
            covered[estimand].append(row["ci_low"] <= 1.0 <= row["ci_high"])
    assert np.mean(covered["within"]) >= 0.85, covered
    assert np.mean(covered["pooled"]) <= 0.4, covered


def test_cr2_matches_the_textbook_formula_with_fixed_effects():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(6), [3, 7, 10, 4, 6, 9])
    n = len(groups)
    dummies = (groups[:, None] == np.arange(1, 6)).astype(float)
    X = np.column_stack([np.ones(n), rng.standard_normal(n), dummies])
    y = rng.standard_normal(n)
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    bread = np.linalg.pinv(X.T @ X)
    meat = np.zeros((X.shape[1], X.shape[1]))
    for g in range(6):
        Xg = X[groups == g]
        values, vectors = np.linalg.eigh(np.eye(len(Xg)) - Xg @ bread @ Xg.T)
        inverse_root = (vectors * np.where(values > 1e-8, 1 / np.sqrt(np.clip(values, 1e-8, None)), 0)) @ vectors.T
        score = Xg.T @ inverse_root @ resid[groups == g]
        meat += np.outer(score, score)
    np.testing.assert_allclose(cr2_covariance(X, resid, groups), bread @ meat @ bread, rtol=1e-8)


def test_negbin_engine_agrees_with_statsmodels():
    from statsmodels.discrete.discrete_model import NegativeBinomial

    df = analysis.prepare_dataset(*simulate_account(300, {"sim.x1": 1.3}, seed=5))
    design = analysis.design.build_design(df, analysis.design.resolve_outcome(df, "likes"),
                                          ["sim.x1", "sim.flag1"], ("t_years",))
    ours = glm.fit_negbin(design.X, design.y)
    theirs = NegativeBinomial(design.y, design.X).fit(disp=0, method="newton")
    np.testing.assert_allclose(ours.params, theirs.params[:-1], rtol=1e-5, atol=1e-6)
    assert ours.alpha == pytest.approx(theirs.params[-1], rel=1e-4)


def test_a_fit_that_does_not_converge_gets_no_p_value(monkeypatch):
    df = analysis.prepare_dataset(*simulate_account(120, {"sim.x1": 1.5}, seed=2))
    real = glm.fit_negbin

    def stuck(*args, **kwargs):
        fit = real(*args, **kwargs)
        fit.converged = False
        return fit

    monkeypatch.setattr(fitters, "fit_negbin", stuck)
    table = analysis.fit_model(df, "likes", ["sim.x1"], kind="negbin")
    row = table.set_index("term").loc["sim.x1"]
    assert pd.notna(row["estimate"]) and not bool(row["converged"])
    assert pd.isna(row["p_value"]) and pd.isna(row["q_value"]) and pd.isna(row["ci_low"])
    assert "did not converge" in row["note"]


def test_meta_analysis_is_statsmodels_random_effects_and_shrinks_towards_the_mean():
    df = analysis.prepare_dataset(*simulate_accounts(8, (40, 80), 1.3, confounding=0.0, seed=11))
    meta, accounts = analysis.across_accounts(df, "likes", ["sim.flag1"])
    row = meta.set_index("term").loc["sim.flag1"]
    usable = accounts[accounts["p_value"].notna()]
    expected = combine_effects(usable["estimate"].astype(float).to_numpy(),
                               usable["std_error"].astype(float).to_numpy() ** 2, method_re="iterated")
    assert row["estimate"] == pytest.approx(expected.mean_effect_re)
    assert row["tau2"] == pytest.approx(max(expected.tau2, 0.0))
    assert row["accounts"] == len(usable) and row["estimand"] == "within"
    mu = float(row["estimate"])
    raw = usable["estimate"].astype(float)
    shrunk = np.log(usable["shrunk_rate_ratio"].astype(float))
    assert (np.abs(shrunk - mu) <= np.abs(raw - mu) + 1e-9).all()  # pulled towards the mean


def test_several_accounts_analyze_writes_every_estimand_meta_and_within_outcomes():
    df = analysis.prepare_dataset(*simulate_accounts(6, 40, 1.0, seed=4))
    tables = analysis.analyze(df, kinds=["negbin"], permutations=19)
    assert set(tables["model_negbin"]["estimand"]) == {"within", "pooled", "between"}
    assert {"meta", "account_estimates"} <= set(tables)
    assert set(tables["correlations"]["outcome"]) <= {"likes_relative", "likes_rank",
                                                      "comments_relative", "comments_rank"}
    assert set(tables["predictive"]["check"]) == {"time", "leave-one-account-out"}
    text = analysis.QUESTIONS["within"]
    assert "this account" in text


def test_young_posts_are_left_out_with_a_note():
    posts, features = simulate_account(60, seed=3)
    posts["fetched_at"] = posts["taken_at"].max() + pd.Timedelta(hours=12)  # the last few are young
    df = analysis.prepare_dataset(posts, features)
    tables = analysis.analyze(df, kinds=["negbin"], permutations=9)
    left_out = int(tables["dataset_summary"]["young_posts_left_out"].iloc[0])
    age = (posts["fetched_at"] - posts["taken_at"]).dt.total_seconds() / 86400
    assert left_out == int((age < 3).sum()) >= 1
    assert tables["model_negbin"]["note"].str.contains("younger than 3 days").all()
    kept = analysis.analyze(df, kinds=["negbin"], permutations=9, min_age_days=0)
    assert int(kept["dataset_summary"]["young_posts_left_out"].iloc[0]) == 0


def test_hac_errors_for_one_account_and_unknown_options_name_the_parameter():
    df = analysis.prepare_dataset(*simulate_account(150, {"sim.x1": 1.3}, seed=8))
    table = analysis.fit_model(df, "likes", ["sim.x1"], errors="hac")
    assert table["se_method"].dropna().str.startswith("HAC (Newey-West").all()
    with pytest.raises(AnalysisError, match="errors='bogus'"):
        analysis.fit_model(df, "likes", ["sim.x1"], errors="bogus")
    with pytest.raises(AnalysisError, match="estimand='within'"):
        analysis.fit_model(df, "likes", ["sim.x1"], estimand="pooled")


def test_primary_family_is_the_headline_and_near_duplicates_form_one_cluster():
    posts, features = simulate_account(200, {"sim.x1": 1.4}, seed=9)
    features["sim.x1_copy"] = features["sim.x1"] * 2 + 0.001  # measures the same thing
    df = analysis.prepare_dataset(posts, features)
    tables = analysis.analyze(df, kinds=["negbin"], permutations=9)
    summary = tables["feature_summary"].set_index("feature")
    assert summary.loc["sim.x1_copy", "cluster"] == "sim.x1"
    assert summary.loc["photo_type.label", "family"] == "primary"
    assert summary.loc["sim.x1", "family"] == "exploratory"
    from rumaro_lab import report

    text = report.describe_model(tables["model_negbin_each"])
    assert "Headline" in text and "one cluster with `sim.x1`" in text


def test_predictive_imputation_uses_training_posts_only():
    from rumaro_lab.analysis.predictive import _imputation, _moments

    X = np.array([[1.0, 0.0, 1.0], [1.0, 2.0, 0.0], [1.0, 4.0, 0.0]])  # col 1 value, col 2 missing flag
    T = _imputation(_moments(X[1:], np.zeros(2)), [(1, 2)], 3)  # training: the two known rows
    assert (X[:1] @ T)[0, 1] == pytest.approx(3.0)  # the unknown gets the training mean
    T_all = _imputation(_moments(X, np.zeros(3)), [(1, 2)], 3)
    assert (X[:1] @ T_all)[0, 1] == pytest.approx(3.0)  # its own 0 never enters the mean


def test_a_feature_that_varies_in_one_account_only_gets_no_clustered_test():
    df = analysis.prepare_dataset(*simulate_accounts(6, 40, 1.3, confounding=0.0, seed=21))
    df["sim.flag1"] = df["sim.flag1"].where(df["account"] == "acct00", False)  # constant elsewhere
    table = analysis.fit_model(df, "likes", ["sim.flag1"], controls=("t_years",))
    row = table.set_index("term").loc["sim.flag1"]
    assert pd.notna(row["estimate"]) and pd.isna(row["p_value"]) and pd.isna(row["ci_low"])
    assert "informed by one account only" in row["note"]
