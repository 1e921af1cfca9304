"""GPU timing as triton's ``do_bench`` and NVIDIA's nvbench do it, with a CPU fallback.

- **CUDA events** around each round (``torch.cuda.Event(enable_timing=True)``): the GPU's own
  clock, with no host round trip in the measurement;
- a **warm-up** round first (kernel loading, the caching allocator's first blocks);
- the **L2 flushed** between rounds, outside the timed region, by writing a buffer of twice the
  L2's size, when the case's working set is under a few times the L2: otherwise a small case
  would be timed from cache, as no real step sees it;
- ``reset()`` (``.grad`` = None, a re-zeroed buffer) **outside** the timed region;
- the **SM clock** read before and after (``nvidia-smi``), and the measurement flagged when the
  clock fell below :data:`THROTTLED` of its maximum: a throttled GPU measures the cooling, not
  the method.

On the CPU the same function times with ``time.perf_counter`` (synchronous by nature), with the
warm-up and the reset outside the timed region as on the GPU: what the CPU path shares. There is
no L2 flush on the CPU: the sweep's CPU cases are timed warm, as pytest-benchmark times them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import torch

THROTTLED = 0.9
"""A measurement taken below this fraction of the maximum SM clock is flagged as throttled."""
FLUSH_FACTOR = 4
"""Flush the L2 between rounds when the working set is under this many times the L2."""


def _smi(fields: str, index: int) -> list[str] | None:
    """One GPU's ``nvidia-smi --query-gpu`` values, or None without nvidia-smi or an answer."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits", "-i", str(index)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return [v.strip() for v in out.strip().splitlines()[0].split(",")]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def sm_clock(index: int = 0) -> dict[str, int] | None:
    """The current and maximum SM clock of a GPU in MHz (``nvidia-smi``), or None without one."""
    values = _smi("clocks.sm,clocks.max.sm", index)
    try:
        current, maximum = (int(float(v)) for v in values or ())
    except ValueError:
        return None
    return {"sm_mhz": current, "max_sm_mhz": maximum}


def driver_version(index: int = 0) -> str | None:
    """The NVIDIA driver's version (``nvidia-smi``), or None without one."""
    values = _smi("driver_version", index)
    return values[0] if values and values[0] else None


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
        self.seconds: list[float] = []

    def between(self) -> None:
        """Outside the timed region: the L2 flushed (small cases), the device's queue drained."""
        if self._flush is not None:
            self._flush.zero_()
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time(self, run: Callable[[], Any]) -> None:
        """One round of ``run``: CUDA events on a GPU (its own clock), perf_counter on the CPU."""
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
        """The timer, whether the L2 was flushed, the SM clock before and now, and the throttle flag."""
        after = sm_clock() if self.cuda else None
        clocks = [c for c in (self.before, after) if c]
        return {
            "timer": "cuda events" if self.cuda else "perf_counter",
            "l2_flushed": self._flush is not None,
            "sm_clock_before": self.before,
            "sm_clock_after": after,
            "throttled": any(c["sm_mhz"] < THROTTLED * c["max_sm_mhz"] for c in clocks),
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
    reset()
    run()  # warm-up
    for _ in range(rounds):
        reset()
        clock.between()
        clock.time(run)
    return {"seconds": clock.seconds} | clock.facts()
