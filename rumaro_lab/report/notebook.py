"""Helpers the notebooks call, so that each of their cells stays one line.

`notebook_settings` resolves the parameters cell's folders and `ReportOutputs` saves figures and
tables beside the report; the ``describe_*`` functions that turn result tables into the sentences
a reader sees are in `rumaro_lab.report.describe`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..errors import RumaroError
from ..fileio import write_csv
from ..settings import Settings

log = logging.getLogger(__name__)


def save_table(table: pd.DataFrame, folder: str | Path, name: str) -> Path:
    """Write a tidy table as ``folder/name.csv`` (atomically); returns the path."""
    return write_csv(table, Path(folder) / f"{name}.csv")



# -- helpers the notebooks call (so that their cells stay one line each) -----------------------
def notebook_settings(
    data_dir: str | Path = "data",
    reports_dir: str | Path = "reports",
    cache_dir: str | Path = ".cache/rumaro",
    models_dir: str | Path = "models",
    workers: int = 1,
) -> Settings:
    """`Settings` inside a notebook, from its folder parameters.

    Relative folders (and ``.env``) are taken from the working directory, except when that is the
    repository's ``notebooks/`` folder (where JupyterLab starts a notebook's kernel): then from
    the project root, so the notebooks work as they are in JupyterLab too. papermill runs get
    absolute folders. Credentials come from the environment / ``.env`` only.
    """
    from .execute import packaged_notebooks

    base = Path.cwd()
    packaged = packaged_notebooks().resolve()
    if base.resolve() == packaged:
        # notebooks/ of a checkout is a link to the package's folder: the root is two levels up
        base = packaged.parent.parent

    def where(path: str | Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else base / path

    return Settings(_env_file=base / ".env", data_dir=where(data_dir), reports_dir=where(reports_dir),
                    cache_dir=where(cache_dir), models_dir=where(models_dir), workers=workers)


#: environment variable naming the formats every report figure is saved in (default: all)
FORMATS_VARIABLE = "RUMARO_FIGURE_FORMATS"


def figure_formats() -> tuple[str, ...]:
    """Formats of report figures: ``RUMARO_FIGURE_FORMATS`` (e.g. ``png``, or ``png,svg``) when
    set, else png, svg and pdf. A batch of many accounts can save only png (the kernels inherit
    the variable), which halves the time spent writing figures."""
    from ..figures import FORMATS

    chosen = [f.strip() for f in os.environ.get(FORMATS_VARIABLE, "").split(",") if f.strip()]
    wrong = [f for f in chosen if f not in FORMATS]
    if wrong:
        raise RumaroError(f"{FORMATS_VARIABLE}: unknown figure format(s) {', '.join(wrong)}",
                          hint=f"use {', '.join(FORMATS)}, comma-separated")
    return tuple(chosen) or tuple(FORMATS)


class ReportOutputs:
    """Where one notebook run keeps its figures and tables: ``folder/figures``, ``folder/tables``.

    Both methods return what they were given, so a notebook cell ending in
    ``out.figure(figures.forest_plot(table), "forest")`` saves the figure *and* shows it.

    >>> import tempfile
    >>> out = ReportOutputs(tempfile.mkdtemp())
    >>> out.table(pd.DataFrame({"a": [1]}), "t").shape, sorted(p.name for p in out.tables.iterdir())
    ((1, 1), ['t.csv'])
    """

    def __init__(self, folder: str | Path, formats: Sequence[str] | None = None):
        self.folder = Path(folder)
        self.figures = self.folder / "figures"
        self.tables = self.folder / "tables"
        self.formats = tuple(formats) if formats is not None else figure_formats()

    def figure(self, fig, name: str):
        from ..figures import save_figure

        save_figure(fig, self.figures, name, formats=self.formats)
        return fig

    def table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        save_table(table, self.tables, name)
        return table


def read_tables(written: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """The CSV tables `analysis.analyze_accounts` wrote (name -> path), read back as DataFrames."""
    return {name: pd.read_csv(path) for name, path in written.items()}
