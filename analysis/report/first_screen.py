"""The report's first screen as figures: what it says first, computed from the analysis.

At the target (N=64, D=M=4096 unless told otherwise), per device: the formula's and the explicit
method's time and memory, each marked measured (a case at the target, or the streamed headline
run) or extrapolated (the cost model fitted on smaller sizes), with the ratio between them; and
the suite's honesty figure, the error between the extrapolation and the measurement wherever
both exist (:func:`analysis.extrapolate.measured_vs_extrapolated`).

Only numbers and labels, already formatted; the sentences around them live in the template
(``templates/report.html.j2``), so the wording can change without touching the arithmetic and
every value reaching the page is escaped there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.report.formatting import format_size, format_time
from analysis.report.study import Analysis
from bench.costs import jacobian_bytes
from bench.units import format_bytes


def _pick(predictions: pd.DataFrame, family: str, device: str) -> pd.Series | None:
    """The method that speaks for a family: torch before numpy, warm before cold."""
    rows = predictions[(predictions["family"] == family) & (predictions["device"] == device)]
    rows = rows[np.isfinite(rows["time_value"].astype(float))]
    if rows.empty:
        return None
    torch_rows = rows[rows["label"].str.contains("torch")]
    preferred = torch_rows if not torch_rows.empty else rows
    warm = preferred[preferred["label"].str.endswith("warm")]
    return (warm if not warm.empty else preferred).iloc[0]


# --- the first screen's summary ----------------------------------------------------------------

MEASURED = "measured"
EXTRAPOLATED = "extrapolated"


@dataclass(frozen=True)
class Figure:
    """One number of the summary, and whether it was measured at the target or extrapolated."""

    value: str
    source: str
    """:data:`MEASURED` or :data:`EXTRAPOLATED` (or "cost model" for a peak nothing measured)."""
    detail: str = ""


@dataclass(frozen=True)
class SummaryRow:
    role: str
    method: str
    time: Figure
    memory: Figure
    time_ratio: str
    """This row's time ÷ the formula's ("" on the formula's own row)."""
    memory_ratio: str


@dataclass(frozen=True)
class DeviceSummary:
    device: str
    rows: list[SummaryRow]
    memory_note: str | None
    """How far the dense explicit method overflows the device, when it does."""


@dataclass(frozen=True)
class Check:
    """The honesty figure of one method: extrapolated from smaller sizes against measured."""

    method: str
    device: str
    measured: str
    extrapolated: str
    interval: str
    error: str
    in_interval: bool


@dataclass(frozen=True)
class Summary:
    target: tuple[int, int, int]
    dydx: str
    dydw: str
    devices: list[DeviceSummary]
    checks: list[Check]


def signed_percent(fraction: float) -> str:
    """``-0.43`` → ``"-43%"``; an error that rounds to nothing reads ``"0%"``, never ``"-0%"``."""
    text = f"{fraction:+.0%}"
    return "0%" if text in ("+0%", "-0%") else text


def _ratio(a: float, b: float) -> str:
    return f"{a / b:,.0f}×" if np.isfinite(a) and np.isfinite(b) and b > 0 else "–"


def _checked(checks: pd.DataFrame, row: pd.Series) -> pd.Series | None:
    """The measured-vs-extrapolated row of the method a prediction row speaks for."""
    if checks.empty:
        return None
    keys = ("run_id", "label", "device", "dtype")
    mine = checks[np.logical_and.reduce([checks[k] == row[k] for k in keys])]
    return mine.iloc[0] if not mine.empty else None


def _figures(pred: pd.Series, check: pd.Series | None) -> tuple[Figure, Figure, float, float]:
    """Time and memory of one method at the target: measured where measured, else extrapolated."""
    time_measured = check is not None and np.isfinite(check["measured_time_s"])
    peak_measured = check is not None and np.isfinite(check["measured_peak_bytes"])
    interval = f"90% interval {format_time(pred['time_low'])} – {format_time(pred['time_high'])}"
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


def _streamed_rows(analysis: Analysis, device: str) -> list[pd.Series]:
    cases = analysis.cases
    if cases.empty or "headline_dydx_seconds" not in cases:
        return []
    measured = cases[cases["headline_dydx_seconds"].notna() & (cases["device"] == device)]
    return [row for _, row in measured.iterrows()]


def sweep_extrapolation(predictions: pd.DataFrame, headline_case: pd.Series) -> pd.Series | None:
    """The sweep's extrapolation of the streamed method for a headline run's measured case: the
    ``streamed-torch`` prediction of another run on the same device (a headline run sweeps no
    axis, so it extrapolates nothing itself)."""
    if predictions.empty:
        return None
    others = predictions[
        (predictions["label"] == "streamed-torch")
        & (predictions["device"] == headline_case["device"])
        & (predictions["run_id"] != headline_case["run_id"])
    ]
    others = others[np.isfinite(others["time_value"].astype(float))]
    return others.iloc[0] if not others.empty else None


def summary(analysis: Analysis) -> Summary:
    """The first screen: per device, the formula's and the explicit method's time and memory at
    the target (measured where measured, else extrapolated), the streamed dY/dX where a headline
    run measured it, the ratios to the formula, and every measured-vs-extrapolated error."""
    n, d, m = analysis.target
    dydx, dydw = jacobian_bytes(n, d, m, "float32")
    preds, checks = analysis.predictions, analysis.checks
    if not preds.empty:
        preds = preds[np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])]
    devices = []
    for device in sorted(preds["device"].unique()) if not preds.empty else []:
        formula = _pick(preds, "formula", device)
        if formula is None:
            continue
        f_time, f_memory, f_seconds, f_peak = _figures(formula, _checked(checks, formula))
        rows = [SummaryRow("formula", str(formula["label"]), f_time, f_memory, "", "")]
        note = None
        explicit = _pick(preds, "explicit", device)
        if explicit is not None:
            x_time, x_memory, x_seconds, x_peak = _figures(explicit, _checked(checks, explicit))
            role = "explicit Jacobians (dense)"
            rows.append(
                SummaryRow(
                    role,
                    str(explicit["label"]),
                    x_time,
                    x_memory,
                    _ratio(x_seconds, f_seconds),
                    _ratio(x_peak, f_peak),
                )
            )
            limit = explicit["device_memory_bytes"]
            if limit and not explicit["fits_device"]:
                note = (
                    f"{explicit['over_by']:,.0f}× more memory than this {device} has ({format_size(limit)})"
                )
        for case in _streamed_rows(analysis, device):
            estimate = bool(case["headline_dydw_is_estimate"])
            detail = f"dY/dX {format_time(case['headline_dydx_seconds'])}, dY/dW " + (
                f"{format_time(case['headline_dydw_seconds'])} estimated from "
                f"{case['headline_dydw_fraction_measured']:.2%} of its tiles"
                if estimate
                else f"{format_time(case['headline_dydw_seconds'])}"
            )
            rows.append(
                SummaryRow(
                    "explicit, streamed tile by tile (headline run)",
                    str(case["label"]),
                    Figure(format_time(case["time_median_s"]), MEASURED, detail),
                    Figure(format_size(case["peak_bytes"]), MEASURED),
                    _ratio(case["time_median_s"], f_seconds),
                    _ratio(case["peak_bytes"], f_peak),
                )
            )
        devices.append(DeviceSummary(str(device), rows, note))
    return Summary(
        target=analysis.target,
        dydx=format_bytes(dydx),
        dydw=format_bytes(dydw),
        devices=devices,
        checks=_checks(analysis),
    )


