"""Across accounts: each account's own estimates, their random-effects summary and shrinkage.

1. `account_estimates`: for every account and every feature term, the `within` estimate of
   that account alone (one feature at a time + controls; `controls_for` drops the controls a
   small account can't afford, noted; at least 6 posts).
2. `meta_analysis`: for each term, a random-effects meta-analysis of the accounts' estimates
   (statsmodels ``combine_effects``, Paule-Mandel tau^2, t(k - 1) interval): the average
   effect over accounts like these, the between-account variance ``tau2`` of the true effects
   and ``i2``, the share of the spread that is real rather than noise; ``q_stat`` / ``q_p`` is
   Cochran's heterogeneity test. BH q-values within each family.
3. Empirical-Bayes shrinkage (columns ``shrunk_*`` of the account table): each account's
   estimate pulled towards the random-effects mean in proportion to its noise,
   ``theta_i* = mu + B_i (theta_i - mu)`` with ``B_i = tau2 / (tau2 + v_i)``, and variance
   ``B_i v_i + (1 - B_i)^2 Var(mu)`` (Morris 1983, JASA 78(381), eq. 3.5 without the tau2
   uncertainty term): an account with 12 posts says little alone, and its shrunk estimate
   says how much of its raw estimate survives.

Estimates are on the log rate-ratio scale (``rate_ratio = exp``) for count models.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from ..errors import AnalysisError
from .fdr import bh_qvalues
from .glm import one_blas_thread
from .models import COUNT_KINDS, MAX_STD_ERROR, MIN_POSTS_PER_TERM, fit_model, typed
from .outcomes import DEFAULT_CONTROLS

log = logging.getLogger(__name__)

ACCOUNT_COLUMNS = [
    "account", "term", "feature", "family", "n", "estimate", "std_error", "rate_ratio", "ci_low",
    "ci_high", "p_value", "shrunk_estimate", "shrunk_rate_ratio", "shrunk_ci_low",
    "shrunk_ci_high", "note",
]
META_COLUMNS = [
    "estimand", "term", "feature", "family", "accounts", "estimate", "std_error", "rate_ratio",
    "ci_low", "ci_high", "p_value", "q_value", "tau2", "i2", "q_stat", "q_p", "method", "note",
]
MIN_ACCOUNTS = 2
#: an account's own estimate needs this many posts with a known outcome and feature
MIN_ACCOUNT_POSTS = 6


def controls_for(n_posts: int, controls: Sequence[str]) -> tuple[Sequence[str], str | None]:
    """The controls a model of `n_posts` posts can afford, and the note that says so: all of
    them while a one-feature model keeps `MIN_POSTS_PER_TERM` posts per term, the time trend
    alone from 20 posts, none below."""
    if n_posts >= MIN_POSTS_PER_TERM * (len(controls) + 3):
        return controls, None
    if n_posts >= 20:
        return ("t_years",), f"{n_posts} posts: only the time trend as control"
    return (), f"{n_posts} posts: no control (a rough estimate, with a wide interval)"


def account_estimates(
    df: pd.DataFrame,
    outcome: str,
    features: Sequence[str],
    kind: str = "negbin",
    controls: Sequence[str] = DEFAULT_CONTROLS,
    families: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per account x feature term: that account's own within estimate (module doc)."""
    families = dict(families or {})
    rows = []
    for account, part in df.groupby(df["account"].astype("string"), sort=True):
        chosen, note = controls_for(len(part), controls)
        table = fit_model(part, outcome, features, kind, chosen, separate=True, families=families,
                          min_posts=MIN_ACCOUNT_POSTS)
        table = table[table["role"] == "feature"].assign(account=str(account))
        if note:
            table["note"] = [note if pd.isna(n) else f"{note}; {n}" for n in table["note"]]
        rows.append(table)
    if not rows:
        raise AnalysisError("no account to estimate", hint="give posts of at least one account")
    table = pd.concat(rows, ignore_index=True)
    return typed(table, ACCOUNT_COLUMNS)


def _usable(rows: pd.DataFrame) -> pd.DataFrame:
    estimate = pd.to_numeric(rows["estimate"], errors="coerce")
    se = pd.to_numeric(rows["std_error"], errors="coerce")
    p = pd.to_numeric(rows["p_value"], errors="coerce")
    return rows[estimate.notna() & se.gt(0) & se.le(MAX_STD_ERROR) & p.notna()]


