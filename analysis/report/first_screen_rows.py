"""One row of the first screen's summary: a method's time and memory at the target, measured
where it was measured there, else extrapolated, clipped to its physical floor where the cost model
undercut it, with its ratios to the formula's row."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.floors import Floor, fraction
from analysis.report.first_screen_records import (
    ESTIMATED,
    EXTRAPOLATED,
    MEASURED,
    MODEL_FAILURE,
    Figure,
    SummaryRow,
)
from analysis.report.formatting import format_size, format_time
from analysis.report.study import Analysis


@dataclass(frozen=True)
class Shown:
    """A row of the summary and the figures behind it, for the ratios and the bound."""

    row: SummaryRow
    seconds: float
    """The time on the page: clipped to its floor where the cost model undercut it."""
    model: float
    """The time before clipping: a floor it undercuts is never called unbeatable."""
    peak: float
    name: str
    """How the bound names it when it is faster than the floor."""


def pick(predictions: pd.DataFrame, family: str, device: str, warm: bool = True) -> pd.Series | None:
    """The method that speaks for a family: torch before numpy, then warm before cold (or, with
    ``warm`` False, the variant that allocates fresh memory each call)."""
    rows = predictions[(predictions["family"] == family) & (predictions["device"] == device)]
    rows = rows[np.isfinite(rows["time_value"].astype(float))]
    if rows.empty:
        return None
    torch_rows = rows[rows["label"].str.contains("torch")]
    preferred = torch_rows if not torch_rows.empty else rows
    warm_rows = preferred[preferred["label"].str.endswith("warm")]
    if not warm:
        cold = preferred[~preferred["label"].str.endswith("warm")]
        return cold.iloc[0] if not cold.empty else None
    return (warm_rows if not warm_rows.empty else preferred).iloc[0]


def ratio(a: float, b: float) -> str:
    """``"4,125×"``; under 10, two decimals (``"0.92×"``), so that a ratio near one keeps its meaning."""
    if not (np.isfinite(a) and np.isfinite(b) and b > 0):
        return "–"
    return f"{a / b:,.0f}×" if a / b >= 10 else f"{a / b:.2f}×"


def _checked(checks: pd.DataFrame, row: pd.Series) -> pd.Series | None:
    """The measured-vs-extrapolated row of the method a prediction row speaks for."""
    if checks.empty:
        return None
    keys = ("run_id", "label", "device", "dtype")
    mine = checks[np.logical_and.reduce([checks[k] == row[k] for k in keys])]
    return mine.iloc[0] if not mine.empty else None


def worst_holdout(holdouts: pd.DataFrame, pred: pd.Series, metric: str = "time") -> float:
    """The largest |error| of a method's hold-outs of ``metric`` (NaN without any)."""
    if holdouts.empty:
        return np.nan
    keys = ("run_id", "label", "device")
    mine = holdouts[
        np.logical_and.reduce([holdouts[k] == pred[k] for k in keys]) & (holdouts["metric"] == metric)
    ]
    return float(mine["error"].abs().max()) if not mine.empty else np.nan


def _interval(pred: pd.Series, holdouts: pd.DataFrame) -> str:
    worst = worst_holdout(holdouts, pred)
    missed = f"; hold-outs off by up to {worst:.0%}" if np.isfinite(worst) else "; no hold-out checked it"
    return f"90% interval {format_time(pred['time_low'])} – {format_time(pred['time_high'])}{missed}"


def _clipped(time: Figure, seconds: float, floor: Floor | None) -> tuple[Figure, float]:
    """An extrapolated time below its floor: flagged as the model's failure and clipped to it."""
    if time.source != EXTRAPOLATED or floor is None or not seconds >= 0 or seconds >= floor.seconds:
        return time, seconds
    detail = (
        f"the cost model extrapolated {format_time(seconds)}, {seconds / floor.seconds:.0%} of its floor "
        f"({floor.bound}): shown clipped to the floor; {time.detail}"
    )
    return Figure(f"≥ {format_time(floor.seconds)}", MODEL_FAILURE, detail), floor.seconds


