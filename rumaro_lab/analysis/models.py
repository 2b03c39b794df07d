"""Regression models of engagement on visual features and controls, as tidy tables.

`fit_model(df, outcome, features, kind)` returns one row per term. Kinds:

- ``negbin``: negative binomial NB2 (``var = mu + alpha mu^2``) fitted by maximum likelihood
  with the dispersion `alpha` *estimated* (statsmodels ``discrete.NegativeBinomial``); its
  ``alpha`` row reports it. Coefficients are log rate ratios: ``rate_ratio = exp(estimate)``.
- ``poisson``: Poisson GLM with robust (HC0 sandwich) errors, so over-dispersion does not make
  it over-confident; rate ratios as above.
- ``ols_log1p``: OLS of ``log1p(outcome)`` with HC3 robust errors; ``estimate`` is on the log
  scale (``rate_ratio`` is null: exp of it is only an approximate ratio).
- ``mixed``: linear mixed model of ``log1p(outcome)`` with a random intercept per account
  (statsmodels ``MixedLM``, REML); needs 2+ accounts.

Several accounts in `df` are pooled: the count and OLS models take ``log(followers)`` as exposure
(offset), so accounts of different sizes are comparable, and with 10 or more accounts their
errors are clustered by account. With fewer accounts, clustered errors are far too narrow (a
variance from 2 clusters has 1 degree of freedom), so each account gets its own intercept
instead and the note says so; the same happens when some follower count is unknown.
``*_rate`` outcomes model the count with ``log(followers)`` as exposure and ``*_relative``
outcomes the count with ``log(baseline)`` as exposure (see `rumaro_lab.analysis.outcomes`).

Columns: model, outcome, term, role (intercept | control | feature | dispersion | random),
reference (categorical terms), scale (what one unit of the term is), estimate, std_error,
rate_ratio, ci_low, ci_high (95%; on the rate-ratio scale when ``rate_ratio`` is given, else on
the estimate's scale), p_value, q_value (Benjamini-Hochberg within the features, and within the
controls), n (posts used), note (why a term is left out or unreliable, and the model's caveats).

>>> from rumaro_lab.analysis.simulate import simulate_account
>>> from rumaro_lab.analysis.dataset import prepare_dataset
>>> df = prepare_dataset(*simulate_account(400, {"sim.x1": 1.5}, seed=3))
>>> table = fit_model(df, "likes", ["sim.x1"], kind="negbin", per_sd=False)
>>> row = table.set_index("term").loc["sim.x1"]
>>> bool(row["ci_low"] < 1.5 < row["ci_high"]), bool(row["q_value"] < 0.05)
(True, True)
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial

from ..errors import AnalysisError
from .dataset import feature_columns
from .design import Design, build_design, resolve_outcome
from .fdr import bh_qvalues
from .outcomes import DEFAULT_CONTROLS

log = logging.getLogger(__name__)

MODEL_KINDS = ("negbin", "poisson", "ols_log1p", "mixed")
#: the kinds that fit one account (a mixed model needs several)
SINGLE_ACCOUNT_KINDS = tuple(k for k in MODEL_KINDS if k != "mixed")
COUNT_KINDS = ("negbin", "poisson")
MODEL_COLUMNS = [
    "model", "outcome", "term", "role", "reference", "scale", "estimate", "std_error",
    "rate_ratio", "ci_low", "ci_high", "p_value", "q_value", "n", "note",
]
#: a log-scale standard error above this means the term is not estimable in practice
MAX_STD_ERROR = 10.0
MIN_POSTS = 10
#: a joint model needs at least this many posts per term (10+ is the usual advice)
MIN_POSTS_PER_TERM = 3
#: fewer accounts than this are too few clusters for clustered errors
MIN_CLUSTERS = 10


def _empty_table() -> pd.DataFrame:
    return _typed(pd.DataFrame(columns=MODEL_COLUMNS))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    floats = ["estimate", "std_error", "rate_ratio", "ci_low", "ci_high", "p_value", "q_value"]
    strings = ["model", "outcome", "term", "role", "reference", "scale", "note"]
    table = table.reindex(columns=MODEL_COLUMNS)
    for column in floats:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Float64")
    for column in strings:
        table[column] = table[column].astype("string")
    table["n"] = pd.to_numeric(table["n"], errors="coerce").astype("Int64")
    return table.reset_index(drop=True)


def add_qvalues(table: pd.DataFrame) -> pd.DataFrame:
    """BH q-values within the feature terms and, separately, within the control terms."""
    table = table.copy()
    q = np.full(len(table), np.nan)
    p = pd.to_numeric(table["p_value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    for role in ("feature", "control"):
        members = (table["role"] == role).to_numpy(dtype=bool, na_value=False)
        if members.any():
            q[members] = bh_qvalues(p[members])
    table["q_value"] = pd.array(q, dtype="Float64")
    return table


class _Fit:
    """Estimates aligned with the design's terms, plus extra rows and notes."""

    def __init__(self, params, bse, pvalues, ci, extra=(), notes=(), converged=True):
        self.params, self.bse, self.pvalues = (np.asarray(a, dtype=float) for a in (params, bse, pvalues))
        self.ci = np.asarray(ci, dtype=float)
        self.extra = list(extra)
        self.notes = list(notes)
        self.converged = converged


