"""The report's tables as DataFrames of readable text, and their shape for the template.

Each table is built from the analysis here; :func:`shown` then drops what a single run makes
redundant (a ``run_id`` column that repeats one name on every row) and formats every number,
so that a table stays readable at 1400 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.report.first_screen_checks import signed_percent, sweep_extrapolation
from analysis.report.formatting import format_cell, format_size, format_time
from analysis.report.study import Analysis
from bench.units import format_bytes

RUN_COLUMN = "run_id"


@dataclass(frozen=True)
class Table:
    """What the template's ``table`` macro renders: a header and rows of text."""

    columns: list[str]
    rows: list[list[str]]


def shown(frame: pd.DataFrame, runs: int) -> Table:
    """``frame`` as text for the page, without the ``run_id`` column when there is one run."""
    if runs == 1 and RUN_COLUMN in frame.columns:
        frame = frame.drop(columns=RUN_COLUMN)
    return Table(
        columns=[str(c) for c in frame.columns],
        rows=[[format_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)],
    )


def _of_incache(gbps: float, row: pd.Series) -> str:
    """ ", 48% of the L1 copy roof (990.0 GB/s)" where the headline run measured that roof (the
    kernel's pattern roof of older runs is a diagnostic, never shown as a roof)."""
    roof = row.get("headline_l1_copy_roof_gbps", np.nan)
    if roof is None or not np.isfinite(float(roof)):
        return ""
    return f", {gbps / roof:.0%} of the L1 copy roof ({roof:.1f} GB/s)"


def measured_headline_table(analysis: Analysis) -> pd.DataFrame:
    """The full-size streamed case as measured, beside the sweep's extrapolation of it: one column
    per headline run and device, one row per quantity; empty when no headline run was given."""
    cases = analysis.cases
    if cases.empty or "headline_dydx_seconds" not in cases:
        return pd.DataFrame()
    measured = cases[cases["headline_dydx_seconds"].notna()]
    if measured.empty:
        return pd.DataFrame()
    preds = analysis.predictions
    rows = []
    for _, row in measured.iterrows():
        sweep = sweep_extrapolation(preds, row)
        total = row["time_median_s"]
        extrapolated = sweep["time_value"] if sweep is not None else np.nan
        estimate = bool(row["headline_dydw_is_estimate"])
        dense = row["jacobian_dydx_bytes"]
        gbps = row["headline_effective_gbps_dydx"]
        rows.append(
            {
                "run": row["run_id"],
                "device": row["device"],
                "N, D, M": f"{row['n']}, {row['d']}, {row['m']}",
                "dY/dX streamed (measured)": format_time(row["headline_dydx_seconds"]),
                "dY/dW streamed": format_time(row["headline_dydw_seconds"])
                + (
                    f" (estimate: {row['headline_dydw_fraction_measured']:.4f} of its tiles timed)"
                    if estimate
                    else " (measured)"
                ),
                "total": format_time(total) + (" (with the estimate)" if estimate else ""),
                "extrapolated from the sweep": (
                    f"{format_time(extrapolated)} ({sweep['run_id']})"
                    if np.isfinite(extrapolated)
                    else "no sweep run given"
                ),
                "extrapolation error": f"{(extrapolated - total) / total:+.0%}"
                if np.isfinite(extrapolated)
                else "–",
                "formula, same size": format_time(row["headline_formula_seconds"]),
                "dY/dX ÷ formula": f"{row['headline_dydx_seconds'] / row['headline_formula_seconds']:,.0f}×",
                "effective throughput dY/dX": (
                    f"{gbps:.1f} GB/s = {gbps / row['copy_roof_gbps']:.2f}× copy bandwidth"
                    + _of_incache(gbps, row)
                ),
                "effective throughput dY/dW": (
                    f"{row['headline_effective_gbps_dydw']:.1f} GB/s"
                    + _of_incache(row["headline_effective_gbps_dydw"], row)
                    if np.isfinite(row.get("headline_effective_gbps_dydw", np.nan))
                    else "–"
                )
                + (" (estimate)" if estimate else ""),
                "peak memory (measured)": format_size(row["peak_bytes"]),
                "dense dY/dX would need": format_bytes(int(dense)),
            }
        )
    table = pd.DataFrame(rows).set_index(["run", "device"]).T
    single = len(analysis.runs) == 1  # the run's name would head the only column
    table.columns = [device if single else f"{run} ({device})" for run, device in table.columns]
    return table.rename_axis("quantity").reset_index()


