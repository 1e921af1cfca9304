"""Median time against size: small multiples (rows by family, columns by sweep axis), each series
with its fitted power law, noisy timings hollow, ticks at every 10× in time units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.fits import loglog_slope
from analysis.report.charts.common import (
    draw_group,
    log_panel,
    mark_empty,
    save,
    series_legend,
    size_grid,
    swept_with,
)
from analysis.report.study import Analysis
from analysis.report.style import decade_axis

FILE = "runtime_vs_size"
TITLE = "Runtime against size: a row per method family, a column per sweep axis (log-log, fitted power laws)"
ALT = (
    "Small multiples, a row per method family and a column per sweep axis: median time against size "
    "on log-log axes with each series' fitted power law; noisy timings are hollow; the DM column "
    "reaches the target."
)


def needs(analysis: Analysis) -> bool:
    return swept_with(analysis, "time_median_s")


def draw(analysis: Analysis, out: Path) -> Path:
    title = "Median time against size (lines: fitted power laws; hollow: noisy timing)"
    data, axes, layout = size_grid(analysis, "time_median_s", title)
    rows = []
    for ax, _family, device, axis, on_axis in layout.panels(data, axes):
        for (run, label), group in on_axis.groupby(["run_id", "label"]):
            fit = loglog_slope(group["size"], group["time_median_s"])
            line = None
            if fit is not None:
                x, y = np.log(group["size"].to_numpy(float)), np.log(group["time_median_s"].to_numpy(float))
                line = np.exp(y.mean() + fit.exponent * (x - x.mean()))
            draw_group(ax, group, "time_median_s", layout.run_order[run], line=line)
            rows += [
                {
                    "run_id": run,
                    "label": label,
                    "device": device,
                    "axis": axis,
                    "size": s,
                    "time_median_s": t,
                    "noisy": bool(nz),
                    "fitted": f,
                }
                for s, t, nz, f in zip(
                    group["size"],
                    group["time_median_s"],
                    group["noisy"].fillna(False),
                    line if line is not None else [np.nan] * len(group),
                    strict=True,
                )
            ]
        log_panel(ax)
    series_legend(layout.fig, data, layout.run_order)
    for row in layout.axes:
        decade_axis(row[0].yaxis, "time")
    mark_empty(layout)
    layout.fig.tight_layout()
    return save(layout.fig, pd.DataFrame(rows), out, FILE)
