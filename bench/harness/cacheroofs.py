"""Copy roofs of the caches: every core at once copying a buffer that fits its share of L1d or L2.

These are the machine's own limits, measured with the plainest kernel there is (STREAM's and
likwid-bench's copy): contiguous loads and stores, ``dst[j] = src[j]``, compiled by numba to the
widest vector unit (:mod:`bench.harness.jit`), no method of the suite shaping the access. They
bound every streamed explicit method: each Jacobian entry costs one store into a tile and one
load from it, the store and load a copy does per element, so no streamed kernel whose tile lives
in a cache level can move its bytes faster than that level's copy.

- **sizes**: per core, source and destination together take two thirds of the L1d (the rest is
  left to the stack and the loop's other lines) or half of the L2 (which also holds the L1's
  victims), read from sysfs; a level sysfs does not report is not measured;
- **counted** as bytes read + written (a copy of B bytes moves 2·B), as likwid-bench counts;
- **the fastest of repeats**: interference only ever adds time, and a roof is a best;
- **threads**: numba's thread count, one buffer pair per thread (``prange`` over them).

Where ``likwid-bench`` is installed (Debian's ``likwid``), its copy kernel at the same sizes and
thread count is recorded beside ours as an independent cross-check; the suite never needs it.
This module imports only the harness: no case, method or kernel of the suite.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from bench.hardware import cache_bytes
from bench.harness import jit

LEVEL_SHARE = {1: 2 / 3, 2: 1 / 2}
"""Share of a core's cache at that level that its source and destination buffers take together."""
SECONDS = 0.25
"""Time spent repeating each level's copy (at most ``MAX_SAMPLES`` calls), after one warm-up call."""
MAX_SAMPLES = 2000
CALL_BYTES = 8 * 2**20
"""Bytes each core copies per timed call: about 40 µs at L1 speeds. Short on purpose: on a shared
machine a call is only as fast as its most descheduled thread, and a call shorter than the
scheduler's time slice often runs with every thread on a core (2-core machine under a load of 6:
a fastest call of 410 GB/s at 8 MiB per call, 84 GB/s at 400 MiB)."""
LIKWID_TIMEOUT = 60
GAP = 80
"""Elements (320 bytes) between a core's source and destination: a source and destination a
multiple of 4 KiB apart make every load wait on the store to the same page offset ("4K
aliasing"), which likwid-bench avoids the same way (its per-array offsets)."""
STRIDE_PAD = 1024
"""Elements between one core's buffers and the next's: room for the gap, other cache lines (a
multiple of 16, so that every core's source starts on a cache line, as the buffer does)."""


@jit.kernel(fastmath=True)
def _copy(src: Any, dst: Any, repeats: int) -> float:  # pragma: no cover - compiled
    """``dst[:] = src`` then ``src[:] = dst``, alternately, ``repeats`` times: plain contiguous
    loads and stores (the alternation keeps LLVM from proving a repeat redundant)."""
    n = src.shape[0]
    for r in range(repeats):
        if r % 2 == 0:
            for j in range(n):
                dst[j] = src[j]
        else:
            for j in range(n):
                src[j] = dst[j]
    return dst[n - 1]


@jit.kernel(parallel=True)
def _copy_every_core(
    buf: Any, n: int, gap: int, repeats: int, sums: Any
) -> None:  # pragma: no cover - compiled
    """Thread t copies between the two ``n``-element halves of its slice of ``buf``, ``gap``
    elements apart (contiguous 1-D slices: numba vectorises them)."""
    stride = buf.shape[0] // sums.shape[0]
    for t in numba.prange(sums.shape[0]):
        start = t * stride
        sums[t] = _copy(buf[start : start + n], buf[start + n + gap : start + 2 * n + gap], repeats)


