"""Figures for reports and write-ups: one seaborn house style, one function per figure.

Every function takes tidy DataFrames (the dataset of `rumaro_lab.analysis.load_dataset`, or a
tidy result table of `correlations` / `fit_model`) and returns a `matplotlib.figure.Figure`. The
figures are made without pyplot, so nothing is drawn twice in a notebook and no global state
changes: the house style is applied inside each function (`house_style`), and `save_figure`
writes png (300 dpi), svg and pdf.

>>> import pandas as pd
>>> corr = pd.DataFrame({"feature": ["sim.x1", "sim.x2"], "outcome": "likes",
...                      "estimate": [0.4, -0.1], "q_value": [0.01, 0.6]})
>>> fig = correlation_heatmap(corr)
>>> [t.get_text() for t in fig.axes[0].texts]
['0.40*', '-0.10']

In a notebook: ``display(fig)``; to keep it: ``save_figure(fig, "reports/a/figures", "heatmap")``.
"""

from .accounts import estimand_comparison, forest_by_account
from .features import category_figure, feature_figure, primary_feature_figures, smoother_figure
from .posts import engagement_over_time, posts_grid
from .results import correlation_heatmap, forest_plot
from .style import DPI, FORMATS, PALETTE, house_rc, house_style, save_figure

__all__ = [
    "DPI",
    "FORMATS",
    "PALETTE",
    "category_figure",
    "correlation_heatmap",
    "engagement_over_time",
    "estimand_comparison",
    "feature_figure",
    "forest_by_account",
    "forest_plot",
    "house_rc",
    "house_style",
    "posts_grid",
    "primary_feature_figures",
    "save_figure",
    "smoother_figure",
]
