"""Figures of the posts themselves: engagement over time, and the top and bottom posts as photos
(faces blurred by default, `rumaro_lab.privacy`)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..analysis.outcomes import rolling_baseline
from ..extractors.schema import feature_schema
from .style import (
    BASELINE,
    PALETTE,
    THUMBNAIL_PX,
    _empty,
    _label,
    _numeric,
    _positive_log_scale,
    _styled,
)

log = logging.getLogger(__name__)


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
    from ..errors import RumaroError
    from ..privacy import FaceBlurrer, face_boxes, shown_photo

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
