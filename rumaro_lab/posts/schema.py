"""The posts table contract (data/interim/ACCOUNT/posts.parquet): one row per post.

Column names are a contract shared by every stage (DESIGN.md). Unknown is null, never 0: a
hidden like count is <NA>. Counts are nullable Int64, timestamps tz-aware UTC, lists are Python
lists of strings (pyarrow list<string> in parquet).

>>> df = coerce_posts(pd.DataFrame({"account": ["a"], "post_id": ["1"], "likes": [-1]}))
>>> df["likes"].isna().all(), str(df["taken_at"].dtype)
(np.True_, 'datetime64[ns, UTC]')
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import MissingInputError, RumaroError
from ..fileio import write_parquet

#: column -> pandas dtype ("list" = object column of lists of str)
POSTS_SCHEMA: dict[str, str] = {
    "account": "string",
    "post_id": "string",
    "shortcode": "string",
    "taken_at": "datetime64[ns, UTC]",
    "likes": "Int64",
    "comments": "Int64",
    "views": "Int64",
    "caption": "string",
    "accessibility_caption": "string",
    "hashtags": "list",
    "mentions": "list",
    "media_type": "string",  # image | sidecar | video
    "media": "list",  # image paths relative to the data dir, cover first
    "followers": "Int64",
    "fetched_at": "datetime64[ns, UTC]",
    "location": "string",
    "is_sponsored": "boolean",
    "is_pinned": "boolean",
    "source": "string",  # instaloader | folder | table | sample
    "media_sha256": "list",  # sha256 of each media file's bytes at import ([] = not recorded)
}

POSTS_COLUMNS: tuple[str, ...] = tuple(POSTS_SCHEMA)
MEDIA_TYPES = ("image", "sidecar", "video")
COUNT_COLUMNS = ("likes", "comments", "views", "followers")


def _as_list(value) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def _to_utc(values: pd.Series) -> pd.Series:
    """Any timestamps (aware, naive = UTC, ISO strings with mixed offsets) -> UTC; bad -> NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def coerce_posts(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with every contract column present, in order, with the contract dtypes.

    Negative counts (instaloader's -1 for hidden likes) become <NA>. Extra columns are kept
    after the contract columns.
    """
    out = df.copy()
    for column, dtype in POSTS_SCHEMA.items():
        if column not in out:
            out[column] = pd.Series([None] * len(out), index=out.index, dtype="object")
        if dtype == "list":
            out[column] = [_as_list(v) for v in out[column]]
        elif dtype.startswith("datetime64"):
            out[column] = _to_utc(out[column]).astype(dtype)
        elif dtype == "Int64":
            numbers = pd.to_numeric(out[column], errors="coerce")
            out[column] = numbers.where(numbers >= 0).round().astype("Int64")
        else:
            out[column] = out[column].astype(dtype)
    bad = ~out["media_type"].isna() & ~out["media_type"].isin(MEDIA_TYPES)
    if bad.any():
        raise RumaroError(
            f"unknown media_type value(s) {sorted(out.loc[bad, 'media_type'].unique())}",
            hint=f"use one of {MEDIA_TYPES}",
        )
    extra = [c for c in out.columns if c not in POSTS_SCHEMA]
    return out[[*POSTS_COLUMNS, *extra]].reset_index(drop=True)


def write_posts(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a posts table atomically (temp file + rename): a crash never leaves half a file."""
    return write_parquet(coerce_posts(df), path)


def read_posts(path: str | Path) -> pd.DataFrame:
    """Read a posts table written by `write_posts`, with the contract dtypes."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(
            f"no posts table at {path}",
            hint="import or fetch the account first (`rumaro import PATH` or `rumaro fetch NAME`)",
        )
    return coerce_posts(pd.read_parquet(path))
