"""`analyze`: the whole analysis of a dataset in memory, one DataFrame per table.

``analyze(df)`` takes the dataset of `load_dataset` / `prepare_dataset` (one or several
accounts) and returns ``{name: DataFrame}``; `rumaro_lab.analysis.pipeline.analyze_accounts`
loads, calls it and writes the CSVs. It never fails on what an account holds: a table the data
can't support is one row whose ``note`` starts with ``not computed:`` and says why. Only
`AnalysisError` (an unknown outcome, model kind, estimand or feature; no posts at all) escapes.

Tables: ``dataset_summary``, ``feature_summary`` (with ``family`` and ``cluster``),
``correlations`` (several accounts: within-account outcomes only), ``model_KIND`` (all features
jointly) and ``model_KIND_each`` (one at a time), each with the rows of every estimand
(``within``; for several accounts also ``pooled`` and the ``between`` contrast),
``predictive`` (within account; leave-one-account-out for 3+ accounts), ``power``, and for
several accounts ``meta`` (random-effects summary of the accounts' own estimates) and
``account_estimates`` (each account's estimate, raw and shrunk).

Posts younger than `min_age_days` (3) at fetch time are still gathering likes: they are left out
of every test and model (counted in ``dataset_summary``, said in the notes). Small datasets get
fewer controls (`meta.controls_for`): all of them from 30 posts (3 posts per term of a
one-feature model), the time trend alone from 20, none below (noted), so that a 10-post account
still gets its one-feature models.

>>> from rumaro_lab.analysis.simulate import simulate_account
>>> from rumaro_lab.analysis.dataset import prepare_dataset
>>> tables = analyze(prepare_dataset(*simulate_account(80, seed=1)), permutations=9)
>>> sorted(tables)[:4], set(tables["model_negbin"]["estimand"])
(['correlations', 'dataset_summary', 'feature_summary', 'model_negbin'], {'within'})
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from .correlations import CORRELATION_COLUMNS, correlations
from .dataset import feature_columns
from .design import resolve_outcome
from .estimands import ESTIMANDS
from .families import correlation_clusters, feature_families
from .fdr import bh_qvalues
from .glm import one_blas_thread
from .meta import ACCOUNT_COLUMNS, META_COLUMNS, across_accounts, controls_for
from .models import (
    COUNT_KINDS,
    MODEL_COLUMNS,
    MODEL_KINDS,
    SINGLE_ACCOUNT_KINDS,
    fit_model,
    not_computed,
)
from .outcomes import COUNT_OUTCOMES, DEFAULT_CONTROLS
from .power import POWER_COLUMNS, power_table
from .predictive import PREDICTIVE_COLUMNS, predictive_check
from .summary import MAX_MISSING, dataset_summary, feature_summary

log = logging.getLogger(__name__)

#: posts younger than this (days between taken_at and fetched_at) are still gathering likes
MIN_AGE_DAYS = 3.0
#: errors of the numerical libraries that mean "these numbers can't be fitted", not a bug
NUMERIC_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def stage(name: str, compute: Callable[[], pd.DataFrame], columns: Sequence[str], **values) -> pd.DataFrame:
    """`compute()`, or the one-row ``not computed: <reason>`` table when the data can't support it."""
    try:
        return compute()
    except AnalysisError as exc:
        log.info("%s not computed: %s", name, exc)
        reason = str(exc)
    except NUMERIC_ERRORS as exc:  # logged with its traceback: a bug would show there
        log.warning("%s not computed: %s: %s", name, type(exc).__name__, exc, exc_info=True)
        reason = f"the numbers could not be fitted ({type(exc).__name__}: {exc})"
    return not_computed(reason, columns, **values)


def young_posts(df: pd.DataFrame, min_age_days: float = MIN_AGE_DAYS) -> pd.Series:
    """True for posts fetched less than `min_age_days` after they were posted."""
    if not min_age_days or "fetched_at" not in df or "taken_at" not in df:
        return pd.Series(False, index=df.index)
    age = (pd.to_datetime(df["fetched_at"], utc=True, errors="coerce")
           - pd.to_datetime(df["taken_at"], utc=True, errors="coerce")).dt.total_seconds() / 86400
    return (age < min_age_days).fillna(False).astype(bool)


