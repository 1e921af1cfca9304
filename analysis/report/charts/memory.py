"""Peak memory against size: small multiples like the runtime chart, with the cost model's
prediction (thin grey) and the device's memory (grey line), ticks about every 10× (8×) in bytes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.report.charts.common import (
    bytes_axis,
    draw_series,
    grid,
    mark_empty,
    save,
    series_legend,
    with_target_on_dm,
)
from analysis.report.study import Analysis
from bench.units import format_bytes

FILE = "memory_vs_size"
TITLE = "Peak memory against size, with the cost model and device memory"
ALT = (
    "Small multiples, a row per method family and a column per sweep axis: measured peak memory "
    "against size on log-log axes, the cost model's prediction dotted in grey and the device's memory"
    " as a grey line where it is in range."
)


def needs(analysis: Analysis) -> bool:
    cases = analysis.cases
    return bool(analysis.swept and not cases.empty and cases["peak_bytes"].notna().any())


def draw(analysis: Analysis, out: Path) -> Path:
    data = analysis.cases[analysis.cases["peak_bytes"].notna()]
    axes = with_target_on_dm(analysis.axes, analysis.target)
    layout = grid(data, axes, "Peak memory against size (points: measured; grey dotted: cost model)")
    rows = []
    for ax, _family, device, axis, on_axis in layout.panels(data, axes):
        for (run, label), group in on_axis.groupby(["run_id", "label"]):
            first = group.iloc[0]
            draw_series(
                ax,
                group["size"],
                group["peak_bytes"],
                [False] * len(group),
                first["method"],
                first["variant"],
                layout.run_order[run],
            )
            ax.plot(group["size"], group["predicted_peak_bytes"], ":", color="grey", lw=0.9)
            rows += [
                {
                    "run_id": run,
                    "label": label,
                    "device": device,
                    "axis": axis,
                    "size": s,
                    "peak_bytes": p,
                    "predicted_peak_bytes": q,
                }
                for s, p, q in zip(
                    group["size"], group["peak_bytes"], group["predicted_peak_bytes"], strict=True
                )
            ]
        limits = {v for (_run, dev), v in analysis.limits.items() if dev == device and v}
        top = max(limits) if limits else None
        if top and ax.has_data() and ax.get_ylim()[1] * 4 > top:
            ax.axhline(top, color="grey", lw=1)
            ax.annotate(
                f"{device} memory {format_bytes(top, decimal=False)}",
                (0.02, top),
                xycoords=("axes fraction", "data"),
                fontsize=6,
                va="bottom",
                color="grey",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
    mark_empty(layout)
    layout.fig.tight_layout()
    for ax in layout.axes.flat:
        if ax.has_data():
            bytes_axis(ax.yaxis)
    series_legend(layout.fig, data, layout.run_order)
    return save(layout.fig, pd.DataFrame(rows), out, FILE)
