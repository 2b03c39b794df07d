"""One fitter per model kind, each returning estimates with the standard errors asked for.

``errors`` chooses how standard errors are made (docs/analysis.md, "Standard errors"):

- ``model``: the model's own. NB2: the inverse information, scaled up by the Pearson
  dispersion ``sum(r^2) / (n - k - 1)`` when that exceeds 1, with t(n - k - 1): plain NB2
  Wald tests are anti-conservative with a few hundred posts (the dispersion is estimated; 500
  null replicates of 150 posts and 5 features gave 7.8% with any q < 0.05, 5.4% with the
  correction, benchmarks/validate_estimands.py). Poisson: HC0 sandwich, so over-dispersion
  does not make it over-confident; OLS: HC3; both with normal intervals;
- ``cluster``: CR2 clustered by account with t(G - 1) (`rumaro_lab.analysis.inference`): the
  default for several accounts;
- ``hac``: Newey-West (Bartlett kernel, lag floor(4 (n/100)^(2/9))) over the posts in time
  order: for one account whose consecutive posts share luck (statsmodels' ``S_hac_simple``).

A fit that did not converge (after the engine's retries, `rumaro_lab.analysis.glm`) keeps its
estimates for the record but gets no p-value and no interval: its rows say so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import statsmodels.api as sm
from statsmodels.stats.sandwich_covariance import S_hac_simple

from .design import Design
from .glm import GLMFit, fit_negbin, fit_ols, fit_poisson
from .inference import (
    Inference,
    clustered,
    informative_clusters,
    newey_west_lags,
    t_inference,
    weighted,
)

ERRORS = ("model", "cluster", "hac")


@dataclass
class Fit:
    """Estimates aligned with the design's terms, plus extra rows and notes."""

    params: np.ndarray
    inference: Inference
    converged: bool = True
    extra: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def log_response(design: Design) -> np.ndarray:
    """``log1p(outcome)``, minus the log exposure when the outcome has one."""
    response = np.log1p(np.clip(design.y, 0, None)) if design.outcome.is_count else design.y
    return response - design.offset if design.offset is not None else response


def _sandwich(bread: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return bread @ (scores.T @ scores) @ bread


def _inference(kind: str, design: Design, glm: GLMFit, errors: str) -> Inference:
    Xw = weighted(design.X, glm.weights)
    scores = Xw * glm.resid[:, None]
    if errors == "cluster" and design.groups is not None and len(np.unique(design.groups)) > 1:
        fixed = any(t.source == "account" for t in design.terms)
        leverage = np.einsum("ij,jk,ik->i", Xw, glm.bread, Xw)
        return clustered(glm.params, Xw, glm.resid, design.groups,
                         informative_clusters(design.X, design.groups, fixed, leverage))
    if errors == "hac":
        lags = newey_west_lags(design.n)
        cov = glm.bread @ S_hac_simple(scores, nlags=lags) @ glm.bread
        return t_inference(glm.params, cov, None, f"HAC (Newey-West, {lags} lags, posts in time order)")
    if kind == "negbin":
        n, k = design.X.shape
        df = max(n - k - 1, 1)
        pearson = float(np.sum(glm.resid**2) / df)
        return t_inference(glm.params, glm.model_cov() * max(1.0, pearson), float(df),
                           f"model-based (NB2 information, Pearson-scaled), t({df})")
    if kind == "poisson":
        return t_inference(glm.params, _sandwich(glm.bread, scores), None, "robust (HC0)")
    leverage = np.einsum("ij,jk,ik->i", design.X, glm.bread, design.X)
    adjusted = scores / np.clip(1 - leverage, 1e-8, None)[:, None]
    return t_inference(glm.params, _sandwich(glm.bread, adjusted), None, "robust (HC3)")


def _fit_count(kind: str, design: Design, errors: str) -> Fit:
    glm = (fit_negbin if kind == "negbin" else fit_poisson)(design.X, design.y, design.offset)
    fit = Fit(glm.params, _inference(kind, design, glm, errors), glm.converged, notes=list(glm.notes))
    if kind == "negbin":
        z = 1.959963984540054
        fit.extra.append({"term": "alpha (NB2 dispersion)", "role": "dispersion", "estimate": glm.alpha,
                          "std_error": glm.alpha_se, "ci_low": glm.alpha - z * glm.alpha_se,
                          "ci_high": glm.alpha + z * glm.alpha_se})
    return fit


def _fit_ols(design: Design, errors: str) -> Fit:
    glm = fit_ols(design.X, log_response(design))
    return Fit(glm.params, _inference("ols_log1p", design, glm, errors), glm.converged)


def _fit_mixed(design: Design, errors: str) -> Fit:
    """Linear mixed model of log1p(outcome) with a random intercept per account (REML)."""
    model = sm.MixedLM(log_response(design), design.X, groups=design.groups)
    result, caught = None, []  # the accepted attempt's warnings
    # gradient optimisers can stall at a zero random-effect variance with a meaningless
    # intercept; the derivative-free ones get there cleanly, so try them in turn
    for method in ("bfgs", "powell", "nm"):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                attempt = model.fit(reml=True, method=[method])
            except (np.linalg.LinAlgError, ValueError):
                continue
        result, caught = attempt, list(record)
        se = np.asarray(result.bse_fe)
        if result.converged and np.all(np.isfinite(se)) and se.max() < 1e3:
            break
    if result is None:
        k = design.X.shape[1]
        nan = np.full(k, np.nan)
        return Fit(nan, Inference(nan, nan, np.column_stack([nan, nan]), "model-based"), False,
                   notes=["the mixed model could not be fitted with any optimizer"])
    k = design.X.shape[1]
    params = np.asarray(result.fe_params)
    cov = np.asarray(result.cov_params())[:k, :k]
    fit = Fit(params, t_inference(params, cov, None, "model-based (REML)"), bool(result.converged))
    fit.notes += list(dict.fromkeys(f"statsmodels warned: {str(w.message).splitlines()[0][:140]}"
                                    for w in caught if not issubclass(w.category, (DeprecationWarning, FutureWarning))))
    variance = float(np.asarray(result.cov_re)[0, 0])
    if variance < 1e-6:
        fit.notes.append("the account random-intercept variance is estimated at 0 (the accounts don't "
                         "differ beyond the controls, or there are too few accounts to tell)")
    fit.extra.append({"term": "account random intercept (variance)", "role": "random", "estimate": variance})
    return fit


def fit_design(kind: str, design: Design, errors: str) -> Fit:
    """Fit `design` with model `kind`; standard errors as `errors` says (module doc)."""
    with np.errstate(all="ignore"):
        if kind in ("negbin", "poisson"):
            fit = _fit_count(kind, design, errors)
        elif kind == "ols_log1p":
            fit = _fit_ols(design, errors)
        else:
            fit = _fit_mixed(design, errors)
    if not fit.converged:
        fit.notes.append("the fit did not converge (after retrying from Poisson start values and "
                         "with a second optimizer): no p-value")
    return fit
