"""Outcomes and controls added to the merged posts+features table.

Outcomes (one column each; null when unknown, never 0):

- ``likes``, ``comments`` (from the posts table; a hidden like count is null) and
  ``engagement`` = likes + comments (null when either is unknown);
- ``{outcome}_rate`` = outcome / followers (null when the follower count is unknown or 0);
- ``{outcome}_baseline``: the account's own typical value *before* each post, the rolling
  median of its previous `window` posts with a known value (at least `min_posts` of them,
  else null). Only earlier posts count, so a post never sets its own baseline and the
  baseline follows the account's growth;
- ``{outcome}_relative`` = outcome / baseline (1.0 = a usual post for the account then).

Controls (``DEFAULT_CONTROLS``): ``t_years`` (years since the account's first post: the time
trend), ``hour_sin``/``hour_cos`` (hour of day on a circle, so 23:00 is next to 00:00),
``is_weekend`` (Saturday/Sunday, UTC), ``media_type`` (categorical, reference ``image``),
``log_caption_length`` (log1p of characters; a missing caption counts as empty) and
``hashtag_count``. ``weekday`` (0 = Monday) and ``hour`` are kept for users who want them.

>>> import pandas as pd
>>> posts = pd.DataFrame({"account": "a", "taken_at": pd.date_range("2024-01-01", periods=5,
...     freq="D", tz="UTC"), "likes": pd.array([10, 20, None, 40, 50], dtype="Int64"),
...     "comments": pd.array([1, 2, 3, 4, 5], dtype="Int64"), "followers": pd.array([100] * 5,
...     dtype="Int64"), "caption": None, "hashtags": [[]] * 5, "media_type": "image"})
>>> df = add_outcomes(posts, window=3, min_posts=2)
>>> df["engagement"].tolist()
[11, 22, <NA>, 44, 55]
>>> df["likes_baseline"].tolist()
[<NA>, <NA>, 15.0, 15.0, 20.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: outcomes that are counts (modelled with count models)
COUNT_OUTCOMES = ("likes", "comments", "engagement")
#: controls every model includes unless told otherwise
DEFAULT_CONTROLS = (
    "t_years", "hour_sin", "hour_cos", "is_weekend", "media_type", "log_caption_length",
    "hashtag_count",
)
BASELINE_WINDOW = 10
BASELINE_MIN_POSTS = 3
_YEAR_SECONDS = 365.25 * 24 * 3600


def _floats(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("Float64")


def rolling_baseline(
    df: pd.DataFrame,
    outcome: str,
    window: int = BASELINE_WINDOW,
    min_posts: int = BASELINE_MIN_POSTS,
    center: bool = False,
) -> pd.Series:
    """Median of `window` known values of `outcome` in the same account (Float64).

    By default the *previous* `window` known posts: a post never sets its own baseline (the
    analysis's ``{outcome}_baseline``). ``center=True`` gives the centred median of `window`
    posts around each one, the post included: a smoother to draw, not a baseline to divide by.
    Posts are ordered by ``taken_at``; a post with an unknown value gets the baseline of its
    time too (the median of the known posts before it) but never enters anyone's baseline.
    """
    result = pd.Series(np.nan, index=df.index, dtype="float64")
    groups = df.groupby("account", sort=False) if "account" in df else [(None, df)]
    for _, part in groups:
        ordered = part.sort_values("taken_at", kind="stable") if "taken_at" in part else part
        values = pd.Series(_floats(ordered[outcome]).to_numpy(dtype=float, na_value=np.nan),
                           index=ordered.index)
        known = values.dropna()
        if center:  # neighbours by position; unknown values are skipped inside each window
            smooth = values.rolling(window, center=True, min_periods=min_posts).median()
            result.loc[ordered.index] = smooth.to_numpy()
            continue
        # median of the known values up to and including each known post ...
        upto = known.rolling(window, min_periods=min_posts).median()
        # ... carried to every later post, then shifted so that a post sees only earlier ones
        carried = upto.reindex(ordered.index).ffill()
        previous = carried.shift(1)
        result.loc[ordered.index] = previous.to_numpy()
    return result.astype("Float64")


def add_outcomes(
    df: pd.DataFrame, window: int = BASELINE_WINDOW, min_posts: int = BASELINE_MIN_POSTS
) -> pd.DataFrame:
    """Return a copy of a posts(+features) table with the outcome and control columns added."""
    out = df.copy()
    likes, comments = _floats(out["likes"]), _floats(out["comments"])
    out["engagement"] = (likes + comments).round().astype("Int64")
    followers = _floats(out["followers"]) if "followers" in out else pd.Series(
        pd.NA, index=out.index, dtype="Float64")
    followers = followers.where(followers > 0)
    for name in COUNT_OUTCOMES:
        value = _floats(out[name])
        out[f"{name}_rate"] = (value / followers).astype("Float64")
        baseline = rolling_baseline(out, name, window, min_posts)
        out[f"{name}_baseline"] = baseline
        out[f"{name}_relative"] = (value / baseline.where(baseline > 0)).astype("Float64")
    return add_controls(out)


def add_controls(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with the control columns (time trend, hour, weekday, caption, hashtags)."""
    out = df.copy()
    taken = pd.to_datetime(out["taken_at"], utc=True)
    account = out["account"] if "account" in out else pd.Series("account", index=out.index)
    first = taken.groupby(account).transform("min")
    out["t_years"] = ((taken - first).dt.total_seconds() / _YEAR_SECONDS).astype("Float64")
    hour = (taken.dt.hour + taken.dt.minute / 60).astype("Float64")
    out["hour"] = taken.dt.hour.astype("Int64")
    out["hour_sin"] = np.sin(2 * np.pi * hour / 24).astype("Float64")
    out["hour_cos"] = np.cos(2 * np.pi * hour / 24).astype("Float64")
    out["weekday"] = taken.dt.day_of_week.astype("Int64")
    out["is_weekend"] = (out["weekday"] >= 5).astype("boolean")
    caption = out["caption"].astype("string") if "caption" in out else pd.Series(
        pd.NA, index=out.index, dtype="string")
    # instaloader has no caption for a post without one: an empty caption, not an unknown one
    out["caption_length"] = caption.str.len().fillna(0).astype("Int64")
    out["log_caption_length"] = np.log1p(out["caption_length"].astype("Float64"))
    if "hashtags" in out:
        out["hashtag_count"] = pd.array(
            [len(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else 0
             for v in out["hashtags"]], dtype="Int64")
    else:
        out["hashtag_count"] = pd.array([0] * len(out), dtype="Int64")
    return out
