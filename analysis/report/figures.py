"""Which charts the report draws: every chart of :mod:`analysis.report.charts` that the data can
fill, and no empty ones.

A run with no timings gets no time charts; a run that sweeps no axis (a headline run alone: one
size per method) gets no per-axis charts, which would be grids of zero rows; a regress history of
fewer than two runs gets no trend.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.report.charts.registry import CHARTS, FIRST_SCREEN, Chart
from analysis.report.study import Analysis

ALT_TEXT = {chart.title: chart.alt for chart in (*FIRST_SCREEN, *CHARTS)}
"""Each chart's title → what it shows, for the page's alt text."""


def _draw(
    charts: tuple[Chart, ...], analysis: Analysis, out: Path, history: pd.DataFrame | None
) -> dict[str, Path]:
    return {
        chart.title: chart.draw(analysis, out, history) for chart in charts if chart.needs(analysis, history)
    }


def draw_first_screen(analysis: Analysis, out: Path) -> dict[str, Path]:
    """The first screen's two figures (PNG + CSV each), which need no measurement: the Jacobians'
    structure at a small case and where the bytes go at the target."""
    return _draw(FIRST_SCREEN, analysis, out, None)


def draw_figures(analysis: Analysis, out: Path, history: pd.DataFrame | None = None) -> dict[str, Path]:
    """Draw into ``out`` (PNG + CSV each); returns each figure's title and PNG path."""
    return _draw(CHARTS, analysis, out, history)
