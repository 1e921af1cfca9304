"""Extrapolation to a target (N, D, M), default N=64, D=M=4096 in float32, and its hold-out check.

For each method and device, the cost-model fits of :mod:`analysis.fits` are evaluated at the
target's exact byte and FLOP counts. Hold-out validation refits without the largest measured
size of each axis, predicts that size, and reports the relative error, which is how far the same
kind of extrapolation was off on sizes we could measure.

The interval is a prediction interval calibrated on those hold-outs, not only the fit's own
spread: a bootstrap of the fit says how well the points pin the coefficients, never how wrong
the model is past them (at 9d5aa33 the bootstrap's "90%" interval held 2 of 6 measurements at
the target in a quick run and 0 of 7 in a default one). Each hold-out's |log error| is divided by
the square root of how many doublings it extrapolated (its cost driver over the largest one
trained on, at least one doubling): errors that add up independently from one doubling to the
next grow so. The 90th percentile of that over the run's hold-outs of the same metric and cost
driver (bytes-bound and FLOP-bound methods apart), times the square root of the target's own
doublings, is the interval's half-width in log space (:func:`calibrate`). The interval shown is
the wider of that and the bootstrap's 5th–95th percentile; the first screen states how many
measurements at the target it held.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.fits import (
    GROUP,
    MEMORY_FEATURES,
    TIME_FEATURES,
    TIME_FEATURES_WITHOUT_FRESH,
    axis_points,
    bootstrap_predictions,
    fit_nonnegative,
    large_regime,
)
from bench.cases import Case
from bench.costs import roof, time_driver
from bench.profiles import TARGET

HEADLINE = TARGET
MIN_POINTS = 4
"""Fewest measured points a method needs before its cost model is fitted (3 coefficients + 1)."""
MIN_FIT_SECONDS = 1e-3
"""Shortest median time a FLOP-bound method's case needs to train a time fit, when at least
:data:`MIN_POINTS` cases reach it. In the committed quick run (tests/data/quick-cpu), all under
a millisecond, formula-torch ran at 2-84% of its GEMM roof between 8 and 88 µs: fixed costs and
small-matrix inefficiency, which shrink with size, set the time, and the hold-out of a fit to
them was off by up to 41% (formula-torch), 57% (formula-numpy) and 28% (autograd-torch)."""

COVERAGE = 0.90
"""The share of hold-out errors a calibrated interval's half-width covers."""
MIN_DISTANCE = float(np.log(2.0))
"""The least distance an extrapolation counts as (one doubling): a hold-out inside the trained
range still measures the model's error, and a rate over a near-zero distance would explode."""

BASIS_SLOW = "cases ≥ 1 ms"
BASIS_OUT_OF_CACHE = "out-of-cache cases"
BASIS_LARGER_HALF = "larger half of cases"
BASIS_OVERHEAD = "larger half of cases, fewer than 4 reach 1 ms (overhead-bound)"
"""What a fit was trained on (the ``basis`` columns): the regime its extrapolation extends."""


def _at_point(frame: pd.DataFrame, point: tuple[int, int, int]) -> pd.Series:
    return (frame["n"] == point[0]) & (frame["d"] == point[1]) & (frame["m"] == point[2])


def target_row(label_row: pd.Series, target: tuple[int, int, int], dtype: str) -> pd.DataFrame:
    case = Case(label_row["method"], label_row["variant"], label_row["device"], dtype, *target)
    return pd.DataFrame([case.params() | case.predicted()])


def _driver(metric: str, family: str) -> str:
    return time_driver(family) if metric == "time" else "predicted_peak_bytes"


SPECS = (("time", "time_median_s", TIME_FEATURES), ("memory", "peak_bytes", MEMORY_FEATURES))