def _cov(design: Design, robust: str) -> dict:
    if design.groups is not None and len(np.unique(design.groups)) > 1:
        return {"cov_type": "cluster", "cov_kwds": {"groups": design.groups}}
    return {"cov_type": robust} if robust else {}


def _fit_negbin(design: Design) -> _Fit:
    k = design.X.shape[1]
    model = NegativeBinomial(design.y, design.X, loglike_method="nb2", offset=design.offset)
    cov = _cov(design, "")
    result = model.fit(method="newton", maxiter=100, disp=0, **cov)
    converged = bool(result.mle_retvals.get("converged", True))
    if not converged or not np.all(np.isfinite(result.params)):
        start = result.params if np.all(np.isfinite(result.params)) else None
        result = model.fit(method="bfgs", maxiter=2000, disp=0, start_params=start, **cov)
        converged = bool(result.mle_retvals.get("converged", True))
    params, bse, pvalues, ci = (np.asarray(a) for a in (result.params, result.bse, result.pvalues, result.conf_int()))
    alpha = float(params[k])
    extra = [{"term": "alpha (NB2 dispersion)", "role": "dispersion", "estimate": alpha,
              "std_error": float(bse[k]), "ci_low": float(ci[k, 0]), "ci_high": float(ci[k, 1])}]
    return _Fit(params[:k], bse[:k], pvalues[:k], ci[:k], extra, converged=converged)


def _fit_poisson(design: Design) -> _Fit:
    model = sm.GLM(design.y, design.X, family=sm.families.Poisson(), offset=design.offset)
    result = model.fit(maxiter=100, **_cov(design, "HC0"))
    return _Fit(result.params, result.bse, result.pvalues, result.conf_int(),
                converged=bool(getattr(result, "converged", True)))


def _log_response(design: Design) -> np.ndarray:
    response = np.log1p(design.y)
    return response - design.offset if design.offset is not None else response


def _fit_ols(design: Design) -> _Fit:
    result = sm.OLS(_log_response(design), design.X).fit(**_cov(design, "HC3"))
    return _Fit(result.params, result.bse, result.pvalues, result.conf_int())


