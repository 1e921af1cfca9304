"""The first screen's honesty figures: every time measured at the target beside the extrapolation
of it (:func:`analysis.extrapolate.measured_vs_extrapolated`), how many fell inside their 90%
interval, and the bytes-bound methods whose extrapolation rests on in-cache cases only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.extrapolate import inside
from analysis.report.first_screen_records import Check
from analysis.report.first_screen_rows import headline_cases
from analysis.report.formatting import format_size, format_time
from analysis.report.study import Analysis
from bench.costs import time_driver


def signed_percent(fraction: float) -> str:
    """``-0.43`` → ``"-43%"``; an error that rounds to nothing reads ``"0%"``, never ``"-0%"``."""
    text = f"{fraction:+.0%}"
    return "0%" if text in ("+0%", "-0%") else text


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


def _check(method: str, device: str, measured: float, pred: pd.Series, nofresh: float = np.nan) -> Check:
    """``pred``'s extrapolation (``time_value`` in ``time_low`` – ``time_high``) against ``measured``."""
    value, low, high = pred["time_value"], pred["time_low"], pred["time_high"]
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


def checks(analysis: Analysis) -> list[Check]:
    """Every method timed at the target with an extrapolation beside it: the suite's honesty figure."""
    out = []
    table = analysis.checks
    if not table.empty:
        timed = table[np.isfinite(table["measured_time_s"].astype(float)) & np.isfinite(table["time_value"])]
        for _, row in timed.iterrows():
            nofresh = float(row.get("time_nofresh_value", np.nan))
            out.append(_check(str(row["label"]), str(row["device"]), row["measured_time_s"], row, nofresh))
    for device in sorted(analysis.cases["device"].unique()) if not analysis.cases.empty else []:
        for case in headline_cases(analysis, device):
            pred = sweep_extrapolation(analysis.predictions, case)
            if pred is not None:
                out.append(
                    _check(f"{case['label']} (headline run)", str(device), case["time_median_s"], pred)
                )
    return out


def coverage(checked: list[Check]) -> str:
    """ "6 of 7 measurements at the target inside their 90% interval" ("" where none was measured)."""
    if not checked:
        return ""
    hits = sum(check.in_interval for check in checked)
    return f"{hits} of {len(checked)} measurements at the target inside their 90% interval"


def cache_warnings(analysis: Analysis) -> list[str]:
    """One line per run: the bytes-bound methods whose time fit had no case out of the last-level
    cache, so that their extrapolation extends the in-cache regime to a target far out of it."""
    preds = analysis.predictions
    if preds.empty or "time_out_of_cache" not in preds:
        return []
    bound = preds[preds["family"].map(time_driver) == "bytes_moved"]
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
