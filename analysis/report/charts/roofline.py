"""The roofline: every timed case's achieved FLOP/s against its arithmetic intensity (FLOPs per
byte moved, from the cost model), under the run's ceilings: the GEMM roof (flat), and the
DRAM-copy and in-cache roofs (bandwidth × intensity). A case near a slanted ceiling is bound by
memory traffic, near the flat one by arithmetic (Williams, Waterman and Patterson, 2009)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.floors import device_roofs
from analysis.report.charts.common import run_order, save, series_legend
from analysis.report.study import Analysis
from analysis.report.style import decade_axis, series_style

FILE = "roofline"
TITLE = (
    "Roofline: achieved FLOP/s against arithmetic intensity, under the run's GEMM, copy and in-cache roofs"
)
CEILINGS = (("copy", "DRAM copy", "--"), ("incache", "in-cache", ":"))
COLUMNS = [
    "run_id",
    "label",
    "device",
    "case",
    "flops",
    "bytes_moved",
    "intensity",
    "time_median_s",
    "flop_rate",
]
"""The CSV's columns: each point drawn and what it is computed from."""
ALT = (
    "Every timed case as a point: achieved FLOP/s against its arithmetic intensity (FLOPs per byte "
    "moved) on log-log axes, under the run's flat GEMM roof and the slanted DRAM-copy and in-cache "
    "roofs."
)


def needs(analysis: Analysis) -> bool:
    cases = analysis.cases
    if cases.empty or not cases["time_median_s"].notna().any():
        return False
    return bool(((cases["flops"] > 0) & (cases["bytes_moved"] > 0) & cases["time_median_s"].notna()).any())


def _points(ax: plt.Axes, mine: pd.DataFrame, order: dict[str, int]) -> None:
    """One device's cases, a series per (run, method variant), hollow where the timing was noisy."""
    for (run, _label), group in mine.groupby(["run_id", "label"]):
        first = group.iloc[0]
        style = series_style(first["method"], first["variant"], order[run])
        noisy = group["noisy"].fillna(False).astype(bool)
        for hollow in (False, True):
            pick = group[noisy == hollow]
            ax.plot(
                pick["intensity"],
                pick["flop_rate"],
                ls="none",
                marker=style.marker,
                ms=4,
                color=style.color,
                mfc="white" if hollow else style.color,
                alpha=0.85,
            )


def _ceilings(ax: plt.Axes, roofs: dict, intensity: pd.Series) -> None:
    """The slanted bandwidth roofs (capped by the GEMM roof) and the flat GEMM roof, each named,
    over the span of ``intensity`` widened 2× each side."""
    lo, hi = intensity.min() / 2, intensity.max() * 2
    x = np.logspace(np.log10(lo), np.log10(hi), 200)
    gemm = (roofs.get("gemm", {}).get("float32") or {}).get("gflops")
    top = gemm * 1e9 if gemm else np.inf
    for kind, name, dash in CEILINGS:
        gbps = (roofs.get(kind) or {}).get("gbps")
        if gbps:
            ax.plot(x, np.minimum(x * gbps * 1e9, top), color="#444", lw=1.2, ls=dash)
            ax.annotate(
                f"{name} {gbps:,.1f} GB/s",
                (x[0], x[0] * gbps * 1e9),
                fontsize=7,
                color="#444",
                rotation=0,
                va="bottom",
            )
    if gemm:
        ax.axhline(top, color="#444", lw=1.2)
        ax.annotate(
            f"GEMM {gemm:,.0f} GFLOP/s",
            (0.98, top),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=7,
            color="#444",
        )


def _axes(ax: plt.Axes, device: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    decade_axis(ax.xaxis, "ratio")
    decade_axis(ax.yaxis, "rate", "FLOP/s")
    ax.set_xlabel("arithmetic intensity (FLOPs ÷ bytes moved, cost model)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(f"{device}: roofline (hollow: noisy timing)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)


def _extra() -> list[tuple[Line2D, str]]:
    """Legend entries beside the series: the GEMM roof and each bandwidth roof's dash."""
    return [
        (Line2D([], [], color="#444", lw=1.2), "GEMM roof"),
        *[
            (Line2D([], [], color="#444", lw=1.2, ls=dash), f"{name} roof × intensity")
            for _, name, dash in CEILINGS
        ],
    ]


def draw(analysis: Analysis, out: Path) -> Path:
    cases = analysis.cases
    data = cases[cases["time_median_s"].notna() & (cases["flops"] > 0) & (cases["bytes_moved"] > 0)].copy()
    data["intensity"] = data["flops"] / data["bytes_moved"]
    data["flop_rate"] = data["flops"] / data["time_median_s"]
    devices = sorted(data["device"].unique())
    fig, panels = plt.subplots(1, len(devices), figsize=(8.5 * len(devices), 5.6), squeeze=False)
    order = run_order(data)
    metas = [run.meta for run in analysis.runs]
    for ax, device in zip(panels[0], devices, strict=True):
        mine = data[data["device"] == device]
        _points(ax, mine, order)
        _ceilings(ax, device_roofs(metas, str(device)), mine["intensity"])
        _axes(ax, device)
    series_legend(fig, data, order, _extra())
    fig.tight_layout()
    return save(fig, data[COLUMNS], out, FILE)