def _fit_mixed(design: Design) -> _Fit:
    k = design.X.shape[1]
    model = sm.MixedLM(_log_response(design), design.X, groups=design.groups)
    result = None
    # gradient optimisers can stall at a zero random-effect variance with a meaningless
    # intercept; the derivative-free ones get there cleanly, so try them in turn
    for method in ("bfgs", "powell", "nm"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = model.fit(reml=True, method=[method])
        se = np.asarray(result.bse_fe)
        if result.converged and np.all(np.isfinite(se)) and se.max() < 1e3:
            break
    for warning in caught:  # only the accepted attempt's warnings matter
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    params, bse = np.asarray(result.fe_params), np.asarray(result.bse_fe)
    pvalues, ci = np.asarray(result.pvalues)[:k], np.asarray(result.conf_int())[:k]
    variance = float(np.asarray(result.cov_re)[0, 0])
    notes = []
    if variance < 1e-6:
        notes.append("the account random-intercept variance is estimated at 0 (the accounts don't "
                     "differ beyond the controls, or there are too few accounts to tell)")
    extra = [{"term": "account random intercept (variance)", "role": "random", "estimate": variance}]
    return _Fit(params, bse, pvalues, ci, extra, notes, converged=bool(result.converged))


_FITTERS = {"negbin": _fit_negbin, "poisson": _fit_poisson, "ols_log1p": _fit_ols, "mixed": _fit_mixed}


def _fit_with_warnings(kind: str, design: Design) -> _Fit:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            try:
                fit = _FITTERS[kind](design)
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
                raise AnalysisError(f"the {kind} model of {design.outcome.name} could not be fitted: {exc}",
                                    hint="use fewer features or another --model") from exc
    messages = list(dict.fromkeys(str(w.message).split("\n")[0][:140] for w in caught
                                  if not issubclass(w.category, (DeprecationWarning, FutureWarning))))
    for message in messages:
        log.warning("%s model of %s: %s", kind, design.outcome.name, message)
    fit.notes += [f"statsmodels warned: {m}" for m in messages]
    if not fit.converged:
        fit.notes.append("the fit did not converge: estimates are unreliable")
        log.warning("%s model of %s did not converge", kind, design.outcome.name)
    return fit


def _setup(df: pd.DataFrame, kind: str, spec, cluster: bool | None = None) -> tuple[dict, list[str]]:
    """Pooling choices for several accounts: exposure, account intercepts, clusters."""
    accounts = df["account"].nunique() if "account" in df else 1
    options: dict = {}
    notes: list[str] = []
    if kind == "mixed":
        if accounts < 2:
            raise AnalysisError("a mixed model needs posts of 2 or more accounts",
                                hint="use --model negbin for one account, or pass several accounts")
        options["groups"] = "account"
        if accounts < 5:
            notes.append(f"only {accounts} accounts: the random-intercept variance is poorly estimated")
        return options, notes
    if accounts < 2:
        return options, notes
    followers = pd.to_numeric(df["followers"], errors="coerce") if "followers" in df else None
    if spec.exposure is None and followers is not None and (followers > 0).all():
        options["exposure"] = "followers"
        notes.append(f"{accounts} accounts pooled: log(followers) is the exposure")
    elif spec.exposure is None:
        options["account_effects"] = True
        notes.append(f"{accounts} accounts pooled; some follower counts unknown: one intercept per account")
    if cluster or (cluster is None and accounts >= MIN_CLUSTERS):
        options["groups"] = "account"
        notes.append(f"errors clustered by account ({accounts} clusters"
                     + ("; so few clusters make these errors too narrow)" if accounts < MIN_CLUSTERS else ")"))
    else:
        # clustered errors with a handful of clusters are far too narrow: account intercepts
        # take the accounts' differences out instead, and the errors stay per post
        options["account_effects"] = True
        notes.append(f"only {accounts} accounts, too few to cluster errors by account: one intercept "
                     "per account instead (see also the mixed model)")
    return options, notes


def fit_model(
    df: pd.DataFrame,
    outcome: str = "likes",
    features: Sequence[str] | None = None,
    kind: str = "negbin",
    controls: Sequence[str] = DEFAULT_CONTROLS,
    *,
    per_sd: bool = True,
    max_missing: float = 0.2,
    references: Mapping[str, str] | None = None,
    min_posts: int = MIN_POSTS,
    separate: bool | None = None,
    cluster: bool | None = None,
) -> pd.DataFrame:
    """Fit one model of `outcome` on `features` + `controls`; a tidy table, one row per term.

    With ``separate=True`` each feature gets its own model (that feature + the controls, on
    the posts where it is known) and the table holds the feature rows of all of them, with
    q-values across features: robust with few posts or features that are often unknown.
    By default (``separate=None``) the features are fitted jointly when there are at least
    `MIN_POSTS_PER_TERM` posts per term, else one at a time (``model`` says ``KIND_each`` and
    the note says why); ``separate=False`` insists on the joint model.
    `cluster` (several accounts only): cluster the errors by account; by default only with 10+
    accounts (with fewer, each account gets its own intercept instead).

    Raises `AnalysisError` (with a hint) when the model can't be fitted at all: unknown kind or
    outcome, fewer than `min_posts` usable posts, more terms than posts allow. Problems with a
    single term are reported in its ``note`` instead.
    """
    if kind not in MODEL_KINDS:
        raise AnalysisError(f"unknown model kind {kind!r}", hint=f"use one of {', '.join(MODEL_KINDS)}")
    features = list(feature_columns(df) if features is None else features)
    if separate:
        return _fit_separately(df, outcome, features, kind, controls, per_sd=per_sd,
                               references=references, min_posts=min_posts, cluster=cluster)
    spec = resolve_outcome(df, outcome)
    if kind in COUNT_KINDS and not spec.is_count:
        raise AnalysisError(f"{outcome} is not a count: a {kind} model does not apply",
                            hint="use --model ols_log1p")
    options, model_notes = _setup(df, kind, spec, cluster)
    design = build_design(df, spec, features, controls, per_sd=per_sd, max_missing=max_missing,
                          references=references, count_model=kind in COUNT_KINDS, **options)
    n, k = design.X.shape
    if n < min_posts:
        raise AnalysisError(f"only {n} post(s) usable for a model of {outcome} (at least {min_posts} needed)",
                            hint="fetch more posts, or pool several accounts")
    if n < MIN_POSTS_PER_TERM * (k + (kind == "negbin")):
        message = (f"{k} terms for {n} posts: too many for one joint {kind} model "
                   f"(at least {MIN_POSTS_PER_TERM} posts per term needed)")
        if separate is None and features:
            log.warning("%s: fitting one feature at a time instead", message)
            table = _fit_separately(df, outcome, features, kind, controls, per_sd=per_sd,
                                    references=references, min_posts=min_posts, cluster=cluster)
            fallback = f"{message}: one feature at a time instead"
            table["note"] = [fallback if pd.isna(note) else f"{fallback}; {note}" for note in table["note"]]
            return _typed(table)
        raise AnalysisError(message, hint="pass fewer features (--features), or fit one feature at a time")
    notes = design.notes + model_notes
    if n < 10 * k:
        notes.append(f"{n / k:.1f} posts per term (fewer than 10): estimates are unstable")
    fit = _fit_with_warnings(kind, design)
    notes += fit.notes
    count = kind in COUNT_KINDS
    rows = []
    for j, term in enumerate(design.terms):
        estimate, se, p = fit.params[j], fit.bse[j], fit.pvalues[j]
        low, high = fit.ci[j]
        term_notes = list(term.notes)
        if not (np.isfinite(se) and se <= MAX_STD_ERROR) and term.role != "intercept":
            term_notes.append("not estimable (near-separation, collinearity or no convergence): "
                              "p-value withheld")
            log.warning("%s model of %s: term %s not estimable (se=%s)", kind, outcome, term.name, se)
            p = np.nan
        with np.errstate(over="ignore"):  # a separated term's exp() may be inf: it is marked
            rows.append({
                "term": term.name, "role": term.role, "reference": term.reference, "scale": term.scale,
                "estimate": estimate, "std_error": se,
                "rate_ratio": np.exp(estimate) if count else np.nan,
                "ci_low": np.exp(low) if count else low, "ci_high": np.exp(high) if count else high,
                "p_value": p, "note": "; ".join(term_notes + notes) or None,
            })
    for extra in fit.extra:
        rows.append({**extra, "note": "; ".join(notes) or None})
    for term in design.excluded:
        rows.append({"term": term.name, "role": "feature", "reference": term.reference,
                     "scale": term.scale, "note": "; ".join(term.notes + notes)})
    table = pd.DataFrame(rows).assign(model=kind, outcome=outcome, n=n)
    return _typed(add_qvalues(_typed(table)))


def _fit_separately(df, outcome, features, kind, controls, **options) -> pd.DataFrame:
    tables, failed = [], []
    for feature in features:
        try:
            table = fit_model(df, outcome, [feature], kind, controls, max_missing=1.0,
                              separate=False, **options)
            table = table[table["role"] == "feature"]
        except AnalysisError as exc:
            log.info("%s model of %s on %s: %s", kind, outcome, feature, exc)
            failed.append(feature)
            table = _typed(pd.DataFrame([{"term": feature, "role": "feature", "note": str(exc),
                                          "outcome": outcome}]))
        tables.append(table)
    if failed:  # one line, not one per feature: each reason is in its row's note
        log.warning("%s model of %s: %d of %d feature(s) could not be fitted alone (%s); "
                    "see their notes", kind, outcome, len(failed), len(features),
                    ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else ""))
    if not tables:
        return _empty_table()
    combined = pd.concat(tables, ignore_index=True).assign(model=f"{kind}_each")
    return _typed(add_qvalues(_typed(combined)))