def _check(method: str, device: str, measured: float, value: float, low: float, high: float) -> Check:
    return Check(
        method=method,
        device=device,
        measured=format_time(measured),
        extrapolated=format_time(value),
        interval=f"{format_time(low)} – {format_time(high)}",
        error=signed_percent((value - measured) / measured),
        in_interval=bool(low <= measured <= high),
    )


def _checks(analysis: Analysis) -> list[Check]:
    """Every method timed at the target with an extrapolation beside it: the suite's honesty figure."""
    out = []
    checks = analysis.checks
    if not checks.empty:
        timed = checks[
            np.isfinite(checks["measured_time_s"].astype(float)) & np.isfinite(checks["time_value"])
        ]
        for _, row in timed.iterrows():
            out.append(
                _check(
                    str(row["label"]),
                    str(row["device"]),
                    row["measured_time_s"],
                    row["time_value"],
                    row["time_low"],
                    row["time_high"],
                )
            )
    for device in sorted(analysis.cases["device"].unique()) if not analysis.cases.empty else []:
        for case in _streamed_rows(analysis, device):
            pred = sweep_extrapolation(analysis.predictions, case)
            if pred is not None:
                out.append(
                    _check(
                        f"{case['label']} (headline run)",
                        str(device),
                        case["time_median_s"],
                        pred["time_value"],
                        pred["time_low"],
                        pred["time_high"],
                    )
                )
    return out