def add_within_ranks(df: pd.DataFrame) -> pd.DataFrame:
    """``{outcome}_rank``: each post's percentile rank within its own account (0-1]."""
    out = df.copy()
    account = out["account"] if "account" in out else pd.Series("account", index=out.index)
    for name in COUNT_OUTCOMES:
        if name in out:
            values = pd.to_numeric(out[name], errors="coerce").astype("float64")
            out[f"{name}_rank"] = values.groupby(account).rank(pct=True).astype("Float64")
    return out


def _base(outcome: str) -> str:
    for suffix in ("_relative", "_rate", "_rank"):
        if outcome.endswith(suffix) and outcome.removesuffix(suffix) in COUNT_OUTCOMES:
            return outcome.removesuffix(suffix)
    return outcome


def _correlation_outcomes(outcome: str, several: bool) -> list[str]:
    bases = list(dict.fromkeys([_base(outcome), "likes", "comments"]))
    if not several:
        return list(dict.fromkeys([outcome, "likes", "comments"]))
    # pooled raw counts mostly say which account is bigger: within-account outcomes only
    return [f"{b}_{kind}" for b in bases if b in COUNT_OUTCOMES for kind in ("relative", "rank")]


def _label_features(table: pd.DataFrame, column: str, families: dict, clusters: dict) -> pd.DataFrame:
    source = table[column].astype("string").str.replace(r"\[.*$", "", regex=True)
    table = table.copy()
    table["family"] = source.map(lambda f: families.get(f, pd.NA) if isinstance(f, str) else pd.NA).astype("string")
    table["cluster"] = source.map(lambda f: clusters.get(f, pd.NA) if isinstance(f, str) else pd.NA).astype("string")
    return table


def _correlation_qvalues(table: pd.DataFrame) -> pd.DataFrame:
    p = pd.to_numeric(table["p_value"], errors="coerce").to_numpy(dtype=float)
    q = np.full(len(table), np.nan)
    keys = [table["outcome"].astype("string").fillna(""), table["method"].astype("string").fillna(""),
            table["family"].astype("string").fillna("")]
    for _, members in table.groupby(keys, sort=False).groups.items():
        positions = table.index.get_indexer(members)
        q[positions] = bh_qvalues(p[positions])
    table["q_value"] = pd.array(q, dtype="Float64")
    return table


def _validate(df, outcome, kinds, features, estimands) -> tuple[list, list, list]:
    if df is None or len(df) == 0:
        raise AnalysisError("no posts to analyse", hint="import or fetch posts first")
    resolve_outcome(df, outcome)  # an unknown outcome is an error before anything is computed
    available = feature_columns(df)
    if features is None:
        features = available
    else:
        unknown = [f for f in features if f not in df.columns]
        if unknown:
            raise AnalysisError(f"unknown feature(s): {', '.join(unknown)}",
                                hint=f"choose among: {', '.join(available) or 'none (run rumaro extract)'}")
    several = "account" in df and df["account"].nunique() > 1
    kinds = list(kinds or (SINGLE_ACCOUNT_KINDS + (("mixed",) if several else ())))
    wrong = [k for k in kinds if k not in MODEL_KINDS]
    if wrong:
        raise AnalysisError(f"unknown model kind(s): {', '.join(wrong)}", hint=f"use {', '.join(MODEL_KINDS)}")
    estimands = list(estimands or (ESTIMANDS if several else ("within",)))
    wrong = [e for e in estimands if e not in ESTIMANDS]
    if wrong:
        raise AnalysisError(f"unknown estimand(s): {', '.join(wrong)}", hint=f"use {', '.join(ESTIMANDS)}")
    return list(features), kinds, estimands


