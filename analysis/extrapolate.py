"""Extrapolation to a target (N, D, M), default N=64, D=M=4096 in float32, and its hold-out check.

For each method and device, the cost-model fits of :mod:`analysis.fits` are evaluated at the
target's exact byte and FLOP counts. The interval is the 5th–95th percentile of a bootstrap.
Hold-out validation refits without the largest measured size of each axis, predicts that size,
and reports the relative error, which is how far the same kind of extrapolation was off on
sizes we could measure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.fits import (
    GROUP,
    MEMORY_FEATURES,
    TIME_FEATURES,
    axis_points,
    bootstrap_predictions,
    fit_nonnegative,
    large_regime,
)
from bench.cases import Case
from bench.costs import TIME_DRIVER

HEADLINE = (64, 4096, 4096)
MIN_POINTS = 4
"""Fewest measured points a method needs before its cost model is fitted (3 coefficients + 1)."""


def target_row(label_row: pd.Series, target: tuple[int, int, int], dtype: str) -> pd.DataFrame:
    case = Case(label_row["method"], label_row["variant"], label_row["device"], dtype, *target)
    return pd.DataFrame([case.params() | case.predicted()])


def _driver(metric: str, family: str) -> str:
    return TIME_DRIVER[family] if metric == "time" else "predicted_peak_bytes"


SPECS = (("time", "time_median_s", TIME_FEATURES), ("memory", "peak_bytes", MEMORY_FEATURES))


def training_rows(frame: pd.DataFrame, metric: str, column: str, cache_bytes: int | None) -> pd.DataFrame:
    """The measured rows a fit uses: the large regime of the method's points.

    For the Jacobian families' time, that is the cases whose Jacobian is at least twice the
    last-level cache (``cache_bytes``), when there are enough of them: in cache, they stream at
    about twice DRAM speed, and every extrapolation target lies far out of cache.
    """
    usable = frame[frame[column].notna() & (frame[column] > 0)].astype({column: float})
    if len(usable) < MIN_POINTS:
        return usable.iloc[0:0]
    family = usable["family"].iloc[0]
    if metric == "time" and TIME_DRIVER[family] == "bytes_moved" and cache_bytes:
        out_of_cache = usable[usable["predicted_peak_bytes"] >= 2 * cache_bytes]
        if len(out_of_cache) >= MIN_POINTS:
            return out_of_cache
    return large_regime(usable, _driver(metric, family), MIN_POINTS)


def _fit_at(
    frame: pd.DataFrame, metric: str, target: str, at: pd.DataFrame, cache_bytes: int | None
) -> dict[str, float]:
    features = {m: f for m, _, f in SPECS}[metric]
    usable = training_rows(frame, metric, target, cache_bytes)
    if len(usable) < MIN_POINTS:
        return {"value": np.nan, "low": np.nan, "high": np.nan, "points": len(usable)}
    point = float(fit_nonnegative(usable, target, features).predict(at)[0])
    spread = bootstrap_predictions(usable, target, features, at)[:, 0]
    return {
        "value": point,
        "low": float(np.percentile(spread, 5)),
        "high": float(np.percentile(spread, 95)),
        "points": len(usable),
    }


def extrapolate(
    frame: pd.DataFrame,
    memory_limits: dict[tuple[str, str], int | None],
    cache_bytes: dict[str, int | None],
    target: tuple[int, int, int] = HEADLINE,
    dtype: str = "float32",
) -> pd.DataFrame:
    """Predicted time and peak memory at ``target`` for every (run, method, device) with data.

    ``memory_limits`` maps (run_id, device) to the bytes that device has (RAM or GPU memory),
    so each prediction says whether it fits and by what factor it does not; ``cache_bytes``
    maps run_id to its machine's last-level cache.
    """
    rows = []
    for key, group in frame[frame["dtype"] == dtype].groupby(GROUP):
        at = target_row(group.iloc[0], target, dtype)
        cache = cache_bytes.get(key[0])
        time = _fit_at(group, "time", "time_median_s", at, cache)
        peak = _fit_at(group, "memory", "peak_bytes", at, cache)
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
    """Refit without the largest measured size on each axis; predict it; report the error."""
    rows = []
    for key, group in frame.groupby(GROUP):
        cache = cache_bytes.get(key[0])
        for axis in axes:
            for metric, column, features in SPECS:
                measured = group[group[column].notna()]
                on_axis = axis_points(measured, axes, axis)
                if len(on_axis) < 3:
                    continue
                largest = on_axis.iloc[[-1]]
                rest = measured[measured["case"] != largest["case"].iloc[0]]
                rest = training_rows(rest, metric, column, cache)
                if len(rest) < MIN_POINTS:
                    continue
                fit = fit_nonnegative(rest, column, features)
                predicted = float(fit.predict(largest)[0])
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
                    }
                )
    return pd.DataFrame(rows)
