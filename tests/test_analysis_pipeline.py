"""`analyze_accounts` and `rumaro analyze`: CSV tables from posts.parquet + features.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rumaro_lab.analysis import analyze_accounts, power_table, predictive_check
from rumaro_lab.analysis.power import POWER_COLUMNS
from rumaro_lab.analysis.predictive import PREDICTIVE_COLUMNS
from rumaro_lab.analysis.simulate import simulate_account
from rumaro_lab.cli import main
from rumaro_lab.errors import AnalysisError, MissingInputError
from rumaro_lab.posts.schema import write_posts


def _write_account(settings, account, n=80, seed=0, followers=5_000, **kwargs):
    """A tiny synthetic account laid out as import + extract would leave it."""
    posts, features = simulate_account(n, {"sim.flag1": 1.6, "photo_type.label=portrait": 1.8},
                                       account=account, seed=seed, followers=followers, **kwargs)
    features["faces.boxes_json"] = "[]"  # structured columns are ignored by the analysis
    features["sim.constant"] = pd.array([0.5] * n, dtype="Float64")
    write_posts(posts, settings.posts_path(account))
    settings.features_path(account).parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(settings.features_path(account), index=False)


def test_cli_analyze_writes_every_table(settings, capsys):
    _write_account(settings, "tiny", hidden_likes=2)
    code = main(["--data-dir", str(settings.data_dir), "--reports-dir", str(settings.reports_dir),
                 "analyze", "tiny", "--permutations", "19"])
    assert code == 0
    folder = settings.report_dir("tiny") / "tables"
    names = {p.stem for p in folder.glob("*.csv")}
    assert names == {"dataset_summary", "feature_summary", "correlations", "model_negbin",
                     "model_poisson", "model_ols_log1p", "model_negbin_each", "predictive", "power"}
    assert str(folder / "model_negbin.csv") in capsys.readouterr().out.replace("\n", "")
    model = pd.read_csv(folder / "model_negbin.csv")
    assert "photo_type.label[portrait vs scenery]" in set(model["term"])
    assert not model["term"].str.endswith("_json").any()
    constant = model[model["term"] == "sim.constant"].iloc[0]
    assert "constant" in constant["note"] and np.isnan(constant["estimate"])
    summary = pd.read_csv(folder / "dataset_summary.csv").iloc[0]
    assert summary["posts"] == 80 and summary["unknown_likes"] == 2
    correlations = pd.read_csv(folder / "correlations.csv")
    assert {"likes", "comments"} <= set(correlations["outcome"])


def test_analyze_several_accounts_pools_into_combined(settings):
    _write_account(settings, "one", seed=1, followers=2_000)
    _write_account(settings, "two", seed=2, followers=9_000)
    written = analyze_accounts(["one", "two"], settings, kinds=["negbin", "mixed"], permutations=9)
    folder = settings.reports_dir / "combined" / "tables"
    assert written["model_mixed"] == folder / "model_mixed.csv"
    mixed = pd.read_csv(written["model_mixed"])
    assert "account random intercept (variance)" in set(mixed["term"])
    negbin = pd.read_csv(written["model_negbin"])
    assert set(negbin["estimand"]) == {"within", "pooled", "between"}  # both, by default
    pooled = negbin[negbin["estimand"] == "pooled"]
    assert pooled["note"].str.contains("log\\(followers\\) is the exposure").all()
    within = negbin[negbin["estimand"] == "within"]
    assert within["term"].str.startswith("account[").any()  # account fixed effects
    assert (negbin.loc[negbin["estimand"] == "between", "role"] == "contrast").any()
    assert set(pd.read_csv(written["dataset_summary"])["account"]) == {"one", "two"}
    assert {"meta", "account_estimates"} <= set(written)


def test_stage_the_data_cannot_support_is_written_with_a_note(settings):
    _write_account(settings, "few", n=15)
    written = analyze_accounts(["few"], settings, permutations=9)
    predictive = pd.read_csv(written["predictive"])
    assert len(predictive) == 1 and predictive["note"].iloc[0].startswith("not computed: only 15 post")
    assert list(predictive.columns) == PREDICTIVE_COLUMNS
    assert pd.read_csv(written["correlations"])["estimate"].notna().any()  # the rest still ran


def test_missing_features_and_bad_names_are_clear_errors(settings, capsys):
    posts, _ = simulate_account(20, account="nofeat")
    write_posts(posts, settings.posts_path("nofeat"))
    with pytest.raises(MissingInputError, match="no features"):
        analyze_accounts(["nofeat"], settings)
    code = main(["--data-dir", str(settings.data_dir), "--reports-dir", str(settings.reports_dir),
                 "analyze", "nofeat"])
    assert code == 1 and "rumaro extract nofeat" in capsys.readouterr().err.replace("\n", "")
    _write_account(settings, "ok")
    with pytest.raises(AnalysisError, match="unknown feature"):
        analyze_accounts(["ok"], settings, features=["faces.nope"])
    with pytest.raises(AnalysisError, match="unknown model kind"):
        analyze_accounts(["ok"], settings, kinds=["forest"])
    assert not (settings.report_dir("ok") / "tables").exists()  # nothing half-written


def test_power_and_predictive_tables_are_tidy(settings):
    posts, features = simulate_account(120, seed=4)
    from rumaro_lab.analysis import prepare_dataset

    df = prepare_dataset(posts, features)
    power = power_table(df)
    assert list(power.columns) == POWER_COLUMNS
    assert (power["detectable_rate_ratio"].astype(float) > 1).all()
    level = power[power["term"] == "photo_type.label[portrait vs scenery]"].iloc[0]
    assert level["kind"] == "level" and 0 < level["prevalence"] < 1
    check = predictive_check(df, permutations=9)
    assert list(check.columns) == PREDICTIVE_COLUMNS
    assert "within-account Spearman" in check.attrs["summary"]


def test_cli_analyze_chooses_estimands_and_errors(settings):
    _write_account(settings, "one", seed=1, followers=2_000)
    _write_account(settings, "two", seed=2, followers=9_000)
    code = main(["--data-dir", str(settings.data_dir), "--reports-dir", str(settings.reports_dir),
                 "analyze", "one", "two", "--model", "negbin", "--estimand", "within",
                 "--errors", "hac", "--permutations", "9"])
    assert code == 0
    model = pd.read_csv(settings.reports_dir / "combined" / "tables" / "model_negbin.csv")
    assert set(model["estimand"]) == {"within"}
    assert model["note"].str.contains("clustered by account instead of HAC").all()
    code = main(["--data-dir", str(settings.data_dir), "--reports-dir", str(settings.reports_dir),
                 "analyze", "one", "--estimand", "sideways"])
    assert code != 0
