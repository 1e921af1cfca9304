"""Time at the target as a dot-and-interval chart: one row per method, its extrapolation (dot, in
the method's colour and marker) with the calibrated 90% interval (bar), the measurement at the
target where there is one (black diamond), the physical floor (grey tick) and, on the right, how
far the method's hold-outs missed. An extrapolation under its floor is a model failure, marked in
red, not a figure the machine could reach."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.floors import device_roofs, formula_floor, jacobian_floor
from analysis.report.charts.common import save
from analysis.report.first_screen_rows import worst_holdout
from analysis.report.study import Analysis
from analysis.report.style import decade_axis, label_order, series_style
from bench.costs import FAMILIES

FILE = "time_at_target"
TITLE = "Time at the target: extrapolation with its 90% interval, the measurement and the floor, per method"
FAILED = "#b00020"
ALT = (
    "One row per method: a dot at its extrapolated time at the target on a log time axis, a bar for "
    "its calibrated 90% interval, a black diamond where the time was measured there, a grey tick at "
    "its physical floor, and on the right how far its hold-outs missed; rows in red extrapolated "
    "below their floor."
)


def needs(analysis: Analysis) -> bool:
    preds = analysis.predictions
    return bool(not preds.empty and np.isfinite(preds["time_value"].astype(float)).any())


def _floor(family: str, roofs: dict, target: tuple[int, int, int]) -> float:
    n, d, m = target
    if family in ("formula", "autograd"):
        floor = formula_floor(roofs, n, d, m, "float32")
    elif (family in FAMILIES and FAMILIES[family].dense) or family == "streamed":
        floor = jacobian_floor(roofs, n, d, m, "float32", in_cache=family == "streamed")
    else:
        floor = None
    return floor.seconds if floor is not None else np.nan


def _measured(analysis: Analysis, pred: pd.Series) -> float:
    """The time measured at the target: the case itself, else a headline run's streamed pass."""
    checks = analysis.checks
    mine = (
        checks[
            (checks["run_id"] == pred["run_id"])
            & (checks["label"] == pred["label"])
            & (checks["device"] == pred["device"])
        ]
        if not checks.empty
        else checks
    )
    if not mine.empty and np.isfinite(mine["measured_time_s"].iloc[0]):
        return float(mine["measured_time_s"].iloc[0])
    cases = analysis.cases
    if "headline_dydx_seconds" in cases:
        head = cases[
            cases["headline_dydx_seconds"].notna()
            & (cases["label"] == pred["label"])
            & (cases["device"] == pred["device"])
        ]
        if not head.empty:
            return float(head["time_median_s"].iloc[0])
    return np.nan


def table(analysis: Analysis) -> pd.DataFrame:
    """One row per (run, method, device) with an extrapolated time: what the chart draws."""
    preds = analysis.predictions
    preds = preds[np.isfinite(preds["time_value"].astype(float))]
    metas = [run.meta for run in analysis.runs]
    rows = []
    for _, pred in preds.iterrows():
        roofs = device_roofs(metas, str(pred["device"]))
        rows.append(
            {
                "run_id": pred["run_id"],
                "label": pred["label"],
                "family": pred["family"],
                "device": pred["device"],
                "time_s": pred["time_value"],
                "low_s": pred["time_low"],
                "high_s": pred["time_high"],
                "measured_s": _measured(analysis, pred),
                "floor_s": _floor(pred["family"], roofs, analysis.target),
                "worst_holdout": worst_holdout(analysis.holdouts, pred),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    order = {label: k for k, label in enumerate(label_order(list(frame["label"].unique())))}
    frame["below_floor"] = frame["time_s"] < frame["floor_s"]
    return frame.sort_values(["run_id", "device"], kind="stable").sort_values(
        "label", key=lambda s: s.map(order), kind="stable"
    )


def _method_row(ax: plt.Axes, yi: float, row: pd.Series, run_index: int) -> None:
    """One method's row: its interval (bar), extrapolation (dot), floor (grey tick), measurement
    (black diamond) and, right of the axes, how far its hold-outs missed."""
    variant = "warm" if row["label"].endswith("-warm") else ""
    method = row["label"].split("-warm")[0].split("-cold")[0]
    style = series_style(method, variant, run_index)
    ax.plot(
        [row["low_s"], row["high_s"]], [yi, yi], color=style.color, lw=2.2, alpha=0.55, solid_capstyle="butt"
    )
    ax.plot([row["time_s"]], [yi], marker=style.marker, color=style.color, ms=6, ls="none")
    if np.isfinite(row["floor_s"]):
        ax.plot([row["floor_s"]], [yi], marker="|", color="#555", ms=13, mew=2, ls="none")
    if np.isfinite(row["measured_s"]):
        ax.plot([row["measured_s"]], [yi], marker="D", color="black", mfc="none", ms=7, mew=1.4, ls="none")
    note = f"hold-outs ±{row['worst_holdout']:.0%}" if np.isfinite(row["worst_holdout"]) else "no hold-out"
    if row["below_floor"]:
        note = f"below its floor: model failure; {note}"
    ax.annotate(
        note,
        (1.01, yi),
        xycoords=("axes fraction", "data"),
        va="center",
        fontsize=7,
        color=FAILED if row["below_floor"] else "#333",
    )


def _names(data: pd.DataFrame, runs: list[str]) -> list[str]:
    """Each row's tick label: the method, with its device and run where the chart has several."""
    names = [
        f"{lab} ({dev})" if data["device"].nunique() > 1 else lab
        for lab, dev in zip(data["label"], data["device"], strict=True)
    ]
    if len(runs) > 1:
        names = [f"{n} · {r}" for n, r in zip(names, data["run_id"], strict=True)]
    return names


def _legend(fig: plt.Figure) -> None:
    """What the marks mean, in one row under the axes."""
    legend = [
        (Line2D([], [], color="#777", marker="o", lw=2.2, alpha=0.7), "extrapolated, with its 90% interval"),
        (Line2D([], [], color="black", marker="D", mfc="none", ls="none"), "measured at the target"),
        (
            Line2D([], [], color="#555", marker="|", ms=11, mew=2, ls="none"),
            "floor (no implementation is faster)",
        ),
    ]
    fig.legend(
        [h for h, _ in legend],
        [t for _, t in legend],
        loc="upper center",
        ncol=3,
        fontsize=8,
        bbox_to_anchor=(0.5, 0.0),
        frameon=False,
    )


def draw(analysis: Analysis, out: Path) -> Path:
    data = table(analysis)
    runs = sorted(data["run_id"].unique())
    fig, ax = plt.subplots(figsize=(9.5, 0.34 * len(data) + 1.4))
    y = np.arange(len(data))[::-1]
    for yi, (_, row) in zip(y, data.iterrows(), strict=True):
        _method_row(ax, yi, row, runs.index(row["run_id"]))
    ax.set_yticks(y, _names(data, runs), fontsize=8)
    ax.set_xscale("log")
    decade_axis(ax.xaxis, "time")
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    n, d, m = analysis.target
    ax.set_xlabel(f"time of one backward pass at N={n}, D={d}, M={m} (float32)")
    ax.set_title("Time at the target, per method", fontsize=11)
    _legend(fig)
    fig.tight_layout()
    return save(fig, data, out, FILE)
