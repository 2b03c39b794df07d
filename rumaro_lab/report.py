"""Reports: papermill runs the parameterized notebooks, nbconvert turns them into HTML.

``report_account("natgeo", settings)`` executes ``notebooks/03-engagement-analysis.ipynb`` for
one account (running ``02-extract-features`` first when the account has no features yet) and
leaves in ``reports/natgeo/``::

    03-engagement-analysis.ipynb   the executed notebook (parameters recorded by papermill)
    report.html                    HTML export, code hidden (``show_code=True`` keeps it)
    figures/NAME.{png,svg,pdf}     every figure, png at 300 dpi
    tables/NAME.csv                every table (tidy: one row per term / feature)

``run_batch("accounts.txt", settings, jobs=2)`` does that for every account of a file, each in
its own process with its own kernel (one failing account is reported, the others finish), then
runs ``04-compare-accounts`` over the accounts that worked into ``reports/combined/`` and
writes ``reports/summary.csv``. ``run_demo(settings)`` is the whole flow on the bundled sample.

Notebook parameters are only names, switches and folders: credentials reach the kernel through
its environment (``RUMARO_*`` / ``.env``, read by `Settings` inside the notebook), never as
parameters, and every written file is checked for the credential values in force.

>>> sorted(notebook_parameters("sample", Settings(_env_file=None, data_dir="/d", reports_dir="/r")))
... # doctest: +NORMALIZE_WHITESPACE
['account', 'blur', 'cache_dir', 'data_dir', 'extractors', 'model', 'models_dir', 'outcome',
 'report_dir', 'reports_dir', 'workers']
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

from .accounts import validate_account
from .errors import AccountNotFound, MissingInputError, NotebookFailed, RumaroError, SecretLeak
from .fileio import write_csv, write_text
from .settings import Settings

log = logging.getLogger(__name__)

#: The notebooks, by role (files in the repository's notebooks/ folder).
NOTEBOOKS: dict[str, str] = {
    "fetch": "01-fetch-posts.ipynb",
    "extract": "02-extract-features.ipynb",
    "analysis": "03-engagement-analysis.ipynb",
    "compare": "04-compare-accounts.ipynb",
}
#: Folder (under reports/) of the cross-account comparison: the same folder where
#: `analysis.analyze_accounts` writes the pooled tables (`analysis.pipeline.COMBINED_DIR`).
COMPARE_DIR = "combined"
SUMMARY_FILE = "summary.csv"
REPORT_HTML = "report.html"
#: The kernel papermill asks for; it always resolves to this Python (see `ThisPythonKernelManager`).
KERNEL_NAME = "python3"
#: Models of one account's report (a mixed model needs several accounts: `run_batch` / notebook 04).
MODELS = ("negbin", "poisson", "ols_log1p")






def notebooks_dir(folder: str | Path | None = None) -> Path:
    """The folder of the parameterized notebooks: `folder` if given (your own copies), else
    ``notebooks/`` of the repository beside the package.
    """
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent.parent / "notebooks"
    if not (folder / NOTEBOOKS["analysis"]).is_file():
        raise MissingInputError(
            f"the report notebooks are not in {folder}",
            hint="run from a checkout of the repository installed with `make install` (pip -e)",
        )
    return folder


# -- kernels --------------------------------------------------------------------------------
@functools.cache
def _kernel_classes():
    # Imported lazily: jupyter_client is only needed when a notebook runs.
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonKernelSpecs(KernelSpecManager):
        """``python3`` is always the Python running this code (the project's venv).

        A ``python3`` kernelspec elsewhere (e.g. ~/.local/share/jupyter) would otherwise win and
        run the notebooks with another interpreter that lacks rumaro_lab.
        """

        def get_kernel_spec(self, kernel_name: str):
            if kernel_name == KERNEL_NAME:
                return KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    display_name=f"Python 3 ({sys.prefix})",
                    language="python",
                    metadata={"debugger": False},
                )
            return super().get_kernel_spec(kernel_name)

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return ThisPythonKernelSpecs(data_dir=self.data_dir)

        @default("transport")
        def _transport_default(self):
            # Unix sockets with a unique name per kernel: kernels started in parallel can't
            # race for the same TCP port, and nothing listens on the network.
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _ip_default(self):
            if self.transport == "ipc":  # a short, unique socket prefix per kernel (paths <= 107 B)
                return os.path.join(tempfile.gettempdir(), f"rumaro-kernel-{uuid.uuid4().hex[:16]}")
            return super()._ip_default()

    return ThisPythonKernelManager


def _check_parameters(parameters: Mapping[str, object], settings: Settings | None) -> None:
    # Executed notebooks record their parameters: refuse anything that looks like a credential.
    secrets = settings.secrets() if settings is not None else []
    for name, value in parameters.items():
        lowered = name.lower()
        if any(word in lowered for word in ("key", "token", "secret", "password")):
            raise RumaroError(f"notebook parameter {name!r} looks like a credential",
                              hint="credentials come from the environment or .env only")
        if any(secret in str(value) for secret in secrets):
            raise RumaroError(f"notebook parameter {name!r} contains a credential value",
                              hint="credentials come from the environment or .env only")


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, object],
    settings: Settings | None = None,
    timeout: float | None = None,
) -> Path:
    """Run `notebook` with papermill into `output` (parameters injected after the ``parameters``
    cell), on this Python's kernel. A failing cell raises `NotebookFailed`; `output` still holds
    the notebook up to and including the error.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _check_parameters(parameters, settings)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            execution_timeout=timeout,
            kernel_manager_class=_kernel_classes(),
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{Path(notebook).name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
            hint=f"open {output} to see the failing cell",
        ) from None
    finally:
        if settings is not None and output.exists():
            check_no_secrets([output], settings)
    log.info("executed %s in %.1f s -> %s", Path(notebook).name, time.perf_counter() - start, output)
    return output


def export_html(executed: str | Path, html: str | Path, show_code: bool = False, title: str | None = None) -> Path:
    """The executed notebook as a standalone HTML page (figures embedded), code hidden by default."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    notebook = nbformat.read(str(executed), as_version=4)
    if not show_code:
        # The parameter cells say nothing to a reader, and library warnings on stderr are noise
        # in a report (they stay in the executed notebook; result tables carry a `note` column).
        notebook.cells = [c for c in notebook.cells if not _is_parameter_cell(c)]
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.get("name") == "stderr")]
    resources = {"metadata": {"name": title or Path(executed).stem}}
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    body = _REMOTE_SCRIPT_RE.sub("", body)
    return write_text(html, body)


# nbconvert's template loads require.js and MathJax from a CDN. A report works offline without
# them (figures are embedded, there is no math), and opening it should not tell a CDN about it.
_REMOTE_SCRIPT_RE = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)


def _is_parameter_cell(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return "parameters" in tags or "injected-parameters" in tags


def check_no_secrets(paths: Iterable[str | Path], settings: Settings) -> None:
    """Raise `SecretLeak` (and delete the file) if any credential value in force is in a file."""
    secrets = [s.encode() for s in settings.secrets() if len(s) >= 4]
    if not secrets:
        return
    for path in paths:
        path = Path(path)
        if path.is_file() and any(s in path.read_bytes() for s in secrets):
            path.unlink()
            raise SecretLeak(f"a credential appeared in {path}; the file was removed",
                             hint="never print settings secrets in a notebook")


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
    base = Path.cwd()
    if base.resolve() == (Path(__file__).resolve().parent.parent / "notebooks").resolve():
        base = base.parent

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
        from .figures import save_figure

        save_figure(fig, self.figures, name)
        return fig

    def table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        save_table(table, self.tables, name)
        return table


def read_tables(written: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """The CSV tables `analysis.analyze_accounts` wrote (name -> path), read back as DataFrames."""
    return {name: pd.read_csv(path) for name, path in written.items()}


def account_overview(df: pd.DataFrame, outcome: str = "likes") -> pd.DataFrame:
    """One row per account: posts, period, median and mean `outcome`, posts with extraction errors."""
    rows = []
    for account, part in df.groupby("account", sort=True):
        y = pd.to_numeric(part[outcome], errors="coerce") if outcome in part else pd.Series(dtype=float)
        taken = pd.to_datetime(part["taken_at"], utc=True) if "taken_at" in part else pd.Series(dtype="datetime64[ns, UTC]")
        status = part["status"].astype("string") if "status" in part else pd.Series(dtype="string")
        rows.append({
            "account": str(account),
            "posts": len(part),
            f"posts_with_{outcome}": int(y.notna().sum()),
            "first_post": taken.min(),
            "last_post": taken.max(),
            f"median_{outcome}": y.median(),
            f"mean_{outcome}": y.mean(),
            "posts_with_feature_errors": int(status.isin(["error", "partial"]).sum()),
        })
    return pd.DataFrame(rows).astype({"account": "string", f"median_{outcome}": "Float64",
                                      f"mean_{outcome}": "Float64"})


def feature_coverage(features: pd.DataFrame) -> pd.DataFrame:
    """Per extractor: its feature columns and the share of posts where they are known."""
    columns = [c for c in features.columns if "." in c]
    rows = []
    for column in columns:
        extractor, _, feature = column.partition(".")
        rows.append({"extractor": extractor, "feature": feature, "dtype": str(features[column].dtype),
                     "known_share": float(features[column].notna().mean()) if len(features) else 0.0})
    table = pd.DataFrame(rows, columns=["extractor", "feature", "dtype", "known_share"])
    return (table.groupby("extractor", sort=False)
            .agg(features=("feature", "count"), known_share=("known_share", "mean"))
            .reset_index())


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


# -- one account ----------------------------------------------------------------------------
def _abs(path: Path) -> str:
    return str(Path(path).expanduser().resolve())


def notebook_parameters(
    account: str,
    settings: Settings,
    blur: bool = True,
    outcome: str = "likes",
    model: str = "negbin",
    extractors: Iterable[str] | None = None,
) -> dict[str, object]:
    """The parameters of notebooks 02/03 for `account`: names, switches and absolute folders."""
    account = validate_account(account)
    return {
        "account": account,
        "outcome": outcome,
        "model": model,
        "extractors": list(extractors) if extractors is not None else None,
        "blur": bool(blur),
        "workers": int(settings.workers),
        "data_dir": _abs(settings.data_dir),
        "reports_dir": _abs(settings.reports_dir),
        "cache_dir": _abs(settings.cache_dir),
        "models_dir": _abs(settings.models_dir),
        "report_dir": _abs(settings.report_dir(account)),
    }


def report_account(
    account: str,
    settings: Settings,
    blur: bool = True,
    outcome: str = "likes",
    model: str = "negbin",
    extractors: Iterable[str] | None = None,
    show_code: bool = False,
    notebooks: str | Path | None = None,
) -> Path:
    """Execute the analysis notebook for `account` into ``reports/ACCOUNT/``; returns report.html.

    When ``data/processed/ACCOUNT/features.parquet`` is missing, ``02-extract-features`` runs
    first (its executed copy is kept beside the report). `notebooks` is a folder with your own
    versions of the notebooks (same file names); by default the repository's.

    Example (executes notebooks, so shown rather than run as a doctest)::

        report_account("natgeo", Settings())   # -> PosixPath('reports/natgeo/report.html')
    """
    account = validate_account(account)
    if model not in MODELS:
        raise RumaroError(f"model {model!r} is not for one account",
                          hint=f"use one of {', '.join(MODELS)}; the mixed model runs in `rumaro batch`")
    folder = settings.report_dir(account)
    (folder / REPORT_HTML).unlink(missing_ok=True)  # a failed run must not leave an old report
    params = notebook_parameters(account, settings, blur, outcome, model, extractors)
    books = notebooks_dir(notebooks)
    if not settings.features_path(account).exists():
        if not settings.posts_path(account).exists():
            raise AccountNotFound(
                f"no posts for account {account!r} in {settings.interim_dir(account)}",
                hint=f"import or fetch it first (`rumaro import PATH` or `rumaro fetch {account}`)",
            )
        log.info("%s: no features yet, running the extraction notebook first", account)
        execute_notebook(books / NOTEBOOKS["extract"], folder / NOTEBOOKS["extract"],
                         params, settings)
    executed = execute_notebook(books / NOTEBOOKS["analysis"], folder / NOTEBOOKS["analysis"],
                                params, settings)
    html = export_html(executed, folder / REPORT_HTML, show_code=show_code,
                       title=f"{account}: what goes with {outcome}")
    check_no_secrets(folder.rglob("*"), settings)  # notebook, HTML, figures and tables
    return html


# -- many accounts --------------------------------------------------------------------------
def read_accounts_file(path: str | Path) -> list[str]:
    """Account names of a text file: one per line; blank lines and ``#`` comments ignored.

    Names are returned as written (validation happens per account, so one bad line is one
    failed account, not a failed batch).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"no accounts file at {path}", hint="one account name per line")
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    if not names:
        raise RumaroError(f"{path} lists no accounts", hint="one account name per line")
    return names


