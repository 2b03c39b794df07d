"""Figures across accounts: a forest plot by account, and the estimands side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import style
from .style import _numeric, _styled

#: at most this many terms (panels) in one forest plot by account
MAX_PANELS = 12


def _ratio_scale(table: pd.DataFrame) -> bool:
    return "rate_ratio" in table and _numeric(table["rate_ratio"]).notna().any()


@_styled
def forest_by_account(
    account_table: pd.DataFrame,
    meta_table: pd.DataFrame | None = None,
    terms: Sequence[str] | None = None,
    title: str | None = None,
    max_panels: int = MAX_PANELS,
) -> Figure:
    """One panel per term: each account's own estimate (open: raw, 95% CI; filled: shrunk towards
    the random-effects mean) and, at the bottom, the random-effects summary (diamond) with tau2
    and I2 in the panel title. Takes the ``account_estimates`` and ``meta`` tables of `analyze`.
    """
    table = account_table.copy()
    table = table[table["term"].notna()] if "term" in table else table.iloc[0:0]
    if terms is not None:
        table = table[table["term"].astype(str).isin(list(terms))]
    ratio = _ratio_scale(table)
    point = _numeric(table["rate_ratio"] if ratio else table.get("estimate", pd.Series(dtype=float)))
    table = table.assign(_point=point).dropna(subset=["_point"]) if len(table) else table
    order = list(dict.fromkeys(table["term"].astype(str))) if len(table) else []
    if meta_table is not None and len(order) and "q_value" in meta_table:
        q = meta_table.set_index(meta_table["term"].astype(str))["q_value"]
        order.sort(key=lambda t: (pd.isna(q.get(t)), _numeric(pd.Series([q.get(t)])).iloc[0]))
    order = order[:max_panels]
    columns = min(3, max(1, len(order)))
    rows = max(1, int(np.ceil(len(order) / columns)))
    n_accounts = table["account"].nunique() if len(table) else 1
    fig = Figure(figsize=(4.2 * columns, max(2.6, 0.28 * n_accounts + 1.6) * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    if not order:
        for ax in axes[1:]:
            ax.set_axis_off()
        return style._empty(fig, axes[0], "no per-account estimates to show")
    meta = (meta_table.set_index(meta_table["term"].astype(str))
            if meta_table is not None and "term" in meta_table and meta_table["term"].notna().any() else None)
    for ax, term in zip(axes, order, strict=False):
        part = table[table["term"].astype(str) == term].sort_values("account", ascending=False)
        ys = np.arange(len(part)) + 1.0
        low, high = _numeric(part["ci_low"]), _numeric(part["ci_high"])
        ax.hlines(ys + 0.15, low, high, colors=style.NOT_SIGNIFICANT, linewidth=1.2)
        ax.scatter(part["_point"], ys + 0.15, facecolors="white", edgecolors=style.NOT_SIGNIFICANT, s=22,
                   zorder=3, label="account alone")
        if "shrunk_rate_ratio" in part and ratio:
            shrunk = _numeric(part["shrunk_rate_ratio"])
        else:
            shrunk = _numeric(part.get("shrunk_estimate", pd.Series(np.nan, index=part.index)))
        s_low, s_high = _numeric(part.get("shrunk_ci_low", shrunk)), _numeric(part.get("shrunk_ci_high", shrunk))
        ax.hlines(ys - 0.15, s_low, s_high, colors=style.SIGNIFICANT, linewidth=1.2)
        ax.scatter(shrunk, ys - 0.15, color=style.SIGNIFICANT, s=22, zorder=3, label="shrunk (empirical Bayes)")
        positions, labels = list(ys), list(part["account"].astype(str))
        heading = style._label(term)
        row = meta.loc[term] if meta is not None and term in meta.index else None
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        centre = (_numeric(pd.Series([row.get("rate_ratio") if ratio else row.get("estimate")])).iloc[0]
                  if row is not None else np.nan)
        if pd.notna(centre):
            lo, hi = float(row["ci_low"]), float(row["ci_high"])
            ax.fill([lo, centre, hi, centre], [0, 0.25, 0, -0.25], color=style.BASELINE, zorder=3)
            positions, labels = [0.0, *positions], ["all (random effects)", *labels]
            tau2, i2 = row.get("tau2"), row.get("i2")
            if pd.notna(tau2) and pd.notna(i2):
                heading += f"\ntau\u00b2 = {float(tau2):.3g}, I\u00b2 = {float(i2):.0%}"
        ax.set_yticks(positions, labels)
        ax.axvline(1.0 if ratio else 0.0, color="black", linewidth=0.8, linestyle="--")
        if ratio:
            values = pd.concat([low, high, s_low, s_high]).dropna()
            if len(values) and (values > 0).all():
                ax.set_xscale("log")
                style._readable_log_ticks(ax.xaxis)
        ax.set_title(heading, fontsize="small")
        ax.set_ylim(-0.7, len(part) + 0.7)
    for ax in axes[len(order):]:
        ax.set_axis_off()
    axes[0].legend(loc="lower left", bbox_to_anchor=(0, 1.12), frameon=False, fontsize="x-small", ncol=2)
    kind = "rate ratio (log scale), 95% CI" if ratio else "estimate, 95% CI"
    fig.supxlabel(f"within-account {kind}: open = the account alone, filled = shrunk; "
                  "diamond = random-effects mean", fontsize="small")
    return fig


@_styled
def estimand_comparison(model_table: pd.DataFrame, terms: Sequence[str] | None = None,
                        max_terms: int = 20, title: str | None = None) -> Figure:
    """Feature terms of a model table with its ``within`` and ``pooled`` estimates side by side:
    where they part, differences between accounts drive the pooled number."""
    from .results import forest_plot

    table = model_table
    if "estimand" in table:
        table = table[table["estimand"].astype("string").isin(["within", "pooled"])]
    return forest_plot(table, terms=terms, hue="estimand", max_terms=max_terms,
                       title=title or "within (an account's own posts) vs pooled (all posts together)")
