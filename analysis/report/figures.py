"""Which plots the report draws: every plot the data can support, and no empty ones.

:mod:`analysis.report.plots` draws one figure each; this module decides which ones a set of runs can
fill. A run with no timings gets no time plots; a run that sweeps no axis (a headline run
alone: one size per method) gets no per-axis plots, which would be grids of zero rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.fits import axis_names
from analysis.report import plots
from analysis.report.anatomy import bytes_data, structure_data
from analysis.report.study import Analysis


def draw_first_screen(analysis: Analysis, out: Path) -> dict[str, Path]:
    """The two figures of the first screen (PNG + CSV each), which need no measurement: the
    Jacobians' structure at a small case and where the bytes go at the target."""
    structure = (
        "The Jacobians' structure at N=2, D=2, M=3, computed by bench.methods.jacobians: blue cells are"
        " non-zero, each named by the entry of X or W it copies; everything else is a stored zero"
    )
    return {
        structure: plots.structure_plot(structure_data(target=analysis.target), out),
        "Where the bytes go at the target (log scale)": plots.bytes_plot(
            bytes_data(analysis.runs, analysis.target), analysis.target, out
        ),
    }


def draw_figures(analysis: Analysis, out: Path, history: pd.DataFrame | None = None) -> dict[str, Path]:
    """Draw into ``out`` (PNG + CSV each); returns each figure's title and PNG path."""
    cases, axes, limits = analysis.cases, analysis.axes, analysis.limits
    swept = bool(axis_names(axes))
    timed = swept and not cases.empty and cases["time_median_s"].notna().any()
    peaked = swept and not cases.empty and cases["peak_bytes"].notna().any()
    figures: dict[str, Path] = {}
    if timed:
        figures["Runtime against size, per axis (log-log, fitted power laws)"] = plots.scaling_plot(
            cases, axes, out, "time"
        )
    if peaked:
        figures["Peak memory against size, with the cost model and device memory"] = plots.scaling_plot(
            cases, axes, out, "memory", limits
        )
    if timed or peaked:
        figures["Time and memory as a multiple of the formula's"] = plots.ratio_plot(cases, axes, out)
    preds = analysis.predictions
    if not preds.empty and (np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])).any():
        figures["Extrapolation to the target, with hold-out predictions"] = plots.extrapolation_plot(
            cases, analysis.predictions, analysis.holdouts, limits, analysis.target, out
        )
    if timed:
        figures["Efficiency against the roofs measured in the same run"] = plots.efficiency_plot(
            cases, axes, out
        )
    if history is not None and not history.empty and history["norm_time"].notna().any():
        figures["Normalised time over commits, from the regress history"] = plots.trend_plot(history, out)
    return figures
