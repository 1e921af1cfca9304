"""Quantities as people read them: bytes in binary units, times in s/ms/µs/ns.

One definition for the whole suite, so the console summary, the report's tables and the plots'
axes never print one quantity two ways.
"""

from __future__ import annotations

import math

MISSING = "–"
"""What every formatter prints for a quantity that was not measured."""

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: int | float, decimal: bool = True) -> str:
    """Human-readable size in binary units, with decimal GB beside it from 1 GB up.

    ``decimal=False`` leaves the GB figure out (for narrow table columns).

    >>> format_bytes(274_877_906_944)
    '256.0 GiB (274.9 GB)'
    """
    if count < 0:
        raise ValueError(f"byte count must be non-negative, got {count}")
    value = float(count)
    unit = 0
    while value >= 1024 and unit < len(_BINARY_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{int(count)} B" if unit == 0 else f"{value:.1f} {_BINARY_UNITS[unit]}"
    if decimal and count >= 1e9:
        text += f" ({count / 1e9:,.1f} GB)"
    return text


_TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))


def format_time(seconds: float | None, long: bool = True) -> str:
    """``0.0451`` → ``"45.1 ms"``: three significant figures in the largest unit below the value.

    From 100 s up (``long``), seconds with thousands separators and minutes beside them, hours
    from 2 h; ``long=False`` keeps the short form (axis ticks). ``None``, NaN and infinities
    print as :data:`MISSING`.

    >>> format_time(0.0451), format_time(4.2e-7), format_time(725.0)
    ('45.1 ms', '420 ns', '725 s (12.1 min)')
    """
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if long and seconds >= 100:
        return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)" if seconds < 7200 else f"{seconds / 3600:,.1f} h"
    for unit, scale in _TIME_UNITS:
        if seconds >= scale:
            return f"{seconds / scale:,.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
