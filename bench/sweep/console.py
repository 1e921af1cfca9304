"""The compact table printed at the end of a run: a pure function of the saved files.

Drawn with rich's table, as plain text so that a log keeps it. It picks the swept axis with the
most measured (method, size) points, and shows per size and method the median time, the
measured peak memory and both as ratios to the formula method of the same backend, device and
dtype.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

from bench.cases import Case
from bench.rundir.records import MemoryRecord, RunMeta, Timings
from bench.units import MISSING, format_bytes, format_time

Point = tuple[int, int, int]


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:,.1f}×" if value is not None and base else MISSING


def _choose_axis(axes: dict[str, list[list[int]]], times: dict[tuple, float]) -> str:
    def score(axis: str) -> int:
        points = {tuple(p) for p in axes[axis]}
        return sum(1 for key in times if key[-1] in points)

    return max(axes, key=score)


def _key(case: Case) -> tuple:
    return (case.label, case.backend, case.device, case.dtype, (case.n, case.d, case.m))


def summary_table(meta: RunMeta, timings: Timings | None, memory: list[MemoryRecord]) -> str:
    """Rows: size on the chosen axis × method; columns: time, peak, ratios to the formula."""
    times = {_key(entry.case): entry.median for entry in (timings.entries if timings else ())}
    peaks = {_key(r.case): r.peak_bytes for r in memory if r.status == "ok" and r.peak_bytes is not None}
    axes = meta.profile["axes"]
    if not times and not peaks:
        return "no case was measured"
    axis = _choose_axis(axes, times or dict.fromkeys(peaks, 0.0))
    points = [tuple(p) for p in axes[axis]]
    keys = sorted({k for k in (*times, *peaks) if k[-1] in points}, key=lambda k: (k[2], k[3], k[4], k[0]))
    table = Table(
        title=f"Summary along axis {axis} (ratios against the formula of the same backend)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for name in ("N,D,M", "method", "device", "dtype", "median", "peak", "time/formula", "peak/formula"):
        table.add_column(name, justify="left" if name in ("method", "device", "dtype") else "right")
    for key in keys:
        label, backend, device, dtype, point = key
        formula = (f"formula-{backend}", backend, device, dtype, point)
        peak = peaks.get(key)
        table.add_row(
            ",".join(map(str, point)),
            label,
            device,
            dtype,
            format_time(times.get(key)),
            format_bytes(peak, decimal=False) if peak is not None else MISSING,
            _ratio(times.get(key), times.get(formula)),
            _ratio(peak, peaks.get(formula)),
        )
    text = io.StringIO()
    Console(file=text, width=120, color_system=None).print(table)
    return "\n".join(line.rstrip() for line in text.getvalue().rstrip().splitlines())