def _figures(
    pred: pd.Series, check: pd.Series | None, holdouts: pd.DataFrame
) -> tuple[Figure, Figure, float, float]:
    """Time and memory of one method at the target: measured where measured, else extrapolated."""
    time_measured = check is not None and np.isfinite(check["measured_time_s"])
    peak_measured = check is not None and np.isfinite(check["measured_peak_bytes"])
    interval = _interval(pred, holdouts)
    time_s = check["measured_time_s"] if time_measured else pred["time_value"]
    time = Figure(
        format_time(time_s), MEASURED if time_measured else EXTRAPOLATED, "" if time_measured else interval
    )
    if peak_measured:
        peak = check["measured_peak_bytes"]
        memory = Figure(format_size(peak), MEASURED)
    elif np.isfinite(pred["peak_value"]):
        peak = pred["peak_value"]
        memory = Figure(format_size(peak), EXTRAPOLATED)
    else:
        peak = float(pred["predicted_peak_bytes"])
        memory = Figure(format_size(peak), "cost model")
    return time, memory, float(time_s), float(peak)


def _floored(row: SummaryRow, floor: Floor | None, seconds: float) -> SummaryRow:
    if floor is None:
        return row
    detail = "; ".join(x for x in (floor.bound, floor.detail) if x)
    share = fraction(floor, seconds) if row.time.source != MODEL_FAILURE else "below the floor: model failure"
    return replace(row, floor=format_time(floor.seconds), of_floor=share, floor_detail=detail)


def method_row(
    analysis: Analysis, role: str, pred: pd.Series, floor: Floor | None, formula: Shown | None = None
) -> Shown:
    """The row of one method the sweep extrapolated (``pred``), beside its floor and, unless it
    is the formula's own row, as a multiple of the ``formula`` row."""
    time, memory, seconds, peak = _figures(pred, _checked(analysis.checks, pred), analysis.holdouts)
    shown_time, shown_seconds = _clipped(time, seconds, floor)
    ratios = (ratio(shown_seconds, formula.seconds), ratio(peak, formula.peak)) if formula else ("", "")
    row = SummaryRow(role, str(pred["label"]), shown_time, memory, *ratios)
    return Shown(_floored(row, floor, shown_seconds), shown_seconds, seconds, peak, str(pred["label"]))


def headline_cases(analysis: Analysis, device: str) -> list[pd.Series]:
    """The cases of ``device`` a headline run measured at the target (its streamed passes)."""
    cases = analysis.cases
    if cases.empty or "headline_dydx_seconds" not in cases:
        return []
    measured = cases[cases["headline_dydx_seconds"].notna() & (cases["device"] == device)]
    return [row for _, row in measured.iterrows()]


def headline_row(case: pd.Series, floor: Floor | None, formula: Shown) -> Shown:
    """A headline run's streamed pass: measured, or estimated where dY/dW was sampled."""
    estimate = bool(case["headline_dydw_is_estimate"])
    detail = f"dY/dX {format_time(case['headline_dydx_seconds'])}, dY/dW " + (
        f"{format_time(case['headline_dydw_seconds'])} estimated from "
        f"{case['headline_dydw_fraction_measured']:.2%} of its parts"
        if estimate
        else f"{format_time(case['headline_dydw_seconds'])}, both in full"
    )
    seconds = float(case["time_median_s"])
    row = SummaryRow(
        "explicit, streamed tile by tile (headline run)",
        str(case["label"]),
        Figure(format_time(case["time_median_s"]), ESTIMATED if estimate else MEASURED, detail),
        Figure(format_size(case["peak_bytes"]), MEASURED),
        ratio(case["time_median_s"], formula.seconds),
        ratio(case["peak_bytes"], formula.peak),
    )
    return Shown(
        _floored(row, floor, seconds),
        seconds,
        seconds,
        float(case["peak_bytes"]),
        f"{case['label']} (headline)",
    )
