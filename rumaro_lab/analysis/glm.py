"""The fitting engine of the count and log models: IRLS on k x k normal equations, with retries.

Why not statsmodels' own fit for every model: its GLM and discrete models run tall LAPACK
decompositions (an SVD of the whole design at every IRLS step, a QR rank check at set-up), which
cost seconds per fit on a busy 2-core machine; the analysis of 20 accounts fits a few hundred
models. Here every step works on ``X' W X`` (k x k), so a fit of 10,000 posts takes milliseconds.
statsmodels stays the reference and the fallback:

- **Poisson** (log link): IRLS (Fisher scoring; identical to Newton for the canonical link),
  with step halving when the deviance rises.
- **NB2** (``var = mu + alpha mu^2``): maximum likelihood by alternating IRLS for the
  coefficients at fixed alpha with a one-dimensional maximisation of the profile log-likelihood
  in ``log alpha`` (scipy's bounded Brent), as R's ``MASS::glm.nb`` does; started from the
  Poisson fit. When that does not converge, statsmodels' ``NegativeBinomial`` is tried with
  Newton from the Poisson start, then BFGS (the second optimizer). A fit that still has not
  converged says so (``converged=False``): callers then withhold p-values.
- **OLS** of a transformed outcome: one weighted step (weights 1).

Every fit returns what the standard errors of `rumaro_lab.analysis.inference` need: the
coefficients, the working weights, the Pearson residuals and the bread ``(X'WX)^-1``.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> X = np.column_stack([np.ones(2000), rng.standard_normal(2000)])
>>> mu = np.exp(3 + 0.2 * X[:, 1])
>>> y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
>>> fit = fit_negbin(X, y)
>>> fit.converged, np.round(fit.params, 1).tolist(), round(fit.alpha, 1)
(True, [3.0, 0.2], 0.5)
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from scipy import optimize, special
from threadpoolctl import threadpool_limits

_F = TypeVar("_F", bound=Callable)


def one_blas_thread(func: _F) -> _F:
    """Run `func` with BLAS/LAPACK on one thread.

    The analysis makes thousands of small-matrix calls (k x k solves, eigen-decompositions of
    ridge and CR2 matrices). A multi-threaded OpenBLAS gains nothing on them and, on a busy
    machine, spins its threads: measured here, eigh of a 100 x 100 matrix took 57 ms with the
    default threads and 1.1 ms with one (threadpoolctl limits the BLAS of numpy and scipy).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


#: the linear predictor is clipped here: exp(+-30) keeps every weight finite
_ETA_LIMIT = 30.0
#: alpha is searched in [exp(-12), exp(6)]: from Poisson-like to absurdly dispersed
_LOG_ALPHA_BOUNDS = (-12.0, 6.0)


@dataclass
class GLMFit:
    """A fitted model in the form the covariance estimators need."""

    params: np.ndarray
    weights: np.ndarray  # working weights (1 for OLS)
    resid: np.ndarray  # Pearson residuals
    bread: np.ndarray  # (X'WX)^-1
    converged: bool
    alpha: float = float("nan")  # NB2 dispersion
    alpha_se: float = float("nan")
    notes: list[str] = field(default_factory=list)

    def model_cov(self) -> np.ndarray:
        """Model-based covariance of the coefficients (the inverse expected information)."""
        return self.bread


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, b, rcond=None)[0]


def _pinv_sym(A: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A, hermitian=True)


