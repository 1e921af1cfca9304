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

from analysis.floors import Floor, device_roofs, formula_floor, jacobian_floor
from analysis.report.first_screen_checks import cache_warnings, checks, coverage
from analysis.report.first_screen_records import EXTRAPOLATED, MEASURED, Bound, DeviceSummary, Summary
from analysis.report.first_screen_rows import Shown, headline_cases, headline_row, method_row, pick, ratio
from analysis.report.formatting import format_size, format_time
from analysis.report.study import Analysis
from bench.costs import jacobian_bytes
from bench.units import format_bytes

FORMULA = "formula"
WARM_FORMULA = "formula, into reused results (warm, out=)"
DENSE = "explicit Jacobians (dense)"
FASTEST = "explicit, fastest of the sweep"


@dataclass(frozen=True)
class Floors:
    """A device's floors at the target: the formula's, the dense Jacobians' (out of cache) and the
    streamed ones' (in cache)."""

    formula: Floor | None
    dense: Floor | None
    streamed: Floor | None

    def lowest_explicit(self) -> Floor | None:
        floors = [f for f in (self.dense, self.streamed) if f is not None]
        return min(floors, key=lambda f: f.seconds) if floors else None


def _floors(analysis: Analysis, device: str) -> Floors:
    roofs = device_roofs([run.meta for run in analysis.runs], device)
    n, d, m = analysis.target
    return Floors(
        formula_floor(roofs, n, d, m, "float32"),
        jacobian_floor(roofs, n, d, m, "float32", in_cache=False),
        jacobian_floor(roofs, n, d, m, "float32", in_cache=True),
    )


def _fastest_explicit(predictions: pd.DataFrame, device: str) -> pd.Series | None:
    """The sweep's fastest extrapolation at the target of any explicit method (dense or streamed)."""
    rows = predictions[
        predictions["family"].isin(["explicit", "streamed"]) & (predictions["device"] == device)
    ]
    rows = rows[np.isfinite(rows["time_value"].astype(float))]
    return rows.loc[rows["time_value"].astype(float).idxmin()] if not rows.empty else None


def _formula_rows(analysis: Analysis, preds: pd.DataFrame, device: str, floor: Floor | None) -> list[Shown]:
    """The formula's row (the variant that allocates its results) and, where the sweep has one,
    its warm variant's; empty where the device has no formula to compare against."""
    cold = pick(preds, "formula", device, warm=False)
    if cold is None:
        return []
    rows = [method_row(analysis, FORMULA, cold, floor)]
    warm = pick(preds, "formula", device)
    if warm is not None and warm["label"] != cold["label"]:
        rows.append(method_row(analysis, WARM_FORMULA, warm, floor, rows[0]))
    return rows


def _explicit_rows(
    analysis: Analysis, preds: pd.DataFrame, device: str, floors: Floors, formula: Shown
) -> tuple[list[Shown], list[Shown]]:
    """The explicit rows: the dense method's and every headline run's streamed pass (the rows a
    measured ratio may use), then the sweep's fastest explicit method where no headline run
    measured one and the dense row is not already it."""
    dense = pick(preds, "explicit", device)
    compared = [method_row(analysis, DENSE, dense, floors.dense, formula)] if dense is not None else []
    headline = [headline_row(case, floors.streamed, formula) for case in headline_cases(analysis, device)]
    best = _fastest_explicit(preds, device)
    if headline or best is None or (dense is not None and best["label"] == dense["label"]):
        return compared + headline, []
    floor = floors.streamed if best["family"] == "streamed" else floors.dense
    return compared + headline, [method_row(analysis, FASTEST, best, floor, formula)]


def _memory_note(preds: pd.DataFrame, device: str) -> str | None:
    """How far the dense explicit method overflows the device, when it does."""
    explicit = pick(preds, "explicit", device)
    if explicit is None:
        return None
    limit = explicit["device_memory_bytes"]
    if limit and not explicit["fits_device"]:
        return f"{explicit['over_by']:,.0f}× more memory than this {device} has ({format_size(limit)})"
    return None


def _measured_ratio(formula: Shown, explicit: list[Shown]) -> str:
    """The fastest explicit time measured at the target ÷ the formula's, where both were measured."""
    formula_s = formula.seconds if formula.row.time.source == MEASURED else np.nan
    by_name = {s.name: s.seconds if s.row.time.source == MEASURED else np.nan for s in explicit}
    measured = [v for v in by_name.values() if np.isfinite(v)]
    return ratio(min(measured), formula_s) if measured and np.isfinite(formula_s) else ""


def _bound(lowest: Floor | None, formula: list[Shown], explicit: list[Shown]) -> Bound | None:
    """The lowest explicit floor over the fastest formula time shown (measured ones only, where
    any was measured), and whether any explicit figure shown beats that floor."""
    measured = [s.seconds for s in formula if s.row.time.source == MEASURED]
    times = [v for v in (measured or [s.seconds for s in formula]) if np.isfinite(v)]
    if lowest is None or not times:
        return None
    shown = {s.name: s.model for s in explicit}
    beaten = [name for name, seconds in shown.items() if seconds < lowest.seconds]
    return Bound(
        floor=format_time(lowest.seconds),
        bound=lowest.bound,
        ratio=ratio(lowest.seconds, min(times)),
        formula=MEASURED if measured else EXTRAPOLATED,
        unbeatable=lowest.lowest and not beaten,
        beaten_by=", ".join(beaten),
    )


def _device_summary(analysis: Analysis, preds: pd.DataFrame, device: str) -> DeviceSummary | None:
    """One device's rows, ratios and bound; None where the sweep extrapolated no formula there."""
    floors = _floors(analysis, device)
    formula = _formula_rows(analysis, preds, device, floors.formula)
    if not formula:
        return None
    compared, fastest = _explicit_rows(analysis, preds, device, floors, formula[0])
    lowest = floors.lowest_explicit()
    return DeviceSummary(
        device,
        [s.row for s in formula + compared + fastest],
        _memory_note(preds, device),
        floor_ratio=ratio(lowest.seconds, floors.formula.seconds) if lowest and floors.formula else "",
        measured_ratio=_measured_ratio(formula[0], compared),
        bound=_bound(lowest, formula, compared + fastest),
    )


def summary(analysis: Analysis) -> Summary:
    """The first screen: per device, the formula's (cold and warm) and the explicit method's time
    and memory at the target (measured where measured, else extrapolated), the streamed passes
    where a headline run measured them, each beside its physical floor, the ratios to the
    formula, that ratio at the floors, and every measured-vs-extrapolated error."""
    n, d, m = analysis.target
    dydx, dydw = jacobian_bytes(n, d, m, "float32")
    preds = analysis.predictions
    if not preds.empty:
        preds = preds[np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])]
    devices = (
        [_device_summary(analysis, preds, str(dev)) for dev in sorted(preds["device"].unique())]
        if not preds.empty
        else []
    )
    checked = checks(analysis)
    return Summary(
        target=analysis.target,
        dydx=format_bytes(dydx),
        dydw=format_bytes(dydw),
        devices=[device for device in devices if device is not None],
        checks=checked,
        coverage=coverage(checked),
        cache_warnings=cache_warnings(analysis),
    )
