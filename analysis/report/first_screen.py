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

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.extrapolate import inside
from analysis.floors import Floor, device_roofs, formula_floor, fraction, jacobian_floor
from analysis.report.formatting import format_size, format_time
from analysis.report.study import Analysis
from bench.costs import TIME_DRIVER, jacobian_bytes
from bench.units import format_bytes


def _pick(predictions: pd.DataFrame, family: str, device: str, warm: bool = True) -> pd.Series | None:
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


# --- the first screen's summary ----------------------------------------------------------------

MEASURED = "measured"
EXTRAPOLATED = "extrapolated"
ESTIMATED = "estimated"
"""A headline figure scaled up from a measured sample (``--dw sample``): never shown as measured."""
MODEL_FAILURE = "model failure"
"""An extrapolation below its physical floor: the cost model failed there; shown clipped to the
floor and flagged, never as a figure the machine could reach."""


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
    floor: str = ""
    """The least time any implementation of this kind could take here (:mod:`analysis.floors`)."""
    of_floor: str = ""
    """floor ÷ this row's time: how close to the machine's limit the figure is."""
    floor_detail: str = ""


@dataclass(frozen=True)
class DeviceSummary:
    device: str
    rows: list[SummaryRow]
    memory_note: str | None
    """How far the dense explicit method overflows the device, when it does."""
    floor_ratio: str = ""
    """The lowest explicit floor ÷ the formula's floor: only what would hold if both ran at
    their floors (the formula itself runs well above its own)."""
    measured_ratio: str = ""
    """The fastest explicit figure measured at the target ÷ the formula's, where both were measured."""
    bound: Bound | None = None
    """What no explicit implementation can beat here, against the fastest formula time."""


@dataclass(frozen=True)
class Bound:
    """The lowest explicit floor of a device over the fastest formula time shown."""

    floor: str
    """The lowest explicit floor, formatted."""
    bound: str
    """What sets it, e.g. "Jacobian bytes ÷ L1 copy roof (990.0 GB/s)"."""
    ratio: str
    """The floor ÷ the fastest formula time: what no explicit implementation can beat."""
    formula: str
    """Whether that formula time was measured or extrapolated at the target."""
    unbeatable: bool
    """Whether the page may say no implementation here could beat it: its roofs (the L1 copy)
    were measured in the runs shown and no explicit figure shown is faster than the floor."""
    beaten_by: str = ""
    """The explicit figure on the page faster than the floor, if any (its roof read too low)."""


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
    error_without_fresh: str = ""
    """The same extrapolation's error without the cost model's fresh-byte term ("" where the
    term changes nothing, or for a headline run's streamed pass)."""


@dataclass(frozen=True)
class Summary:
    target: tuple[int, int, int]
    dydx: str
    dydw: str
    devices: list[DeviceSummary]
    checks: list[Check]
    coverage: str = ""
    """ "6 of 7 measurements at the target inside their 90% interval" ("" where none was measured)."""
    cache_warnings: list[str] = field(default_factory=list)
    """Bytes-bound methods whose time fit saw no case out of the last-level cache."""


def signed_percent(fraction: float) -> str:
    """``-0.43`` → ``"-43%"``; an error that rounds to nothing reads ``"0%"``, never ``"-0%"``."""
    text = f"{fraction:+.0%}"
    return "0%" if text in ("+0%", "-0%") else text


def _ratio(a: float, b: float) -> str:
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
    pred: pd.Series, check: pd.Series | None, holdouts: pd.DataFrame | None = None
) -> tuple[Figure, Figure, float, float]:
    """Time and memory of one method at the target: measured where measured, else extrapolated."""
    time_measured = check is not None and np.isfinite(check["measured_time_s"])
    peak_measured = check is not None and np.isfinite(check["measured_peak_bytes"])
    interval = _interval(pred, holdouts if holdouts is not None else pd.DataFrame())
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
    same method's prediction from another run on the same device (a headline run sweeps no
    axis, so it extrapolates nothing itself)."""
    if predictions.empty:
        return None
    others = predictions[
        (predictions["label"] == headline_case["label"])
        & (predictions["device"] == headline_case["device"])
        & (predictions["run_id"] != headline_case["run_id"])
    ]
    others = others[np.isfinite(others["time_value"].astype(float))]
    return others.iloc[0] if not others.empty else None


def _floored(row: SummaryRow, floor: Floor | None, seconds: float) -> SummaryRow:
    if floor is None:
        return row
    detail = "; ".join(x for x in (floor.bound, floor.detail) if x)
    share = fraction(floor, seconds) if row.time.source != MODEL_FAILURE else "below the floor: model failure"
    return replace(row, floor=format_time(floor.seconds), of_floor=share, floor_detail=detail)


def _streamed_row(case: pd.Series, f_seconds: float, f_peak: float) -> SummaryRow:
    """A headline run's streamed pass: measured, or estimated where dY/dW was sampled."""
    estimate = bool(case["headline_dydw_is_estimate"])
    detail = f"dY/dX {format_time(case['headline_dydx_seconds'])}, dY/dW " + (
        f"{format_time(case['headline_dydw_seconds'])} estimated from "
        f"{case['headline_dydw_fraction_measured']:.2%} of its parts"
        if estimate
        else f"{format_time(case['headline_dydw_seconds'])}, both in full"
    )
    return SummaryRow(
        "explicit, streamed tile by tile (headline run)",
        str(case["label"]),
        Figure(format_time(case["time_median_s"]), ESTIMATED if estimate else MEASURED, detail),
        Figure(format_size(case["peak_bytes"]), MEASURED),
        _ratio(case["time_median_s"], f_seconds),
        _ratio(case["peak_bytes"], f_peak),
    )