@one_blas_thread
def analyze(
    df: pd.DataFrame,
    outcome: str = "likes",
    *,
    kinds: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    estimands: Sequence[str] | None = None,
    errors: str | None = None,
    permutations: int = 199,
    separate: bool = True,
    meta_features: Sequence[str] | None = None,
    min_age_days: float = MIN_AGE_DAYS,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Every table of the analysis of `df` on `outcome` (module doc); name -> DataFrame.

    `kinds`: model kinds (default negbin, poisson, ols_log1p; plus mixed for several accounts).
    `estimands`: default ``within`` for one account, all three for several. `errors`: ``model``,
    ``cluster`` or ``hac`` (default: model-based for one account, CR2 by account for several).
    `meta_features`: features of the per-account estimates and meta-analysis (default: the
    primary family, or every feature when none is primary).
    """
    features, kinds, estimands = _validate(df, outcome, kinds, features, estimands)
    df = add_within_ranks(df.sort_values([c for c in ("account", "taken_at") if c in df], kind="stable"))
    young = young_posts(df, min_age_days)
    data = df[~young]
    several = "account" in data and data["account"].nunique() > 1
    if not several:
        estimands = [e for e in estimands if e == "within"] or ["within"]
    families = feature_families(data, features)
    clusters = correlation_clusters(data, features, families=families)
    controls, fewer = controls_for(len(data), DEFAULT_CONTROLS)
    notes = [n for n in ((f"{int(young.sum())} post(s) younger than {min_age_days:g} days at fetch "
                          "time left out (still gathering likes)") if young.any() else None, fewer) if n]
    note = "; ".join(notes) or None
    tables: dict[str, pd.DataFrame] = {}

    summary = dataset_summary(df, outcome)
    counts = young.groupby(df["account"].astype("string") if "account" in df else 0).sum()
    summary["young_posts_left_out"] = summary["account"].map(counts).fillna(0).astype("Int64")
    tables["dataset_summary"] = summary
    tables["feature_summary"] = _label_features(feature_summary(data, features), "feature", families, clusters)
    if len(data) == 0:
        raise AnalysisError(f"every post is younger than {min_age_days:g} days at fetch time",
                            hint="fetch again later, or pass min_age_days=0")

    corr = stage("correlations", lambda: correlations(
        data, features, outcomes=_correlation_outcomes(outcome, several), max_missing=MAX_MISSING),
        CORRELATION_COLUMNS)
    tables["correlations"] = _correlation_qvalues(_label_features(corr, "feature", families, clusters))

    def models(kind: str, separately: bool) -> pd.DataFrame:
        parts = []
        for estimand in (["pooled"] if kind == "mixed" else estimands):
            parts.append(stage(f"model {kind} ({estimand})", lambda e=estimand: fit_model(
                data, outcome, features, kind, controls, estimand=e, errors=errors,
                max_missing=1.0 if separately else MAX_MISSING, separate=separately or None,
                families=families), MODEL_COLUMNS, model=kind, estimand=estimand, outcome=outcome))
        table = pd.concat(parts, ignore_index=True)
        table["cluster"] = table["feature"].map(lambda f: clusters.get(f, pd.NA) if isinstance(f, str) else pd.NA)
        if note:
            table["note"] = [note if pd.isna(n) else f"{n}; {note}" for n in table["note"]]
        return table.astype({"cluster": "string"})

    for kind in kinds:
        tables[f"model_{kind}"] = models(kind, False)
    if separate:
        kind = next((k for k in ("negbin", *kinds) if k in kinds and k != "mixed"), "negbin")
        tables[f"model_{kind}_each"] = models(kind, True)
    tables["predictive"] = stage("predictive check", lambda: predictive_check(
        data, outcome, features, controls, permutations=permutations, seed=seed), PREDICTIVE_COLUMNS)
    tables["power"] = stage("power", lambda: power_table(data, outcome, features, controls), POWER_COLUMNS)
    if several:
        chosen = list(meta_features) if meta_features is not None else (
            [f for f in features if families.get(f) == "primary"] or features)
        kind = next((k for k in kinds if k in COUNT_KINDS), "negbin" if resolve_outcome(
            data, outcome).is_count else "ols_log1p")
        try:
            meta, accounts = across_accounts(data, outcome, chosen, kind, families=families)
        except AnalysisError as exc:
            meta, accounts = not_computed(str(exc), META_COLUMNS), not_computed(str(exc), ACCOUNT_COLUMNS)
        except NUMERIC_ERRORS as exc:
            log.warning("meta-analysis not computed: %s", exc, exc_info=True)
            reason = f"the numbers could not be fitted ({type(exc).__name__}: {exc})"
            meta, accounts = not_computed(reason, META_COLUMNS), not_computed(reason, ACCOUNT_COLUMNS)
        tables["meta"] = meta
        tables["account_estimates"] = accounts
    return tables
