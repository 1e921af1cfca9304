"""Numbers as a reader of the report reads them: times in s/ms/µs, bytes in KiB…TiB, counts with
thousands separators, and "–" for what was not measured.

One place, so the summary, the tables and the environment never print one quantity two ways.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from bench.costs import format_bytes

MISSING = "–"


def format_time(seconds: float) -> str:
    """``0.0451`` → ``"45.1 ms"``; minutes and hours past 100 s; "–" when not finite."""
    if not np.isfinite(seconds):
        return MISSING
    if seconds >= 100:
        return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)" if seconds < 7200 else f"{seconds / 3600:,.1f} h"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:,.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def format_size(count: float) -> str:
    """Bytes in binary units with the decimal figure (``"256.0 GiB (274.9 GB)"``); "–" when unknown."""
    return format_bytes(int(count)) if np.isfinite(count) else MISSING


def format_cell(value: object) -> str:
    """A table cell: integers with thousands separators, floats to 4 significant digits.

    Raw counts such as 274877906944 are unreadable at a glance and widen a column past the page.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            return MISSING if math.isnan(number) else str(number)
        if number.is_integer() and abs(number) < 1e15:
            return f"{int(number):,}"
        if 1e3 <= abs(number) < 1e15:
            return f"{number:,.0f}"
        return f"{number:.4g}" if abs(number) >= 1e-3 else f"{number:.3e}"
    return str(value)