def _measured_seconds(row: SummaryRow, seconds: float) -> float:
    return seconds if row.time.source == MEASURED else np.nan


def _formula_times(rows: list[SummaryRow], seconds: dict[str, float]) -> tuple[dict[str, float], bool]:
    """The formula rows' times, the measured ones only where any was measured, and whether any was."""
    sources = {"formula": rows[0].time.source} | ({"warm": rows[1].time.source} if "warm" in seconds else {})
    measured = {k: v for k, v in seconds.items() if sources[k] == MEASURED}
    return (measured, True) if measured else (seconds, False)


def _fastest_explicit(predictions: pd.DataFrame, device: str) -> pd.Series | None:
    """The sweep's fastest extrapolation at the target of any explicit method (dense or streamed)."""
    rows = predictions[
        predictions["family"].isin(["explicit", "streamed"]) & (predictions["device"] == device)
    ]
    rows = rows[np.isfinite(rows["time_value"].astype(float))]
    return rows.loc[rows["time_value"].astype(float).idxmin()] if not rows.empty else None


def _bound(
    lowest: Floor | None, formula: tuple[dict[str, float], bool], explicit: dict[str, float]
) -> Bound | None:
    """The lowest explicit floor over the fastest formula time (``formula``: the times, and
    whether they were measured), and whether any explicit figure shown beats that floor."""
    times = [v for v in formula[0].values() if np.isfinite(v)]
    if lowest is None or not times:
        return None
    beaten = [label for label, seconds in explicit.items() if seconds < lowest.seconds]
    return Bound(
        floor=format_time(lowest.seconds),
        bound=lowest.bound,
        ratio=_ratio(lowest.seconds, min(times)),
        formula=MEASURED if formula[1] else EXTRAPOLATED,
        unbeatable=lowest.lowest and not beaten,
        beaten_by=", ".join(beaten),
    )


