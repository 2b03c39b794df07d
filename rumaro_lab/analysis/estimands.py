"""Which question a model answers: the `within`, `pooled` and `between` estimands.

Every model row says which comparison made it (column ``estimand``):

- ``within``: an account's posts compared with its *own* other posts. With several accounts the
  model has one intercept per account (account fixed effects), so differences between accounts
  (size, audience, niche) cannot masquerade as a feature's effect; errors are clustered by
  account (CR2, t(G - 1)) from `FEW_CLUSTERS` (5) accounts on; with 2-4 accounts a clustered
  variance can collapse (a cluster fitted perfectly leaves the other's score at 0), so the
  errors are the fixed-effects model's own, which speak for these accounts. One account is
  `within` by construction. This answers the question
  a user asks: *does X help this account's posts?*
- ``pooled``: all posts of all accounts side by side, with ``log(followers)`` as the exposure
  (likes per follower) and errors clustered by account. It mixes the within comparison with the
  comparison *between* accounts: "do accounts whose posts have more X get more likes per
  follower". Published pooled estimates (e.g. faces and likes) are of this kind.
- ``between``: the Mundlak contrast. Adding each feature's account mean to the pooled model
  (Mundlak 1978) splits it in two: the feature's own coefficient is then the within effect and
  the mean's coefficient (rows with ``role == "contrast"``, term ``FEATURE (between minus
  within)``) is *between minus within*: how much
  more (rate ratio above 1) or less accounts that post X more do than the within effect
  predicts. Its test (CR2, t(G - 1)) is the regression form of the Hausman test: a small p
  says the pooled estimate is driven by differences between accounts.

>>> ESTIMANDS
('within', 'pooled', 'between')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from .design import Design, OutcomeSpec, Term, _as_float, collinear_columns

ESTIMANDS = ("within", "pooled", "between")
#: the question each estimand answers, in words a report can print
QUESTIONS = {
    "within": "do this account's posts with the feature do better than its other posts?",
    "pooled": "do posts with the feature get more per follower, all accounts' posts side by side "
              "(a mix of the within and between comparisons)?",
    "between": "do accounts that post the feature more do better than the within effect predicts "
               "(between minus within)?",
}
#: with fewer accounts than this, clustered intervals (t(G - 1)) are very wide: said in a note
FEW_CLUSTERS = 5


@dataclass
class Setup:
    """The posts a model of one estimand uses, and how: build_design options, errors, notes."""

    estimand: str
    df: pd.DataFrame
    options: dict = field(default_factory=dict)
    errors: str = "model"
    notes: list[str] = field(default_factory=list)

    @property
    def accounts(self) -> int:
        return int(self.df["account"].nunique()) if "account" in self.df and len(self.df) else 1


def n_accounts(df: pd.DataFrame) -> int:
    return int(df["account"].nunique()) if "account" in df and len(df) else 1


def _keep_informative_accounts(df: pd.DataFrame, spec: OutcomeSpec, count_model: bool,
                               notes: list[str]) -> pd.DataFrame:
    """Accounts that carry within-account information: 2+ posts with a known outcome, not all 0."""
    y = pd.Series(_as_float(df[spec.column]), index=df.index)
    grouped = y.groupby(df["account"].astype("string"))
    known, total = grouped.count(), grouped.sum(min_count=1)
    useless = known.index[(known < 2) | ((total.fillna(0) <= 0) if count_model else False)]
    if len(useless):
        notes.append(f"{len(useless)} account(s) without two posts with a known, non-zero "
                     f"{spec.column} left out (an account's own comparison needs two): "
                     + ", ".join(map(str, useless[:5])) + (", ..." if len(useless) > 5 else ""))
        df = df[~df["account"].astype("string").isin(useless)]
    return df


def setup(df: pd.DataFrame, estimand: str | None, spec: OutcomeSpec, errors: str | None = None,
          count_model: bool = True) -> Setup:
    """The posts, design options and standard errors of `estimand` (module doc) for `df`."""
    several = n_accounts(df) > 1
    estimand = estimand or "within"
    if estimand not in ESTIMANDS:
        raise AnalysisError(f"unknown estimand {estimand!r}", hint=f"use one of {', '.join(ESTIMANDS)}")
    if errors not in (None, "model", "cluster", "hac"):
        raise AnalysisError(f"unknown errors={errors!r}", hint="use errors='model', 'cluster' or 'hac'")
    notes: list[str] = []
    if estimand == "within":
        if several:
            df = _keep_informative_accounts(df, spec, count_model, notes)
            if df.empty:
                raise AnalysisError(f"no account has two posts with a known, non-zero {spec.column}",
                                    hint="an account's own comparison needs at least two")
        if n_accounts(df) < 2:
            chosen = errors if errors in ("model", "hac") else "model"
            if errors == "cluster":
                notes.append("one account: errors can't be clustered by account; model-based instead")
            return Setup("within", df, {}, chosen, notes)
        notes.append(f"{n_accounts(df)} accounts, one intercept each (account fixed effects)")
        if errors is None and n_accounts(df) < FEW_CLUSTERS:
            notes.append(f"only {n_accounts(df)} accounts: too few to cluster errors by account (a "
                         "clustered variance on so few accounts can collapse); errors of the "
                         "fixed-effects model, which speak for these accounts only")
            return Setup("within", df, {"account_effects": True, "groups": "account"}, "model", notes)
        chosen = _several_errors(errors, notes)
        return Setup("within", df, {"account_effects": True, "groups": "account"}, chosen,
                     notes + _few(df))
    if not several:
        raise AnalysisError(f"the {estimand} estimand compares accounts: it needs posts of 2 or "
                            "more accounts", hint="use estimand='within' for one account")
    options: dict = {"groups": "account"}
    if spec.exposure is None:
        followers = pd.to_numeric(df["followers"], errors="coerce") if "followers" in df else None
        unknown = (df.loc[~(followers > 0), "account"].astype("string").unique()
                   if followers is not None else df["account"].astype("string").unique())
        if len(unknown):
            notes.append(f"{len(unknown)} account(s) with an unknown follower count left out")
            df = df[~df["account"].astype("string").isin(unknown)]
        if n_accounts(df) < 2:
            raise AnalysisError(f"the {estimand} estimand needs the follower counts of 2 or more "
                                "accounts", hint="fetch the accounts' profiles (followers)")
        options["exposure"] = "followers"
        notes.append(f"{n_accounts(df)} accounts pooled: log(followers) is the exposure")
    chosen = _several_errors(errors, notes)
    return Setup(estimand, df, options, chosen, notes + _few(df))


def _several_errors(errors: str | None, notes: list[str]) -> str:
    if errors in (None, "cluster"):
        return "cluster"
    if errors == "hac":
        notes.append("errors clustered by account instead of HAC: clustering is robust to any "
                     "correlation between an account's posts, serial correlation included")
        return "cluster"
    notes.append("model-based errors across accounts: too narrow when posts of an account are "
                 "correlated (use errors='cluster')")
    return "model"


def _few(df: pd.DataFrame) -> list[str]:
    g = n_accounts(df)
    if g < FEW_CLUSTERS:
        return [f"only {g} accounts: intervals clustered by account use t({g - 1}) and are wide"]
    return []


def add_account_means(design: Design) -> Design:
    """The Mundlak design: each feature term's account mean as an extra ``contrast`` term.

    The feature's own coefficient becomes the within effect, the mean's the between-minus-within
    contrast. A mean collinear with other terms (a feature constant within every account, or
    varying in one account only) is left out with a note.
    """
    if design.groups is None:
        return design
    groups = design.groups
    counts = np.bincount(groups)
    columns, terms = [], []
    for j, term in enumerate(design.terms):
        if term.role != "feature":
            continue
        means = (np.bincount(groups, weights=design.X[:, j]) / np.maximum(counts, 1))[groups]
        columns.append(means)
        terms.append(replace(term, name=f"{term.name} (between minus within)", role="contrast",
                             notes=list(term.notes),
                             scale=f"{term.scale}; between minus within".lstrip("; ")))
    if not columns:
        return design
    X = np.column_stack([design.X, *columns])
    all_terms = list(design.terms) + terms
    dropped = set(collinear_columns(X))
    keep = [j for j in range(X.shape[1]) if j not in dropped or all_terms[j].role != "contrast"]
    excluded = list(design.excluded)
    for j in sorted(dropped):
        if all_terms[j].role == "contrast":
            term: Term = all_terms[j]
            term.notes.append("its account mean is collinear with other terms (constant within "
                              "accounts, or varying in one account only): no contrast")
            excluded.append(term)
    return replace(design, X=np.ascontiguousarray(X[:, keep]), terms=[all_terms[j] for j in keep],
                   excluded=excluded)
