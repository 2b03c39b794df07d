"""Correlations of every feature with each outcome: Spearman and Pearson, with CIs and q-values.

For each feature and outcome, on the posts where both are known:

- ``spearman``: rank correlation; p from scipy's t approximation; 95% CI by Fisher's z with the
  Bonett & Wright (2000) standard error ``sqrt((1 + r^2 / 2) / (n - 3))``, which keeps the
  interval honest for rank correlations (the Pearson SE ``1 / sqrt(n - 3)`` is too narrow);
- ``pearson_log1p`` (count outcomes) / ``pearson`` (other outcomes): linear correlation with
  ``log1p(outcome)`` for counts, because likes are heavy-tailed; 95% CI by Fisher's z with
  SE ``1 / sqrt(n - 3)``.

A categorical feature gives one row per level, ``FEATURE[level]``: that level vs the other known
levels. q-values are Benjamini-Hochberg within each (outcome, method) family. ``note`` marks
rows that could not be computed (too few posts, constant feature) and features often unknown.

>>> import pandas as pd
>>> df = pd.DataFrame({"likes": [1, 3, 2, 5, 4, 8, 6, 9, 7, 10, 12, 11],
...                    "f.x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "f.const": [1.0] * 12})
>>> table = correlations(df, ["f.x", "f.const"], outcomes=["likes"], methods=["spearman"])
>>> table[["feature", "n", "note"]].values.tolist()
[['f.x', 12, <NA>], ['f.const', 12, 'constant feature: no correlation']]
>>> bool(table["estimate"].iloc[0] > 0.9)
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .dataset import feature_columns
from .design import EMPTY_LEVEL, _as_float, feature_kind
from .fdr import bh_qvalues
from .outcomes import COUNT_OUTCOMES

log = logging.getLogger(__name__)

CORRELATION_COLUMNS = ["feature", "outcome", "method", "n", "estimate", "ci_low", "ci_high",
                       "p_value", "q_value", "note"]
MIN_N = 10
Z95 = float(stats.norm.ppf(0.975))


def _feature_vectors(df: pd.DataFrame, feature: str) -> list[tuple[str, np.ndarray]]:
    values = df[feature]
    if feature_kind(values) != "categorical":
        return [(feature, _as_float(values))]
    known = values.notna().to_numpy()
    labels = values.astype("string").fillna("").replace("", EMPTY_LEVEL).to_numpy(dtype=object)
    out = []
    for level in sorted(set(labels[known].tolist())):
        indicator = np.where(known, (labels == level).astype(float), np.nan)
        out.append((f"{feature}[{level}]", indicator))
    return out


def _fisher_ci(r: float, se: float) -> tuple[float, float]:
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    return float(np.tanh(z - Z95 * se)), float(np.tanh(z + Z95 * se))


def _one(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float, float, float]:
    """(estimate, ci_low, ci_high, p) for complete, non-constant x and y."""
    n = len(x)
    if method == "spearman":
        r, p = stats.spearmanr(x, y)
        se = np.sqrt((1 + r**2 / 2) / (n - 3))
    else:
        r, p = stats.pearsonr(x, y)
        se = 1 / np.sqrt(n - 3)
    low, high = _fisher_ci(float(r), float(se))
    return float(r), low, high, float(p)


def correlations(
    df: pd.DataFrame,
    features: Sequence[str] | None = None,
    outcomes: Iterable[str] = ("likes", "comments"),
    methods: Iterable[str] = ("spearman", "pearson"),
    min_n: int = MIN_N,
    max_missing: float = 0.2,
) -> pd.DataFrame:
    """One row per feature (level) x outcome x method; see the module doc for the columns."""
    features = list(feature_columns(df) if features is None else features)
    rows = []
    for outcome in outcomes:
        if outcome not in df:
            log.warning("correlations: no outcome column %r", outcome)
            continue
        y_raw = _as_float(df[outcome])
        count = outcome in COUNT_OUTCOMES
        unknown_y = int((~np.isfinite(y_raw)).sum())
        for feature in features:
            if feature not in df:
                rows.append({"feature": feature, "outcome": outcome, "method": "spearman",
                             "n": 0, "note": "not in the data"})
                continue
            for name, x in _feature_vectors(df, feature):
                both = np.isfinite(x) & np.isfinite(y_raw)
                n = int(both.sum())
                missing = float(np.mean(~np.isfinite(x[np.isfinite(y_raw)]))) if np.isfinite(y_raw).any() else 1.0
                base_notes = []
                if missing > max_missing:
                    base_notes.append(f"{missing:.0%} of the posts have no value (only posts with one count)")
                if unknown_y:
                    base_notes.append(f"{unknown_y} post(s) with unknown {outcome} left out")
                for method in methods:
                    label = "pearson_log1p" if method == "pearson" and count else method
                    y = np.log1p(y_raw) if label == "pearson_log1p" else y_raw
                    row = {"feature": name, "outcome": outcome, "method": label, "n": n}
                    notes = list(base_notes)
                    if n < max(min_n, 4):
                        notes.insert(0, f"too few posts with both values (n={n}, need {max(min_n, 4)})")
                    elif np.ptp(x[both]) == 0:
                        notes.insert(0, "constant feature: no correlation")
                    elif np.ptp(y[both]) == 0:
                        notes.insert(0, f"constant {outcome}: no correlation")
                    else:
                        estimate, low, high, p = _one(x[both], y[both], method)
                        row.update(estimate=estimate, ci_low=low, ci_high=high, p_value=p)
                    row["note"] = "; ".join(notes) or None
                    rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=CORRELATION_COLUMNS)
    p = pd.to_numeric(table["p_value"], errors="coerce").to_numpy(dtype=float)
    q = np.full(len(table), np.nan)
    for _, members in table.groupby(["outcome", "method"], sort=False).groups.items():
        positions = table.index.get_indexer(members)
        q[positions] = bh_qvalues(p[positions])
    table["q_value"] = q
    for column in ("estimate", "ci_low", "ci_high", "p_value", "q_value"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Float64")
    for column in ("feature", "outcome", "method", "note"):
        table[column] = table[column].astype("string")
    table["n"] = pd.to_numeric(table["n"], errors="coerce").astype("Int64")
    return table.reset_index(drop=True)
