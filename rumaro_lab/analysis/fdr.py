"""Benjamini-Hochberg q-values that tolerate missing p-values.

statsmodels' `multipletests` defaults to Holm-Sidak (a family-wise correction): the analysis
always asks for ``method="fdr_bh"``. Tests that could not be run (p is NaN) are left out of the
family and get a NaN q-value, so one unusable term never turns a whole table into NaN.

>>> bh_qvalues([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
[0.03, 0.04, nan, 0.04]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from statsmodels.stats.multitest import multipletests


def bh_qvalues(p_values: Iterable[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN in, NaN out."""
    p = np.asarray(list(p_values) if not isinstance(p_values, np.ndarray) else p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = multipletests(p[finite], method="fdr_bh")[1]
    return q
