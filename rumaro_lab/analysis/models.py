"""Regression models of engagement on visual features and controls, as tidy tables.

`fit_model(df, outcome, features, kind, estimand=...)` returns one row per term. Kinds:

- ``negbin``: negative binomial NB2 (``var = mu + alpha mu^2``), maximum likelihood with the
  dispersion `alpha` *estimated* (`rumaro_lab.analysis.glm`); its ``alpha`` row reports it.
  Coefficients are log rate ratios: ``rate_ratio = exp(estimate)``.
- ``poisson``: Poisson GLM with robust (HC0 sandwich) errors, so over-dispersion does not make
  it over-confident; rate ratios as above.
- ``ols_log1p``: OLS of ``log1p(outcome)`` with HC3 robust errors; ``estimate`` is on the log
  scale (``rate_ratio`` is null: exp of it is only an approximate ratio).
- ``mixed``: linear mixed model of ``log1p(outcome)`` with a random intercept per account
  (statsmodels ``MixedLM``, REML); needs 2+ accounts; its rows are ``pooled``.

`estimand` (`rumaro_lab.analysis.estimands`) says which comparison a row answers: ``within``
(account fixed effects; one account is within by construction), ``pooled`` (log followers as
exposure) or ``between`` (the Mundlak between-minus-within contrast, rows with role
``contrast``). With several accounts errors are clustered by account (CR2, t(G - 1)).
``*_rate`` outcomes model the count with ``log(followers)`` as exposure and ``*_relative``
outcomes the count with ``log(baseline)`` as exposure (see `rumaro_lab.analysis.outcomes`).

Columns: model, estimand, outcome, term, feature (the column a term comes from), role
(intercept | control | feature | contrast | dispersion | random), family (primary |
exploratory), cluster, reference, scale, estimate, std_error, rate_ratio, ci_low, ci_high (95%;
rate-ratio scale when ``rate_ratio`` is given), p_value, q_value (Benjamini-Hochberg within the
estimand's family, `rumaro_lab.analysis.families`), df (of the t reference; null: normal), n
(posts), accounts, se_method, converged, note. A fit that did not converge has no p, no q and no interval, and says so.

>>> from rumaro_lab.analysis.simulate import simulate_account
>>> from rumaro_lab.analysis.dataset import prepare_dataset
>>> df = prepare_dataset(*simulate_account(400, {"sim.x1": 1.5}, seed=3))
>>> table = fit_model(df, "likes", ["sim.x1"], kind="negbin", per_sd=False)
>>> row = table.set_index("term").loc["sim.x1"]
>>> bool(row["ci_low"] < 1.5 < row["ci_high"]), bool(row["q_value"] < 0.05), row["estimand"]
(True, True, 'within')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from . import estimands as est
from .dataset import feature_columns
from .design import build_design, resolve_outcome
from .families import add_qvalues, feature_families
from .fitters import fit_design
from .glm import one_blas_thread
from .outcomes import DEFAULT_CONTROLS

log = logging.getLogger(__name__)

MODEL_KINDS = ("negbin", "poisson", "ols_log1p", "mixed")
#: the kinds that fit one account (a mixed model needs several)
SINGLE_ACCOUNT_KINDS = tuple(k for k in MODEL_KINDS if k != "mixed")
COUNT_KINDS = ("negbin", "poisson")
MODEL_COLUMNS = [
    "model", "estimand", "outcome", "term", "feature", "role", "family", "cluster", "reference",
    "scale", "estimate", "std_error", "rate_ratio", "ci_low", "ci_high", "p_value", "q_value", "df",
    "n", "accounts", "se_method", "converged", "note",
]
_FLOATS = ["estimate", "std_error", "rate_ratio", "ci_low", "ci_high", "p_value", "q_value", "df"]
_STRINGS = ["model", "estimand", "outcome", "term", "feature", "role", "family", "cluster",
            "reference", "scale", "se_method", "note"]
#: a log-scale standard error above this means the term is not estimable in practice
MAX_STD_ERROR = 10.0
MIN_POSTS = 10
#: a joint model needs at least this many posts per term (10+ is the usual advice)
MIN_POSTS_PER_TERM = 3


def typed(table: pd.DataFrame, columns: Sequence[str] = MODEL_COLUMNS) -> pd.DataFrame:
    """`table` with the model columns in order and nullable dtypes."""
    table = table.reindex(columns=list(columns))
    for column in _FLOATS:
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce").astype("Float64")
    for column in _STRINGS:
        if column in table:
            table[column] = table[column].astype("string")
    for column in ("n", "accounts"):
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    if "converged" in table:
        table["converged"] = table["converged"].astype("boolean")
    return table.reset_index(drop=True)


def not_computed(reason: str, columns: Sequence[str] = MODEL_COLUMNS, **values) -> pd.DataFrame:
    """The one-row table of a model the data can't support: ``note = "not computed: ..."``."""
    return typed(pd.DataFrame([{**values, "note": f"not computed: {reason}"}]), columns)


