"""Design matrices for the models: outcome, exposure, controls and features as numbers.

One place decides how a column becomes model terms, so that models, the predictive check and the
power table agree:

- boolean features and numeric 0/1 features are *binary* terms (effect of 0 -> 1);
- other numeric features are *continuous*; with ``per_sd=True`` (default) they are standardised
  on the posts used, so a rate ratio is "per 1 SD of the feature" (the ``scale`` column says
  how big 1 SD is);
- string features are *categorical*: one term per level against a named reference level, named
  ``FEATURE[level vs reference]``; an unknown value is its own level ``(missing)`` (e.g. no
  face -> no dominant emotion), so categorical features never drop posts.

Guards (each leaves a note on the term or the model, and a log line, never a crash): unknown
outcome (hidden likes) -> post left out and counted; a feature with more than `max_missing`
unknown -> left out of a joint model; a constant feature, an empty level, a term that is a linear
combination of earlier ones (collinear), and perfect separation in count models (every post with
the feature has 0 of the outcome) -> term left out and marked.

>>> import pandas as pd
>>> df = pd.DataFrame({"likes": [1, 5, 3, 8, 2, 9], "f.flag": [True, False, True, False, True, False],
...                    "f.kind": ["a", "b", "b", "a", None, "b"]})
>>> d = build_design(df, resolve_outcome(df, "likes"), ["f.flag", "f.kind"], controls=())
>>> [t.name for t in d.terms]
['Intercept', 'f.flag', 'f.kind[(missing) vs b]', 'f.kind[a vs b]']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..extractors.schema import feature_schema
from .dataset import is_categorical
from .outcomes import COUNT_OUTCOMES

log = logging.getLogger(__name__)

MISSING_LEVEL = "(missing)"
EMPTY_LEVEL = "(empty)"  # an empty string is a value ("no accessory"), but unreadable as a name
#: preferred reference levels (the most ordinary category), used when present in the data
#: reference levels of categorical controls (features' references are declared by extractors)
CONTROL_REFERENCES: dict[str, str] = {"media_type": "image"}


def default_references(df: pd.DataFrame) -> dict[str, str]:
    """Reference level of each categorical column: declared for features, fixed for controls."""
    return {**feature_schema(df).references(), **CONTROL_REFERENCES}
#: squared relative residual norm below which a column is a combination of earlier columns
COLLINEAR_TOL = 1e-10


@dataclass
class OutcomeSpec:
    """What is modelled: a count column, optionally against an exposure (followers, baseline)."""

    name: str
    column: str
    exposure: str | None = None
    is_count: bool = True


@dataclass
class Term:
    """One column of the design (or a feature left out of it, with the reason in `notes`)."""

    name: str
    role: str  # intercept | control | feature
    source: str  # the dataset column it comes from
    kind: str = "continuous"  # continuous | binary | level | intercept
    reference: str | None = None
    scale: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Design:
    """Numbers ready for statsmodels; `excluded` lists features kept out, with why."""

    outcome: OutcomeSpec
    X: np.ndarray
    y: np.ndarray
    terms: list[Term]
    index: pd.Index
    offset: np.ndarray | None = None
    groups: np.ndarray | None = None
    excluded: list[Term] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.y)

    def columns(self, role: str) -> list[int]:
        return [i for i, t in enumerate(self.terms) if t.role == role]


def resolve_outcome(df: pd.DataFrame, outcome: str) -> OutcomeSpec:
    """``likes`` -> count; ``likes_rate`` -> likes per follower; ``likes_relative`` -> vs baseline."""
    if outcome in COUNT_OUTCOMES:
        return OutcomeSpec(outcome, outcome)
    for suffix, exposure in (("_rate", "followers"), ("_relative", "{base}_baseline")):
        base = outcome.removesuffix(suffix)
        if outcome.endswith(suffix) and base in COUNT_OUTCOMES:
            return OutcomeSpec(outcome, base, exposure.format(base=base))
    if outcome in df and pd.api.types.is_numeric_dtype(df[outcome]):
        values = pd.to_numeric(df[outcome], errors="coerce").dropna()
        is_count = bool(len(values)) and bool(((values >= 0) & (values == values.round())).all())
        return OutcomeSpec(outcome, outcome, None, is_count)
    raise AnalysisError(
        f"unknown outcome {outcome!r}",
        hint="use likes, comments or engagement, optionally with _rate or _relative",
    )


def _as_float(values: pd.Series) -> np.ndarray:
    """Numbers as float64 with NaN for unknown (booleans -> 0/1, text -> NaN)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(values.astype("object").where(values.notna(), np.nan),
                         errors="coerce").to_numpy(dtype=float)


