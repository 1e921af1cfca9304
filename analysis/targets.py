"""The suite's performance targets, checked on measured data and reported, never asserted in tests.

- warm explicit methods reach ≥ 50% of the same run's copy bandwidth (each Jacobian entry
  written once and read once) at Jacobian sizes of 256 MiB or more;
- formula methods reach ≥ 70% of the same run's GEMM roof at their largest sizes;
- measured peak memory of the explicit and jacrev methods is within ±10% of the cost model
  for every case of 64 MiB or more.
"""

from __future__ import annotations

import pandas as pd

from bench.costs import DENSE_JACOBIAN_FAMILIES

WARM_COPY_FRACTION = 0.5
FORMULA_GEMM_FRACTION = 0.7
MEMORY_TOLERANCE = 0.10
LARGE_JACOBIAN = 256 * 2**20
LARGE_MEMORY = 64 * 2**20


def check_targets(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per target and (run, method, device): the figure reached and whether it passes."""
    rows = []
    keys = ["run_id", "label", "device", "dtype"]
    warm = frame[(frame["variant"] == "warm") & frame["time_median_s"].notna()]
    warm = warm[warm[["jacobian_dydx_bytes", "jacobian_dydw_bytes"]].max(axis=1) >= LARGE_JACOBIAN]
    for key, group in warm.groupby(keys):
        worst = group["frac_copy_roof"].min()
        rows.append(
            dict(zip(keys, key, strict=True))
            | {
                "target": f"warm explicit ≥ {WARM_COPY_FRACTION:.0%} of copy bandwidth (Jacobians ≥ 256 MiB)",
                "reached": f"{worst:.0%} worst, {group['frac_copy_roof'].max():.0%} best, {len(group)} cases",
                "passed": bool(worst >= WARM_COPY_FRACTION),
            }
        )
    formula = frame[(frame["family"] == "formula") & frame["time_median_s"].notna()]
    for key, group in formula.groupby(keys):
        largest = group[group["flops"] == group["flops"].max()]
        best = largest["frac_gemm_roof"].max()
        rows.append(
            dict(zip(keys, key, strict=True))
            | {
                "target": f"formula ≥ {FORMULA_GEMM_FRACTION:.0%} of GEMM roof at the largest size",
                "reached": f"{best:.0%} at {largest['case'].iloc[0]}",
                "passed": bool(best >= FORMULA_GEMM_FRACTION),
            }
        )
    jac = frame[frame["family"].isin(DENSE_JACOBIAN_FAMILIES) & frame["peak_bytes"].notna()]
    jac = jac[jac["predicted_peak_bytes"] >= LARGE_MEMORY]
    for key, group in jac.groupby(keys):
        error = (group["peak_bytes"] / group["predicted_peak_bytes"] - 1).abs()
        rows.append(
            dict(zip(keys, key, strict=True))
            | {
                "target": f"peak within ±{MEMORY_TOLERANCE:.0%} of the cost model (cases ≥ 64 MiB)",
                "reached": f"worst {error.max():.2%} off over {len(group)} cases",
                "passed": bool(error.max() <= MEMORY_TOLERANCE),
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "target", "reached", "passed"])
