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


def sm_clock() -> dict[str, int] | None:
    """The current and maximum SM clock of GPU 0 in MHz (``nvidia-smi``), or None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=clocks.sm,clocks.max.sm", "--format=csv,noheader,nounits", "-i", "0"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        current, maximum = (int(float(v)) for v in out.strip().splitlines()[0].split(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return {"sm_mhz": current, "max_sm_mhz": maximum}


def l2_bytes(device: str) -> int:
    """The GPU's L2 size (0 on the CPU, or where torch does not report it)."""
    if not device.startswith("cuda"):
        return 0
    return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)


def time_rounds(
    run: Callable[[], Any],
    device: str,
    rounds: int,
    working_set_bytes: int = 0,
    reset: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Seconds of each of ``rounds`` calls of ``run`` after one warm-up, and how they were taken."""
    cuda = device.startswith("cuda")
    l2 = l2_bytes(device)
    flush = (
        torch.empty(2 * l2 // 4, dtype=torch.float32, device=device)
        if cuda and l2 and (working_set_bytes < FLUSH_FACTOR * l2)
        else None
    )
    before = sm_clock() if cuda else None
    reset()
    run()  # warm-up
    if cuda:
        torch.cuda.synchronize(device)
    seconds = []
    for _ in range(rounds):
        reset()
        if flush is not None:
            flush.zero_()
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - t0)
    after = sm_clock() if cuda else None
    clocks = [c for c in (before, after) if c]
    throttled = any(c["sm_mhz"] < THROTTLED * c["max_sm_mhz"] for c in clocks)
    return {
        "seconds": seconds,
        "timer": "cuda events" if cuda else "perf_counter",
        "l2_flushed": flush is not None,
        "sm_clock_before": before,
        "sm_clock_after": after,
        "throttled": throttled,
    }
