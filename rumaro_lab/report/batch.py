"""Reports of one account, of many (a batch) and of the bundled sample (the demo).

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
['account', 'blur', 'cache_dir', 'data_dir', 'extractors', 'model', 'models_dir', 'options',
 'outcome', 'report_dir', 'reports_dir', 'workers']
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

from ..accounts import validate_account
from ..analysis.models import SINGLE_ACCOUNT_KINDS
from ..errors import AccountNotFound, MissingInputError, NotebookFailed, RumaroError
from ..settings import Settings
from .execute import NOTEBOOKS, check_no_secrets, execute_notebook, export_html, notebooks_dir
from .notebook import save_table

log = logging.getLogger(__name__)

#: Folder (under reports/) of the cross-account comparison: the same folder where
#: `analysis.analyze_accounts` writes the pooled tables (`analysis.pipeline.COMBINED_DIR`).
COMPARE_DIR = "combined"
SUMMARY_FILE = "summary.csv"
REPORT_HTML = "report.html"


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
    options: Iterable[str] | None = None,
) -> dict[str, object]:
    """The parameters of notebooks 02/03 for `account`: names, switches and absolute folders.
    `options` are extractor options as text (``"text.recognize=true"``), checked here."""
    account = validate_account(account)
    options = list(options or [])
    if options:
        from ..extractors.options import parse_options

        parse_options(options)  # a bad option stops the report before any notebook runs
    return {
        "account": account,
        "outcome": outcome,
        "model": model,
        "extractors": list(extractors) if extractors is not None else None,
        "options": options,
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
    options: Iterable[str] | None = None,
) -> Path:
    """Execute the analysis notebook for `account` into ``reports/ACCOUNT/``; returns report.html.

    When ``data/processed/ACCOUNT/features.parquet`` is missing, ``02-extract-features`` runs
    first (its executed copy is kept beside the report), with `extractors` and the extractor
    `options` (``"NAME.OPTION=VALUE"``; `rumaro_lab.extractors.options`). `notebooks` is a folder with your own
    versions of the notebooks (same file names); by default the repository's.

    Example (executes notebooks, so shown rather than run as a doctest)::

        report_account("natgeo", Settings())   # -> PosixPath('reports/natgeo/report.html')
    """
    account = validate_account(account)
    if model not in SINGLE_ACCOUNT_KINDS:
        raise RumaroError(f"model {model!r} is not for one account",
                          hint=f"use one of {', '.join(SINGLE_ACCOUNT_KINDS)}; the mixed model runs in `rumaro batch`")
    params = notebook_parameters(account, settings, blur, outcome, model, extractors, options)
    folder = settings.report_dir(account)
    (folder / REPORT_HTML).unlink(missing_ok=True)  # a failed run must not leave an old report
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


def _extract_missing(names: list[str], settings: Settings, extractors: list[str] | None,
                     options: dict[str, dict] | None = None) -> None:
    """Features of every account that has posts but no features yet, in ONE extraction run (one
    pool of workers loads the models once for all of them), with the extractor `options`
    (`rumaro_lab.extractors.options.parse_options`'s result). What
    fails here is left to each account's report, which then runs the extraction notebook and
    reports its own error."""
    from ..extractors.options import with_options
    from ..extractors.runner import extract_accounts

    todo = []
    for name in names:
        try:
            account = validate_account(name)
        except RumaroError:
            continue
        if settings.posts_path(account).exists() and not settings.features_path(account).exists():
            todo.append(account)
    if not todo:
        return
    try:
        specs = with_options(extractors, options, settings) if options else extractors
        for summary in extract_accounts(todo, settings, extractors=specs, progress=False):
            log.info("%s", summary)
    except RumaroError as exc:
        log.error("extracting %d accounts together failed (%s); each report extracts its own", len(todo), exc)


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
    options: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Report every account of `accounts_file`, `jobs` at a time, then compare them.

    Each account runs in its own process (own kernel, own event loop: kernels start safely in
    parallel); a failed account becomes a row with ``status == "error"`` and its message. Then
    ``04-compare-accounts`` runs over the accounts that worked (``reports/combined/``)
    and ``reports/summary.csv`` is written: one row per account (status, report, error, seconds,
    plus the comparison's per-account numbers when it ran). `extractors` is used for accounts
    whose features must be computed first, with the extractor `options` (``"NAME.OPTION=VALUE"``):
    they are extracted together first, in one run (`extract_accounts`: one pool of workers,
    models loaded once).
    """
    names = read_accounts_file(accounts_file)
    from ..extractors.options import parse_options

    options = list(options or [])
    parsed = parse_options(options)  # a bad option stops the batch before any account runs
    kwargs = {"blur": blur, "outcome": outcome, "model": model, "notebooks": notebooks,
              "extractors": list(extractors) if extractors is not None else None,
              "options": options}
    rows: list[dict[str, object]] = []

    def done(row: dict) -> None:
        rows.append(row)
        if row["status"] == "ok":
            log.info("%s: report %s (%.0f s)", row["account"], row["report"], row["seconds"])
        else:
            log.error("%s: failed: %s", row["account"], row["error"])
        if on_result is not None:
            on_result(row)

    _extract_missing(names, settings, kwargs["extractors"], parsed)
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
    from ..extractors.runner import extract_account
    from ..posts.importing import SAMPLE_ACCOUNT, import_sample

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