def feature_kind(values: pd.Series) -> str:
    """``binary``, ``continuous`` or ``categorical``."""
    if pd.api.types.is_bool_dtype(values):
        return "binary"
    if is_categorical(values):
        return "categorical"
    numbers = _as_float(values)
    known = numbers[np.isfinite(numbers)]
    return "binary" if known.size and bool(np.all((known == 0) | (known == 1))) else "continuous"


def category_levels(values: pd.Series, reference: str | None = None) -> tuple[pd.Series, str, list[str]]:
    """(levels as str with unknown -> ``(missing)``, reference level, other levels in order)."""
    labels = values.astype("string").fillna(MISSING_LEVEL).astype(str).replace("", EMPTY_LEVEL)
    counts = labels.value_counts()
    if counts.empty:
        return labels, reference or MISSING_LEVEL, []
    if reference is None or reference not in counts.index:
        # the most frequent known level: the most precise comparison for every other level
        known = counts.drop(MISSING_LEVEL, errors="ignore")
        reference = str((known if len(known) else counts).index[0])
    others = sorted(level for level in counts.index if level != reference)
    return labels, reference, others


def _encode(
    df: pd.DataFrame, column: str, role: str, references: Mapping[str, str]
) -> list[tuple[Term, np.ndarray]]:
    values = df[column]
    kind = feature_kind(values)
    if kind == "categorical":
        labels, ref, others = category_levels(values, references.get(column))
        return [(Term(f"{column}[{level} vs {ref}]", role, column, "level", ref, f"vs {ref}"),
                 (labels == level).to_numpy(dtype=float)) for level in others]
    scale = "False -> True" if pd.api.types.is_bool_dtype(values) else ("0 -> 1" if kind == "binary" else "per unit")
    return [(Term(column, role, column, kind, None, scale), _as_float(values))]


def collinear_columns(X: np.ndarray) -> list[int]:
    """Columns that are (numerically) linear combinations of the columns before them.

    Works on the k x k Gram matrix of the unit-norm columns (a Cholesky step per column), never
    on the tall matrix itself: the residual of column j on the columns kept before it has squared
    relative norm ``G_jj - G_jK G_KK^-1 G_Kj``; at or below `COLLINEAR_TOL`, j is dependent.
    """
    if X.shape[1] == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    scaled = X / np.where(norms > 0, norms, 1.0)
    gram = scaled.T @ scaled
    kept: list[int] = []
    dependent: list[int] = []
    chol = np.zeros((0, 0))
    for j in range(X.shape[1]):
        if norms[j] == 0 or not np.isfinite(norms[j]):
            dependent.append(j)
            continue
        g = gram[kept, j]
        w = np.linalg.solve(chol, g) if kept else np.zeros(0)  # chol is lower-triangular
        residual = gram[j, j] - float(w @ w)
        if residual <= COLLINEAR_TOL:
            dependent.append(j)
            continue
        size = len(kept)
        grown = np.zeros((size + 1, size + 1))
        grown[:size, :size] = chol
        grown[size, :size] = w
        grown[size, size] = np.sqrt(residual)
        chol = grown
        kept.append(j)
    return dependent


