"""`analyze_accounts`: load one or more accounts, `analyze` them in memory, write the CSV tables.

Where: ``reports/ACCOUNT/tables/`` for one account; for several accounts,
``reports/combined/tables/`` (the accounts are listed in ``dataset_summary.csv``).

Tables (each also a DataFrame of `rumaro_lab.analysis.analyze`, which computes them all):

==========================  ===================================================================
dataset_summary.csv         per account: posts, known outcome, period, followers, feature errors,
                            posts left out because they were younger than 3 days when fetched
feature_summary.csv         per feature: kind, family (primary / exploratory), cluster, share known
correlations.csv            Spearman and Pearson of each feature with the outcomes (several
                            accounts: within-account outcomes, *_relative and *_rank)
model_<kind>.csv            `fit_model(kind=...)`: all features jointly + controls, one block of
                            rows per estimand (within; pooled and between for several accounts)
model_negbin_each.csv       `fit_model(separate=True)`: one NB2 model per feature + controls
predictive.csv              `predictive_check`: within-account out-of-sample Spearman
power.csv                   `power_table`: smallest rate ratio detectable at 80% power
meta.csv                    several accounts: random-effects summary of each account's estimate
account_estimates.csv       several accounts: each account's own estimate, raw and shrunk
==========================  ===================================================================

A table the data can't support (too few posts, a model that can't be fitted) is written as a
one-row table whose ``note`` starts with ``not computed:`` and says why; the others are unaffected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..accounts import validate_account
from ..errors import AnalysisError
from ..fileio import write_csv
from .analyze import MIN_AGE_DAYS, analyze
from .dataset import load_dataset

log = logging.getLogger(__name__)

COMBINED_DIR = "combined"


def tables_dir(accounts: Sequence[str], settings) -> Path:
    """``reports/ACCOUNT/tables`` for one account, ``reports/combined/tables`` for several."""
    if len(accounts) == 1:
        return settings.report_dir(accounts[0]) / "tables"
    return settings.reports_dir / COMBINED_DIR / "tables"


def write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    """Each table as ``folder/NAME.csv`` (atomically: a crash never leaves half a table)."""
    return {name: write_csv(table, folder / f"{name}.csv") for name, table in tables.items()}


def analyze_accounts(
    accounts: Sequence[str] | str,
    settings,
    outcome: str = "likes",
    kinds: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    permutations: int = 199,
    separate: bool = True,
    estimands: Sequence[str] | None = None,
    errors: str | None = None,
    min_age_days: float = MIN_AGE_DAYS,
) -> dict[str, Path]:
    """Load `accounts`, `analyze` them on `outcome` and write the CSV tables; name -> path.

    Raises `MissingInputError` when an account's posts or features are missing (the hint says
    which command to run) and `AnalysisError` for an unknown outcome, kind, estimand or feature
    name (before anything is written).
    """
    if isinstance(accounts, str):
        accounts = [accounts]
    accounts = list(dict.fromkeys(validate_account(a) for a in accounts))
    df = load_dataset(accounts, settings)
    if df.empty:
        raise AnalysisError(f"no posts for {', '.join(accounts)}", hint="import or fetch posts first")
    tables = analyze(df, outcome, kinds=kinds, features=features, estimands=estimands,
                     errors=errors, permutations=permutations, separate=separate,
                     min_age_days=min_age_days)
    folder = tables_dir(accounts, settings)
    written = write_tables(tables, folder)
    log.info("analysis of %s (%s): %d tables in %s", ", ".join(accounts), outcome, len(written), folder)
    return written
