"""Figures for reports and write-ups: one seaborn house style, one function per figure.

Every function takes tidy DataFrames (the dataset of `rumaro_lab.analysis.load_dataset`, or a
tidy result table of `correlations` / `fit_model`) and returns a `matplotlib.figure.Figure`. The
figures are made without pyplot, so nothing is drawn twice in a notebook and no global state
changes: the house style is applied inside each function (`house_style`), and `save_figure`
writes png (300 dpi), svg and pdf.

>>> import pandas as pd
>>> corr = pd.DataFrame({"feature": ["sim.x1", "sim.x2"], "outcome": "likes",
...                      "estimate": [0.4, -0.1], "q_value": [0.01, 0.6]})
>>> fig = correlation_heatmap(corr)
>>> [t.get_text() for t in fig.axes[0].texts]
['0.40*', '-0.10']

In a notebook: ``display(fig)``; to keep it: ``save_figure(fig, "reports/a/figures", "heatmap")``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .analysis.outcomes import rolling_baseline
from .extractors.schema import feature_schema
from .fileio import atomic_path

log = logging.getLogger(__name__)

#: Colour-blind-safe palette used for categories everywhere.
PALETTE = "colorblind"
#: Formats `save_figure` writes, and the raster resolution.
FORMATS = ("png", "svg", "pdf")
DPI = 300
#: Longest side of a photo in the posts grid (pixels): enough at print size, keeps files small.
THUMBNAIL_PX = 480
#: Category orders shared by every figure (unknown values follow, alphabetically).
#: Colours with a meaning: significant (q < threshold) vs not, and the baseline line.
SIGNIFICANT, NOT_SIGNIFICANT, BASELINE = "#0072B2", "#9a9a9a", "#D55E00"


def house_rc() -> dict:
    """The house style as matplotlib rc parameters (seaborn whitegrid + paper context)."""
    rc: dict = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=1.15))
    rc.update({
        "axes.prop_cycle": mpl.cycler(color=sns.color_palette(PALETTE)),
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
        "figure.constrained_layout.use": True,
        "savefig.dpi": DPI,
        "savefig.bbox": "tight",
        "svg.fonttype": "none",  # text stays text in svg (editable in a write-up)
        "pdf.fonttype": 42,  # TrueType in pdf, as journals ask
        "image.cmap": "viridis",
    })
    return rc


@contextmanager
def house_style():
    """Apply the house style inside a ``with`` block only (global rcParams are restored)."""
    with mpl.rc_context(house_rc()):
        yield


def _styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> Figure:
        with house_style():
            return func(*args, **kwargs)

    return wrapper


def _label(column: str) -> str:
    """``extractor.some_feature`` -> ``extractor: some feature``; ``likes_rate`` -> ``likes rate``."""
    return column.replace(".", ": ", 1).replace("_", " ")


def _compact(value: float) -> str:
    """1200 -> '1.2k', 3000000 -> '3M', 0.5 -> '0.5': tick labels a reader takes in at once."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _readable_log_ticks(axis) -> None:
    # Plain numbers instead of 2x10^3; minor ticks labelled only at 2 and 5 (x 10^k) so that a
    # short range still has labels and a long one is not crowded.
    axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: _compact(v)))

    def minor(v: float, _) -> str:
        if v <= 0:
            return ""
        lead = round(v / 10 ** math.floor(math.log10(v)), 6)
        low, high = axis.get_view_interval()
        decades = math.log10(max(high, 1e-12)) - math.log10(max(low, 1e-12))
        return _compact(v) if decades < 1.5 and lead in (2, 5) else ""

    axis.set_minor_formatter(mpl.ticker.FuncFormatter(minor))