def exponent_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run, method, device and metric; one column per axis: fitted [95% CI] vs expected."""
    if frame.empty:
        return frame
    cells = frame.assign(
        cell=[
            f"{e:.2f} [{lo:.2f}, {hi:.2f}] vs {x:.2f} (n={n})"
            for e, lo, hi, x, n in zip(
                frame["exponent"],
                frame["ci_low"],
                frame["ci_high"],
                frame["expected"],
                frame["points"],
                strict=True,
            )
        ]
    )
    table = cells.pivot_table(
        index=["run_id", "metric", "label", "device", "dtype"], columns="axis", values="cell", aggfunc="first"
    )
    ordered = [a for a in ("N", "D", "M", "diag", "DM") if a in table.columns]
    table = table[ordered]
    table.columns.name = None
    return table.reset_index().sort_values(["run_id", "metric", "label"])


def prediction_table(analysis: Analysis) -> pd.DataFrame:
    """Per method and device: the extrapolated time and peak at the target, and how far the
    same kind of extrapolation was off where it could be checked (the hold-out errors)."""
    preds, hold = analysis.predictions, analysis.holdouts
    if preds.empty:
        return preds
    rows = []
    for _, row in preds.iterrows():
        if not (np.isfinite(row["time_value"]) or np.isfinite(row["peak_value"])):
            continue  # too few measured points (a headline run, say): nothing was extrapolated
        mine = (
            hold[
                (hold["run_id"] == row["run_id"])
                & (hold["label"] == row["label"])
                & (hold["device"] == row["device"])
            ]
            if not hold.empty
            else hold
        )
        worst = {
            m: mine[mine["metric"] == m]["error"].abs().max() if not mine.empty else np.nan
            for m in ("time", "memory")
        }
        measured = _measured_columns(analysis.checks, row)
        rows.append(
            {
                "run_id": row["run_id"],
                "method": row["label"],
                "device": row["device"],
                "measured at target": measured["measured at target"],
                "time extrapolated (90% interval)": (
                    f"{format_time(row['time_value'])} ({format_time(row['time_low'])} – "
                    f"{format_time(row['time_high'])})"
                ),
                "hold-out |error| time": f"{worst['time']:.0%}" if np.isfinite(worst["time"]) else "–",
                "time fitted on": f"{row['time_basis']} (n={int(row['time_points'])})"
                if row["time_basis"]
                else "–",
                "error time": measured["error time"],
                "peak extrapolated": format_size(row["peak_value"]),
                "error memory": measured["error memory"],
                "cost-model peak": format_size(row["predicted_peak_bytes"]),
                "fits device": "yes" if row["fits_device"] else f"no ({row['over_by']:,.0f}× over)",
                "hold-out |error| memory": f"{worst['memory']:.1%}" if np.isfinite(worst["memory"]) else "–",
            }
        )
    return pd.DataFrame(rows)


def _measured_columns(checks: pd.DataFrame, pred: pd.Series) -> dict[str, str]:
    """The case measured at the target (or why not) and the extrapolation's error against it."""
    keys = ("run_id", "label", "device", "dtype")
    mine = checks[np.logical_and.reduce([checks[k] == pred[k] for k in keys])] if not checks.empty else checks
    if mine.empty:
        return {"measured at target": "–", "error time": "–", "error memory": "–"}
    row = mine.iloc[0]
    if row["measured_status"] != "ok":
        measured = f"not measured: {row['measured_status']}" + (
            f" ({row['measured_reason']})"
            if row["measured_reason"] and row["measured_status"] != "not in run"
            else ""
        )
    else:
        measured = f"{format_time(row['measured_time_s'])}, {format_size(row['measured_peak_bytes'])}"

    def error(metric: str) -> str:
        value = row[f"{metric}_error"]
        if not np.isfinite(value):
            return "–"
        return f"{signed_percent(value)} ({'in' if row[f'{metric}_in_interval'] else 'outside'} interval)"

    return {"measured at target": measured, "error time": error("time"), "error memory": error("peak")}


def holdout_table(hold: pd.DataFrame) -> pd.DataFrame:
    """Every held-out point: measured, predicted and the error, in units people read."""
    if hold.empty:
        return hold
    return hold.assign(
        measured=[
            format_time(v) if m == "time" else format_size(v)
            for v, m in zip(hold["measured"], hold["metric"], strict=True)
        ],
        predicted=[
            format_time(v) if m == "time" else format_size(v)
            for v, m in zip(hold["predicted"], hold["metric"], strict=True)
        ],
        error=[f"{e:+.1%}" for e in hold["error"]],
    )[["run_id", "label", "device", "metric", "axis", "held_out", "measured", "predicted", "error"]]


def targets_table(analysis: Analysis) -> pd.DataFrame:
    """The performance targets, with ✔/✘ in words beside the figure reached."""
    targets = analysis.targets
    if targets.empty:
        return targets
    return targets.assign(passed=["✔ pass" if p else "✘ short" for p in targets["passed"]])


def not_measured_table(analysis: Analysis) -> pd.DataFrame:
    """The cases that were skipped or failed, each with its reason."""
    cases = analysis.cases
    if cases.empty:
        return cases
    return cases[cases["status"] != "ok"][[RUN_COLUMN, "case", "status", "reason"]]
