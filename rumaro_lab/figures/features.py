"""Figures of features against engagement: categories as groups, scores with a LOWESS curve.

Levels come in the order the extractors declare (`rumaro_lab.extractors.schema`), and
`primary_feature_figures` draws every primary feature: no feature is named here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..extractors.schema import feature_schema
from .style import (
    BASELINE,
    PALETTE,
    _empty,
    _label,
    _numeric,
    _order,
    _positive_log_scale,
    _styled,
)

log = logging.getLogger(__name__)


# -- categories: distribution + engagement ---------------------------------------------------
def _category_values(df: pd.DataFrame, column: str) -> tuple[pd.Series, list[str]]:
    """The values to group by, and the declared order of the levels (absent label last).

    A feature declared with ``absent=(column, label)`` shows its nulls as `label` where that
    column is 0 or False (emotion of a photo without a face: "no face", not "unknown").
    """
    values = df[column].astype("object") if column in df else pd.Series(None, index=df.index, dtype="object")
    schema = feature_schema(df)
    if column not in schema:
        return values, []
    spec = schema[column]
    order = list(spec.levels) if spec.kind == "category" else ["False", "True"]
    if spec.absent is not None and spec.absent[0] in df:
        where, label = spec.absent
        absent = _numeric(df[where]).eq(0) & values.isna()
        values = values.where(~absent, label)
        order.append(label)
    return values, order


@_styled
def category_figure(
    df: pd.DataFrame,
    column: str,
    outcome: str = "likes",
    order: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Two panels: how many posts per category of `column`, and `outcome` per category.

    Levels come in their declared order (`rumaro_lab.extractors.schema`) unless `order` is
    given. Posts where the category is unknown (extractor failed) are left out and counted in
    the title; where the feature declares what a null means (no face to score), those posts
    form their own category.
    """
    fig = Figure(figsize=(10, 4.2))
    ax_n, ax_y = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
    values, declared_order = _category_values(df, column)
    order = declared_order if order is None else order
    data = pd.DataFrame({"category": values, "y": _numeric(df[outcome]) if outcome in df else np.nan})
    unknown = int(data["category"].isna().sum())
    data = data.dropna(subset=["category"])
    data["category"] = data["category"].astype(str)
    name = title or _label(column)
    fig.suptitle(f"{name}: {len(data)} posts" + (f" ({unknown} unknown, not shown)" if unknown else ""),
                 x=0.01, ha="left", fontweight="bold")
    if data.empty:
        _empty(fig, ax_y, f"no known values of {column}")
        return _empty(fig, ax_n, "")
    cats = _order(data["category"], order)
    palette = dict(zip(cats, sns.color_palette(PALETTE, len(cats)), strict=True))
    counts = data["category"].value_counts().reindex(cats)
    sns.barplot(x=counts.values, y=cats, hue=cats, palette=palette, legend=False, ax=ax_n, orient="h")
    for i, n in enumerate(counts.values):
        ax_n.text(n, i, f" {n}", va="center")
    ax_n.set(title="posts per category", xlabel="posts", ylabel="")
    scored = data.dropna(subset=["y"])
    if scored.empty:
        return _empty(fig, ax_y, f"no known {outcome}")
    sns.boxplot(data=scored, x="y", y="category", hue="category", order=cats, palette=palette,
                legend=False, showfliers=False, ax=ax_y, orient="h", boxprops={"alpha": 0.45})
    sns.stripplot(data=scored, x="y", y="category", hue="category", order=cats, palette=palette,
                  legend=False, ax=ax_y, orient="h", size=4, alpha=0.8, jitter=0.2)
    medians = scored.groupby("category")["y"].median().reindex(cats)
    for i, m in enumerate(medians.values):
        if not math.isnan(m):
            ax_y.plot([m], [i], marker="D", color="black", markersize=5, zorder=5)
    _positive_log_scale(ax_y, "x", scored["y"])
    ax_y.set(title=f"{_label(outcome)} per category (diamond = median)", xlabel=_label(outcome), ylabel="")
    ax_y.tick_params(labelleft=False)
    return fig


# -- a score against engagement, with a LOWESS smoother --------------------------------------
@_styled
def smoother_figure(
    df: pd.DataFrame,
    x: str | Sequence[str],
    outcome: str = "likes",
    frac: float = 0.6,
    title: str | None = None,
) -> Figure:
    """One panel per column in `x`: posts as points, `outcome` on a log axis, a LOWESS curve.

    The smoother is fitted on ``log1p(outcome)`` (engagement is multiplicative), so the curve
    follows the geometric middle of the points rather than a few viral posts.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    columns = [x] if isinstance(x, str) else list(x)
    columns = [c for c in columns if c in df] or columns[:1]
    fig = Figure(figsize=(5 * len(columns), 4))
    axes = np.atleast_1d(fig.subplots(1, len(columns), squeeze=False).ravel())
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    for ax, column in zip(axes, columns, strict=True):
        if column not in df or outcome not in df:
            _empty(fig, ax, f"{column} not computed")
            continue
        data = pd.DataFrame({"x": _numeric(df[column]), "y": _numeric(df[outcome])}).dropna()
        if data.empty:
            _empty(fig, ax, f"no posts with both {column} and {outcome}")
            continue
        sns.scatterplot(data=data, x="x", y="y", ax=ax, alpha=0.7, edgecolor="white", linewidth=0.4)
        if len(data) >= 5 and data["x"].nunique() > 2:
            curve = lowess(np.log1p(data["y"]), data["x"], frac=frac, return_sorted=True)
            ax.plot(curve[:, 0], np.expm1(curve[:, 1]), color=BASELINE, linewidth=2, label="LOWESS")
            ax.legend(loc="best", frameon=False)
        _positive_log_scale(ax, "y", data["y"])
        ax.set(xlabel=_label(column), ylabel=_label(outcome), title=f"n = {len(data)} posts")
    return fig


# -- one figure per declared feature ---------------------------------------------------------
def feature_figure(df: pd.DataFrame, column: str, outcome: str = "likes") -> Figure:
    """The figure that suits the feature's declared kind: categories and flags as groups,
    scores and counts against `outcome` with a LOWESS curve."""
    schema = feature_schema(df)
    kind = schema[column].kind if column in schema else "continuous"
    title = schema[column].meaning if column in schema else None
    if kind in ("category", "binary"):
        return category_figure(df, column, outcome, title=f"{_label(column)}: {title}" if title else None)
    return smoother_figure(df, column, outcome, title=f"{_label(column)}: {title}" if title else None)


def primary_feature_figures(df: pd.DataFrame, outcome: str = "likes") -> dict[str, Figure]:
    """`feature_figure` of every primary feature in `df` (the headline family), in table order.

    Features with no known value on this feed are skipped: there is nothing to draw.
    """
    schema = feature_schema(df)
    return {column: feature_figure(df, column, outcome) for column in schema.primary()
            if df[column].notna().any()}
