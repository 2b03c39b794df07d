"""Issue 15: `rumaro batch` of 20 small real-shaped accounts reports all 20, then compares them.

The accounts are made from the bundled sample's imported posts (real photos, instaloader's
layout) with simulated engagement, and features tables written directly in the declared schema
(extraction is tested elsewhere; here it would only cost minutes). They hold what real downloads
hold: 10 posts each (two accounts smaller), hidden likes, a text feature with a single level on
every post, constant and all-missing features, an unknown follower count, posts fetched minutes
after they were posted, all-zero comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rumaro_lab import report
from rumaro_lab.cli import main
from rumaro_lab.extractors.schema import schema_table
from rumaro_lab.posts.importing import import_sample
from rumaro_lab.posts.schema import read_posts, write_posts

pytestmark = pytest.mark.slow

N_ACCOUNTS = 20
DECLARED = schema_table()
DECLARED = DECLARED[DECLARED["what"] == "feature"]


def _values(rng, kind: str, levels: str, n: int, shape: str):
    if shape == "missing":
        return [None] * n
    if kind == "binary":
        values = [bool(v) for v in rng.random(n) < 0.5]
    elif kind == "count":
        values = [int(v) for v in rng.integers(0, 4, n)]
    elif kind == "category":
        choices = [v for v in levels.split(", ") if v] or ["a"]
        values = [str(v) for v in rng.choice(choices, n)]
    elif kind == "text":
        values = [""] * n  # the crash: one level ('' = no accessory) on every post
    else:
        values = [float(v) for v in rng.uniform(0, 1, n)]
    return values[:1] * n if shape == "constant" else values


def _features(rng, posts: pd.DataFrame, account_index: int) -> pd.DataFrame:
    n = len(posts)
    frame = pd.DataFrame({"account": posts["account"].to_numpy(), "post_id": posts["post_id"].to_numpy(),
                          "status": "ok"})
    primary = DECLARED[DECLARED["role"] == "primary"]
    extra = DECLARED[(DECLARED["role"] == "exploratory")].groupby("kind").head(2)
    text = DECLARED[DECLARED["kind"] == "text"].head(1)
    for i, row in enumerate(pd.concat([primary, extra, text]).itertuples()):
        shape = ("missing" if (i + account_index) % 9 == 0 else
                 "constant" if (i + account_index) % 7 == 0 else "random")
        dtype = {"binary": "boolean", "count": "Int64", "category": "string", "text": "string"}.get(
            row.kind, "Float64")
        frame[row.column] = pd.array(_values(rng, row.kind, row.levels, n, shape), dtype=dtype)
    return frame


def _accounts(settings) -> list[str]:
    import_sample(settings)
    sample = read_posts(settings.posts_path("sample"))
    sample = sample[sample["media_type"] != "video"].reset_index(drop=True)
    rng = np.random.default_rng(15)
    names = []
    for a in range(N_ACCOUNTS):
        name = f"shaped_{a:02d}"
        n = {3: 3, 11: 2}.get(a, 10)
        posts = sample.iloc[rng.choice(len(sample), n, replace=False)].sort_values("taken_at").copy()
        posts["account"] = name
        followers = int(10 ** rng.uniform(3, 6))
        mu = followers * 0.03 * np.exp(rng.normal(0, 0.5, n))
        likes = rng.negative_binomial(3, 3 / (3 + mu)).astype(float)
        if a % 4 == 1:
            likes[rng.random(n) < 0.3] = np.nan  # hidden like counts
        posts["likes"] = pd.array(likes, dtype="Float64").round().astype("Int64")
        posts["comments"] = pd.array([0] * n if a % 5 == 2 else rng.integers(0, 30, n), dtype="Int64")
        posts["followers"] = pd.array([None if a == 7 else followers] * n, dtype="Int64")
        fetched = posts["taken_at"].max() + pd.Timedelta(minutes=30 if a % 6 == 0 else 60 * 24 * 30)
        posts["fetched_at"] = fetched
        write_posts(posts, settings.posts_path(name))
        settings.processed_dir(name).mkdir(parents=True, exist_ok=True)
        _features(rng, posts, a).to_parquet(settings.features_path(name), index=False)
        names.append(name)
    return names


def test_batch_of_20_real_shaped_accounts_all_succeed(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("RUMARO_FIGURE_FORMATS", "png")  # svg and pdf are tested in test_report
    names = _accounts(settings)
    accounts_file = tmp_path / "accounts.txt"
    accounts_file.write_text("\n".join(names) + "\n")
    code = main(["--data-dir", str(settings.data_dir), "--reports-dir", str(settings.reports_dir),
                 "--cache-dir", str(settings.cache_dir), "--models-dir", str(settings.models_dir),
                 "batch", str(accounts_file), "--jobs", "2", "--no-blur"])
    summary = pd.read_csv(settings.reports_dir / report.SUMMARY_FILE)
    assert list(summary["status"]) == ["ok"] * N_ACCOUNTS, summary.loc[summary["status"] != "ok", "error"].tolist()
    assert code == 0
    for name in names:
        assert (settings.report_dir(name) / "report.html").is_file()
        each = pd.read_csv(settings.report_dir(name) / "tables" / "model_negbin_each.csv")
        assert set(each["estimand"].dropna()) == {"within"}  # one account: within by construction
    combined = settings.reports_dir / report.COMPARE_DIR
    assert (combined / "report.html").is_file()
    tables = {p.stem: pd.read_csv(p) for p in (combined / "tables").glob("*.csv")}
    assert {"meta", "account_estimates", "accounts"} <= set(tables)
    assert set(tables["model_negbin_each"]["estimand"].dropna()) == {"within", "pooled", "between"}
    # the comparison correlates within-account outcomes only, never raw pooled likes
    assert set(tables["correlations"]["outcome"].dropna()) <= {
        "likes_relative", "likes_rank", "comments_relative", "comments_rank"}
    assert (combined / "figures" / "forest_by_account.png").stat().st_size > 1000
    text = (combined / "report.html").read_text(encoding="utf-8")
    assert "does X help this account" in text
