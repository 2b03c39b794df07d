"""Engagement analysis: outcomes, correlations, regression models, predictive check, power,
and across accounts the within / pooled / between estimands and a random-effects meta-analysis.

Every function takes the dataset of `load_dataset` (one row per post: posts merged with
features, plus outcome and control columns) and returns a tidy DataFrame, one row per term;
`analyze` computes every table in memory, `analyze_accounts` loads, analyses and writes CSVs.
docs/analysis.md explains each table, which question each number answers, and how to read it.

>>> from rumaro_lab import analysis
>>> from rumaro_lab.analysis.simulate import simulate_account
>>> df = analysis.prepare_dataset(*simulate_account(200, {"sim.flag1": 1.8}, seed=2))
>>> features = analysis.feature_columns(df)
>>> features[:2]
['sim.x1', 'sim.flag1']
>>> table = analysis.fit_model(df, "likes", features, kind="negbin")
>>> table.set_index("term").loc["sim.flag1", "q_value"] < 0.05
np.True_
"""

from .analyze import analyze
from .correlations import correlations
from .dataset import feature_columns, load_dataset, prepare_dataset
from .estimands import ESTIMANDS, QUESTIONS
from .families import correlation_clusters, feature_families
from .fdr import bh_qvalues
from .meta import across_accounts, meta_analysis
from .models import MODEL_KINDS, fit_model
from .outcomes import COUNT_OUTCOMES, DEFAULT_CONTROLS, add_outcomes, rolling_baseline
from .pipeline import analyze_accounts, write_tables
from .power import power_table
from .predictive import predictive_check
from .summary import dataset_summary, feature_summary

__all__ = [
    "COUNT_OUTCOMES",
    "ESTIMANDS",
    "QUESTIONS",
    "across_accounts",
    "analyze",
    "correlation_clusters",
    "feature_families",
    "meta_analysis",
    "write_tables",
    "DEFAULT_CONTROLS",
    "MODEL_KINDS",
    "add_outcomes",
    "analyze_accounts",
    "bh_qvalues",
    "correlations",
    "dataset_summary",
    "feature_summary",
    "feature_columns",
    "fit_model",
    "load_dataset",
    "power_table",
    "predictive_check",
    "prepare_dataset",
    "rolling_baseline",
]
