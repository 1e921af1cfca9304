"""Fits: log-log scaling exponents per axis, and a cost-model fit per method and device.

Exponents: along each swept axis, log(metric) = k·log(size) + c by least squares, with a 95%
confidence interval from Student's t. The expected exponent is the same slope taken over the
cost model's count at the same points (bytes moved for the Jacobian families, FLOPs for the
formula families, predicted peak bytes for memory), so it is exact for the sizes measured.

Cost model: time ≈ a·bytes_moved + b·FLOPs + c·fresh_bytes + d with a, b, c, d ≥ 0
(non-negative least squares; fresh bytes are the pages a cold call first-touches),
weighted so that every point counts by its relative error: times span six orders of magnitude.
Peak memory ≈ α·predicted_peak + β the same way. Both are fitted on the larger half of each
method's points (by its cost driver): small cases run from cache at twice DRAM speed, or pay
fixed overheads, and the regime an extrapolation extends is the large one. The fit's own spread
comes from a seeded residual bootstrap over those points; the interval the report shows is that
spread widened by how far the suite's own hold-outs missed (:mod:`analysis.extrapolate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bench.costs import family

AXIS_INDEX = {"N": 0, "D": 1, "M": 2, "diag": 0, "DM": 1}
GROUP = ["run_id", "label", "family", "device", "dtype"]
BOOTSTRAP = 200
SEED = 20261128


def axis_points(frame: pd.DataFrame, axes: dict[str, list[list[int]]], axis: str) -> pd.DataFrame:
    """Rows of ``frame`` that lie on ``axis``, with a ``size`` column (the swept dimension)."""
    points = {tuple(p) for p in axes.get(axis, [])}
    keys = zip(frame["n"], frame["d"], frame["m"], strict=True)
    mask = pd.Series([k in points for k in keys], index=frame.index, dtype=bool)
    on_axis = frame[mask].copy()
    on_axis["size"] = on_axis[["n", "d", "m"][AXIS_INDEX[axis]]]
    return on_axis.sort_values("size")


AxesByRun = dict[str, dict[str, list[list[int]]]]


def runs_on_axis(frame: pd.DataFrame, axes_by_run: AxesByRun, axis: str) -> pd.DataFrame:
    """``axis_points`` applied to each run with that run's own profile axes."""
    parts = [axis_points(group, axes_by_run.get(run, {}), axis) for run, group in frame.groupby("run_id")]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts) if parts else frame.iloc[0:0].assign(size=pd.Series(dtype=int))


def axis_names(axes_by_run: AxesByRun) -> list[str]:
    """Axes that some run sweeps over more than one size, in the order N, D, M, diag, DM."""
    return [a for a in AXIS_INDEX if any(len(axes.get(a, [])) > 1 for axes in axes_by_run.values())]


@dataclass(frozen=True)
class Slope:
    exponent: float
    low: float
    high: float
    points: int


def loglog_slope(size: Iterable[float], value: Iterable[float]) -> Slope | None:
    """Least-squares slope of log(value) on log(size), with a 95% t interval; None below 3 points."""
    x, y = np.log(np.asarray(list(size), float)), np.log(np.asarray(list(value), float))
    if len(x) < 3 or np.ptp(x) == 0:
        return None
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, len(x) - 2) * fit.stderr
    return Slope(float(fit.slope), float(fit.slope - half), float(fit.slope + half), len(x))