def summary(analysis: Analysis) -> Summary:
    """The first screen: per device, the formula's (cold and warm) and the explicit method's time
    and memory at the target (measured where measured, else extrapolated), the streamed passes
    where a headline run measured them, each beside its physical floor, the ratios to the
    formula, that ratio at the floors, and every measured-vs-extrapolated error."""
    n, d, m = analysis.target
    dydx, dydw = jacobian_bytes(n, d, m, "float32")
    preds, checks = analysis.predictions, analysis.checks
    if not preds.empty:
        preds = preds[np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])]
    metas = [run.meta for run in analysis.runs]
    devices = []
    for device in sorted(preds["device"].unique()) if not preds.empty else []:
        formula = _pick(preds, "formula", device, warm=False)
        if formula is None:
            continue
        roofs = device_roofs(metas, str(device))
        f_floor = formula_floor(roofs, n, d, m, "float32")
        hold = analysis.holdouts
        f_time, f_memory, f_seconds, f_peak = _figures(formula, _checked(checks, formula), hold)
        f_time, f_seconds = _clipped(f_time, f_seconds, f_floor)
        first = SummaryRow("formula", str(formula["label"]), f_time, f_memory, "", "")
        rows = [_floored(first, f_floor, f_seconds)]
        measured = {"formula": _measured_seconds(first, f_seconds)}
        warm = _pick(preds, "formula", device)
        warm_shown, w_seconds = False, np.nan
        if warm is not None and warm["label"] != formula["label"]:
            warm_shown = True
            w_time, w_memory, w_seconds, w_peak = _figures(warm, _checked(checks, warm), hold)
            w_time, w_seconds = _clipped(w_time, w_seconds, f_floor)
            row = SummaryRow(
                "formula, into reused results (warm, out=)",
                str(warm["label"]),
                w_time,
                w_memory,
                _ratio(w_seconds, f_seconds),
                _ratio(w_peak, f_peak),
            )
            rows.append(_floored(row, f_floor, w_seconds))
        note = None
        dense_floor = jacobian_floor(roofs, n, d, m, "float32", in_cache=False)
        explicit = _pick(preds, "explicit", device)
        if explicit is not None:
            x_time, x_memory, x_seconds, x_peak = _figures(explicit, _checked(checks, explicit), hold)
            x_raw = x_seconds  # the model's own figure: a floor it undercuts is never called unbeatable
            x_time, x_seconds = _clipped(x_time, x_seconds, dense_floor)
            row = SummaryRow(
                "explicit Jacobians (dense)",
                str(explicit["label"]),
                x_time,
                x_memory,
                _ratio(x_seconds, f_seconds),
                _ratio(x_peak, f_peak),
            )
            rows.append(_floored(row, dense_floor, x_seconds))
            measured["dense"] = _measured_seconds(row, x_seconds)
            limit = explicit["device_memory_bytes"]
            if limit and not explicit["fits_device"]:
                note = (
                    f"{explicit['over_by']:,.0f}× more memory than this {device} has ({format_size(limit)})"
                )
        streamed_floor = jacobian_floor(roofs, n, d, m, "float32", in_cache=True)
        floors = [f for f in (dense_floor, streamed_floor) if f is not None]
        shown = {str(explicit["label"]): x_raw} if explicit is not None else {}
        headline = _streamed_rows(analysis, device)
        for case in headline:
            row = _streamed_row(case, f_seconds, f_peak)
            rows.append(_floored(row, streamed_floor, float(case["time_median_s"])))
            measured[str(case["label"])] = _measured_seconds(row, float(case["time_median_s"]))
            shown[f"{case['label']} (headline)"] = float(case["time_median_s"])
        best = _fastest_explicit(preds, str(device))
        if not headline and best is not None and (explicit is None or best["label"] != explicit["label"]):
            b_time, b_memory, b_seconds, b_peak = _figures(best, _checked(checks, best), hold)
            b_floor = streamed_floor if best["family"] == "streamed" else dense_floor
            shown[str(best["label"])] = b_seconds
            b_time, b_seconds = _clipped(b_time, b_seconds, b_floor)
            row = SummaryRow(
                "explicit, fastest of the sweep",
                str(best["label"]),
                b_time,
                b_memory,
                _ratio(b_seconds, f_seconds),
                _ratio(b_peak, f_peak),
            )
            rows.append(_floored(row, b_floor, b_seconds))
        best_floor = min(floors, key=lambda f: f.seconds) if floors else None
        explicit_measured = [
            v for k, v in measured.items() if k not in ("formula", "warm") and np.isfinite(v)
        ]
        formula_times = {"formula": f_seconds} | ({"warm": w_seconds} if warm_shown else {})
        devices.append(
            DeviceSummary(
                str(device),
                rows,
                note,
                floor_ratio=_ratio(best_floor.seconds, f_floor.seconds) if best_floor and f_floor else "",
                measured_ratio=_ratio(min(explicit_measured), measured["formula"])
                if explicit_measured and np.isfinite(measured["formula"])
                else "",
                bound=_bound(best_floor, _formula_times(rows, formula_times), shown),
            )
        )
    checked = _checks(analysis)
    inside = sum(check.in_interval for check in checked)
    return Summary(
        target=analysis.target,
        dydx=format_bytes(dydx),
        dydw=format_bytes(dydw),
        devices=devices,
        checks=checked,
        coverage=f"{inside} of {len(checked)} measurements at the target inside their 90% interval"
        if checked
        else "",
        cache_warnings=_cache_warnings(analysis),
    )


def _cache_warnings(analysis: Analysis) -> list[str]:
    """One line per run: the bytes-bound methods whose time fit had no case out of the last-level
    cache, so that their extrapolation extends the in-cache regime to a target far out of it."""
    preds = analysis.predictions
    if preds.empty or "time_out_of_cache" not in preds:
        return []
    bound = preds[preds["family"].map(TIME_DRIVER) == "bytes_moved"]
    bound = bound[np.isfinite(bound["time_value"].astype(float)) & (bound["time_out_of_cache"] == 0)]
    caches = {run.run_id: run.meta.get("machine", {}).get("llc_bytes") for run in analysis.runs}
    out = []
    for run, group in bound.groupby("run_id"):
        cache = caches.get(run)
        size = format_size(cache) if cache else "an unknown"
        out.append(
            f"{run}: {', '.join(group['label'])} had no timed case out of the {size} last-level cache "
            "(predicted peak ≥ twice the cache); their time at the target extends an in-cache rate"
        )
    return out


def _check(
    method: str,
    device: str,
    measured: float,
    value: float,
    low: float,
    high: float,
    nofresh: float = np.nan,
) -> Check:
    error = signed_percent((value - measured) / measured)
    before = signed_percent((nofresh - measured) / measured) if np.isfinite(nofresh) else ""
    return Check(
        method=method,
        device=device,
        measured=format_time(measured),
        extrapolated=format_time(value),
        interval=f"{format_time(low)} – {format_time(high)}",
        error=error,
        in_interval=inside(measured, low, high),
        error_without_fresh=before if before != error else "",
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
                    float(row.get("time_nofresh_value", np.nan)),
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
