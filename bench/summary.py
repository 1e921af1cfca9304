"""The compact table printed at the end of a run: a pure function of the saved files.

It picks the swept axis with the most measured (method, size) points, and shows per size and
method the median time, the measured peak memory and both as ratios to the formula method of
the same backend, device and dtype.
"""

from __future__ import annotations

from bench.cases import Case
from bench.costs import format_bytes
from bench.records import MemoryRecord, RunMeta, Timings

Point = tuple[int, int, int]


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:,.1f}×" if value is not None and base else "-"


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
    header = f"{'N,D,M':>16}  {'method':<22} {'device':<6} {'dtype':<8} {'median':>10} {'peak':>12}"
    header += f" {'time/formula':>13} {'peak/formula':>13}"
    lines = [f"Summary along axis {axis} (ratios against the formula of the same backend):", header]
    for key in keys:
        label, backend, device, dtype, point = key
        formula = (f"formula-{backend}", backend, device, dtype, point)
        peak = peaks.get(key)
        peak_text = format_bytes(peak, decimal=False) if peak is not None else "-"
        lines.append(
            f"{','.join(map(str, point)):>16}  {label:<22} {device:<6} {dtype:<8} "
            f"{_fmt_time(times.get(key)):>10} {peak_text:>12} "
            f"{_ratio(times.get(key), times.get(formula)):>13} {_ratio(peak, peaks.get(formula)):>13}"
        )
    return "\n".join(lines)
