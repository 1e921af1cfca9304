"""A run's figures per case, as the baseline stores them and the gate compares them: peak bytes,
raw time samples (thinned), times normalised by the run's roofs, and ratios to the formula."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import Run
from bench.costs import roof

MAX_SAMPLES = 64


def _thin(samples: list[float]) -> list[float]:
    """At most MAX_SAMPLES samples, evenly spread over the rounds (keeps the file small)."""
    if len(samples) <= MAX_SAMPLES:
        return list(samples)
    index = np.linspace(0, len(samples) - 1, MAX_SAMPLES).round().astype(int)
    return [samples[i] for i in index]


ROOF_COLUMN = {"copy": "copy_roof_gbps", "gemm": "gemm_roof_gflops"}
LOCAL_ROOF_COLUMN = {"copy_roof_gbps": "local_copy_roof_gbps", "gemm_roof_gflops": "local_gemm_roof_gflops"}


def run_roofs(cases: pd.DataFrame) -> dict[tuple[str, str, str, str], float]:
    """Per backend, device, dtype and roof: the median of the roofs measured just before each case.

    Only the roofs the runtime pass measured before each case count (a case measures the one
    its family is compared with, with its own backend); a run that has none falls back to the
    roof measured at its start. Why not each case's own roof: that one is right for the
    report's fraction of the roof, but it drifts from case to case (copy bandwidth 24 to 41 GB/s
    within one quick run), and a method whose small cases run in cache (the streamed one) does
    not drift with it, so its normalised time moved by up to 30% between runs of unchanged code
    while its raw time held within 10%. The run's median holds within a few percent between
    runs and still follows a slower or faster machine.
    """
    roofs: dict[tuple[str, str, str, str], float] = {}
    timed = cases.dropna(subset=["time_median_s"])
    for key, group in timed.groupby(["backend", "device", "dtype"]):
        for column, local in LOCAL_ROOF_COLUMN.items():
            values = group[local].dropna() if local in group else pd.Series(dtype=float)
            if values.empty:
                values = group[column].dropna()
            if not values.empty:
                roofs[(*key, column)] = float(values.median())
    return roofs


def metrics_of(run: Run) -> dict[str, dict[str, Any]]:
    """Per case: peak bytes, raw and normalised time samples, ratio samples to the formula."""
    samples = {name: entry.samples for name, entry in run.timings.items()}
    cases = run.cases
    roofs = run_roofs(cases)
    out: dict[str, dict[str, Any]] = {}
    formula = {}
    for _, row in cases.iterrows():
        if row["family"] == "formula" and row["variant"] == "" and row["case"] in samples:
            formula[(row["backend"], row["device"], row["dtype"], row["n"], row["d"], row["m"])] = (
                statistics.median(samples[row["case"]])
            )
    for _, row in cases.iterrows():
        entry: dict[str, Any] = {"status": row["status"], "reason": row["reason"], "label": row["label"]}
        if np.isfinite(row["peak_bytes"]):
            entry["peak_bytes"] = int(row["peak_bytes"])
        raw = samples.get(row["case"])
        if raw:
            entry["raw_time"] = _thin(raw)
            kind = roof(row["family"])
            work = (row["bytes_moved"] if kind == "copy" else row["flops"]) / 1e9
            rate = roofs.get((row["backend"], row["device"], row["dtype"], ROOF_COLUMN[kind]), np.nan)
            if np.isfinite(rate) and work > 0:  # time ÷ the time the roof would take
                entry["norm_time"] = [t * rate / work for t in entry["raw_time"]]
            base = formula.get((row["backend"], row["device"], row["dtype"], row["n"], row["d"], row["m"]))
            if base and row["family"] != "formula":
                entry["ratio"] = [t / base for t in entry["raw_time"]]
                entry["formula_time"] = base
        out[row["case"]] = entry
    return out