def _positive_log_scale(ax, axis: str, values: pd.Series) -> None:
    # Engagement counts are heavy-tailed: a log axis, symlog when zeros are present.
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return
    setter = ax.set_yscale if axis == "y" else ax.set_xscale
    if (values > 0).all():
        setter("log")
    elif (values >= 0).all():
        setter("symlog", linthresh=1)
    else:
        return
    _readable_log_ticks(ax.yaxis if axis == "y" else ax.xaxis)


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _order(values: Iterable, preferred: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    return [p for p in preferred if p in present] + sorted(v for v in present if v not in preferred)


def _empty(fig: Figure, ax, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()
    return fig


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


# -- engagement over time -------------------------------------------------------------------
@_styled
def engagement_over_time(
    df: pd.DataFrame, outcome: str = "likes", baseline: str | None = None, window: int = 9
) -> Figure:
    """Each post's `outcome` over time, with the account's baseline (one colour per account).

    `baseline` names a column of the dataset; by default ``{outcome}_baseline`` when present,
    else `rolling_baseline`.
    """
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    data = df.copy()
    if "taken_at" not in data or outcome not in data:
        return _empty(fig, ax, f"needs taken_at and {outcome}")
    column = baseline or (f"{outcome}_baseline" if f"{outcome}_baseline" in data else None)
    data["_y"] = _numeric(data[outcome])
    data["_base"] = _numeric(data[column] if column else
                             rolling_baseline(data, outcome, window, min_posts=1, center=True))
    data["_t"] = pd.to_datetime(data["taken_at"], utc=True).dt.tz_convert(None)
    data = data.dropna(subset=["_t"]).sort_values("_t")
    if "account" not in data:
        data["account"] = "account"
    accounts = list(dict.fromkeys(data["account"].astype(str)))
    colors = dict(zip(accounts, sns.color_palette(PALETTE, len(accounts)), strict=True))
    for account in accounts:
        part = data[data["account"].astype(str) == account]
        ax.scatter(part["_t"], part["_y"], color=colors[account], alpha=0.75, s=22,
                   label=f"{account}: posts" if len(accounts) > 1 else "posts")
        ax.plot(part["_t"], part["_base"], color=BASELINE if len(accounts) == 1 else colors[account],
                linewidth=2, label=f"{account}: baseline" if len(accounts) > 1 else
                ("baseline" if column else f"baseline (rolling median of {window} posts)"))
    _positive_log_scale(ax, "y", data["_y"])
    ax.set(title=f"{_label(outcome)} over time", xlabel="", ylabel=_label(outcome))
    ax.legend(frameon=False, loc="best")
    fig.autofmt_xdate()
    return fig


# -- top / bottom posts ---------------------------------------------------------------------
def _image_path(row: pd.Series, data_dir: Path) -> Path | None:
    rel = row.get("image")
    if rel is None or pd.isna(rel):
        media = row.get("media")
        rel = media[0] if media is not None and len(media) else None
    return None if rel is None else Path(data_dir) / str(rel)


@_styled
def posts_grid(
    df: pd.DataFrame,
    outcome: str = "likes",
    n: int = 4,
    data_dir: str | Path = "data",
    blur: bool = True,
    settings=None,
    label: str | None = None,
) -> Figure:
    """The `n` posts with the most and the fewest `outcome`, as photos (faces blurred by default).

    Images are read from `data_dir` (the ``image`` column, else the cover in ``media``). Face
    boxes come from the dataset's face-boxes artifact columns (`load_dataset(...,
    artifacts=True)`); see `rumaro_lab.privacy` for what happens when they are unknown. Each
    photo is captioned with `label` (default: the feature declared as the photo's summary).
    """
    from .errors import RumaroError
    from .privacy import FaceBlurrer, face_boxes, shown_photo

    if label is None:
        label = feature_schema(df).summary()

    data = df.assign(_y=_numeric(df[outcome])).dropna(subset=["_y"]).sort_values("_y", ascending=False)
    n = max(1, min(n, len(data) // 2 or 1))
    rows = [("most " + _label(outcome), data.head(n)), ("fewest " + _label(outcome), data.tail(n).iloc[::-1])]
    fig = Figure(figsize=(2.6 * n, 6.2))
    axes = fig.subplots(2, n, squeeze=False)
    blurrer = FaceBlurrer(settings) if blur else None
    fig.suptitle(f"top and bottom posts by {_label(outcome)}" + (" (faces blurred)" if blur else ""),
                 x=0.01, ha="left", fontweight="bold")
    for r, (name, part) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.set_axis_off()
            if c >= len(part):
                continue
            row = part.iloc[c]
            path = _image_path(row, Path(data_dir))
            try:
                if path is None:
                    raise RumaroError("no image path")
                pixels = shown_photo(path, face_boxes(row), blur=blur, blurrer=blurrer)
                # "none": pdf/svg embed the thumbnail as it is instead of resampling it to 300 dpi
                ax.imshow(_thumbnail(pixels), interpolation="none")
            except (RumaroError, OSError) as exc:
                log.warning("post %s: photo not shown: %s", row.get("post_id"), exc)
                ax.text(0.5, 0.5, "photo unavailable", ha="center", va="center", transform=ax.transAxes)
            kind = row.get(label) if label else None
            value = float(row["_y"])
            shown = f"{value:,.0f}" if value.is_integer() else f"{value:.2f}"
            caption = f"{shown} {_label(outcome)}" + (f"\n{kind}" if kind is not None and pd.notna(kind) else "")
            ax.set_title(caption, fontsize="small", loc="center", fontweight="normal")
        axes[r, 0].text(-0.08, 0.5, name, rotation=90, ha="right", va="center",
                        transform=axes[r, 0].transAxes, fontweight="bold")
    return fig


def _thumbnail(rgb: np.ndarray, size: int = THUMBNAIL_PX) -> np.ndarray:
    # Blur first (on the full image, where the boxes are), then shrink: keeps reports small.
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((size, size))
    return np.asarray(image)


# -- export ---------------------------------------------------------------------------------
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def save_figure(fig: Figure, folder: str | Path, name: str, formats: Sequence[str] = FORMATS) -> dict[str, Path]:
    """Write `fig` as ``folder/name.png`` (300 dpi), ``.svg`` and ``.pdf``; returns the paths.

    >>> import tempfile
    >>> fig = Figure(); _ = fig.subplots().plot([1, 2])
    >>> sorted(save_figure(fig, tempfile.mkdtemp(), "line"))
    ['pdf', 'png', 'svg']
    """
    if not _NAME_RE.match(name) or ".." in name:
        raise ValueError(f"figure name {name!r}: use letters, digits, '-', '_' or '.'")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    with house_style():
        for fmt in formats:
            path = folder / f"{name}.{fmt}"
            with atomic_path(path) as tmp:  # never a half-written figure under the real name
                fig.savefig(tmp, format=fmt, dpi=DPI, metadata=_metadata(fmt))
            written[fmt] = path
    return written


def _metadata(fmt: str) -> dict | None:
    # Reproducible files: no creation date in svg/pdf (so identical figures diff as identical).
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return None
