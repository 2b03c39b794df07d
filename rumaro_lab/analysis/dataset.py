"""The analysis table: posts merged with features, one row per post, outcomes and controls added.

`load_dataset` reads each account's posts table (data/interim/ACCOUNT/posts.parquet) and features
(data/processed/ACCOUNT/features.parquet), merges them on ``account`` + ``post_id`` (every post is
kept; a post without a feature row has null features) and adds the outcome and control columns
of `rumaro_lab.analysis.outcomes`. `feature_columns` says which columns are features to analyse:
the ones their extractors declare analysable (`rumaro_lab.extractors.schema`), never text,
diagnostics or artifacts; this module names no feature itself.

>>> import pandas as pd
>>> from rumaro_lab.extractors.schema import schema_table
>>> declared = schema_table().set_index("column")
>>> counts = declared[(declared.kind == "count") & (declared.role != "diagnostic")].index[0]
>>> texts = declared[declared.kind == "text"].index[0]
>>> df = pd.DataFrame({"account": ["a"] * 3, "post_id": ["1", "2", "3"],
...     counts: pd.array([0, 1, 2], dtype="Int64"), texts: ["x", "y", "z"]})
>>> feature_columns(df) == [counts]
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd

from ..accounts import validate_account
from ..errors import AnalysisError, MissingInputError
from ..extractors.schema import feature_schema
from ..extractors.tables import KEY_COLUMNS, read_artifacts
from ..posts.schema import read_posts
from .outcomes import BASELINE_MIN_POSTS, BASELINE_WINDOW, add_outcomes

log = logging.getLogger(__name__)

#: a string feature of an undeclared extractor with more distinct values than this is an
#: identifier, not a category
MAX_LEVELS = 12


def read_features(account: str, settings) -> pd.DataFrame:
    """One account's features.parquet; a missing file is a `MissingInputError` with the next step."""
    account = validate_account(account)
    path = settings.features_path(account)
    if not path.exists():
        raise MissingInputError(f"no features for account {account!r} at {path}",
                                hint=f"run `rumaro extract {account}`")
    return pd.read_parquet(path)


def merge_posts_features(posts: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Posts left-joined with features on account + post_id (features' duplicate columns dropped)."""
    posts = posts.copy()
    features = features.copy()
    for frame in (posts, features):
        frame["post_id"] = frame["post_id"].astype("string")
    if "account" not in features:
        features["account"] = posts["account"].iloc[0] if len(posts) else pd.NA
    for frame in (posts, features):
        frame["account"] = frame["account"].astype("string").str.lower()
    duplicated = features["post_id"].duplicated()
    if duplicated.any():
        log.warning("features: %d duplicated post_id row(s) ignored", int(duplicated.sum()))
        features = features[~duplicated]
    shared = [c for c in features.columns if c in posts.columns and c not in ("account", "post_id")]
    merged = posts.merge(features.drop(columns=shared), on=["account", "post_id"], how="left",
                         validate="one_to_one", indicator=True)
    missing = int((merged.pop("_merge") == "left_only").sum())
    if missing:
        log.warning("%d post(s) have no feature row (their features are null): run `rumaro extract`",
                    missing)
    return merged


def prepare_dataset(
    posts: pd.DataFrame,
    features: pd.DataFrame,
    baseline_window: int = BASELINE_WINDOW,
    baseline_min_posts: int = BASELINE_MIN_POSTS,
) -> pd.DataFrame:
    """In-memory `load_dataset`: merge a posts table and a features table, add outcomes/controls."""
    merged = merge_posts_features(posts, features)
    return add_outcomes(merged, window=baseline_window, min_posts=baseline_min_posts)


def read_post_artifacts(account: str, settings) -> pd.DataFrame | None:
    """One account's artifacts.parquet (boxes, keypoints, masks), parsed; None when absent."""
    path = settings.artifacts_path(validate_account(account))
    return read_artifacts(path) if path.exists() else None


def load_dataset(
    accounts: Iterable[str] | str,
    settings,
    baseline_window: int = BASELINE_WINDOW,
    baseline_min_posts: int = BASELINE_MIN_POSTS,
    artifacts: bool = False,
) -> pd.DataFrame:
    """Posts merged with features for one or more accounts, with outcome and control columns.

    ``artifacts=True`` adds the artifact columns too (face boxes for blurring, keypoints...): the
    analysis ignores them, figures that show photos use them.
    Raises `MissingInputError` naming the account when its posts or features are missing.
    """
    if isinstance(accounts, str):
        accounts = [accounts]
    frames = []
    for account in accounts:
        account = validate_account(account)
        posts = read_posts(settings.posts_path(account))
        posts["account"] = account
        merged = merge_posts_features(posts, read_features(account, settings))
        extra = read_post_artifacts(account, settings) if artifacts else None
        if extra is not None:
            extra = extra.drop(columns=[c for c in ("image", "image_sha256", "account")
                                        if c in extra]).drop_duplicates("post_id")
            extra["post_id"] = extra["post_id"].astype("string")
            merged = merged.merge(extra, on="post_id", how="left")
        frames.append(merged)
    if not frames:
        raise AnalysisError("no account given", hint="name at least one account")
    merged = pd.concat(frames, ignore_index=True)
    return add_outcomes(merged, window=baseline_window, min_posts=baseline_min_posts)


def is_categorical(values: pd.Series) -> bool:
    """String/object/category columns (booleans and numbers are not)."""
    return (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)
            or isinstance(values.dtype, pd.CategoricalDtype)) and not pd.api.types.is_bool_dtype(values)


def feature_columns(
    df: pd.DataFrame,
    max_levels: int = MAX_LEVELS,
    roles: Iterable[str] = ("primary", "exploratory"),
) -> list[str]:
    """The ``EXTRACTOR.FEATURE`` columns to analyse, in table order.

    The columns whose declared role is in `roles` and whose kind can enter a model (not free
    text, not a diagnostic), minus columns that are entirely null. A column of an extractor that
    is not registered is judged by its dtype (strings with more than `max_levels` values are
    identifiers). Constant columns are kept: the analysis marks them in its tables.
    """
    schema = feature_schema(df)
    roles = set(roles)
    chosen = []
    for column, info in schema.columns.items():
        spec = info.spec
        if column in KEY_COLUMNS or spec.role not in roles or not spec.analysable:
            continue
        values = df[column]
        if values.isna().all():
            continue
        if (not info.declared and spec.kind == "category"
                and values.dropna().astype(str).nunique() > max_levels):
            continue
        chosen.append(column)
    return chosen
