"""Analysis dataset: merge, feature columns, outcomes (rates, baseline), controls, missing inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rumaro_lab.analysis import feature_columns, load_dataset, prepare_dataset
from rumaro_lab.analysis.outcomes import add_outcomes
from rumaro_lab.errors import MissingInputError
from rumaro_lab.posts.schema import write_posts


def _posts(likes, followers=1000, account="acc"):
    n = len(likes)
    return pd.DataFrame({
        "account": account, "post_id": [str(i) for i in range(n)],
        "taken_at": pd.date_range("2024-01-01 10:00", periods=n, freq="D", tz="UTC"),
        "likes": pd.array(likes, dtype="Int64"), "comments": pd.array([1] * n, dtype="Int64"),
        "followers": pd.array([followers] * n, dtype="Int64"), "caption": ["hi #a"] * n,
        "hashtags": [["a"]] * n, "media_type": "image", "media": [[f"raw/{account}/{i}.jpg"] for i in range(n)],
    })


def test_feature_columns_skip_keys_json_diagnostics_and_identifiers():
    df = pd.DataFrame({
        "account": ["a"] * 4, "post_id": list("1234"), "status": ["ok"] * 4, "n_images": [1] * 4,
        "likes": [1, 2, 3, 4],
        "faces.count": pd.array([0, 1, 2, 1], dtype="Int64"),
        "faces.boxes_json": ["[]"] * 4,
        "pose.detected": pd.array([True, False, True, None], dtype="boolean"),
        "photo_type.label": ["portrait", "scenery", "portrait", "other"],
        "photo_type.rule": ["a", "b", "c", "d"],
        "image.dominant_color": ["#000001", "#000002", "#000003", "#000004"],
        "emotion.happiness": pd.array([None] * 4, dtype="Float64"),
        "image.width": [100, 100, 100, 100],
    })
    chosen = feature_columns(df, max_levels=3)
    assert chosen == ["faces.count", "pose.detected", "photo_type.label", "image.width"]


def test_engagement_rates_null_when_followers_unknown():
    posts = _posts([10, 20, None, 40])
    posts.loc[1, "followers"] = pd.NA
    df = add_outcomes(posts)
    assert df["engagement"].tolist()[:2] == [11, 21]
    assert df["engagement"].isna().tolist() == [False, False, True, False]  # hidden likes: unknown
    assert df.loc[0, "likes_rate"] == pytest.approx(0.01)
    assert pd.isna(df.loc[1, "likes_rate"])  # followers unknown -> null, never 0 or inf
    assert pd.isna(df.loc[2, "likes_rate"])
    assert df.loc[3, "comments_rate"] == pytest.approx(0.001)


def test_baseline_uses_only_earlier_posts_and_relative_divides_by_it():
    posts = _posts([100, 200, 300, 400, 500, 600])
    df = add_outcomes(posts, window=3, min_posts=2)
    base = df["likes_baseline"].astype("float64").tolist()
    # post i sees the median of the 3 known posts before it (at least 2 needed)
    assert np.isnan(base[0]) and np.isnan(base[1])
    assert base[2:] == [150.0, 200.0, 300.0, 400.0]
    assert df["likes_relative"].astype("float64").tolist()[2:] == pytest.approx([2.0, 2.0, 5 / 3, 1.5])


def test_baseline_skips_hidden_likes_and_is_per_account():
    a = _posts([10, None, 30, 50], account="a")
    b = _posts([1000, 1000, 1000, 1000], account="b")
    df = add_outcomes(pd.concat([a, b], ignore_index=True), window=5, min_posts=1)
    a_base = df[df["account"] == "a"]["likes_baseline"].astype("float64").tolist()
    assert np.isnan(a_base[0])
    assert a_base[1:] == [10.0, 10.0, 20.0]  # the hidden post is never part of a baseline
    assert df[df["account"] == "b"]["likes_baseline"].astype("float64").tolist()[1:] == [1000.0] * 3


def test_controls_time_trend_hour_weekday_caption_hashtags():
    posts = _posts([1, 2, 3])
    posts.loc[2, "caption"] = None
    df = add_outcomes(posts)
    assert df["t_years"].astype("float64").tolist() == pytest.approx([0, 1 / 365.25, 2 / 365.25])
    assert df["hour"].tolist() == [10, 10, 10]
    assert df["weekday"].tolist() == [0, 1, 2]  # 2024-01-01 was a Monday
    assert df["hashtag_count"].tolist() == [1, 1, 1]
    assert df["caption_length"].tolist() == [5, 5, 0]


def test_load_dataset_merges_posts_and_features(settings):
    write_posts(_posts([5, 6, 7]), settings.posts_path("acc"))
    features = pd.DataFrame({"account": "acc", "post_id": ["0", "2"], "status": "ok",
                             "image.brightness": pd.array([0.1, 0.3], dtype="Float64")})
    settings.features_path("acc").parent.mkdir(parents=True)
    features.to_parquet(settings.features_path("acc"))
    df = load_dataset(["acc"], settings)
    assert len(df) == 3  # every post kept, the one without features has null features
    assert df["image.brightness"].astype("float64").tolist()[0] == pytest.approx(0.1)
    assert pd.isna(df.loc[1, "image.brightness"])
    assert "likes_relative" in df and "t_years" in df


def test_missing_features_names_the_next_step(settings):
    write_posts(_posts([5, 6]), settings.posts_path("acc"))
    with pytest.raises(MissingInputError) as info:
        load_dataset(["acc"], settings)
    assert "rumaro extract acc" in info.value.hint


def test_prepare_dataset_matches_load_dataset(settings):
    posts = _posts([5, 6, 9])
    features = pd.DataFrame({"post_id": ["0", "1", "2"], "faces.count": pd.array([0, 1, 2], dtype="Int64")})
    df = prepare_dataset(posts, features)
    assert df["faces.count"].tolist() == [0, 1, 2]
    assert df["account"].tolist() == ["acc"] * 3
