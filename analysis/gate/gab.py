"""The run's figures for github-action-benchmark (``customSmallerIsBetter``): its charts across
commits are history, never a gate."""

from __future__ import annotations

import statistics
from typing import Any


def github_action_benchmark(current: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """github-action-benchmark's ``customSmallerIsBetter`` entries."""
    entries = []
    for case, entry in sorted(current.items()):
        if "norm_time" in entry:
            entries.append(
                {
                    "name": f"{case} normalised time",
                    "unit": "× roof time",
                    "value": statistics.median(entry["norm_time"]),
                }
            )
        if "peak_bytes" in entry:
            entries.append({"name": f"{case} peak memory", "unit": "bytes", "value": entry["peak_bytes"]})
    return entries