def build_design(
    df: pd.DataFrame,
    outcome: OutcomeSpec,
    features: Sequence[str],
    controls: Sequence[str],
    *,
    per_sd: bool = True,
    max_missing: float = 1.0,
    references: Mapping[str, str] | None = None,
    impute: bool = False,
    count_model: bool = True,
    exposure: str | None = None,
    account_effects: bool = False,
    groups: str | None = None,
) -> Design:
    """Turn `df` into a design matrix for `outcome` on `controls` + `features` (see module doc).

    `exposure` (a column, e.g. ``followers``) adds ``log(exposure)`` to the outcome's own one as
    an offset; `account_effects` adds one intercept per account (a control); `groups` names the
    column whose codes are returned for clustered errors or random effects. With `impute`,
    unknown numeric feature values are set to 0 and flagged by an extra ``FEATURE[missing]``
    term (used by the predictive check, which must keep every post, and which replaces the 0 by
    the mean of each fold's *training* posts: no test post informs the imputation).
    """
    references = {**default_references(df), **(references or {})}
    notes: list[str] = []
    if outcome.column not in df:
        raise AnalysisError(f"the outcome column {outcome.column!r} is not in the data",
                            hint="load the table with rumaro_lab.analysis.load_dataset")
    y = _as_float(df[outcome.column])
    usable = np.isfinite(y)
    unknown = int((~usable).sum())
    if unknown:
        notes.append(f"{unknown} post(s) with unknown {outcome.column} left out (hidden counts are unknown, not 0)")
    offset = np.zeros(len(df))
    for column in [c for c in (outcome.exposure, exposure) if c]:
        if column not in df:
            raise AnalysisError(f"no {column!r} column for the exposure of {outcome.name}",
                                hint="use the plain count outcome")
        amount = _as_float(df[column])
        ok = np.isfinite(amount) & (amount > 0)
        lost = int((usable & ~ok).sum())
        if lost:
            notes.append(f"{lost} post(s) without a known {column} left out")
        usable &= ok
        offset = offset + np.log(np.where(ok, amount, 1.0))

    encoded: list[tuple[Term, np.ndarray]] = [(Term("Intercept", "intercept", "", "intercept"), np.ones(len(df)))]
    excluded: list[Term] = []
    for control in controls:
        if control not in df or df[control].isna().all():
            notes.append(f"control {control} unavailable: left out")
            continue
        encoded += _encode(df, control, "control", references)
    if account_effects and "account" in df:
        labels, ref, others = category_levels(df["account"])
        encoded += [(Term(f"account[{a} vs {ref}]", "control", "account", "level", ref, f"vs {ref}"),
                     (labels == a).to_numpy(dtype=float)) for a in others]
    for feature in features:
        if feature not in df:
            excluded.append(Term(feature, "feature", feature, notes=["not in the data"]))
            continue
        parts = _encode(df, feature, "feature", references)
        if not parts:  # a category with a single level in these posts
            excluded.append(Term(feature, "feature", feature, "level",
                                 notes=["a single level in the posts used: not estimable, left out"]))
            continue
        values = parts[0][1]
        missing = float(np.mean(~np.isfinite(values[usable]))) if usable.any() else 1.0
        if parts[0][0].kind != "level" and missing > 0:
            if impute:
                flag = (~np.isfinite(values)).astype(float)
                parts = [(parts[0][0], np.where(np.isfinite(values), values, 0.0)),
                         (Term(f"{feature}[missing]", "feature", feature, "binary", None, "known -> unknown"), flag)]
            elif missing > max_missing:
                term = parts[0][0]
                term.notes.append(f"{missing:.0%} unknown: left out of this joint model "
                                  "(see the one-feature-at-a-time table)")
                excluded.append(term)
                continue
            else:
                parts[0][0].notes.append(f"{missing:.0%} unknown: those posts are left out")
        encoded += parts

    matrix = np.column_stack([v for _, v in encoded])
    rows = usable & np.isfinite(matrix).all(axis=1)
    lost = int(usable.sum() - rows.sum())
    if lost:
        notes.append(f"{lost} post(s) with an unknown control or feature value left out")
    matrix, y, offset = matrix[rows], y[rows], offset[rows]
    terms = [t for t, _ in encoded]

    keep: list[int] = []
    for j, term in enumerate(terms):
        column = matrix[:, j]
        if term.role == "intercept":
            keep.append(j)
            continue
        if len(column) == 0 or np.ptp(column) == 0:
            term.notes.append("constant in the posts used: not estimable, left out")
            if term.role == "feature":
                excluded.append(term)
            else:
                notes.append(f"control {term.name} constant: left out")
            continue
        if count_model and term.kind in ("binary", "level") and term.role == "feature":
            with_it = y[column == 1]
            without = y[column == 0]
            if with_it.sum() == 0 or without.sum() == 0:
                side = "with" if with_it.sum() == 0 else "without"
                term.notes.append(f"perfect separation: every post {side} it has 0 {outcome.column}; "
                                  "not estimable, left out")
                excluded.append(term)
                continue
        if term.kind == "continuous" and per_sd and term.role == "feature":
            sd = float(column.std(ddof=1))
            matrix[:, j] = (column - column.mean()) / sd
            term.scale = f"per SD ({sd:.4g})"
        keep.append(j)

    for position in reversed(collinear_columns(matrix[:, keep])):
        term = terms[keep[position]]
        if term.role == "intercept":
            continue
        term.notes.append("collinear with other terms (e.g. nested in another feature): left out")
        if term.role == "feature":
            excluded.append(term)
        else:
            notes.append(f"control {term.name} collinear with other terms: left out")
        del keep[position]
    for term in excluded:
        log.info("term %s: %s", term.name, "; ".join(term.notes))

    group_codes = None
    if groups is not None and groups in df:
        group_codes = pd.factorize(df[groups].astype("string").to_numpy()[rows])[0]
    return Design(
        outcome=outcome,
        X=np.ascontiguousarray(matrix[:, keep]),
        y=y,
        terms=[terms[j] for j in keep],
        index=df.index[rows],
        offset=offset if (outcome.exposure or exposure) else None,
        groups=group_codes,
        excluded=excluded,
        notes=notes,
    )
