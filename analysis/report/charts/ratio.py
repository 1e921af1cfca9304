"""Each method's time and peak memory as a multiple of the formula's (same run, backend, device,
dtype and size; the formula's warm variant is one of the lines), by sweep axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.fits import axis_names, runs_on_axis
from analysis.report.charts.common import AXIS_TITLES, draw_group, run_order, save, series_legend
from analysis.report.study import Analysis
from analysis.report.style import decade_axis

FILE = "ratio_to_formula"
TITLE = "Time and memory as a multiple of the formula's"
KEYS = ["run_id", "backend", "device", "dtype", "n", "d", "m"]
ALT = (
    "Top row: each method's median time divided by the formula's at the same size, per sweep axis; "
    "bottom row: the same for peak memory; a black line at 1."
)


def needs(analysis: Analysis) -> bool:
    cases = analysis.cases
    return bool(
        analysis.swept
        and not cases.empty
        and (cases["time_median_s"].notna() | cases["peak_bytes"].notna()).any()
    )


def ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """The non-formula rows with ``time_ratio`` and ``memory_ratio`` to the cold formula."""
    cold_formula = (frame["family"] == "formula") & (frame["variant"] == "")
    base = frame[cold_formula].set_index(KEYS)
    others = frame[~cold_formula].copy()
    keys = list(zip(*(others[c] for c in KEYS), strict=True))
    for column, source in (("time_ratio", "time_median_s"), ("memory_ratio", "peak_bytes")):
        others[column] = others[source].to_numpy(float) / base[source].reindex(keys).to_numpy(float)
    return others


def draw(analysis: Analysis, out: Path) -> Path:
    frame = analysis.cases
    others = ratios(frame)
    names = axis_names(analysis.axes)
    order = run_order(frame)
    fig, grid = plt.subplots(2, len(names), figsize=(3.1 * len(names), 5.2), squeeze=False, sharex="col")
    rows = []
    for j, axis in enumerate(names):
        on_axis = runs_on_axis(others, analysis.axes, axis)
        for i, column in enumerate(("time_ratio", "memory_ratio")):
            ax = grid[i, j]
            for (run, label, device), series in on_axis.groupby(["run_id", "label", "device"]):
                group = series[np.isfinite(series[column].astype(float))]
                if group.empty:
                    continue
                draw_group(ax, group, column, order[run], noisy=column == "time_ratio")
                rows += [
                    {"run_id": run, "label": label, "device": device, "axis": axis, "size": s, column: v}
                    for s, v in zip(group["size"], group[column], strict=True)
                ]
            ax.axhline(1, color="black", lw=0.8)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            if ax.has_data():
                decade_axis(ax.yaxis, "ratio", "×")
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
            if i == 0:
                ax.set_title(AXIS_TITLES.get(axis, axis), fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{'time' if i == 0 else 'peak memory'} ÷ formula", fontsize=9)
        grid[-1, j].set_xlabel(axis, fontsize=8)
    fig.suptitle("Time (top) and peak memory (bottom) as a multiple of the formula's, same size", fontsize=11)
    series_legend(fig, others[others["time_ratio"].notna() | others["memory_ratio"].notna()], order)
    fig.tight_layout()
    return save(fig, pd.DataFrame(rows), out, FILE)
