"""`analyze_accounts`: the whole analysis of one or more accounts, written as CSV tables.

Where: ``reports/ACCOUNT/tables/`` for one account; for several accounts (pooled),
``reports/combined/tables/`` (the accounts are listed in ``dataset_summary.csv``).

Tables (each also available as a DataFrame from the function named):

==========================  ===================================================================
dataset_summary.csv         per account: posts, known outcome, period, followers, feature errors
feature_summary.csv         per feature: kind, share known, levels, caveats
correlations.csv            `correlations`: Spearman and Pearson of each feature with likes and
                            comments (several accounts: likes_relative, comments_relative)
model_<kind>.csv            `fit_model(kind=...)`: all features jointly + controls (negbin,
                            poisson, ols_log1p; mixed when several accounts)
model_negbin_each.csv       `fit_model(separate=True)`: one NB2 model per feature + controls
predictive.csv              `predictive_check`: out-of-sample Spearman, features vs controls
power.csv                   `power_table`: smallest rate ratio detectable at 80% power
==========================  ===================================================================

A stage that the data can't support (too few posts, a model that can't be fitted) is logged and
written as a one-row table whose ``note`` says why; the other tables are still written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..accounts import validate_account
from ..errors import AnalysisError
from ..fileio import write_csv
from .correlations import CORRELATION_COLUMNS, correlations
from .dataset import feature_columns, load_dataset
from .design import resolve_outcome
from .models import MODEL_COLUMNS, MODEL_KINDS, SINGLE_ACCOUNT_KINDS, fit_model
from .power import POWER_COLUMNS, power_table
from .predictive import PREDICTIVE_COLUMNS, predictive_check
from .summary import MAX_MISSING, dataset_summary, feature_summary

log = logging.getLogger(__name__)

COMBINED_DIR = "combined"


def tables_dir(accounts: Sequence[str], settings) -> Path:
    """``reports/ACCOUNT/tables`` for one account, ``reports/combined/tables`` for several."""
    if len(accounts) == 1:
        return settings.report_dir(accounts[0]) / "tables"
    return settings.reports_dir / COMBINED_DIR / "tables"


def _save(table: pd.DataFrame, folder: Path, name: str) -> Path:
    return write_csv(table, folder / f"{name}.csv")  # a crash never leaves half a table


def _stage(name: str, compute: Callable[[], pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    try:
        return compute()
    except AnalysisError as exc:
        log.warning("%s not computed: %s", name, exc)
        return pd.DataFrame([{"note": f"not computed: {exc}"}]).reindex(columns=list(columns))


def analyze_accounts(
    accounts: Sequence[str] | str,
    settings,
    outcome: str = "likes",
    kinds: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    permutations: int = 199,
    separate: bool = True,
) -> dict[str, Path]:
    """Run every analysis of `accounts` on `outcome` and write the CSV tables; name -> path.

    Raises `MissingInputError` when an account's posts or features are missing (the hint says
    which command to run) and `AnalysisError` for an unknown outcome or feature name.
    """
    if isinstance(accounts, str):
        accounts = [accounts]
    accounts = list(dict.fromkeys(validate_account(a) for a in accounts))
    df = load_dataset(accounts, settings)
    if df.empty:
        raise AnalysisError(f"no posts for {', '.join(accounts)}", hint="import or fetch posts first")
    resolve_outcome(df, outcome)  # an unknown outcome is an error before anything is written
    available = feature_columns(df)
    if features is None:
        features = available
    else:
        unknown = [f for f in features if f not in df.columns]
        if unknown:
            raise AnalysisError(f"unknown feature(s): {', '.join(unknown)}",
                                hint=f"choose among: {', '.join(available) or 'none (run rumaro extract)'}")
        features = list(features)
    if not features:
        log.warning("no feature columns for %s: only the dataset summary is meaningful", accounts)
    kinds = list(kinds or (SINGLE_ACCOUNT_KINDS + (("mixed",) if len(accounts) > 1 else ())))
    wrong = [k for k in kinds if k not in MODEL_KINDS]
    if wrong:
        raise AnalysisError(f"unknown model kind(s): {', '.join(wrong)}",
                            hint=f"use {', '.join(MODEL_KINDS)}")
    folder = tables_dir(accounts, settings)
    written: dict[str, Path] = {}

    def save(name: str, table: pd.DataFrame) -> None:
        written[name] = _save(table, folder, name)

    save("dataset_summary", dataset_summary(df, outcome))
    save("feature_summary", feature_summary(df, features))
    # pooled raw counts mostly measure which account is bigger: correlate relative outcomes then
    correlation_outcomes = list(dict.fromkeys(
        [outcome, *(("likes_relative", "comments_relative") if len(accounts) > 1 else ("likes", "comments"))]))
    save("correlations", _stage("correlations", lambda: correlations(
        df, features, outcomes=correlation_outcomes, max_missing=MAX_MISSING), CORRELATION_COLUMNS))
    for kind in kinds:
        save(f"model_{kind}", _stage(f"model {kind}", lambda kind=kind: fit_model(
            df, outcome, features, kind, max_missing=MAX_MISSING), MODEL_COLUMNS))
    if separate:
        kind = "negbin" if "negbin" in kinds else kinds[0]
        save(f"model_{kind}_each", _stage(f"model {kind} (one feature at a time)", lambda: fit_model(
            df, outcome, features, kind, separate=True), MODEL_COLUMNS))
    save("predictive", _stage("predictive check", lambda: predictive_check(
        df, outcome, features, permutations=permutations), PREDICTIVE_COLUMNS))
    save("power", _stage("power", lambda: power_table(df, outcome, features), POWER_COLUMNS))
    log.info("analysis of %s (%s): %d tables in %s", ", ".join(accounts), outcome, len(written), folder)
    return written
