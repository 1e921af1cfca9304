"""Numbers as a reader of the report reads them: times in s/ms/µs, bytes in KiB…TiB, counts with
thousands separators, and "–" for what was not measured.

One place, so the summary, the tables and the environment never print one quantity two ways.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from bench.units import MISSING, format_bytes, format_time

__all__ = ["MISSING", "format_bytes", "format_cell", "format_size", "format_time"]


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
