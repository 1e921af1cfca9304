"""Achieved throughput against size, with the roof that bounds each family drawn (as Triton's
``perf_report`` draws its lines): GFLOP/s against the GEMM roof for the formula and autograd,
GB/s of Jacobian traffic against the copy roof for the dense Jacobians and against the in-cache
roof for the streamed methods (their tile never leaves the cache). A point more than 5% above
its roof is drawn as a red cross and counted in its panel: its roof was measured too low, and
no fraction above 100% is shown as if it were reached."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.floors import device_roofs
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
from analysis.targets import ROOF_NOISE
from bench.costs import time_driver

FILE = "throughput"
TITLE = "Throughput against size, under the roof that bounds each family (measured in the same run)"
OVER = "#b00020"
COLUMNS = [
    "run_id",
    "label",
    "device",
    "axis",
    "size",
    "rate_per_s",
    "unit",
    "roof",
    "fraction_of_roof",
    "above_roof",
]
"""The CSV's columns: each point drawn, its roof and its fraction of it."""
ALT = (
    "Small multiples, a row per method family and a column per sweep axis: achieved GFLOP/s (formula,"
    " autograd) or GB/s of Jacobian traffic (the rest) against size, under a dashed grey line at the "
    "roof that bounds the family; points more than 5% above it are red crosses and counted."
)


def needs(analysis: Analysis) -> bool:
    return swept_with(analysis, "time_median_s")


def roof_of(family: str, roofs: dict, in_cache: bool = False) -> tuple[str, float | None]:
    """The roof that bounds a family, by name, and its rate (GFLOP/s or GB/s): the in-cache roof
    for the streamed methods and for a dense Jacobian that fits the last-level cache (``in_cache``),
    where the run measured one; else copy bandwidth."""
    if time_driver(family) == "flops":
        gemm = roofs.get("gemm", {}).get("float32") or {}
        return "GEMM roof", gemm.get("gflops")
    if (family == "streamed" or in_cache) and (roofs.get("incache") or {}).get("gbps"):
        return "in-cache roof", roofs["incache"]["gbps"]
    return "copy roof", (roofs.get("copy") or {}).get("gbps")


def _roof_lines(ax: plt.Axes, named: list[tuple[str, float | None]]) -> None:
    """A dashed grey line at each roof a series' points were held against, named at its left."""
    for name, rate in dict(named).items():
        if rate:
            ax.axhline(rate * 1e9, color="grey", lw=1.2, ls=(0, (6, 2)))
            ax.annotate(
                name,
                (0.02, rate * 1e9),
                xycoords=("axes fraction", "data"),
                fontsize=6,
                va="bottom",
                color="grey",
            )


def _series(ax: plt.Axes, family: str, group: pd.DataFrame, meta: dict, run_index: int) -> pd.DataFrame:
    """One (run, method variant)'s rates under their roofs, red crosses where above one: the
    points drawn, each with its roof and its fraction of it."""
    device = group["device"].iloc[0]
    roofs = device_roofs([meta], device)
    cache = meta.get("machine", {}).get("llc_bytes") or 0
    fits = group["predicted_peak_bytes"].astype(float) < cache
    named = [roof_of(family, roofs, bool(f)) for f in fits]
    roof = pd.Series([r or np.nan for _, r in named], index=group.index, dtype=float)
    draw_group(ax, group, "rate", run_index)
    fraction = group["rate"] / (roof * 1e9)
    above = fraction > 1 + ROOF_NOISE
    ax.plot(group["size"][above], group["rate"][above], "x", color=OVER, ms=7, mew=1.5)
    _roof_lines(ax, named)
    return pd.DataFrame(
        {
            "size": group["size"],
            "rate_per_s": group["rate"],
            "unit": "FLOP/s" if time_driver(family) == "flops" else "B/s",
            "roof": [name for name, _ in named],
            "fraction_of_roof": fraction,
            "above_roof": above.astype(bool),
        }
    )


def _count_over(ax: plt.Axes, over: int) -> None:
    if over:
        ax.annotate(
            f"{over} above their roof: roof underestimated",
            (0.98, 0.04),
            xycoords="axes fraction",
            ha="right",
            fontsize=6,
            color=OVER,
        )


def _extra() -> list[tuple[Line2D, str]]:
    """Legend entries beside the series: the roofs and the points above them."""
    return [
        (Line2D([], [], color="grey", lw=1.2, ls=(0, (6, 2))), "the family's roof"),
        (Line2D([], [], color=OVER, marker="x", ls="none"), "above its roof by > 5%"),
    ]


def draw(analysis: Analysis, out: Path) -> Path:
    title = "Throughput against size (grey: the family's roof; red ×: above it by more than 5%)"
    data, axes, layout = size_grid(analysis, "time_median_s", title)
    flops = data["family"].map(time_driver) == "flops"
    data = data.assign(rate=np.where(flops, data["gflops"], data["gbps"]) * 1e9)
    metas = {run.run_id: run.meta for run in analysis.runs}
    parts = []
    for ax, family, device, axis, on_axis in layout.panels(data, axes):
        over = 0
        for (run, label), group in on_axis.groupby(["run_id", "label"]):
            points = _series(ax, family, group, metas[run], layout.run_order[run])
            over += int(points["above_roof"].sum())
            parts.append(points.assign(run_id=run, label=label, device=device, axis=axis))
        _count_over(ax, over)
        log_panel(ax)
    series_legend(layout.fig, data, layout.run_order, _extra())
    for (family, _device), row in zip(layout.rows, layout.axes, strict=True):
        decade_axis(row[0].yaxis, "rate", "FLOP/s" if time_driver(family) == "flops" else "B/s")
    mark_empty(layout)
    layout.fig.tight_layout()
    rows = pd.concat(parts, ignore_index=True)[COLUMNS] if parts else pd.DataFrame()
    return save(layout.fig, rows, out, FILE)