def exponents(frame: pd.DataFrame, axes: dict[str, list[list[int]]]) -> pd.DataFrame:
    """Fitted and expected exponents of time and peak memory, per method, device and axis."""
    rows = []
    ok_time = frame[frame["time_median_s"].notna()]
    ok_peak = frame[frame["peak_bytes"].notna()]
    for metric, source, column in (("time", ok_time, "time_median_s"), ("memory", ok_peak, "peak_bytes")):
        for axis in axes:
            on_axis = axis_points(source, axes, axis)
            for key, group in on_axis.groupby(GROUP):
                fit = loglog_slope(group["size"], group[column])
                if fit is None:
                    continue
                driver = family(key[2]).time_driver if metric == "time" else "predicted_peak_bytes"
                expected = loglog_slope(group["size"], group[driver])
                rows.append(
                    dict(zip(GROUP, key, strict=True))
                    | {
                        "metric": metric,
                        "axis": axis,
                        "exponent": fit.exponent,
                        "ci_low": fit.low,
                        "ci_high": fit.high,
                        "points": fit.points,
                        "expected": expected.exponent if expected else np.nan,
                        "size_min": int(group["size"].min()),
                        "size_max": int(group["size"].max()),
                    }
                )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CostFit:
    """Non-negative coefficients of ``target ≈ coef · features`` (features end with a constant)."""

    features: tuple[str, ...]
    coef: np.ndarray

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return _design(frame, self.features) @ self.coef


def _design(frame: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    columns = [frame[f].to_numpy(float) if f != "const" else np.ones(len(frame)) for f in features]
    return np.column_stack(columns)


def fit_nonnegative(frame: pd.DataFrame, target: str, features: tuple[str, ...]) -> CostFit:
    """NNLS of ``target`` on ``features``, each row scaled by 1/target (relative errors)."""
    return CostFit(features, _nnls(_design(frame, features), frame[target].to_numpy(float)))


def _nnls(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the relative errors of ``design @ coef`` against y."""
    scale = design.max(axis=0)
    scale[scale == 0] = 1.0
    coef, _ = optimize.nnls((design / scale) / y[:, None], np.ones_like(y))
    return coef / scale


def large_regime(frame: pd.DataFrame, driver: str, minimum: int) -> pd.DataFrame:
    """The rows whose ``driver`` is at or above the median, and never fewer than ``minimum``."""
    ordered = frame.sort_values(driver)
    keep = max(minimum, (len(ordered) + 1) // 2)
    return ordered.iloc[-keep:]


TIME_FEATURES = ("bytes_moved", "flops", "fresh_bytes", "const")
"""Time ≈ a·bytes moved + b·FLOPs + c·fresh bytes + d: ``fresh_bytes`` (``bench.costs.fresh_bytes``)
are the new pages a cold call first-touches, which cost page faults, not bandwidth."""
TIME_FEATURES_WITHOUT_FRESH = ("bytes_moved", "flops", "const")
"""The time model before the fresh-byte term, kept to show what the term changes at the target."""
MEMORY_FEATURES = ("predicted_peak_bytes", "const")


def bootstrap_predictions(
    frame: pd.DataFrame, target: str, features: tuple[str, ...], at: pd.DataFrame, rounds: int = BOOTSTRAP
) -> np.ndarray:
    """Predictions at ``at`` from fits to ``rounds`` seeded resamples (rounds × len(at)).

    A residual bootstrap: every resample keeps the measured sizes and draws each point's relative
    residual from the fit's own, ``y* = ŷ·(1 + r*)``. Resampling whole cases instead (the pairs
    bootstrap this replaced) leaves out the few largest cases in about a third of the resamples,
    and the fit then drops the term they carry: on the quick run's formula-torch the estimate sat
    at the interval's top edge (62.7 ms in 26.7 – 62.8 ms).
    """
    rng = np.random.default_rng(SEED)
    design, y, at_design = _design(frame, features), frame[target].to_numpy(float), _design(at, features)
    fitted = design @ _nnls(design, y)
    residuals = np.where(fitted > 0, y / np.where(fitted > 0, fitted, 1.0) - 1.0, 0.0)
    out = np.empty((rounds, len(at)))
    for k in range(rounds):
        drawn = residuals[rng.integers(0, len(frame), len(frame))]
        out[k] = at_design @ _nnls(design, np.maximum(fitted * (1.0 + drawn), np.finfo(float).tiny))
    return out
