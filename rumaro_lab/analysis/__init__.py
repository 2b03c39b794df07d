"""Engagement analysis: outcomes, correlations, regression models, predictive check."""
