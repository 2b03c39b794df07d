"""Regression models and correlations: tidy tables, rate ratios, references, q-values, guards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from rumaro_lab.analysis import correlations, fit_model, prepare_dataset
from rumaro_lab.analysis.correlations import CORRELATION_COLUMNS
from rumaro_lab.analysis.models import MODEL_COLUMNS
from rumaro_lab.analysis.simulate import simulate_account
from rumaro_lab.errors import AnalysisError

TRUTH = {"sim.x1": 1.4, "sim.flag1": 0.7, "photo_type.label=portrait": 2.0}


@pytest.fixture(scope="module")
def df():
    return prepare_dataset(*simulate_account(600, TRUTH, n_continuous=2, seed=11, hidden_likes=5))


def _row(table, term):
    rows = table[table["term"] == term]
    assert len(rows) == 1, f"{term} not in {table['term'].tolist()}"
    return rows.iloc[0]


@pytest.mark.parametrize("kind", ["negbin", "poisson", "ols_log1p"])
def test_model_tables_are_tidy_and_recover_the_planted_effects(df, kind):
    table = fit_model(df, "likes", ["sim.x1", "sim.x2", "sim.flag1", "photo_type.label"], kind=kind,
                      per_sd=False)
    assert list(table.columns) == MODEL_COLUMNS
    assert table["term"].is_unique
    assert set(table["model"]) == {kind} and set(table["outcome"]) == {"likes"}
    assert (table["n"] == 595).all()  # 5 hidden like counts left out, not counted as 0
    portrait = _row(table, "photo_type.label[portrait vs scenery]")
    if kind == "ols_log1p":
        assert pd.isna(portrait["rate_ratio"])
        assert portrait["ci_low"] < np.log(2.0) < portrait["ci_high"]
    else:
        assert portrait["rate_ratio"] == pytest.approx(2.0, rel=0.15)
        assert portrait["ci_low"] < 2.0 < portrait["ci_high"]
        assert _row(table, "sim.x1")["rate_ratio"] == pytest.approx(1.4, rel=0.06)
        assert _row(table, "sim.flag1")["rate_ratio"] == pytest.approx(0.7, rel=0.08)
        null = _row(table, "sim.x2")
        assert null["ci_low"] < 1.0 < null["ci_high"]
    assert _row(table, "sim.x1")["q_value"] < 0.05
    assert "5 post(s) with unknown likes left out" in table["note"].iloc[0]


def test_negbin_estimates_the_dispersion(df):
    table = fit_model(df, "likes", ["sim.x1", "sim.flag1", "photo_type.label"], kind="negbin",
                      controls=("t_years",))
    alpha = _row(table, "alpha (NB2 dispersion)")
    assert alpha["role"] == "dispersion"
    assert alpha["estimate"] == pytest.approx(0.3, abs=0.08)  # simulated alpha, not fixed at 1


def test_q_values_are_benjamini_hochberg_within_each_family(df):
    table = fit_model(df, "likes", ["sim.x1", "sim.x2", "sim.flag1", "photo_type.label"], kind="negbin")
    features = table[table["role"] == "feature"]
    # the declared primary feature is the confirmatory family; the simulated ones are exploratory
    assert set(features.loc[features["feature"] == "photo_type.label", "family"]) == {"primary"}
    assert set(features.loc[features["feature"].str.startswith("sim."), "family"]) == {"exploratory"}
    for _, family in features.groupby("family"):
        expected = multipletests(family["p_value"].astype(float), method="fdr_bh")[1]
        np.testing.assert_allclose(family["q_value"].astype(float), expected)
    assert table.loc[table["role"] == "intercept", "q_value"].isna().all()

    corr = correlations(df, ["sim.x1", "sim.x2", "sim.flag1", "photo_type.label"])
    assert list(corr.columns) == CORRELATION_COLUMNS
    for _, family in corr.groupby(["outcome", "method"]):
        np.testing.assert_allclose(family["q_value"].astype(float),
                                   multipletests(family["p_value"].astype(float), method="fdr_bh")[1])


def test_categorical_reference_is_named_and_can_be_chosen(df):
    table = fit_model(df, "likes", ["photo_type.label"], kind="negbin", controls=())
    levels = table[table["role"] == "feature"]
    assert levels["term"].tolist() == ["photo_type.label[full_body vs scenery]",
                                       "photo_type.label[portrait vs scenery]"]
    assert set(levels["reference"]) == {"scenery"}
    chosen = fit_model(df, "likes", ["photo_type.label"], kind="negbin", controls=(),
                       references={"photo_type.label": "portrait"})
    scenery = _row(chosen, "photo_type.label[scenery vs portrait]")
    assert scenery["reference"] == "portrait"
    assert scenery["rate_ratio"] == pytest.approx(0.5, rel=0.15)


def test_correlations_have_cis_and_one_row_per_level(df):
    corr = correlations(df, ["sim.x1", "photo_type.label"], outcomes=["likes"])
    assert set(corr["method"]) == {"spearman", "pearson_log1p"}
    assert "photo_type.label[portrait]" in set(corr["feature"])
    x1 = corr[(corr["feature"] == "sim.x1") & (corr["method"] == "spearman")].iloc[0]
    assert x1["ci_low"] < x1["estimate"] < x1["ci_high"]
    assert x1["estimate"] > 0.2 and x1["q_value"] < 0.05
    assert x1["n"] == 595


def test_constant_feature_and_rare_separation_are_marked_not_crashing():
    posts, features = simulate_account(120, seed=3)
    features["image.flat"] = pd.array([0.5] * 120, dtype="Float64")
    features["pose.odd"] = pd.array([False] * 120, dtype="boolean")
    df = prepare_dataset(posts, features)
    df.loc[df.index[:4], "pose.odd"] = True
    df.loc[df.index[:4], "likes"] = 0  # every post with the feature has 0 likes: separation
    table = fit_model(df, "likes", ["sim.x1", "image.flat", "pose.odd"], kind="negbin")
    flat, odd = _row(table, "image.flat"), _row(table, "pose.odd")
    assert "constant" in flat["note"] and pd.isna(flat["estimate"])
    assert "perfect separation" in odd["note"] and pd.isna(odd["p_value"])
    assert pd.notna(_row(table, "sim.x1")["rate_ratio"])  # the rest of the model still stands
    corr = correlations(df, ["image.flat"], outcomes=["likes"])
    assert corr["note"].str.contains("constant").all() and corr["estimate"].isna().all()


def test_too_few_posts_is_a_clear_error():
    posts, features = simulate_account(5, seed=1)
    df = prepare_dataset(posts, features)
    with pytest.raises(AnalysisError, match="only 5 post"):
        fit_model(df, "likes", ["sim.x1"], kind="negbin")
    corr = correlations(df, ["sim.x1"], outcomes=["likes"])
    assert corr["note"].str.contains("too few posts").all()


def test_hidden_likes_are_dropped_not_zeroed():
    posts, features = simulate_account(200, {"sim.x1": 1.5}, seed=8)
    df = prepare_dataset(posts, features)
    hidden = df.copy()
    hidden.loc[hidden.index[:20], "likes"] = pd.NA
    zeroed = hidden.copy()
    zeroed.loc[zeroed.index[:20], "likes"] = 0
    dropped = df.iloc[20:]
    a = fit_model(hidden, "likes", ["sim.x1"], kind="negbin", controls=())
    b = fit_model(dropped, "likes", ["sim.x1"], kind="negbin", controls=())
    c = fit_model(zeroed, "likes", ["sim.x1"], kind="negbin", controls=())
    assert _row(a, "sim.x1")["estimate"] == pytest.approx(_row(b, "sim.x1")["estimate"])
    assert _row(a, "sim.x1")["n"] == 180
    assert _row(c, "sim.x1")["n"] == 200
    assert _row(c, "Intercept")["estimate"] != pytest.approx(_row(a, "Intercept")["estimate"], abs=0.05)


def test_often_unknown_feature_is_left_out_of_the_joint_model_but_fit_alone(df):
    data = df.copy()
    data["emotion.smile"] = pd.array(np.where(np.arange(len(data)) % 2 == 0, 0.5, np.nan), dtype="Float64")
    data.loc[data.index % 4 == 0, "emotion.smile"] = 0.9
    joint = fit_model(data, "likes", ["sim.x1", "emotion.smile"], kind="negbin")
    assert "left out of this joint model" in _row(joint, "emotion.smile")["note"]
    each = fit_model(data, "likes", ["sim.x1", "emotion.smile"], kind="negbin", separate=True)
    assert set(each["model"]) == {"negbin_each"}
    assert _row(each, "emotion.smile")["n"] == pytest.approx(len(data) / 2, abs=5)
    assert pd.notna(_row(each, "emotion.smile")["rate_ratio"])


def test_rate_and_relative_outcomes_use_an_exposure(df):
    rate = fit_model(df, "likes_rate", ["sim.x1"], kind="negbin", per_sd=False, controls=())
    plain = fit_model(df, "likes", ["sim.x1"], kind="negbin", per_sd=False, controls=())
    # followers are constant in one account: same effect, intercept shifted by log(followers)
    assert _row(rate, "sim.x1")["estimate"] == pytest.approx(_row(plain, "sim.x1")["estimate"], abs=1e-4)
    assert _row(plain, "Intercept")["estimate"] - _row(rate, "Intercept")["estimate"] == pytest.approx(np.log(10_000), abs=1e-3)
    relative = fit_model(df, "likes_relative", ["sim.x1"], kind="negbin", per_sd=False)
    assert _row(relative, "sim.x1")["n"] < 595  # the first posts have no baseline yet
    assert _row(relative, "sim.x1")["rate_ratio"] == pytest.approx(1.4, rel=0.1)


def _two_accounts():
    frames = []
    for i, (account, followers, base) in enumerate((("small", 2_000, 100.0), ("big", 50_000, 2_500.0))):
        posts, features = simulate_account(250, TRUTH, account=account, followers=followers,
                                           base_likes=base, seed=20 + i)
        frames.append(prepare_dataset(posts, features))
    return pd.concat(frames, ignore_index=True)


def test_several_accounts_get_within_pooled_and_between_estimands():
    df = _two_accounts()
    within = fit_model(df, "likes", ["sim.x1", "sim.flag1"], kind="negbin", per_sd=False)
    assert set(within["estimand"]) == {"within"}  # the default: the question a user asks
    assert within["term"].str.startswith("account[").sum() == 1  # account fixed effects
    # two accounts are too few to cluster by: the fixed-effects model's own errors, said so
    assert within["se_method"].dropna().str.startswith("model-based").all()
    assert "too few to cluster errors by account" in within["note"].iloc[0]
    clustered = fit_model(df, "likes", ["sim.x1", "sim.flag1"], kind="negbin", per_sd=False,
                          errors="cluster")
    assert set(clustered["se_method"].dropna()) == {"CR2 clustered by account (2), t(accounts - 1)"}
    assert _row(clustered, "sim.x1")["df"] == 1 and "only 2 accounts" in clustered["note"].iloc[0]
    assert _row(within, "sim.x1")["rate_ratio"] == pytest.approx(1.4, rel=0.1)

    pooled = fit_model(df, "likes", ["sim.x1", "sim.flag1"], kind="negbin", per_sd=False,
                       estimand="pooled")
    assert set(pooled["estimand"]) == {"pooled"}
    assert "log(followers) is the exposure" in pooled["note"].iloc[0]
    # likes scale with followers here, so with the exposure the intercept is a per-follower rate
    assert np.exp(_row(pooled, "Intercept")["estimate"]) == pytest.approx(0.05, rel=0.35)
    assert _row(pooled, "sim.x1")["rate_ratio"] == pytest.approx(1.4, rel=0.1)

    between = fit_model(df, "likes", ["sim.x1", "sim.flag1"], kind="poisson", per_sd=False,
                        estimand="between")
    contrast = between[between["role"] == "contrast"]
    assert set(contrast["feature"]) <= {"sim.x1", "sim.flag1"} and len(contrast) >= 1
    assert contrast["scale"].str.contains("between minus within").all()
    # the feature's own coefficient in the Mundlak model is the within effect
    assert _row(between, "sim.x1")["rate_ratio"] == pytest.approx(_row(within, "sim.x1")["rate_ratio"], rel=0.05)
    with pytest.raises(AnalysisError, match="2 or more"):
        fit_model(df[df["account"] == "small"], "likes", ["sim.x1"], estimand="pooled")


def test_mixed_model_with_account_random_intercept():
    df = _two_accounts()
    table = fit_model(df, "likes", ["sim.x1", "sim.flag1", "photo_type.label"], kind="mixed", per_sd=False)
    assert list(table.columns) == MODEL_COLUMNS
    assert "account random intercept (variance)" in set(table["term"])
    x1 = _row(table, "sim.x1")
    assert x1["ci_low"] < np.log(1.4) < x1["ci_high"]  # log1p(likes) ~ log(likes) here
    assert pd.isna(x1["rate_ratio"])
    with pytest.raises(AnalysisError, match="2 or more accounts"):
        fit_model(df[df["account"] == "small"], "likes", ["sim.x1"], kind="mixed")


def test_unknown_kind_and_outcome_are_clear_errors(df):
    with pytest.raises(AnalysisError, match="unknown model kind"):
        fit_model(df, kind="tree")
    with pytest.raises(AnalysisError, match="unknown outcome"):
        fit_model(df, outcome="hearts")


def test_too_many_terms_fall_back_to_one_feature_at_a_time():
    posts, features = simulate_account(40, {"sim.x1": 1.5}, n_continuous=12, n_binary=2, seed=9)
    df = prepare_dataset(posts, features)
    names = [c for c in features.columns if c.startswith(("sim.", "photo_type."))]
    auto = fit_model(df, "likes", names, kind="negbin")
    assert set(auto["model"]) == {"negbin_each"}
    assert auto["note"].str.contains("too many for one joint negbin model").all()
    assert set(auto["term"]) >= {"sim.x1", "sim.x12", "sim.flag2"}
    with pytest.raises(AnalysisError, match="too many for one joint"):
        fit_model(df, "likes", names, kind="negbin", separate=False)


def test_empty_string_level_gets_a_readable_name(df):
    data = df.copy()
    data["apparel.accessories"] = np.where(np.arange(len(data)) % 3 == 0, "tie", "")
    table = fit_model(data, "likes", ["apparel.accessories"], kind="poisson", controls=())
    assert "apparel.accessories[tie vs (empty)]" in set(table["term"])
