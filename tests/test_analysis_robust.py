"""Property-based: `analyze` and the report notebooks' helpers never crash, whatever an account holds.

hypothesis draws posts and features tables of 1-3 accounts with 1-40 posts each: constant,
single-level, all-missing and mixed features of every declared kind; all-zero, huge and hidden
(null) outcomes; unknown or zero follower counts; posts fetched minutes after they were posted.
Every table must come back (a ``not computed:`` row when the data can't support it), and the only
exceptions allowed anywhere are the documented `AnalysisError` and `MissingInputError`.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rumaro_lab import figures, report
from rumaro_lab.analysis import analyze, prepare_dataset
from rumaro_lab.errors import AnalysisError, MissingInputError
from rumaro_lab.extractors.schema import schema_table

matplotlib.use("Agg")

ALLOWED = (AnalysisError, MissingInputError)
DECLARED = schema_table()
DECLARED = DECLARED[(DECLARED["what"] == "feature") & (DECLARED["role"] != "diagnostic")]


def _declared(kind: str, role: str | None = None) -> pd.Series:
    rows = DECLARED[DECLARED["kind"] == kind]
    if role is not None and (rows["role"] == role).any():
        rows = rows[rows["role"] == role]
    return rows.iloc[0]


BINARY = _declared("binary", "primary")
COUNT = _declared("count", "primary")
CONTINUOUS = _declared("continuous", "primary")
CATEGORY = _declared("category", "primary")
EXPLORATORY = _declared("continuous", "exploratory")
SHAPES = ("random", "constant", "missing", "mostly_missing", "single_level")
OUTCOMES = ("nb", "zero", "huge", "hidden", "mixed")


def _feature(rng, n: int, kind: str, shape: str, levels: list[str]) -> pd.array:
    if shape == "missing":
        values = [None] * n
    elif kind == "binary":
        values = [bool(v) for v in (rng.random(n) < 0.4)] if shape == "random" else [True] * n
    elif kind == "count":
        values = list(rng.integers(0, 4, n)) if shape == "random" else [2] * n
    elif kind == "category":
        values = list(rng.choice(levels, n)) if shape == "random" else [levels[0]] * n
    else:
        values = list(rng.normal(size=n)) if shape == "random" else [0.5] * n
    if shape == "mostly_missing":
        values = [v if rng.random() < 0.15 else None for v in values]
    dtype = {"binary": "boolean", "count": "Int64", "category": "string"}.get(kind, "Float64")
    return pd.array(values, dtype=dtype)


def _outcome(rng, n: int, shape: str) -> pd.array:
    if shape == "zero":
        values = np.zeros(n)
    elif shape == "huge":
        values = rng.integers(10**8, 10**9, n).astype(float)
    else:
        values = rng.negative_binomial(2, 2 / (2 + 300), n).astype(float)
    if shape in ("hidden", "mixed"):
        values[rng.random(n) < (1.0 if shape == "hidden" else 0.3)] = np.nan
    return pd.array(np.round(values), dtype="Float64").astype("Int64")


@st.composite
def accounts(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_accounts = draw(st.integers(1, 3))
    posts, features = [], []
    for a in range(n_accounts):
        n = draw(st.integers(1, 40))
        name = f"acc{a}"
        taken = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
            np.sort(rng.uniform(0, 200, n)), unit="D")
        fetched_minutes = draw(st.sampled_from([10.0, 60 * 24 * 400.0]))
        followers = draw(st.sampled_from([None, 0, 1, 5_000, 10**9]))
        posts.append(pd.DataFrame({
            "account": name, "post_id": [f"{name}-{i}" for i in range(n)],
            "shortcode": [f"s{a}{i}" for i in range(n)], "taken_at": taken,
            "fetched_at": taken.max() + pd.Timedelta(minutes=fetched_minutes),
            "likes": _outcome(rng, n, draw(st.sampled_from(OUTCOMES))),
            "comments": _outcome(rng, n, draw(st.sampled_from(OUTCOMES))),
            "followers": pd.array([followers] * n, dtype="Int64"),
            "caption": draw(st.sampled_from([None, "", "a caption #tag"])),
            "hashtags": [["tag"] if i % 2 else [] for i in range(n)],
            "media_type": draw(st.sampled_from(["image", "sidecar", "video"])),
        }))
        frame = pd.DataFrame({"account": name, "post_id": [f"{name}-{i}" for i in range(n)],
                              "status": "ok"})
        for declared in (BINARY, COUNT, CONTINUOUS, CATEGORY, EXPLORATORY):
            levels = [v for v in str(declared["levels"]).split(", ") if v] or ["x"]
            shape = draw(st.sampled_from(SHAPES))
            frame[declared["column"]] = _feature(rng, n, declared["kind"], shape, levels)
        frame["extra.undeclared"] = _feature(rng, n, "continuous", draw(st.sampled_from(SHAPES)), [])
        features.append(frame)
    return pd.concat(posts, ignore_index=True), pd.concat(features, ignore_index=True)


SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, report_multiple_bugs=False,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _analyze(posts, features):
    try:
        df = prepare_dataset(posts, features)
        return df, analyze(df, "likes", permutations=9, kinds=["negbin"])
    except ALLOWED:
        return None, None


@SETTINGS
@given(accounts())
def test_analyze_returns_every_table_or_a_documented_error(tables):
    posts, features = tables
    df, result = _analyze(posts, features)
    if result is None:
        return
    expected = {"dataset_summary", "feature_summary", "correlations", "model_negbin",
                "model_negbin_each", "predictive", "power"}
    if df["account"].nunique() > 1:
        expected |= {"meta", "account_estimates"}
    assert expected <= set(result)
    for name, table in result.items():
        assert isinstance(table, pd.DataFrame) and len(table) > 0, name
    for name in ("model_negbin", "model_negbin_each"):
        table = result[name]
        assert set(table["estimand"].dropna()) <= {"within", "pooled", "between"}, name
        # no p-value from a failed fit
        failed = table["converged"].astype("boolean").eq(False).fillna(False)
        assert table.loc[failed, "p_value"].isna().all() and table.loc[failed, "q_value"].isna().all()
        q = pd.to_numeric(table["q_value"], errors="coerce").dropna()
        assert ((q >= 0) & (q <= 1)).all()


@settings(SETTINGS, max_examples=8)
@given(accounts())
def test_report_helpers_never_fail_on_analyze_tables(tables):
    posts, features = tables
    _, result = _analyze(posts, features)
    if result is None:
        return
    each = result["model_negbin_each"]
    for text in (report.describe_model(each), report.describe_model(result["model_negbin"]),
                 report.describe_estimands(result), report.describe_correlations(result["correlations"]),
                 report.describe_meta(result.get("meta"))):
        assert isinstance(text, str) and text
    report.joint_model_missing(result["model_negbin"])
    assert report.significant_features(each) >= 0
    assert isinstance(report.findings_per_account(result), dict)
    drawn = [figures.forest_plot(each), figures.correlation_heatmap(result["correlations"]),
             figures.estimand_comparison(each)]
    if "account_estimates" in result:
        drawn.append(figures.forest_by_account(result["account_estimates"], result["meta"]))
    for fig in drawn:
        fig.canvas.draw() if hasattr(fig.canvas, "draw") else None


def test_single_level_text_feature_of_the_issue_does_not_crash():
    """Issue 15's crash: a category with one level on every post (an accessory '' everywhere)."""
    rng = np.random.default_rng(1)
    n = 30
    posts = pd.DataFrame({"account": "real", "post_id": [str(i) for i in range(n)],
                          "taken_at": pd.date_range("2024-01-01", periods=n, tz="UTC"),
                          "likes": pd.array(rng.integers(50, 500, n), dtype="Int64"),
                          "comments": pd.array(rng.integers(0, 20, n), dtype="Int64"),
                          "followers": 1000, "media_type": "image"})
    features = pd.DataFrame({"account": "real", "post_id": posts["post_id"],
                             CATEGORY["column"]: pd.array([""] * n, dtype="string")})
    result = analyze(prepare_dataset(posts, features), permutations=9)
    assert "single level" in " ".join(result["model_negbin_each"]["note"].dropna())


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_accounts_still_give_every_table(n):
    rng = np.random.default_rng(n)
    posts = pd.DataFrame({"account": "tiny", "post_id": [str(i) for i in range(n)],
                          "taken_at": pd.date_range("2024-01-01", periods=n, tz="UTC"),
                          "likes": pd.array(rng.integers(1, 9, n), dtype="Int64"),
                          "comments": pd.array([0] * n, dtype="Int64"), "media_type": "image"})
    features = pd.DataFrame({"account": "tiny", "post_id": posts["post_id"],
                             BINARY["column"]: pd.array([True] * n, dtype="boolean")})
    result = analyze(prepare_dataset(posts, features), permutations=9)
    assert result["predictive"]["note"].iloc[0].startswith("not computed")
    assert result["model_negbin"]["note"].iloc[0].startswith("not computed")
