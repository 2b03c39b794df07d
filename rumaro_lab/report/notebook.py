"""Helpers the notebooks call, so that each of their cells stays one line.

`notebook_settings` resolves the parameters cell's folders, `ReportOutputs` saves figures and
tables beside the report, and the ``describe_*`` functions turn result tables into the sentences
a reader sees.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

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


class ReportOutputs:
    """Where one notebook run keeps its figures and tables: ``folder/figures``, ``folder/tables``.

    Both methods return what they were given, so a notebook cell ending in
    ``out.figure(figures.forest_plot(table), "forest")`` saves the figure *and* shows it.

    >>> import tempfile
    >>> out = ReportOutputs(tempfile.mkdtemp())
    >>> out.table(pd.DataFrame({"a": [1]}), "t").shape, sorted(p.name for p in out.tables.iterdir())
    ((1, 1), ['t.csv'])
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.figures = self.folder / "figures"
        self.tables = self.folder / "tables"

    def figure(self, fig, name: str):
        from ..figures import save_figure

        save_figure(fig, self.figures, name)
        return fig

    def table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        save_table(table, self.tables, name)
        return table


def read_tables(written: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """The CSV tables `analysis.analyze_accounts` wrote (name -> path), read back as DataFrames."""
    return {name: pd.read_csv(path) for name, path in written.items()}


def _fmt(value: object, digits: int = 2) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def _feature_rows(table: pd.DataFrame, features: Iterable[str] | None) -> pd.DataFrame:
    rows = table[table["term"].notna()]
    if "role" in rows:
        rows = rows[rows["role"].astype(str) == "feature"]
    else:
        rows = rows[~rows["term"].astype(str).str.lower().isin(["intercept", "const"])]
    if features is not None:
        prefixes = tuple(features)
        rows = rows[rows["term"].astype(str).map(lambda t: t.startswith(prefixes))]
    return rows


def describe_model(table: pd.DataFrame, q_threshold: float = 0.05, features: Iterable[str] | None = None) -> str:
    """Markdown sentences saying which feature terms of a `fit_model` table stand out, for a reader."""
    if table is None or table.empty or table["term"].isna().all():
        note = table["note"].dropna().iloc[0] if table is not None and "note" in table and table["note"].notna().any() else ""
        return f"This model could not be fitted with these posts. {note}".strip()
    rows = _feature_rows(table, features)
    q = pd.to_numeric(rows.get("q_value"), errors="coerce")
    hits = rows[q < q_threshold]
    name = str(table["model"].dropna().iloc[0]) if "model" in table and table["model"].notna().any() else "model"
    n = table["n"].dropna().iloc[0] if "n" in table and table["n"].notna().any() else None
    head = f"**{name}** model on {int(n) if n is not None else 'the'} posts, {len(rows)} feature terms: "
    if hits.empty:
        return head + (f"none stands out at q < {q_threshold:g} after correcting for multiple "
                       "tests. With few posts that is the expected answer, not a proof of no effect.")
    parts = []
    for _, r in hits.sort_values("q_value").head(10).iterrows():
        rr = r.get("rate_ratio")
        if rr is not None and pd.notna(rr):
            change = (float(rr) - 1) * 100
            unit = str(r["scale"]) if pd.notna(r.get("scale")) else "per unit"
            parts.append(f"- `{r['term']}`: rate ratio {_fmt(rr)} ({change:+.0f}%, {unit}; "
                         f"95% CI {_fmt(r['ci_low'])} to {_fmt(r['ci_high'])}, q = {_fmt(r['q_value'], 3)})")
        else:
            parts.append(f"- `{r['term']}`: estimate {_fmt(r['estimate'])} (95% CI {_fmt(r['ci_low'])} "
                         f"to {_fmt(r['ci_high'])}, q = {_fmt(r['q_value'], 3)})")
    more = f"\n\n(and {len(hits) - 10} more)" if len(hits) > 10 else ""
    return head + f"{len(hits)} stand out at q < {q_threshold:g}:\n\n" + "\n".join(parts) + more


def joint_model_missing(table: pd.DataFrame) -> str | None:
    """Why a joint model table holds no joint fit (Markdown), or ``None`` when it does.

    The analysis falls back to one feature at a time (model name ``*_each``) when there are too
    many terms for the posts, and writes a one-row table with a note when nothing could be fitted.
    """
    notes = table["note"].dropna().astype(str) if "note" in table else pd.Series(dtype=str)
    if table.empty or table["term"].isna().all():
        return "The joint model was not fitted: " + (notes.iloc[0] if len(notes) else "no usable posts.")
    if "model" in table and table["model"].astype(str).str.endswith("_each").all():
        reason = notes.iloc[0].split(";")[0] if len(notes) else "too many terms for the posts"
        return f"The joint model was not fitted ({reason}); the one-feature-at-a-time model above is the answer."
    return None


def significant_features(table: pd.DataFrame, q_threshold: float = 0.05) -> int:
    """How many feature terms of a model table have q < `q_threshold`."""
    rows = _feature_rows(table, None)
    return int((pd.to_numeric(rows.get("q_value"), errors="coerce") < q_threshold).sum())


def describe_correlations(table: pd.DataFrame, q_threshold: float = 0.05, top: int = 5,
                          method: str = "spearman") -> str:
    """Markdown: the strongest correlations and how many survive the q-value threshold."""
    if table is None or table.empty or "estimate" not in table:
        return "No correlations could be computed."
    if "method" in table and (table["method"] == method).any():
        table = table[table["method"] == method]
    table = table.dropna(subset=["estimate"])
    if table.empty:
        return "No correlations could be computed."
    est = pd.to_numeric(table["estimate"], errors="coerce")
    q = pd.to_numeric(table["q_value"], errors="coerce")
    ranked = table.assign(_abs=est.abs()).sort_values("_abs", ascending=False).head(top)
    lines = [f"- `{r['feature']}` vs {r['outcome']}: {_fmt(r['estimate'])} (q = {_fmt(r['q_value'], 3)})"
             for _, r in ranked.iterrows()]
    return (f"{int((q < q_threshold).sum())} of {len(table)} feature-outcome pairs ({method}) have "
            f"q < {q_threshold:g}. The strongest associations:\n\n" + "\n".join(lines))


