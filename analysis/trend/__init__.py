"""Regression tracking over time: the persisted history, the chained A/B trend, change points, the page."""
