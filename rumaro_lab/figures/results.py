"""Figures of result tables: forest plots of model terms, heatmaps of correlations."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .style import (
    NOT_SIGNIFICANT,
    PALETTE,
    SIGNIFICANT,
    _empty,
    _label,
    _numeric,
    _readable_log_ticks,
    _styled,
)

log = logging.getLogger(__name__)


# -- model coefficients ---------------------------------------------------------------------
def _is_intercept(term: str) -> bool:
    return term.lower() in {"intercept", "const", "(intercept)"}


@_styled
def forest_plot(
    model_table: pd.DataFrame,
    terms: Sequence[str] | None = None,
    q_threshold: float = 0.05,
    hue: str | None = None,
    title: str | None = None,
    max_terms: int | None = 30,
) -> Figure:
    """Coefficients with confidence intervals, one row per term (tidy table of `fit_model`).

    Count models (a ``rate_ratio`` is given) are drawn as rate ratios on a log axis around 1;
    others as estimates around 0. `terms` keeps terms equal to or starting with these names
    (e.g. the feature columns); by default the terms whose ``role`` is ``feature`` (controls and
    the intercept left out). At most `max_terms` terms, the smallest q-values first. Terms with
    ``q_value < q_threshold`` are filled. `hue` (e.g. ``"account"``) draws groups side by side.
    """
    table = model_table.reset_index(drop=True)
    table = table[table["term"].notna() & ~table["term"].astype(str).map(_is_intercept)]
    if "role" in table and terms is None:  # fit_model tables say which terms are features
        table = table[table["role"].astype(str) == "feature"]
    if terms is not None:
        prefixes = tuple(terms)
        table = table[table["term"].astype(str).map(lambda t: t in prefixes or t.startswith(prefixes))]
    if max_terms is not None and table["term"].nunique() > max_terms:
        # the clearest terms: smallest q-value first (then the largest effect)
        q = _numeric(table["q_value"]) if "q_value" in table else pd.Series(np.nan, index=table.index)
        size = np.log(_numeric(table["rate_ratio"])).abs() if "rate_ratio" in table and _numeric(table["rate_ratio"]).notna().any() else _numeric(table["estimate"]).abs()
        best = (table.assign(_q=q, _size=size).sort_values(["_q", "_size"], ascending=[True, False], na_position="last")
                ["term"].astype(str).drop_duplicates().head(max_terms))
        table = table[table["term"].astype(str).isin(set(best))]
    ratio = "rate_ratio" in table and _numeric(table["rate_ratio"]).notna().any()
    if ratio:
        point = _numeric(table["rate_ratio"])
        low, high = _numeric(table["ci_low"]), _numeric(table["ci_high"])
        # CIs may be given on the coefficient scale (they don't bracket the ratio): exponentiate.
        on_log_scale = ~((low <= point) & (point <= high))
        low, high = low.where(~on_log_scale, np.exp(low)), high.where(~on_log_scale, np.exp(high))
    else:
        point, low, high = _numeric(table["estimate"]), _numeric(table["ci_low"]), _numeric(table["ci_high"])
    table = table.assign(_point=point, _low=low, _high=high).dropna(subset=["_point"])
    groups = list(dict.fromkeys(table[hue].astype(str))) if hue and hue in table else [None]
    term_order = list(dict.fromkeys(table.sort_values("_point")["term"].astype(str)))
    fig = Figure(figsize=(7.5, max(2.5, 0.38 * len(term_order) * max(1, len(groups)) ** 0.5 + 1.2)))
    ax = fig.subplots()
    if title:
        ax.set_title(title)
    if table.empty:
        return _empty(fig, ax, "no coefficients to show")
    positions = {t: i for i, t in enumerate(term_order)}
    offsets = np.linspace(-0.25, 0.25, len(groups)) if len(groups) > 1 else [0.0]
    colors = sns.color_palette(PALETTE, len(groups))
    significant = _numeric(table["q_value"]).lt(q_threshold) if "q_value" in table else pd.Series(False, index=table.index)
    for g, (group, offset) in enumerate(zip(groups, offsets, strict=True)):
        part = table if group is None else table[table[hue].astype(str) == group]
        ys = part["term"].astype(str).map(positions) + offset
        sig = significant.reindex(part.index).fillna(False).to_numpy(dtype=bool)
        if group is None:
            face = np.where(sig, SIGNIFICANT, NOT_SIGNIFICANT)
            edge = face
        else:
            face = np.where(sig, mpl.colors.to_hex(colors[g]), "white")
            edge = np.full(len(part), mpl.colors.to_hex(colors[g]))
        ax.hlines(ys, part["_low"], part["_high"], colors=edge, linewidth=1.6)
        ax.scatter(part["_point"], ys, c=face, edgecolors=edge, s=36, zorder=3,
                   label=None if group is None else str(group))
    ax.axvline(1.0 if ratio else 0.0, color="black", linewidth=0.9, linestyle="--")
    if ratio:
        ax.set_xscale("log")
        _readable_log_ticks(ax.xaxis)
    ax.set_yticks(range(len(term_order)), [_label(t) for t in term_order])
    ax.set_ylim(-0.7, len(term_order) - 0.3)
    kind = "rate ratio (log scale; 1 = no change)" if ratio else "estimate (0 = no change)"
    ax.set_xlabel(f"{kind}, 95% CI; filled = q < {q_threshold:g}")
    if len(groups) > 1:
        ax.legend(title=hue, frameon=False, loc="best")
    return fig


# -- correlations ---------------------------------------------------------------------------
@_styled
def correlation_heatmap(
    corr_table: pd.DataFrame,
    q_threshold: float = 0.05,
    method: str | None = None,
    max_features: int = 35,
    title: str | None = None,
) -> Figure:
    """Features x outcomes heatmap of correlation estimates; ``*`` marks q < `q_threshold`.

    Takes the tidy table of `correlations`. With several methods, `method` picks one (default:
    the first). At most `max_features` rows, the strongest first (smallest q, then |estimate|).
    """
    table = corr_table.copy()
    note = f"* q < {q_threshold:g}"
    if "method" in table and table["method"].notna().any():
        chosen = method or str(table["method"].dropna().iloc[0])
        table = table[table["method"] == chosen]
        title = title or f"correlations ({chosen}; {note})"
    table = table.assign(estimate=_numeric(table["estimate"]),
                         q_value=_numeric(table["q_value"]) if "q_value" in table else np.nan)
    table = table.dropna(subset=["estimate"])
    fig_height = 2.2 + 0.3 * min(max_features, table["feature"].nunique() if len(table) else 1)
    n_outcomes = max(1, table["outcome"].nunique() if len(table) else 1)
    fig = Figure(figsize=(3.8 + 1.2 * n_outcomes, fig_height))
    ax = fig.subplots()
    ax.set_title(title or f"correlations ({note})")
    if table.empty:
        return _empty(fig, ax, "no correlations to show")
    strength = table.groupby("feature").agg(q=("q_value", "min"), r=("estimate", lambda s: s.abs().max()))
    keep = strength.sort_values(["q", "r"], ascending=[True, False], na_position="last").index[:max_features]
    table = table[table["feature"].isin(keep)]
    grid = table.pivot_table(index="feature", columns="outcome", values="estimate", aggfunc="first")
    qs = table.pivot_table(index="feature", columns="outcome", values="q_value", aggfunc="first")
    grid = grid.reindex(keep.intersection(grid.index, sort=False))
    qs = qs.reindex(index=grid.index, columns=grid.columns)
    labels = grid.map(lambda v: "" if pd.isna(v) else f"{v:.2f}") + qs.map(
        lambda q: "*" if pd.notna(q) and q < q_threshold else "")
    sns.heatmap(grid, annot=labels, fmt="", cmap="vlag", center=0, vmin=-1, vmax=1, ax=ax,
                linewidths=0.5, linecolor="white", cbar_kws={"label": "estimate", "shrink": 0.8})
    ax.set(xlabel="", ylabel="")
    ax.set_yticks(ax.get_yticks(), [_label(str(f)) for f in grid.index], rotation=0)
    return fig
