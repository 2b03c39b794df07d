"""Families of tests and clusters of near-duplicate features: what counts as one finding.

- **Families.** The features their extractors declare ``primary`` (at most 12: a face present,
  the photo type, expression, full body, people, racy score, skin share, activity, text or
  graphic...) form the *confirmatory* family: its Benjamini-Hochberg q-values are the headline.
  Every other analysable feature is *exploratory* and corrected in its own family, so fifty
  exploratory tests can't dilute, or inflate, the headline. A column of an extractor that is not
  registered is exploratory. Column ``family`` in the tables.
- **Clusters.** Two features whose values correlate above 0.9 (absolute Spearman, on the posts
  where both are known; a category through its level indicators) measure one thing twice (the
  number of faces and of people, say). They are reported as one cluster, named after its
  first member (primary first): column ``cluster``, and the report counts a cluster's hits
  once. Numeric and binary features are clustered (leader clustering: no chains); categories
  and nearly constant columns (one value on more than 95% of the posts) stay alone.

>>> import pandas as pd
>>> df = pd.DataFrame({"a.x": range(12), "a.y": [v * 2.0 + v % 2 for v in range(12)],
...                    "a.z": [1.0, 0, 0, 1] * 3})
>>> correlation_clusters(df, ["a.x", "a.y", "a.z"])
{'a.x': 'a.x', 'a.y': 'a.x', 'a.z': 'a.z'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..extractors.schema import feature_schema
from .design import _as_float, feature_kind
from .fdr import bh_qvalues

FAMILIES = ("primary", "exploratory")
#: |Spearman| above this makes two features one cluster
CLUSTER_THRESHOLD = 0.9
#: pairs need this many posts with both values known to be compared
MIN_PAIR_POSTS = 10
#: a column whose most common value covers more than this share of its posts is not clustered
MAX_MODE_SHARE = 0.95


def feature_families(df: pd.DataFrame, features: Iterable[str]) -> dict[str, str]:
    """``primary`` for declared primary features, ``exploratory`` for every other one."""
    primary = set(feature_schema(df).primary())
    return {f: "primary" if f in primary else "exploratory" for f in features}


def _clusterable(values: pd.Series) -> np.ndarray | None:
    """The numbers a feature is clustered on, or None: categories, and columns whose most common
    value covers more than `MAX_MODE_SHARE` of the known posts, are left alone (a rare flag
    "correlates" perfectly with any other rare flag on a few posts)."""
    if feature_kind(values) == "categorical":
        return None
    numbers = _as_float(values)
    known = numbers[np.isfinite(numbers)]
    if known.size < MIN_PAIR_POSTS or np.ptp(known) == 0:
        return None
    _, counts = np.unique(known, return_counts=True)
    return None if counts.max() > MAX_MODE_SHARE * known.size else numbers


def _pairwise_rank_correlation(values: np.ndarray) -> np.ndarray:
    """Correlation of the columns' ranks on the rows where both are known (NaN: too few rows).

    Ranks are taken once per column, then correlated over each pair's common rows with matrix
    products (no loop over pairs): Spearman's rho up to the re-ranking within the common rows.
    """
    ranks = np.column_stack([pd.Series(c).rank().to_numpy(dtype=float) for c in values.T])
    known = np.isfinite(ranks).astype(float)
    a = np.where(known > 0, ranks, 0.0)
    n = known.T @ known
    sx = a.T @ known  # sx[i, j]: sum of column i over the rows where i and j are known
    sxx = (a * a).T @ known
    sxy = a.T @ a
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        var = sxx - sx**2 / n
        rho = cov / np.sqrt(var * var.T)
    rho[n < MIN_PAIR_POSTS] = np.nan
    return rho


def correlation_clusters(df: pd.DataFrame, features: Sequence[str],
                         threshold: float = CLUSTER_THRESHOLD,
                         families: Mapping[str, str] | None = None) -> dict[str, str]:
    """feature -> cluster name (its own name when alone); single linkage at |rho| > threshold."""
    features = [f for f in features if f in df]
    families = families or {}
    order = sorted(features, key=lambda f: (families.get(f) != "primary", features.index(f)))
    columns, owner = [], []
    for feature in order:
        numbers = _clusterable(df[feature])
        if numbers is not None:
            columns.append(numbers)
            owner.append(feature)
    leader = {f: f for f in order}
    if len(columns) > 1:
        rho = np.abs(_pairwise_rank_correlation(np.column_stack(columns)))
        # leader clustering: a feature joins the first earlier *leader* it correlates with above
        # the threshold, so clusters can't chain (a ~ b, b ~ c, yet a and c unrelated)
        leaders: list[int] = []
        for j in range(len(owner)):
            match = next((i for i in leaders if rho[i, j] > threshold), None)
            if match is None:
                leaders.append(j)
            else:
                leader[owner[j]] = owner[match]
    return {f: leader[f] for f in features}


def add_qvalues(table: pd.DataFrame) -> pd.DataFrame:
    """BH q-values within each family: (estimand, role, family) for features and contrasts,
    (estimand) for controls. Rows without a p-value get none."""
    table = table.copy()
    p = pd.to_numeric(table["p_value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    q = np.full(len(table), np.nan)
    role = table["role"].astype("string").fillna("")
    tested = role.isin(["feature", "control", "contrast"]).to_numpy(dtype=bool)
    family = table["family"].astype("string").fillna("") if "family" in table else pd.Series("", index=table.index)
    estimand = table["estimand"].astype("string").fillna("") if "estimand" in table else pd.Series("", index=table.index)
    keys = pd.Series(list(zip(estimand, role, family.where(role != "control", ""), strict=True)),
                     index=table.index)
    for _, members in keys[tested].groupby(keys[tested]).groups.items():
        positions = table.index.get_indexer(members)
        q[positions] = bh_qvalues(p[positions])
    table["q_value"] = pd.array(q, dtype="Float64")
    return table
