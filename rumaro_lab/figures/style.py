"""The house style of every figure, the small helpers they share, and `save_figure`.

The style is applied inside each figure function (`house_style`), never globally, so drawing a
figure changes no matplotlib state; `save_figure` writes png (300 dpi), svg and pdf atomically.
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
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..fileio import atomic_path

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