def _report_one(name: str, settings: Settings, kwargs: dict) -> dict[str, object]:
    """One batch item; never raises (the failure is the result)."""
    start = time.perf_counter()
    row: dict[str, object] = {"account": name, "status": "ok", "report": None, "error": None}
    try:
        row["account"] = validate_account(name)
        row["report"] = str(report_account(row["account"], settings, **kwargs))
    except RumaroError as exc:
        row.update(status="error", error=str(exc))
    except Exception as exc:  # a bug in one account's run must not stop the batch
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def run_batch(
    accounts_file: str | Path,
    settings: Settings,
    jobs: int = 1,
    blur: bool = True,
    outcome: str = "likes",
    model: str = "negbin",
    extractors: Iterable[str] | None = None,
    notebooks: str | Path | None = None,
    on_result: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Report every account of `accounts_file`, `jobs` at a time, then compare them.

    Each account runs in its own process (own kernel, own event loop: kernels start safely in
    parallel); a failed account becomes a row with ``status == "error"`` and its message. Then
    ``04-compare-accounts`` runs over the accounts that worked (``reports/combined/``)
    and ``reports/summary.csv`` is written: one row per account (status, report, error, seconds,
    plus the comparison's per-account numbers when it ran). `extractors` is used for accounts
    whose features must be computed first.
    """
    names = read_accounts_file(accounts_file)
    kwargs = {"blur": blur, "outcome": outcome, "model": model, "notebooks": notebooks,
              "extractors": list(extractors) if extractors is not None else None}
    rows: list[dict[str, object]] = []

    def done(row: dict) -> None:
        rows.append(row)
        if row["status"] == "ok":
            log.info("%s: report %s (%.0f s)", row["account"], row["report"], row["seconds"])
        else:
            log.error("%s: failed: %s", row["account"], row["error"])
        if on_result is not None:
            on_result(row)

    jobs = max(1, min(int(jobs), len(names)))
    if jobs == 1:
        for name in names:
            done(_report_one(name, settings, kwargs))
    else:
        # spawn: a fresh interpreter per worker (no inherited zmq sockets, threads or locks).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(_report_one, n, settings, kwargs): n for n in names}
            for future in as_completed(futures):
                try:
                    done(future.result())
                except Exception as exc:  # the worker process itself died
                    done({"account": futures[future], "status": "error", "report": None,
                          "error": f"worker process failed: {exc}", "seconds": None})
    order = {n: i for i, n in enumerate(names)}
    summary = pd.DataFrame(rows).sort_values("account", key=lambda s: s.map(
        lambda a: order.get(a, len(order)))).reset_index(drop=True)
    summary = summary.astype({"account": "string", "status": "string", "report": "string",
                              "error": "string", "seconds": "Float64"})

    ok = [str(a) for a in summary.loc[summary["status"] == "ok", "account"]]
    if ok:
        try:
            per_account = compare_accounts(ok, settings, outcome=outcome, model=model,
                                           notebooks=notebooks)
            summary = summary.merge(per_account.astype({"account": "string"}), on="account",
                                    how="left", suffixes=("", "_compare"))
        except RumaroError as exc:
            log.error("comparing the accounts failed: %s", exc)
            summary.attrs["compare_error"] = str(exc)
    save_table(summary, settings.reports_dir, Path(SUMMARY_FILE).stem)
    log.info("%d of %d accounts reported; summary: %s", len(ok), len(summary),
             settings.reports_dir / SUMMARY_FILE)
    return summary


def compare_accounts(
    accounts: list[str], settings: Settings, outcome: str = "likes", model: str = "negbin",
    show_code: bool = False, notebooks: str | Path | None = None,
) -> pd.DataFrame:
    """Run ``04-compare-accounts`` over `accounts`; returns its per-account table.

    Writes ``reports/combined/`` (executed notebook, report.html, figures/, tables/).
    """
    accounts = [validate_account(a) for a in accounts]
    folder = settings.reports_dir / COMPARE_DIR
    params = {
        "accounts": accounts,
        "outcome": outcome,
        "model": model,
        "data_dir": _abs(settings.data_dir),
        "reports_dir": _abs(settings.reports_dir),
        "cache_dir": _abs(settings.cache_dir),
        "models_dir": _abs(settings.models_dir),
        "report_dir": _abs(folder),
    }
    executed = execute_notebook(notebooks_dir(notebooks) / NOTEBOOKS["compare"], folder / NOTEBOOKS["compare"],
                                params, settings)
    export_html(executed, folder / REPORT_HTML, show_code=show_code,
                title=f"{len(accounts)} accounts compared: {outcome}")
    check_no_secrets(folder.rglob("*"), settings)
    table = folder / "tables" / "accounts.csv"
    if not table.is_file():
        raise NotebookFailed(f"{NOTEBOOKS['compare']} wrote no {table}")
    return pd.read_csv(table).convert_dtypes()


# -- the demo -------------------------------------------------------------------------------
def run_demo(
    settings: Settings,
    echo: Callable[[str], None] = print,
    extractors: Iterable[str] | None = None,
) -> Path:
    """Import the bundled sample, extract its features (`extractors`, default: the local set),
    analyze and report it.

    Ends by printing (`echo`) where ``reports/sample/report.html`` is, and returns that path.
    """
    from .extractors.runner import extract_account
    from .posts.importing import SAMPLE_ACCOUNT, import_sample

    start = time.perf_counter()
    echo("1/3 importing the bundled sample account ...")
    echo(f"    {import_sample(settings)}")
    echo("2/3 extracting features (cached: a second run is quick) ...")
    chosen = list(extractors) if extractors is not None else None
    echo(f"    {extract_account(SAMPLE_ACCOUNT, settings, extractors=chosen, progress=False)}")
    echo("3/3 analysing and writing the report (papermill) ...")
    html = report_account(SAMPLE_ACCOUNT, settings)
    echo(f"done in {time.perf_counter() - start:.0f} s. Open the report: {html}")
    echo(f"figures: {html.parent / 'figures'}   tables: {html.parent / 'tables'}")
    return html