@one_blas_thread
def fit_model(
    df: pd.DataFrame,
    outcome: str = "likes",
    features: Sequence[str] | None = None,
    kind: str = "negbin",
    controls: Sequence[str] = DEFAULT_CONTROLS,
    *,
    estimand: str | None = None,
    errors: str | None = None,
    per_sd: bool = True,
    max_missing: float = 0.2,
    references: Mapping[str, str] | None = None,
    min_posts: int = MIN_POSTS,
    separate: bool | None = None,
    families: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Fit one model of `outcome` on `features` + `controls`; a tidy table, one row per term.

    `estimand`: ``within`` (default), ``pooled`` or ``between`` (module doc). `errors`:
    ``model``, ``cluster`` (default with 5+ accounts, and for pooled and between) or ``hac``
    (`fitters`).
    With ``separate=True`` each feature gets its own model (that feature + the controls, on the
    posts where it is known) and the table holds the feature rows of all of them, with q-values
    across features: robust with few posts or features that are often unknown. By default
    (``separate=None``) the features are fitted jointly when there are at least
    `MIN_POSTS_PER_TERM` posts per term, else one at a time (``model`` says ``KIND_each`` and the
    note says why); ``separate=False`` insists on the joint model.

    Raises `AnalysisError` (with a hint) when the model can't be fitted at all: unknown kind,
    outcome or estimand, fewer than `min_posts` usable posts, more terms than posts allow.
    Problems with a single term are reported in its ``note`` instead.
    """
    if kind not in MODEL_KINDS:
        raise AnalysisError(f"unknown model kind {kind!r}", hint=f"use one of {', '.join(MODEL_KINDS)}")
    features = list(feature_columns(df) if features is None else features)
    families = dict(families) if families is not None else feature_families(df, features)
    options = dict(controls=controls, estimand=estimand, errors=errors, per_sd=per_sd,
                   references=references, min_posts=min_posts, families=families)
    if separate:
        return _fit_separately(df, outcome, features, kind, **options)
    spec = resolve_outcome(df, outcome)
    if kind in COUNT_KINDS and not spec.is_count:
        raise AnalysisError(f"{outcome} is not a count: a {kind} model does not apply",
                            hint="use kind='ols_log1p'")
    if kind == "mixed":
        if est.n_accounts(df) < 2:
            raise AnalysisError("a mixed model needs posts of 2 or more accounts",
                                hint="use kind='negbin' for one account, or pass several accounts")
        setup = est.Setup("pooled", df, {"groups": "account"}, "model",
                          ["a random intercept per account: a precision-weighted mix of the "
                           "within and between comparisons"])
    else:
        setup = est.setup(df, estimand, spec, errors, count_model=kind in COUNT_KINDS)
    design = build_design(setup.df, spec, features, controls, per_sd=per_sd, max_missing=max_missing,
                          references=references, count_model=kind in COUNT_KINDS, **setup.options)
    if setup.estimand == "between":
        design = est.add_account_means(design)
    n, k = design.X.shape
    if n < min_posts:
        raise AnalysisError(f"only {n} post(s) usable for a model of {outcome} (at least {min_posts} needed)",
                            hint="fetch more posts, or pool several accounts")
    if n < MIN_POSTS_PER_TERM * (k + (kind == "negbin")):
        message = (f"{k} terms for {n} posts: too many for one joint {kind} model "
                   f"(at least {MIN_POSTS_PER_TERM} posts per term needed)")
        if separate is None and features:
            log.info("%s: fitting one feature at a time instead", message)
            table = _fit_separately(df, outcome, features, kind, **options)
            fallback = f"{message}: one feature at a time instead"
            table["note"] = [fallback if pd.isna(note) else f"{fallback}; {note}" for note in table["note"]]
            return typed(table)
        raise AnalysisError(message, hint="pass fewer features, or fit one feature at a time (separate=True)")
    notes = design.notes + setup.notes
    if n < 10 * k:
        notes.append(f"{n / k:.1f} posts per term (fewer than 10): estimates are unstable")
    fit = fit_design(kind, design, setup.errors)
    notes += fit.notes
    if not fit.converged:
        log.warning("%s model of %s (%s) did not converge: p-values withheld", kind, outcome, setup.estimand)
    count = kind in COUNT_KINDS
    inference = fit.inference
    rows = []
    for j, term in enumerate(design.terms):
        estimate, se, p = fit.params[j], inference.bse[j], inference.pvalues[j]
        low, high = inference.ci[j]
        term_notes = list(term.notes)
        df_j = inference.df[j] if inference.df is not None else np.nan
        if not fit.converged:
            p, low, high = np.nan, np.nan, np.nan
        elif setup.errors == "cluster" and term.role != "intercept" and not np.isfinite(p) and np.isfinite(se):
            term_notes.append("informed by one account only (it varies within one account, or is "
                              "non-zero in one): no clustered test; see that account's own estimate")
        elif not (np.isfinite(se) and se <= MAX_STD_ERROR) and term.role != "intercept":
            term_notes.append("not estimable (near-separation, collinearity or no convergence): "
                              "p-value withheld")
            p = np.nan
        with np.errstate(over="ignore", invalid="ignore"):  # a separated term's exp() may be inf
            rows.append({
                "term": term.name, "feature": term.source or None, "role": term.role,
                "reference": term.reference, "scale": term.scale, "estimate": estimate,
                "std_error": se, "rate_ratio": np.exp(estimate) if count else np.nan,
                "ci_low": np.exp(low) if count else low, "ci_high": np.exp(high) if count else high,
                "p_value": p, "df": df_j, "note": "; ".join(term_notes + notes) or None,
            })
    for extra in fit.extra:
        rows.append({**extra, "note": "; ".join(notes) or None})
    for term in design.excluded:
        rows.append({"term": term.name, "feature": term.source, "role": term.role,
                     "reference": term.reference, "scale": term.scale,
                     "note": "; ".join(term.notes + notes)})
    table = pd.DataFrame(rows).assign(model=kind, estimand=setup.estimand, outcome=outcome, n=n,
                                      accounts=setup.accounts, se_method=inference.method,
                                      converged=fit.converged)
    unfitted = table["estimate"].isna() if "estimate" in table else True
    table["se_method"] = table["se_method"].where(~unfitted)
    table["converged"] = table["converged"].astype("boolean").where(~unfitted)
    return typed(add_qvalues(_with_families(table, families)))


def _with_families(table: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    table = table.copy()
    tested = table["role"].isin(["feature", "contrast"])
    family = table["feature"].map(lambda f: families.get(f, "exploratory") if isinstance(f, str) else None)
    table["family"] = family.where(tested, None)
    return table


def _fit_separately(df, outcome, features, kind, **options) -> pd.DataFrame:
    tables, failed = [], []
    for feature in features:
        try:
            table = fit_model(df, outcome, [feature], kind, max_missing=1.0, separate=False, **options)
            table = table[table["role"].isin(["feature", "contrast"])]
        except AnalysisError as exc:
            log.info("%s model of %s on %s: %s", kind, outcome, feature, exc)
            failed.append(feature)
            table = typed(pd.DataFrame([{
                "term": feature, "feature": feature, "role": "feature", "note": str(exc),
                "outcome": outcome, "estimand": options.get("estimand") or "within",
                "family": options["families"].get(feature, "exploratory")}]))
        tables.append(table)
    if failed:  # one line, not one per feature: each reason is in its row's note
        log.info("%s model of %s: %d of %d feature(s) could not be fitted alone (%s); "
                 "see their notes", kind, outcome, len(failed), len(features),
                 ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else ""))
    if not tables:
        return typed(pd.DataFrame(columns=MODEL_COLUMNS))
    combined = pd.concat([t for t in tables if len(t)], ignore_index=True) if any(len(t) for t in tables) \
        else typed(pd.DataFrame(columns=MODEL_COLUMNS))
    combined = combined.assign(model=f"{kind}_each")
    return typed(add_qvalues(typed(combined)))
