"""One streamed pass over a Jacobian, the same for dY/dX and dY/dW: timed with a progress bar,
its result checked against the float64 formula when it covered every part, and the L1 copy
roof measured again right after it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.harness import children
from bench.harness.progress import Progress
from bench.headline.measure import remeasure_l1
from bench.inputs import dw_relative_error, dx_relative_error
from bench.streamers import COMPILED, Streamer, sampled
from bench.units import format_bytes

NAMES = {"dydx": ("dY/dX", "dX"), "dydw": ("dY/dW", "dW")}
"""Each pass's Jacobian and result, as the console names them."""
CHECKS = {"dydx": dx_relative_error, "dydw": dw_relative_error}
"""Each pass's check: the result's largest error relative to the float64 formula."""


class InterruptedPassError(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a pass, with how far it got (``bench.rundir.ending`` says so)."""

    def __init__(self, message: str, terminated: bool) -> None:
        super().__init__(message)
        self.terminated = terminated


@dataclass(frozen=True)
class Pass:
    """A finished pass: ``parts`` of its ``every`` parts streamed in ``measured_seconds``."""

    kind: str
    jacobian_bytes: int
    """The whole Jacobian's bytes, streamed or not."""
    parts: int
    every: int
    unit: str
    measured_seconds: float
    max_rel_error: float | None
    """None for a sample: a pass over some parts computes part of the result, never checked."""

    @property
    def full(self) -> bool:
        """A sample of every part (a small target, one chunk) is a measurement, checked as one."""
        return self.parts == self.every

    @property
    def scale(self) -> float:
        return self.every / self.parts

    @property
    def seconds(self) -> float:
        """The whole pass: measured in full, else the sample's time scaled up (an estimate)."""
        return self.measured_seconds * self.scale

    @property
    def effective_gbps(self) -> float:
        """The Jacobian's bytes written once and read once, per second of the whole pass."""
        return 2 * self.jacobian_bytes / self.seconds / 1e9

    @property
    def sample(self) -> str:
        """What it really streamed (``32 of 2048 tiles``), not 1/stride."""
        return f"{self.parts} of {self.every} {self.unit}"


def _timed(run: Callable[[], Any], sync: Callable[[], None], bar: Progress) -> tuple[Any, float]:
    sync()
    start = time.perf_counter()
    try:
        result = run()
    except KeyboardInterrupt as exc:
        elapsed = time.perf_counter() - start
        print(file=sys.stderr)
        raise InterruptedPassError(
            f"interrupted after {bar.done:,} of {bar.total:,} {bar.unit} of {bar.label} "
            f"({100 * bar.done / max(bar.total, 1):.1f}%) in {elapsed:.1f} s",
            terminated=isinstance(exc, children.TerminatedError),
        ) from None
    sync()
    return result, time.perf_counter() - start


def stream_pass(
    kind: str,
    streamer: Streamer,
    jacobian_bytes: int,
    stride: int,
    sync: Callable[[], None],
    roofs: dict[str, Any],
) -> Pass:
    """The pass over dY/dX (``kind`` "dydx") or dY/dW ("dydw"): every ``stride``-th part (1:
    all of them), spread over the whole matrix; then the L1 copy roof again where there is one."""
    every = streamer.parts(kind)
    chosen = sampled(every, stride)
    streamed = format_bytes(jacobian_bytes * len(chosen) // len(every), decimal=False)
    planned = Pass(kind, jacobian_bytes, len(chosen), len(every), streamer.unit, 0.0, None)
    name = NAMES[kind][0]
    label = f"{name}, {streamed}" if planned.full else f"{name} ({planned.sample}), {streamed}"
    bar = Progress(label, 0, unit=streamer.unit)

    def run() -> Any:  # every part unless sampled
        return streamer.run(kind, None if stride == 1 else chosen, progress=bar)

    with bar:
        result, seconds = _timed(run, sync, bar)
    error = CHECKS[kind](result, streamer.inputs) if planned.full else None
    if "l1_copy" in roofs:
        remeasure_l1(roofs)
    return replace(planned, measured_seconds=seconds, max_rel_error=error)


def pass_line(
    device: str, done: Pass, roofs: dict[str, Any], method: str, formula: float | None = None
) -> str:
    """One console line of a finished pass: its time, GB/s of Jacobian and fraction of its roof
    (the L1 copy roof for the compiled kernel, DRAM copy bandwidth otherwise), how many times the
    formula's time (``formula``, seconds) it took, and its result's error; for a sample, the
    estimate and how it was scaled."""
    name, result = NAMES[done.kind]
    if not done.full:
        return (
            f"{device}: {name} {done.seconds:.1f} s (estimate: {done.measured_seconds:.2f} s for "
            f"{done.sample}, scaled ×{done.scale:.1f})"
        )
    seconds = done.measured_seconds
    rate = done.jacobian_bytes / seconds / 1e9
    roof_name = "l1_copy" if method == COMPILED and "l1_copy" in roofs else "copy"
    roof = roofs.get(roof_name, {}).get("gbps")
    roof_label = "L1 copy" if roof_name == "l1_copy" else "copy"
    of_roof = f", {2 * rate / roof:.0%} of the {roof_label} roof ({roof:.1f} GB/s)" if roof else ""
    versus = f"; {seconds / formula:,.0f}× the formula" if formula is not None else ""
    return (
        f"{device}: {name} streamed in {seconds:.2f} s: {rate:.1f} GB/s of Jacobian{of_roof}"
        f"{versus}; {result} relative error {done.max_rel_error:.2e}"
    )
