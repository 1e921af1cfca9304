"""What the extrapolation rests on: measured time against the bytes of both Jacobians (the x every
method shares) with each hold-out's prediction, and measured peak memory against the cost model's
peak with each method's extrapolated peak at the target. The time at the target itself, one row
per method, is :mod:`analysis.report.charts.at_target`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.fits import GROUP
from analysis.report.charts.common import bytes_axis, run_order, save, series_legend
from analysis.report.study import Analysis
from analysis.report.style import decade_axis, series_style, split_label

FILE = "extrapolation"
TITLE = "What the extrapolation rests on: measured points, hold-out predictions, peaks at the target"
ALT = (
    "Left: measured median time of every case against the bytes of both Jacobians, with hollow "
    "squares at each hold-out's predicted time and a red dotted line at the target's size. Right: "
    "measured peak memory against the cost model's peak, hold-out predictions, and each method's "
    "extrapolated peak at the target."
)


def needs(analysis: Analysis) -> bool:
    preds = analysis.predictions
    if preds.empty:
        return False
    return bool((np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])).any())


def _holdout_points(analysis: Analysis) -> pd.DataFrame:
    hold, frame = analysis.holdouts, analysis.cases
    if hold.empty:
        return hold
    columns = ["run_id", "case", "jacobian_dydx_bytes", "jacobian_dydw_bytes", "predicted_peak_bytes"]
    return hold.merge(frame[columns], left_on=["run_id", "held_out"], right_on=["run_id", "case"])


def _measured(left: plt.Axes, right: plt.Axes, frame: pd.DataFrame, order: dict[str, int]) -> list[dict]:
    """Every case's measured time (left, against the Jacobians' bytes) and peak (right, against
    the cost model's), a series per (run, method variant)."""
    jac = frame["jacobian_dydx_bytes"] + frame["jacobian_dydw_bytes"]
    rows = []
    for key, group in frame.assign(jacobian_bytes=jac).groupby(GROUP):
        run, label = key[0], key[1]
        style = series_style(group["method"].iloc[0], group["variant"].iloc[0], order[run])
        timed, peaked = group[group["time_median_s"].notna()], group[group["peak_bytes"].notna()]
        points = {"ls": "none", "marker": style.marker, "color": style.color, "ms": 3}
        left.plot(timed["jacobian_bytes"], timed["time_median_s"], **points)
        right.plot(peaked["predicted_peak_bytes"], peaked["peak_bytes"], **points)
        rows += [
            {"run_id": run, "label": label, "kind": "measured"} | r
            for r in group[["jacobian_bytes", "time_median_s", "predicted_peak_bytes", "peak_bytes"]]
            .rename(columns={"time_median_s": "time_s"})
            .to_dict("records")
        ]
    return rows


def _holdouts(left: plt.Axes, right: plt.Axes, analysis: Analysis, order: dict[str, int]) -> list[dict]:
    """Each hold-out's prediction as a hollow square: time on the left, peak on the right."""
    rows = []
    for _, row in _holdout_points(analysis).iterrows():
        style = series_style(*split_label(row["label"]), order.get(row["run_id"], 0))
        ax, x = (
            (left, row["jacobian_dydx_bytes"] + row["jacobian_dydw_bytes"])
            if row["metric"] == "time"
            else (right, row["predicted_peak_bytes"])
        )
        ax.plot([x], [row["predicted"]], ls="none", marker="s", mfc="none", color=style.color, ms=7)
        rows.append(
            {
                "run_id": row["run_id"],
                "label": row["label"],
                "kind": f"holdout-{row['metric']}",
                "case": row["held_out"],
                "x": x,
                "predicted": row["predicted"],
                "measured": row["measured"],
            }
        )
    return rows


def _target_peaks(right: plt.Axes, preds: pd.DataFrame, order: dict[str, int]) -> list[dict]:
    """Each method's peak extrapolated at the target, large and edged in black."""
    rows = []
    for _, row in preds[np.isfinite(preds["peak_value"].astype(float))].iterrows():
        style = series_style(*split_label(row["label"]), order.get(row["run_id"], 0))
        right.plot(
            [row["predicted_peak_bytes"]],
            [row["peak_value"]],
            ls="none",
            marker=style.marker,
            ms=9,
            color=style.color,
            mec="black",
        )
        rows.append(
            {
                "run_id": row["run_id"],
                "label": row["label"],
                "kind": "target-peak",
                "predicted_peak_bytes": row["predicted_peak_bytes"],
                "peak_bytes": row["peak_value"],
            }
        )
    return rows


def _references(left: plt.Axes, right: plt.Axes, analysis: Analysis) -> None:
    """The target's size (red, left), each device's memory and measured = cost model (right)."""
    frame, preds = analysis.cases, analysis.predictions
    if not preds.empty:
        left.axvline(
            (preds["jacobian_dydx_bytes"] + preds["jacobian_dydw_bytes"]).max(), color="red", lw=0.8, ls=":"
        )
    for (_run, device), limit in analysis.limits.items():
        if limit:
            right.axhline(limit, color="grey", lw=1)
            right.annotate(
                f"{device} memory",
                (0.01, limit),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                color="grey",
                va="bottom",
            )
    top = preds["predicted_peak_bytes"].max() if not preds.empty else 0
    lo, hi = frame["predicted_peak_bytes"].min(), max(frame["predicted_peak_bytes"].max(), top)
    right.plot([lo, hi], [lo, hi], color="black", lw=0.6)


def _label(left: plt.Axes, right: plt.Axes, frame: pd.DataFrame) -> None:
    """Log axes with titles, or a note where the run measured no time (``--passes memory``) or no
    peak: said, rather than failing on an empty log axis."""
    for ax, what, column in ((left, "time", "time_median_s"), (right, "memory", "peak_bytes")):
        if not frame[column].notna().any():
            ax.cla()
            ax.text(0.5, 0.5, f"no {what} measured in this run", ha="center", va="center")
            ax.set_axis_off()
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    if frame["time_median_s"].notna().any():
        bytes_axis(left.xaxis)
        decade_axis(left.yaxis, "time")
        left.set_xlabel("|dY/dX| + |dY/dW| (bytes the explicit method materialises)")
        left.set_ylabel("median time")
        left.set_title("time: measured, and each hold-out's prediction (red: the target's size)", fontsize=9)
    if frame["peak_bytes"].notna().any():
        bytes_axis(right.xaxis)
        bytes_axis(right.yaxis)
        right.set_xlabel("cost-model peak")
        right.set_ylabel("measured or extrapolated peak")
        right.set_title(
            "peak memory: measured, hold-outs, extrapolated at the target (black edge)", fontsize=9
        )


def _extra() -> list[tuple[Line2D, str]]:
    """Legend entries beside the series: what the hollow squares, edged points and diagonal are."""
    return [
        (Line2D([], [], color="#555", marker="s", mfc="none", ls="none"), "hold-out prediction"),
        (
            Line2D([], [], color="#999", marker="o", mec="black", ms=8, ls="none"),
            "peak extrapolated at the target",
        ),
        (Line2D([], [], color="black", lw=0.6), "measured = cost model"),
    ]


def draw(analysis: Analysis, out: Path) -> Path:
    frame = analysis.cases
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    order = run_order(frame)
    rows = _measured(left, right, frame, order)
    rows += _holdouts(left, right, analysis, order)
    rows += _target_peaks(right, analysis.predictions, order)
    _references(left, right, analysis)
    _label(left, right, frame)
    series_legend(fig, frame, order, _extra())
    fig.tight_layout()
    return save(fig, pd.DataFrame(rows), out, FILE)