def buffer_bytes(level: int, level_bytes: int) -> int:
    """Bytes of each of the two buffers a core copies between at ``level`` (a multiple of 64)."""
    return max(64, int(level_bytes * LEVEL_SHARE[level] / 2) // 64 * 64)


def _fastest(call: Any, seconds: float) -> tuple[float, int]:
    """The fastest of repeated calls of ``call`` for about ``seconds``, and how many ran."""
    samples: list[float] = []
    start = time.perf_counter()
    while not samples or (time.perf_counter() - start < seconds and len(samples) < MAX_SAMPLES):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return min(samples), len(samples)


def copy_gbps(nbytes: int, threads: int, seconds: float = SECONDS) -> dict[str, Any]:
    """Every one of ``threads`` cores copying between its own two buffers of ``nbytes``: GB/s
    of bytes read + written at the fastest call.

    Also one core alone, times ``threads``: each core's cache is its own, so no set of cores
    copies faster than each copying at its own best, and a single thread's short call is rarely
    interrupted where a call of every thread at once waits for the most descheduled one (under a
    load of 17 on 2 cores every-core calls read 2 GB/s for an hour-old 990). ``gbps`` is the
    larger of the two, ``gbps_every_core`` and ``gbps_one_core`` both kept.
    """
    n = nbytes // 4
    buf = jit.aligned_empty(threads * (2 * n + STRIDE_PAD), np.float32, fill=1.0)
    sums = np.empty(threads, dtype=np.float32)
    repeats = max(2, CALL_BYTES // nbytes // 2 * 2)
    _copy_every_core(buf, n, GAP, 2, sums)  # compile (or load), first-touch, spin the threads up
    every, calls = _fastest(lambda: _copy_every_core(buf, n, GAP, repeats, sums), seconds)
    src, dst = buf[:n], buf[n + GAP : 2 * n + GAP]
    one, one_calls = _fastest(lambda: _copy(src, dst, repeats), seconds / 2)
    gbps_every = 2 * nbytes * threads * repeats / every / 1e9
    gbps_one = 2 * nbytes * repeats / one / 1e9
    return {
        "gbps": max(gbps_every, threads * gbps_one),
        "gbps_every_core": gbps_every,
        "gbps_one_core": gbps_one,
        "statistic": f"larger of every core at once (fastest of {calls} calls) and one core × "
        f"{threads} (fastest of {one_calls})",
        "bytes_per_call": 2 * nbytes * repeats,
        "vector_bits": jit.vector_bits(_copy, src, dst, repeats),
    }


def cache_roofs(threads: int | None = None, seconds: float = SECONDS) -> dict[str, Any]:
    """``l1_copy`` and ``l2_copy`` roofs for the levels sysfs reports, each with its buffer
    sizes, threads, the vector width emitted and likwid-bench's copy at the same sizes."""
    threads = threads or int(numba.get_num_threads())
    roofs: dict[str, Any] = {}
    for level in (1, 2):
        level_bytes = cache_bytes(level)
        if not level_bytes:
            continue
        nbytes = buffer_bytes(level, level_bytes)
        roofs[f"l{level}_copy"] = copy_gbps(nbytes, threads, seconds) | {
            "level": f"L{level}d" if level == 1 else f"L{level}",
            "level_bytes_per_core": level_bytes,
            "buffer_bytes": nbytes,
            "bytes_per_core": 2 * nbytes,
            "threads": threads,
            "likwid": likwid_copy(2 * nbytes, threads),
        }
    return roofs


def likwid_test() -> str:
    """likwid-bench's copy kernel for the widest vectors the CPU reports."""
    flags = _cpu_flags()
    if "avx512f" in flags:
        return "copy_avx512"
    return "copy_avx" if "avx" in flags else "copy"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(found.group(1).split()) if found else set()


MBYTES = re.compile(r"^MByte/s:\s*([0-9.]+)", re.MULTILINE)


def likwid_copy(bytes_per_core: int, threads: int) -> dict[str, Any]:
    """likwid-bench's copy over ``bytes_per_core`` (both arrays) on each of ``threads`` cores,
    in GB/s of bytes read + written; ``status`` says why there is no figure."""
    exe = shutil.which("likwid-bench")
    if exe is None:
        return {"status": "not installed"}
    test = likwid_test()
    size = f"{math.ceil(bytes_per_core * threads / 1024)}kB"
    command = [exe, "-t", test, "-w", f"N:{size}:{threads}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=LIKWID_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"status": f"failed: {exc}", "command": " ".join(command[1:])}
    found = MBYTES.search(done.stdout)
    if done.returncode != 0 or found is None:
        why = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return {"status": f"failed: {why[0]}", "command": " ".join(command[1:])}
    return {
        "status": "ok",
        "gbps": float(found.group(1)) / 1e3,
        "test": test,
        "command": " ".join(command[1:]),
    }