def _mu(X: np.ndarray, beta: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return np.exp(np.clip(X @ beta + offset, -_ETA_LIMIT, _ETA_LIMIT))


def _nb_deviance_terms(y: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    """Minus twice the NB2 (alpha = 0: Poisson) log-likelihood, up to a constant in mu."""
    if alpha <= 0:
        return float(2 * np.sum(mu - special.xlogy(y, mu)))
    r = 1 / alpha
    return float(-2 * np.sum(special.xlogy(y, mu) - (y + r) * np.log(r + mu)))


def irls(X: np.ndarray, y: np.ndarray, offset: np.ndarray, alpha: float = 0.0,
         start: np.ndarray | None = None, maxiter: int = 100, tol: float = 1e-9
         ) -> tuple[np.ndarray, bool]:
    """Coefficients of a log-link Poisson (alpha = 0) or NB2 model at fixed alpha; converged?"""
    if start is None:
        mean = max(float(np.mean(y)), 0.1)
        beta = _solve(X.T @ X, X.T @ (np.log(np.maximum(y, 0.1 * mean) + 0.0) - offset))
    else:
        beta = np.array(start, dtype=float)
    mu = _mu(X, beta, offset)
    deviance = _nb_deviance_terms(y, mu, alpha)
    for _ in range(maxiter):
        w = mu / (1 + alpha * mu)
        z = X @ beta + (y - mu) / mu
        proposal = _solve(X.T @ (X * w[:, None]), X.T @ (w * z))
        step = proposal - beta
        for _halving in range(30):
            candidate = beta + step
            mu_new = _mu(X, candidate, offset)
            new = _nb_deviance_terms(y, mu_new, alpha)
            if np.isfinite(new) and new <= deviance + 1e-12 * abs(deviance):
                break
            step = step / 2
        else:
            return beta, False
        change = abs(new - deviance) / (abs(new) + 0.1)
        beta, mu, deviance = candidate, mu_new, new
        if change < tol:
            return beta, bool(np.all(np.isfinite(beta)))
    return beta, False


def _finish(X, y, offset, beta, alpha, converged, notes=()) -> GLMFit:
    mu = _mu(X, beta, offset)
    variance = mu * (1 + alpha * mu) if alpha > 0 else mu
    weights = mu / (1 + alpha * mu) if alpha > 0 else mu
    resid = (y - mu) / np.sqrt(np.maximum(variance, 1e-300))
    bread = _pinv_sym(X.T @ (X * weights[:, None]))
    # a coefficient at the clipping limit is a separated term, not an estimate
    at_limit = np.any(np.abs(X @ beta + offset) >= _ETA_LIMIT - 1e-9)
    fit = GLMFit(beta, weights, resid, bread, bool(converged and not at_limit), alpha, notes=list(notes))
    if at_limit:
        fit.notes.append("fitted means reach the numeric limit (near-separation)")
    return fit


def fit_poisson(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None,
                start: np.ndarray | None = None) -> GLMFit:
    """Poisson log-linear model by IRLS; retried from zero and with more steps if needed."""
    offset = np.zeros(len(y)) if offset is None else offset
    beta, converged = irls(X, y, offset, 0.0, start)
    if not converged:  # second try: a plain start and a longer budget
        beta, converged = irls(X, y, offset, 0.0, None, maxiter=400)
    return _finish(X, y, offset, beta, 0.0, converged)


def _profile_alpha(X, y, offset, beta, near: float | None = None) -> float:
    """alpha maximising the NB2 log-likelihood at `beta` (bounded Brent on log alpha).

    With `near` (the previous round's alpha) the search is within a factor e of it, widened to
    the full bounds when the optimum sits on that bracket's edge.
    """
    mu = _mu(X, beta, offset)

    def negative_loglike(log_alpha: float) -> float:
        r = np.exp(-log_alpha)
        ll = (special.gammaln(y + r) - special.gammaln(r) + r * np.log(r / (r + mu))
              + special.xlogy(y, mu / (r + mu)))
        return float(-np.sum(ll))

    bounds = _LOG_ALPHA_BOUNDS
    if near is not None and np.isfinite(near) and near > 0:
        centre = float(np.clip(np.log(near), *_LOG_ALPHA_BOUNDS))
        bounds = (max(centre - 1.0, _LOG_ALPHA_BOUNDS[0]), min(centre + 1.0, _LOG_ALPHA_BOUNDS[1]))
    found = optimize.minimize_scalar(negative_loglike, bounds=bounds, method="bounded",
                                     options={"xatol": 1e-5})
    edge = min(abs(found.x - bounds[0]), abs(found.x - bounds[1])) < 1e-3
    if near is not None and edge and bounds != _LOG_ALPHA_BOUNDS:
        return _profile_alpha(X, y, offset, beta, None)
    return float(np.exp(found.x))


def _alpha_se(y: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    """Standard error of alpha from the observed information of r = 1/alpha (delta method)."""
    r = 1 / alpha
    info = -np.sum(special.polygamma(1, y + r) - special.polygamma(1, r) + 1 / r
                   - 2 / (r + mu) + (y + r) / (r + mu) ** 2)
    return float(np.sqrt(1 / info) * alpha**2) if info > 0 else float("nan")


def _statsmodels_negbin(X, y, offset, start) -> tuple[np.ndarray, float, bool, str]:
    """The second opinion: statsmodels' NB2 by Newton, then BFGS."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    model = NegativeBinomial(y, X, loglike_method="nb2", offset=offset, check_rank=False)
    params, converged, used = None, False, ""
    for method, maxiter in (("newton", 100), ("bfgs", 2000)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = model.fit(method=method, maxiter=maxiter, disp=0, start_params=start)
            except (np.linalg.LinAlgError, ValueError, OverflowError):
                continue
        params = np.asarray(result.params, dtype=float)
        converged = bool(result.mle_retvals.get("converged", False)) and np.all(np.isfinite(params))
        used = method
        if converged:
            break
    if params is None:
        return np.full(X.shape[1], np.nan), float("nan"), False, "statsmodels"
    return params[:-1], float(params[-1]), converged, f"statsmodels {used}"


def fit_negbin(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None,
               max_rounds: int = 50) -> GLMFit:
    """NB2 by maximum likelihood (module doc): Poisson start, alternating IRLS / profile alpha,
    statsmodels Newton then BFGS when that fails."""
    offset = np.zeros(len(y)) if offset is None else offset
    poisson = fit_poisson(X, y, offset)
    beta, alpha, converged = poisson.params, 0.1, False
    if np.all(np.isfinite(beta)):
        for round_ in range(max_rounds):
            alpha_new = _profile_alpha(X, y, offset, beta, alpha if round_ else None)
            beta_new, ok = irls(X, y, offset, alpha_new, start=beta)
            if not ok:
                break
            done = (abs(np.log(alpha_new) - np.log(alpha)) < 1e-5
                    and np.max(np.abs(beta_new - beta)) < 1e-6)
            beta, alpha = beta_new, alpha_new
            if done:
                converged = True
                break
    notes = []
    if not converged:
        start = np.r_[poisson.params, 0.5] if np.all(np.isfinite(poisson.params)) else None
        beta, alpha, converged, used = _statsmodels_negbin(X, y, offset, start)
        notes.append(f"IRLS did not converge; refitted with {used}")
        if not np.all(np.isfinite(beta)) or not np.isfinite(alpha) or alpha <= 0:
            alpha = max(alpha, 1e-8) if np.isfinite(alpha) else 1.0
            beta = np.where(np.isfinite(beta), beta, 0.0)
            converged = False
    fit = _finish(X, y, offset, beta, alpha, converged, notes)
    fit.alpha_se = _alpha_se(y, _mu(X, beta, offset), alpha)
    return fit


def fit_ols(X: np.ndarray, y: np.ndarray) -> GLMFit:
    """Least squares on the normal equations; residuals are the plain residuals."""
    bread = _pinv_sym(X.T @ X)
    beta = bread @ (X.T @ y)
    resid = y - X @ beta
    return GLMFit(beta, np.ones(len(y)), resid, bread, bool(np.all(np.isfinite(beta))))
