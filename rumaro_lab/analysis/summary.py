"""Descriptive summaries: one row per account, one row per feature (the tables before any test).

`dataset_summary` works on a posts table as well as on the merged dataset (columns it needs but
can't find are simply left out), so the fetch, extract and analysis notebooks show the same table.

>>> import pandas as pd
>>> posts = pd.DataFrame({"account": "a", "likes": pd.array([10, None, 30], dtype="Int64"),
...                       "taken_at": pd.date_range("2024-01-01", periods=3, tz="UTC")})
>>> dataset_summary(posts)[["account", "posts", "posts_with_likes", "median_likes"]]
  account  posts  posts_with_likes  median_likes
0       a      3                 2          20.0
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..extractors.schema import feature_schema
from .design import feature_kind, resolve_outcome

#: share of unknown values above which a feature is left out of the joint models
MAX_MISSING = 0.2


def dataset_summary(df: pd.DataFrame, outcome: str = "likes") -> pd.DataFrame:
    """One row per account: posts, known outcome, period, median and mean outcome, followers,
    posts without features and with feature errors."""
    column = outcome if outcome in df else resolve_outcome(df, outcome).column
    frame = df if "account" in df else df.assign(account="account")
    rows = []
    for account, part in frame.groupby("account", sort=True):
        y = pd.to_numeric(part[column], errors="coerce")
        row = {"account": str(account), "posts": len(part),
               f"posts_with_{column}": int(y.notna().sum()), f"unknown_{column}": int(y.isna().sum())}
        if "taken_at" in part:
            taken = pd.to_datetime(part["taken_at"], utc=True)
            row.update(first_post=taken.min(), last_post=taken.max())
        row.update({f"median_{column}": y.median(), f"mean_{column}": y.mean()})
        if "followers" in part:
            followers = pd.to_numeric(part["followers"], errors="coerce").dropna()
            row["followers"] = followers.iloc[-1] if len(followers) else pd.NA
        if "status" in part:
            status = part["status"].astype("string")
            row["posts_without_features"] = int(status.isna().sum())
            row["posts_with_feature_errors"] = int(status.isin(["error", "partial"]).sum())
        rows.append(row)
    table = pd.DataFrame(rows).convert_dtypes()
    # a median of counts can be fractional: keep the float type whatever this sample's values
    stats = [c for c in table.columns if c.startswith(("median_", "mean_"))]
    return table.astype(dict.fromkeys(stats, "Float64"))


def feature_summary(
    df: pd.DataFrame, features: Iterable[str] | None = None, max_missing: float = MAX_MISSING
) -> pd.DataFrame:
    """One row per feature: extractor, declared kind and role, dtype, share of posts with a value,
    levels, caveats. `features` defaults to every declared feature column of `df`."""
    schema = feature_schema(df)
    features = list(schema.columns) if features is None else list(features)
    rows = []
    for feature in features:
        values = df[feature]
        info = schema.columns.get(feature)
        kind = info.spec.kind if info is not None else feature_kind(values)
        known = float(values.notna().mean()) if len(values) else 0.0
        levels = int(values.dropna().astype(str).nunique())
        notes = []
        if levels <= 1:
            notes.append("constant: no effect can be estimated")
        if 1 - known > max_missing:
            notes.append(f"{1 - known:.0%} unknown: left out of the joint models "
                         "(in the one-at-a-time models, on the posts with a value)")
        rows.append({"feature": feature, "extractor": feature.partition(".")[0], "kind": kind,
                     "role": info.spec.role if info is not None else pd.NA,
                     "dtype": str(values.dtype), "known_share": known,
                     "levels": levels if kind in ("category", "categorical") else pd.NA,
                     "note": "; ".join(notes) or None})
    columns = ["feature", "extractor", "kind", "role", "dtype", "known_share", "levels", "note"]
    return pd.DataFrame(rows, columns=columns).convert_dtypes()
