"""How big an effect could this account's posts reveal? Detectable rate ratios at 80% power.

Method: the Wald approximation for a negative binomial (NB2) log-linear model. With mean outcome
``mu``, dispersion ``alpha`` (estimated by an NB2 model of the outcome on the controls, i.e. the
over-dispersion left after the controls) and ``n`` posts where the feature is known, the
standard error of the log rate ratio is about

- binary feature with prevalence p: ``sqrt((1/mu + alpha) / (n p (1 - p)))``;
- a level of a categorical feature vs its reference: ``sqrt((1/mu + alpha) (1/n_level + 1/n_ref))``;
- continuous feature, per SD: ``sqrt((1/mu + alpha) / n)``;

and the smallest detectable log rate ratio is ``(z_{1 - a/2} + z_{power}) * SE``. The table gives
it as a rate ratio above 1 (``detectable_rate_ratio``); the same size below 1 is its reciprocal.
The approximation assumes the feature is not correlated with the controls or other features;
when it is, the real detectable effect is larger. An effect smaller than this can exist and
still not show up as significant.

>>> from rumaro_lab.analysis.simulate import simulate_account
>>> from rumaro_lab.analysis.dataset import prepare_dataset
>>> df = prepare_dataset(*simulate_account(400, seed=5))
>>> table = power_table(df, features=["sim.flag1"])
>>> bool(1.1 < table["detectable_rate_ratio"].iloc[0] < 1.5)
True
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisError
from .dataset import feature_columns
from .design import _as_float, category_levels, default_references, feature_kind, resolve_outcome
from .models import fit_model
from .outcomes import DEFAULT_CONTROLS

log = logging.getLogger(__name__)

POWER_COLUMNS = ["feature", "term", "kind", "n", "prevalence", "mean_outcome", "dispersion",
                 "power", "alpha", "detectable_rate_ratio", "note"]
MIN_N = 10


def _dispersion(df: pd.DataFrame, outcome: str, controls: Sequence[str]) -> tuple[float, str | None]:
    """NB2 alpha of the outcome given the controls; moments of the raw counts as a fallback."""
    try:
        table = fit_model(df, outcome, features=[], kind="negbin", controls=controls)
        alpha = table.loc[table["role"] == "dispersion", "estimate"]
        if len(alpha) and pd.notna(alpha.iloc[0]) and alpha.iloc[0] >= 0:
            return float(alpha.iloc[0]), None
    except Exception as exc:  # noqa: BLE001 - any failure falls back to moments, noted
        log.warning("power: NB2 fit of %s failed (%s); dispersion from moments", outcome, exc)
    y = _as_float(df[resolve_outcome(df, outcome).column])
    y = y[np.isfinite(y)]
    mean, var = (y.mean(), y.var(ddof=1)) if len(y) > 1 else (0.0, 0.0)
    moments = (var - mean) / mean**2 if mean > 0 and np.isfinite(var) else 0.0
    return max(float(moments), 0.0), "dispersion from the raw counts' moments (the NB2 fit failed)"


def power_table(
    df: pd.DataFrame,
    outcome: str = "likes",
    features: Sequence[str] | None = None,
    controls: Sequence[str] = DEFAULT_CONTROLS,
    power: float = 0.8,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row per feature (per level for categorical ones): the smallest detectable rate ratio."""
    features = list(feature_columns(df) if features is None else features)
    spec = resolve_outcome(df, outcome)
    if not spec.is_count:
        raise AnalysisError(f"{outcome} is not a count: the NB power approximation does not apply",
                            hint="use likes, comments or engagement")
    y = _as_float(df[spec.column])
    known_y = np.isfinite(y)
    if known_y.sum() < MIN_N:
        raise AnalysisError(f"only {int(known_y.sum())} post(s) with known {spec.column}",
                            hint="fetch more posts")
    mu = float(y[known_y].mean())
    dispersion, method_note = _dispersion(df, outcome, controls)
    factor = 1 / mu + dispersion if mu > 0 else np.inf
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    references = default_references(df)
    rows = []
    for feature in features:
        base = {"feature": feature, "mean_outcome": mu, "dispersion": dispersion, "power": power,
                "alpha": alpha}
        if feature not in df:
            rows.append({**base, "term": feature, "note": "not in the data"})
            continue
        values = df[feature]
        kind = feature_kind(values)
        known = known_y & values.notna().to_numpy()
        n = int(known.sum())
        if kind == "categorical":
            labels, ref, others = category_levels(values[known], references.get(feature))
            n_ref = int((labels == ref).sum())
            for level in others:
                n_level = int((labels == level).sum())
                se = np.sqrt(factor * (1 / n_level + 1 / n_ref))
                rows.append({**base, "term": f"{feature}[{level} vs {ref}]", "kind": "level", "n": n,
                             "prevalence": n_level / n, "detectable_rate_ratio": np.exp(z * se)})
            continue
        row = {**base, "term": feature, "kind": kind, "n": n}
        x = _as_float(values)[known]
        if n < MIN_N:
            row["note"] = f"too few posts with a value (n={n})"
        elif np.ptp(x) == 0:
            row["note"] = "constant feature: no effect can be detected"
        elif kind == "binary":
            p = float(x.mean())
            row.update(prevalence=p, detectable_rate_ratio=np.exp(z * np.sqrt(factor / (n * p * (1 - p)))))
        else:
            row.update(detectable_rate_ratio=np.exp(z * np.sqrt(factor / n)))
            row["note"] = "per SD of the feature"
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=POWER_COLUMNS)
    if method_note:
        table["note"] = [f"{n}; {method_note}" if isinstance(n, str) else method_note for n in table["note"]]
    for column in ("prevalence", "mean_outcome", "dispersion", "power", "alpha", "detectable_rate_ratio"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Float64")
    for column in ("feature", "term", "kind", "note"):
        table[column] = table[column].astype("string")
    table["n"] = pd.to_numeric(table["n"], errors="coerce").astype("Int64")
    return table.reset_index(drop=True)