def training_rows(frame: pd.DataFrame, metric: str, column: str, cache_bytes: int | None) -> pd.DataFrame:
    """The measured rows a fit uses: the large regime of the method's points.

    For the Jacobian families' time, that is the cases whose Jacobian is at least twice the
    last-level cache (``cache_bytes``), when there are enough of them: in cache, they stream at
    about twice DRAM speed, and every extrapolation target lies far out of cache. For the
    FLOP-bound families' time, it is the cases of at least :data:`MIN_FIT_SECONDS`, when there
    are enough of them (see the module's docstring). Otherwise the larger half by cost driver.
    """
    return training_basis(frame, metric, column, cache_bytes)[0]


def training_basis(
    frame: pd.DataFrame, metric: str, column: str, cache_bytes: int | None
) -> tuple[pd.DataFrame, str]:
    """:func:`training_rows` and what they are (one of the ``BASIS_*`` labels)."""
    usable = frame[frame[column].notna() & (frame[column] > 0)].astype({column: float})
    if len(usable) < MIN_POINTS:
        return usable.iloc[0:0], ""
    family = usable["family"].iloc[0]
    if metric == "time" and roof(family) == "copy" and cache_bytes:
        out_of_cache = usable[usable["predicted_peak_bytes"] >= 2 * cache_bytes]
        if len(out_of_cache) >= MIN_POINTS:
            return out_of_cache, BASIS_OUT_OF_CACHE
    if metric == "time" and roof(family) == "gemm":
        slow = usable[usable[column] >= MIN_FIT_SECONDS]
        if len(slow) >= MIN_POINTS:
            return slow, BASIS_SLOW
        return large_regime(usable, _driver(metric, family), MIN_POINTS), BASIS_OVERHEAD
    return large_regime(usable, _driver(metric, family), MIN_POINTS), BASIS_LARGER_HALF


def _in_regime(case: pd.Series, basis: str, column: str, cache_bytes: int | None) -> bool:
    """Whether a measured case lies in the regime a fit of this ``basis`` describes."""
    if basis == BASIS_SLOW:
        return float(case[column]) >= MIN_FIT_SECONDS
    if basis == BASIS_OUT_OF_CACHE and cache_bytes:
        return float(case["predicted_peak_bytes"]) >= 2 * cache_bytes
    return True


def _distance(point: pd.DataFrame, trained: pd.DataFrame, driver: str) -> float:
    """How far a prediction extrapolates: log(its cost driver ÷ the largest one trained on), at
    least :data:`MIN_DISTANCE`."""
    top = float(trained[driver].astype(float).max())
    here = float(point[driver].astype(float).iloc[0])
    if not (top > 0 and here > 0):
        return MIN_DISTANCE
    return max(float(np.log(here / top)), MIN_DISTANCE)


def _out_of_cache(trained: pd.DataFrame, cache_bytes: int | None) -> int:
    """How many training cases' predicted peak is at least twice the last-level cache."""
    if not cache_bytes:
        return 0
    return int((trained["predicted_peak_bytes"].astype(float) >= 2 * cache_bytes).sum())


def _doublings(distance: pd.Series | float) -> Any:
    return np.sqrt(np.maximum(distance, MIN_DISTANCE) / MIN_DISTANCE)


def _pool(metric: str, family: str) -> str:
    """Which hold-outs calibrate a fit: the metric's, and for time those of the same cost driver."""
    return f"time-{time_driver(family)}" if metric == "time" else metric


