"""GPU timing as triton's ``do_bench`` and NVIDIA's nvbench do it, with a CPU fallback.

- **CUDA events** around each round (``torch.cuda.Event(enable_timing=True)``): the GPU's own
  clock, with no host round trip in the measurement;
- a **warm-up** round first (kernel loading, the caching allocator's first blocks);
- the **L2 flushed** between rounds, outside the timed region, by writing a buffer of twice the
  L2's size, when the case's working set is under a few times the L2: otherwise a small case
  would be timed from cache, as no real step sees it;
- ``reset()`` (``.grad`` = None, a re-zeroed buffer) **outside** the timed region;
- the **SM clock** read before and after (:mod:`bench.harness.gpustate`: NVML, else
  nvidia-smi), and, where NVML makes a reading cheap, between rounds too; the measurement is
  flagged ``throttled`` when the GPU named a slowdown (heat, power) at any reading, or when a
  reading between rounds fell below :data:`THROTTLED` of the maximum clock: a throttled GPU
  measures the cooling, not the method. The reading before the rounds is kept but not judged:
  an idle GPU clocks down by design.

On the CPU the same function times with ``time.perf_counter`` (synchronous by nature), with the
warm-up and the reset outside the timed region as on the GPU: what the CPU path shares. There is
no L2 flush on the CPU: the sweep's CPU cases are timed warm, as pytest-benchmark times them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from bench.harness.gpustate import fast, sm_clock

THROTTLED = 0.9
"""A measurement taken below this fraction of the maximum SM clock is flagged as throttled."""
FLUSH_FACTOR = 4
"""Flush the L2 between rounds when the working set is under this many times the L2."""


def synchronizer(device: str) -> Callable[[], None]:
    """Waits for queued GPU work on CUDA (timers must not stop early); a no-op on CPU."""
    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def l2_bytes(device: str) -> int:
    """The GPU's L2 size (0 on the CPU, or where torch does not report it)."""
    if not device.startswith("cuda"):
        return 0
    return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)


class RoundClock:
    """The clock of one case's rounds on its device, with what must happen outside the time.

    Call :meth:`between` before each round (after any reset): it flushes the L2 when the case
    is small enough to be served from it, and waits for queued work, all untimed. Then
    :meth:`time` runs one round inside CUDA events (perf_counter on the CPU) and keeps its
    seconds. :meth:`facts` says how they were taken, the SM clock read now as the "after".
    """

    def __init__(self, device: str, working_set_bytes: int = 0) -> None:
        self.device = device
        self.cuda = device.startswith("cuda")
        l2 = l2_bytes(device)
        self._flush = (
            torch.empty(2 * l2 // 4, dtype=torch.float32, device=device)
            if self.cuda and l2 and working_set_bytes < FLUSH_FACTOR * l2
            else None
        )
        self.before = sm_clock() if self.cuda else None
        self.during: list[dict[str, Any]] = []  # readings between rounds (NVML only: microseconds)
        self.seconds: list[float] = []
        self._ran = 0  # rounds run, warm-ups included: a reading before the first would be idle

    def between(self) -> None:
        """Outside the timed region: the L2 flushed (small cases), the device's queue drained."""
        if self._flush is not None:
            self._flush.zero_()
        if self.cuda:
            torch.cuda.synchronize(self.device)
            if self._ran and fast():  # the clock the last round left, read while it is still up
                reading = sm_clock()
                if reading is not None:
                    self.during.append(reading)

    def time(self, run: Callable[[], Any]) -> None:
        """One round of ``run``: CUDA events on a GPU (its own clock), perf_counter on the CPU."""
        self._ran += 1
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            self.seconds.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            run()
            self.seconds.append(time.perf_counter() - t0)

    def facts(self) -> dict[str, Any]:
        """The timer, the L2 flush, the SM clock before, between rounds and now, and the verdict."""
        after = sm_clock() if self.cuda else None
        return {
            "timer": "cuda events" if self.cuda else "perf_counter",
            "l2_flushed": self._flush is not None,
            "sm_clock_before": self.before,
            "sm_clock_after": after,
        } | verdict(self.during, after)


def verdict(during: list[dict[str, Any]], after: dict[str, Any] | None) -> dict[str, Any]:
    """Throttled: a slowdown named between the rounds or after them, or a clock between rounds
    under :data:`THROTTLED` of the maximum. The lowest clock seen between rounds, and why."""
    readings = [*during, *([after] if after else [])]
    named = sorted({reason for r in readings for reason in r.get("slowdowns", [])})
    lowest = min(during, key=lambda r: r["sm_mhz"] / r["max_sm_mhz"], default=None)
    low = lowest is not None and lowest["sm_mhz"] < THROTTLED * lowest["max_sm_mhz"]
    return {
        "sm_mhz_lowest_between_rounds": lowest["sm_mhz"] if lowest else None,
        "slowdowns": named,
        "throttled": bool(named) or low,
    }


def time_rounds(
    run: Callable[[], Any],
    device: str,
    rounds: int,
    working_set_bytes: int = 0,
    reset: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Seconds of each of ``rounds`` calls of ``run`` after one warm-up, and how they were taken."""
    clock = RoundClock(device, working_set_bytes)
    for _ in range(1 + rounds):  # a warm-up, then the rounds
        reset()
        clock.between()
        clock.time(run)
    return {"seconds": clock.seconds[1:]} | clock.facts()
