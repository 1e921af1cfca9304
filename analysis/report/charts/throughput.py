"""Achieved throughput against size, with the roof that bounds each family drawn (as Triton's
``perf_report`` draws its lines): GFLOP/s against the GEMM roof for the formula and autograd,
GB/s of Jacobian traffic against the copy roof for the dense Jacobians and against the in-cache
roof for the streamed methods (their tile never leaves the cache). A point more than 5% above
its roof is drawn as a red cross and counted in its panel: its roof was measured too low, and
no fraction above 100% is shown as if it were reached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.floors import device_roofs
from analysis.report.charts.common import (
    draw_series,
    grid,
    mark_empty,
    save,
    series_legend,
    with_target_on_dm,
)
from analysis.report.study import Analysis
from analysis.report.style import decade_axis
from analysis.targets import ROOF_NOISE
from bench.costs import TIME_DRIVER

FILE = "throughput"
TITLE = "Throughput against size, under the roof that bounds each family (measured in the same run)"
OVER = "#b00020"
ALT = (
    "Small multiples, a row per method family and a column per sweep axis: achieved GFLOP/s (formula,"
    " autograd) or GB/s of Jacobian traffic (the rest) against size, under a dashed grey line at the "
    "roof that bounds the family; points more than 5% above it are red crosses and counted."
)


def needs(analysis: Analysis) -> bool:
    cases = analysis.cases
    return bool(analysis.swept and not cases.empty and cases["time_median_s"].notna().any())


def roof_of(family: str, roofs: dict, in_cache: bool = False) -> tuple[str, float | None]:
    """The roof that bounds a family, by name, and its rate (GFLOP/s or GB/s): the in-cache roof
    for the streamed methods and for a dense Jacobian that fits the last-level cache (``in_cache``),
    where the run measured one; else copy bandwidth."""
    if TIME_DRIVER[family] == "flops":
        gemm = roofs.get("gemm", {}).get("float32") or {}
        return "GEMM roof", gemm.get("gflops")
    if (family == "streamed" or in_cache) and (roofs.get("incache") or {}).get("gbps"):
        return "in-cache roof", roofs["incache"]["gbps"]
    return "copy roof", (roofs.get("copy") or {}).get("gbps")


def draw(analysis: Analysis, out: Path) -> Path:
    data = analysis.cases[analysis.cases["time_median_s"].notna()].copy()
    flops = data["family"].map(TIME_DRIVER) == "flops"
    data["rate"] = np.where(flops, data["gflops"], data["gbps"]) * 1e9
    axes = with_target_on_dm(analysis.axes, analysis.target)
    layout = grid(
        data, axes, "Throughput against size (grey: the family's roof; red ×: above it by more than 5%)"
    )
    metas = {run.run_id: run.meta for run in analysis.runs}
    rows = []
    for ax, family, device, axis, on_axis in layout.panels(data, axes):
        over = 0
        for (run, label), group in on_axis.groupby(["run_id", "label"]):
            roofs = device_roofs([metas[run]], device)
            cache = metas[run].get("machine", {}).get("llc_bytes") or 0
            fits = group["predicted_peak_bytes"].astype(float) < cache
            named = [roof_of(family, roofs, bool(f)) for f in fits]
            roof = pd.Series([r or np.nan for _, r in named], index=group.index, dtype=float)
            first = group.iloc[0]
            draw_series(
                ax,
                group["size"],
                group["rate"],
                group["noisy"].fillna(False),
                first["method"],
                first["variant"],
                layout.run_order[run],
            )
            fraction = group["rate"] / (roof * 1e9)
            above = fraction > 1 + ROOF_NOISE
            over += int(above.sum())
            ax.plot(group["size"][above], group["rate"][above], "x", color=OVER, ms=7, mew=1.5)
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
            rows += [
                {
                    "run_id": run,
                    "label": label,
                    "device": device,
                    "axis": axis,
                    "size": s,
                    "rate_per_s": r,
                    "unit": "FLOP/s" if TIME_DRIVER[family] == "flops" else "B/s",
                    "roof": name,
                    "fraction_of_roof": f,
                    "above_roof": bool(a),
                }
                for s, r, f, a, (name, _) in zip(
                    group["size"], group["rate"], fraction, above, named, strict=True
                )
            ]
        if over:
            ax.annotate(
                f"{over} above their roof: roof underestimated",
                (0.98, 0.04),
                xycoords="axes fraction",
                ha="right",
                fontsize=6,
                color=OVER,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
    extra = [
        (Line2D([], [], color="grey", lw=1.2, ls=(0, (6, 2))), "the family's roof"),
        (Line2D([], [], color=OVER, marker="x", ls="none"), "above its roof by > 5%"),
    ]
    series_legend(layout.fig, data, layout.run_order, extra)
    for (family, _device), row in zip(layout.rows, layout.axes, strict=True):
        decade_axis(row[0].yaxis, "rate", "FLOP/s" if TIME_DRIVER.get(family) == "flops" else "B/s")
    mark_empty(layout)
    layout.fig.tight_layout()
    return save(layout.fig, pd.DataFrame(rows), out, FILE)