def calibrate(holdouts: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Per (run_id, pool of :func:`_pool`): the :data:`COVERAGE` quantile of the hold-outs' |log
    error| per square root of doublings (the module's docstring); no entry without hold-outs."""
    if holdouts.empty or "distance" not in holdouts:
        return {}
    ok = holdouts[(holdouts["measured"] > 0) & (holdouts["predicted"] > 0)]
    rate = np.abs(np.log(ok["predicted"] / ok["measured"])) / _doublings(ok["distance"])
    pools = [_pool(m, f) for m, f in zip(ok["metric"], ok["family"], strict=True)]
    return {
        (str(run), str(pool)): float(np.quantile(group, COVERAGE))
        for (run, pool), group in rate.groupby([ok["run_id"], pools])
    }


def _calibrated(fit: dict[str, Any], rate: float | None) -> dict[str, Any]:
    """``fit`` with its interval widened to the hold-outs' calibrated half-width, where wider."""
    if rate is None or not np.isfinite(fit["value"]) or fit["value"] <= 0:
        return fit | {"rate": np.nan}
    half = rate * _doublings(fit["distance"])
    low, high = fit["value"] * np.exp(-half), fit["value"] * np.exp(half)
    return fit | {"low": min(low, fit["boot_low"]), "high": max(high, fit["boot_high"]), "rate": rate}


def _fit_at(
    frame: pd.DataFrame, metric: str, target: str, at: pd.DataFrame, cache_bytes: int | None
) -> dict[str, Any]:
    features = {m: f for m, _, f in SPECS}[metric]
    usable, basis = training_basis(frame, metric, target, cache_bytes)
    if len(usable) < MIN_POINTS:
        empty = {"value": np.nan, "low": np.nan, "high": np.nan, "points": len(usable), "basis": basis}
        empty |= {"boot_low": np.nan, "boot_high": np.nan, "distance": np.nan, "out_of_cache": 0}
        return empty | ({"nofresh_value": np.nan} if metric == "time" else {})
    point = float(fit_nonnegative(usable, target, features).predict(at)[0])
    spread = bootstrap_predictions(usable, target, features, at)[:, 0]
    low, high = float(np.percentile(spread, 5)), float(np.percentile(spread, 95))
    result = {
        "value": point,
        "low": low,
        "high": high,
        "boot_low": low,
        "boot_high": high,
        "points": len(usable),
        "basis": basis,
        "distance": _distance(at, usable, _driver(metric, usable["family"].iloc[0])),
        "out_of_cache": _out_of_cache(usable, cache_bytes),
    }
    if metric == "time":  # the same fit without the fresh-byte term: what that term changes
        result["nofresh_value"] = float(
            fit_nonnegative(usable, target, TIME_FEATURES_WITHOUT_FRESH).predict(at)[0]
        )
    return result


def extrapolate(
    frame: pd.DataFrame,
    memory_limits: dict[tuple[str, str], int | None],
    cache_bytes: dict[str, int | None],
    target: tuple[int, int, int] = HEADLINE,
    dtype: str = "float32",
    holdouts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Predicted time and peak memory at ``target`` for every (run, method, device) with data.

    ``holdouts`` (:func:`holdout`'s frame for the same runs) calibrates each interval
    (:func:`calibrate`); without them the interval is the bootstrap's alone.

    ``memory_limits`` maps (run_id, device) to the bytes that device has (RAM or GPU memory),
    so each prediction says whether it fits and by what factor it does not; ``cache_bytes``
    maps run_id to its machine's last-level cache. Cases at ``target`` or at the profiles'
    :data:`TARGET` never train the fits: an extrapolation is from smaller sizes.
    """
    rows = []
    rates = calibrate(holdouts if holdouts is not None else pd.DataFrame())
    for key, group in frame[frame["dtype"] == dtype].groupby(GROUP):
        at = target_row(group.iloc[0], target, dtype)
        cache = cache_bytes.get(key[0])
        group = group[~_at_point(group, target) & ~_at_point(group, TARGET)]
        time = _fit_at(group, "time", "time_median_s", at, cache)
        time = _calibrated(time, rates.get((key[0], _pool("time", key[2]))))
        peak = _calibrated(_fit_at(group, "memory", "peak_bytes", at, cache), rates.get((key[0], "memory")))
        limit = memory_limits.get((key[0], key[3]))
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        row |= {"n": target[0], "d": target[1], "m": target[2]}
        row |= {f"time_{k}": v for k, v in time.items()}
        row |= {f"peak_{k}": v for k, v in peak.items()}
        row["predicted_peak_bytes"] = int(at["predicted_peak_bytes"].iloc[0])
        row["jacobian_dydx_bytes"] = int(at["jacobian_dydx_bytes"].iloc[0])
        row["jacobian_dydw_bytes"] = int(at["jacobian_dydw_bytes"].iloc[0])
        row["device_memory_bytes"] = limit
        need = peak["value"] if np.isfinite(peak["value"]) else row["predicted_peak_bytes"]
        row["fits_device"] = bool(limit is not None and need <= limit)
        row["over_by"] = need / limit if limit else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def holdout(
    frame: pd.DataFrame, axes: dict[str, list[list[int]]], cache_bytes: dict[str, int | None]
) -> pd.DataFrame:
    """Refit without the largest measured size on each axis; predict it; report the error.

    Only cases on the sweep's axes train or are held out (the target point is on none). The
    ``basis`` column says what the refit was trained on (see :func:`training_basis`). A held-out
    case outside that regime (under 1 ms for a fit to cases of 1 ms or more, in cache for a fit
    to out-of-cache cases) is not checked: predicting it would test the fit where it was never
    meant to hold, not the extrapolation it makes.
    """
    rows = []
    swept = {tuple(point) for points in axes.values() for point in points}
    for key, group in frame.groupby(GROUP):
        cache = cache_bytes.get(key[0])
        keys = zip(group["n"], group["d"], group["m"], strict=True)
        group = group[[k in swept for k in keys]]
        for axis in axes:
            for metric, column, features in SPECS:
                measured = group[group[column].notna()]
                on_axis = axis_points(measured, axes, axis)
                if len(on_axis) < 3:
                    continue
                largest = on_axis.iloc[[-1]]
                rest = measured[measured["case"] != largest["case"].iloc[0]]
                rest, basis = training_basis(rest, metric, column, cache)
                if len(rest) < MIN_POINTS or not _in_regime(largest.iloc[0], basis, column, cache):
                    continue
                fit = fit_nonnegative(rest, column, features)
                predicted = float(fit.predict(largest)[0])
                driver = _driver(metric, key[2])
                actual = float(largest[column].iloc[0])
                rows.append(
                    dict(zip(GROUP, key, strict=True))
                    | {
                        "axis": axis,
                        "metric": metric,
                        "held_out": largest["case"].iloc[0],
                        "size": int(largest["size"].iloc[0]),
                        "measured": actual,
                        "predicted": predicted,
                        "error": (predicted - actual) / actual,
                        "basis": basis,
                        "distance": _distance(largest, rest, driver),
                    }
                )
    return pd.DataFrame(rows)


MEASURED_VS_EXTRAPOLATED_COLUMNS = (
    *GROUP,
    "n", "d", "m",
    "measured_status", "measured_reason", "measured_time_s", "measured_peak_bytes",
    "time_value", "time_low", "time_high", "time_points", "time_basis",
    "peak_value", "peak_low", "peak_high", "peak_points",
    "time_error", "peak_error", "time_in_interval", "peak_in_interval",
    "time_nofresh_value", "time_error_nofresh",
    "time_boot_low", "time_boot_high", "time_rate", "time_distance", "time_out_of_cache",
)  # fmt: skip

NOT_IN_RUN = "not in run"


def measured_vs_extrapolated(
    frame: pd.DataFrame,
    cache_bytes: dict[str, int | None],
    target: tuple[int, int, int] = HEADLINE,
    dtype: str = "float32",
    memory_limits: dict[tuple[str, str], int | None] | None = None,
    predictions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per (run, method, device): the case measured at ``target`` beside its extrapolation.

    ``predictions``: :func:`extrapolate`'s frame for the same arguments, when the caller has it
    (its bootstrap is most of a report's time); computed here otherwise.

    Why: a hold-out checks an extrapolation one step past the sweep; this checks it at the size
    the suite is about, wherever that size could be measured, so the error between the two is
    the suite's honesty figure. Where the target was not measured, the row says why.

    One row per (run_id, label, family, device, dtype) with measured data in ``dtype``. Columns:

    - ``run_id``, ``label``, ``family``, ``device``, ``dtype``, ``n``, ``d``, ``m``: what and where;
    - ``measured_status``: ``ok`` (timed and/or peak measured), ``skipped`` or ``failed`` (as the
      run recorded it), ``missing`` (listed but never reached), or ``not in run`` (the run has no
      case at the target: a profile without it, or an older run);
    - ``measured_reason``: the skip or failure reason, as recorded ("" when measured);
    - ``measured_time_s``, ``measured_peak_bytes``: median time and peak at the target (NaN when
      not measured);
    - ``time_value``, ``time_low``, ``time_high``, ``time_points``, ``time_basis``, and
      ``peak_value``, ``peak_low``, ``peak_high``, ``peak_points``: the extrapolation from the
      smaller sizes (:func:`extrapolate`: point, 90% bootstrap interval, cases fitted, the regime
      they came from);
    - ``time_error``, ``peak_error``: (extrapolated − measured) / measured, NaN where either is
      missing;
    - ``time_nofresh_value``, ``time_error_nofresh``: the time fit without the fresh-byte term
      (``analysis.fits.TIME_FEATURES_WITHOUT_FRESH``) and its error: what that term changes;
    - ``time_in_interval``, ``peak_in_interval``: whether the measurement lies in the interval
      (False where either is missing).
    """
    preds = (
        predictions
        if predictions is not None
        else extrapolate(frame, memory_limits or {}, cache_bytes, target, dtype)
    )
    if preds.empty:
        return pd.DataFrame(columns=list(MEASURED_VS_EXTRAPOLATED_COLUMNS))
    at = frame[(frame["dtype"] == dtype) & _at_point(frame, target)]
    measured = {tuple(row[GROUP]): row for _, row in at.iterrows()}
    rows = []
    for _, pred in preds.iterrows():
        row: dict[str, Any] = {c: pred[c] for c in MEASURED_VS_EXTRAPOLATED_COLUMNS if c in pred.index}
        case = measured.get(tuple(pred[GROUP]))
        time = _measured(case, "time_median_s")
        peak = _measured(case, "peak_bytes")
        if case is None:
            status, reason = NOT_IN_RUN, f"the run has no case at N={target[0]}, D={target[1]}, M={target[2]}"
        else:
            status = "ok" if np.isfinite(time) or np.isfinite(peak) else str(case["status"])
            reason = "" if status == "ok" else str(case["reason"])
        row |= {
            "measured_status": status,
            "measured_reason": reason,
            "measured_time_s": time,
            "measured_peak_bytes": peak,
            "time_error": (pred["time_value"] - time) / time,
            "time_error_nofresh": (pred["time_nofresh_value"] - time) / time,
            "peak_error": (pred["peak_value"] - peak) / peak,
            "time_in_interval": inside(time, pred["time_low"], pred["time_high"]),
            "peak_in_interval": inside(peak, pred["peak_low"], pred["peak_high"]),
        }
        rows.append(row)
    return pd.DataFrame(rows, columns=list(MEASURED_VS_EXTRAPOLATED_COLUMNS))


ROUNDING = 1e-9
"""Relative slack at an interval's ends: a law fitted exactly (synthetic runs) gives an interval of
zero width that the measurement it came from must still fall in."""


def inside(value: float, low: float, high: float) -> bool:
    """Whether ``value`` lies in [low, high], up to float rounding (False where any is NaN)."""
    return bool(low * (1 - ROUNDING) <= value <= high * (1 + ROUNDING))


def _measured(case: pd.Series | None, column: str) -> float:
    """A measured figure of the target's case, NaN where it has none."""
    if case is None or column not in case.index or pd.isna(case[column]):
        return np.nan
    return float(case[column])
