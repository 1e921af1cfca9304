"""Peak memory against size: small multiples like the runtime chart, with the cost model's
prediction (thin grey) and the device's memory (grey line), ticks about every 10× (8×) in bytes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.report.charts.common import (
    bytes_axis,
    draw_group,
    log_panel,
    mark_empty,
    save,
    series_legend,
    size_grid,
    swept_with,
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
    return swept_with(analysis, "peak_bytes")


def draw(analysis: Analysis, out: Path) -> Path:
    title = "Peak memory against size (points: measured; grey dotted: cost model)"
    data, axes, layout = size_grid(analysis, "peak_bytes", title)
    rows = []
    for ax, _family, device, axis, on_axis in layout.panels(data, axes):
        for (run, label), group in on_axis.groupby(["run_id", "label"]):
            draw_group(ax, group, "peak_bytes", layout.run_order[run], noisy=False)
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
        log_panel(ax)
    mark_empty(layout)
    layout.fig.tight_layout()
    for ax in layout.axes.flat:
        if ax.has_data():
            bytes_axis(ax.yaxis)
    series_legend(layout.fig, data, layout.run_order)
    return save(layout.fig, pd.DataFrame(rows), out, FILE)
