"""The cost model's counts and the case's fields that a memory record and a timing's
``extra_info`` both carry, checked one way for both (:mod:`bench.rundir.records`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.rundir.fields import Where

COUNT_FIELDS = (
    "predicted_peak_bytes",
    "input_bytes",
    "jacobian_dydx_bytes",
    "jacobian_dydw_bytes",
    "flops",
    "bytes_moved",
    "fresh_bytes",
)
"""The cost model's counts that a memory record and a timing's extra_info carry (``Case.predicted``)."""
CASE_FIELDS = ("case", "label", "family", "backend", "method", "variant", "device", "dtype", "n", "d", "m")


def counts(data: Mapping[str, Any], where: Where) -> dict[str, int]:
    """The counts ``data`` holds, each a whole number >= 0."""
    return {k: where.whole(data[k], k, 0) for k in COUNT_FIELDS if k in data}  # type: ignore[misc]