def meta_analysis(accounts: pd.DataFrame, count: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meta table, account table with shrunk estimates) from `account_estimates`' table."""
    accounts = accounts.copy()
    for column in ("shrunk_estimate", "shrunk_rate_ratio", "shrunk_ci_low", "shrunk_ci_high"):
        accounts[column] = np.nan
    rows = []
    for term, group in accounts.groupby(accounts["term"].astype("string"), sort=False):
        usable = _usable(group)
        base = {"estimand": "within", "term": str(term), "feature": group["feature"].iloc[0],
                "family": group["family"].iloc[0], "accounts": len(usable)}
        if len(usable) < MIN_ACCOUNTS:
            rows.append({**base, "note": f"not computed: {len(usable)} account(s) with an estimate "
                                         f"(at least {MIN_ACCOUNTS} needed)"})
            continue
        effect = usable["estimate"].astype(float).to_numpy()
        variance = usable["std_error"].astype(float).to_numpy() ** 2
        try:
            result = combine_effects(effect, variance, method_re="iterated", use_t=True)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            rows.append({**base, "note": f"not computed: the meta-analysis failed ({exc})"})
            continue
        mu, se_mu = float(result.mean_effect_re), float(result.sd_eff_w_re)
        tau2 = max(float(result.tau2), 0.0)
        k = len(usable)
        crit = float(stats.t(k - 1).ppf(0.975))
        p = float(2 * stats.t(k - 1).sf(abs(mu / se_mu))) if se_mu > 0 else np.nan
        homogeneity = result.test_homogeneity()
        rows.append({**base, "estimate": mu, "std_error": se_mu, "rate_ratio": np.exp(mu) if count else np.nan,
                     "ci_low": mu - crit * se_mu, "ci_high": mu + crit * se_mu, "p_value": p,
                     "tau2": tau2, "i2": max(float(result.i2), 0.0), "q_stat": float(homogeneity.statistic),
                     "q_p": float(homogeneity.pvalue),
                     "method": f"random effects (Paule-Mandel tau2), t({k - 1})",
                     "note": f"only {k} accounts: tau2 is poorly estimated" if k < 5 else None})
        shrink = tau2 / (tau2 + variance)
        shrunk = mu + shrink * (effect - mu)
        shrunk_se = np.sqrt(shrink * variance + (1 - shrink) ** 2 * se_mu**2)
        index = usable.index
        accounts.loc[index, "shrunk_estimate"] = shrunk
        accounts.loc[index, "shrunk_ci_low"] = shrunk - 1.959963984540054 * shrunk_se
        accounts.loc[index, "shrunk_ci_high"] = shrunk + 1.959963984540054 * shrunk_se
    meta = pd.DataFrame(rows).reindex(columns=META_COLUMNS)
    if count:
        for low in ("ci_low", "ci_high"):
            meta[low] = np.exp(pd.to_numeric(meta[low], errors="coerce"))
        accounts["shrunk_rate_ratio"] = np.exp(accounts["shrunk_estimate"].astype(float))
        for column in ("shrunk_ci_low", "shrunk_ci_high"):
            accounts[column] = np.exp(accounts[column].astype(float))
    meta["q_value"] = np.nan
    for _, members in meta.groupby(meta["family"].astype("string").fillna(""), sort=False).groups.items():
        positions = meta.index.get_indexer(members)
        meta.loc[members, "q_value"] = bh_qvalues(pd.to_numeric(meta["p_value"], errors="coerce")
                                                  .to_numpy(dtype=float)[positions])
    meta = typed(meta, META_COLUMNS)
    for column in ("tau2", "i2", "q_stat", "q_p"):
        meta[column] = pd.to_numeric(meta[column], errors="coerce").astype("Float64")
    accounts = typed(accounts, ACCOUNT_COLUMNS)
    for column in ACCOUNT_COLUMNS:
        if column.startswith("shrunk_"):
            accounts[column] = pd.to_numeric(accounts[column], errors="coerce").astype("Float64")
    return meta, accounts


@one_blas_thread
def across_accounts(df: pd.DataFrame, outcome: str, features: Sequence[str], kind: str = "negbin",
                    controls: Sequence[str] = DEFAULT_CONTROLS,
                    families: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`account_estimates` then `meta_analysis`: (meta table, account table)."""
    if kind not in COUNT_KINDS and kind != "ols_log1p":
        raise AnalysisError(f"per-account estimates need a single-account model, not {kind!r}",
                            hint="use kind='negbin', 'poisson' or 'ols_log1p'")
    table = account_estimates(df, outcome, features, kind, controls, families)
    return meta_analysis(table, count=kind in COUNT_KINDS)
