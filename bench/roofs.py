"""Roofs measured in the same run: large-GEMM throughput and copy bandwidth, per device.

Results are reported as fractions of these roofs rather than as absolute times, because
absolute times on shared machines drift while the ratio to a roof measured minutes earlier on
the same machine, threads and dtype holds. Each roof is the median of several timed repeats
after a warm-up, with CUDA synchronised around every repeat.

Roof buffers fit the run's memory budget: with a small budget they shrink (a roof measured on
buffers that fit in cache reads high, which the recorded sizes let a reader see), because a
budget that the suite itself overruns bounds nothing. A fresh run under ``prlimit`` once died in
the 1 GiB copy roof before its first case.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench.inputs import synchronizer

GEMM_SIZE = {"cpu": 2048, "cuda": 8192}
"""Square GEMM edge: large enough to run at the BLAS's peak, small enough to take well under a second."""
COPY_BYTES = {"cpu": 512 * 2**20, "cuda": 2 * 2**30}
"""Copy buffer size: far beyond the last-level cache, so the copy streams from DRAM."""
REPEATS = 7


def _itemsize(dtype: str) -> int:
    return torch.empty(0, dtype=getattr(torch, dtype)).element_size()


def copy_bytes_within(limit: int, wanted: int) -> int:
    """Bytes of one copy buffer: ``wanted``, or less so that source and destination fit ``limit``."""
    return max(4, min(wanted, limit // 2) // 4 * 4)


def gemm_size_within(limit: int, wanted: int, dtype: str) -> int:
    """GEMM edge: ``wanted``, or less so that A, B and the product (3·S² elements) fit ``limit``."""
    fits = math.isqrt(max(limit, 0) // (3 * _itemsize(dtype)))
    return max(1, min(wanted, fits))


def _median_seconds(run: Callable[[], Any], sync: Callable[[], None], repeats: int = REPEATS) -> list[float]:
    run()
    sync()  # warm-up: first-touch pages, load kernels, spin up BLAS threads
    samples = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        run()
        sync()
        samples.append(time.perf_counter() - start)
    return samples


def gemm_roof(device: str, dtype: str, budget: int | None = None) -> dict[str, Any]:
    """GFLOP/s of an S×S by S×S matmul in ``dtype`` (2·S³ FLOPs), S shrunk to fit ``budget``."""
    size = GEMM_SIZE["cuda" if device.startswith("cuda") else "cpu"]
    if budget is not None:
        size = gemm_size_within(budget, size, dtype)
    torch_dtype = getattr(torch, dtype)
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen, dtype=torch_dtype).to(device)
    b = torch.randn(size, size, generator=gen, dtype=torch_dtype).to(device)
    out = torch.empty(size, size, dtype=torch_dtype, device=device)
    samples = _median_seconds(lambda: torch.mm(a, b, out=out), synchronizer(device))
    median = statistics.median(samples)
    return {
        "gflops": 2 * size**3 / median / 1e9,
        "size": size,
        "buffer_bytes": 3 * size * size * _itemsize(dtype),
        "dtype": dtype,
        "seconds": samples,
    }


def copy_roof(device: str, budget: int | None = None) -> dict[str, Any]:
    """GB/s of ``dst.copy_(src)`` over a buffer far larger than cache (unless ``budget`` is
    smaller), counting read + write."""
    nbytes = COPY_BYTES["cuda" if device.startswith("cuda") else "cpu"]
    if budget is not None:
        nbytes = copy_bytes_within(budget, nbytes)
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.zeros_like(src)  # both touched before timing: no page faults in the timed copy
    samples = _median_seconds(lambda: dst.copy_(src), synchronizer(device))
    median = statistics.median(samples)
    gbps = 2 * nbytes / median / 1e9
    return {"gbps": gbps, "bytes": nbytes, "buffer_bytes": 2 * nbytes, "seconds": samples}


LOCAL_COPY_BYTES = {"cpu": 256 * 2**20, "cuda": 2**30}
LOCAL_GEMM_SIZE = {"cpu": 1024, "cuda": 8192}
LOCAL_REPEATS = 3
LOCAL_SHARE = {"copy": 0.5, "gemm": 0.25}
"""Share of the budget each kind of local roof may keep: a runtime process caches its copy
buffers and one GEMM pair per dtype (two dtypes at most) for its lifetime, so together they
stay within the budget."""


def local_roof(backend: str, device: str, dtype: str, kind: str, budget: int | None = None) -> float:
    """A roof measured right before a case, with the case's own backend: GB/s or GFLOP/s.

    Why: on a shared machine the copy bandwidth was seen to drift between 22 and 51 GB/s within
    minutes, so a case is compared with the roof measured seconds before it, not at the start
    of the run. The backend matters too: numpy copies on one thread through its own code, and
    mixing torch's OpenMP pool into the numpy process would slow both (see the runtime pass).
    """
    where = "cuda" if device.startswith("cuda") else "cpu"
    sync = synchronizer(device) if backend == "torch" else lambda: None
    limit = budget if budget is not None else 2**62
    if kind == "copy":
        nbytes = copy_bytes_within(int(limit * LOCAL_SHARE["copy"]), LOCAL_COPY_BYTES[where])
        src, dst = _roof_buffers(backend, device, "float32", nbytes // 4)
        copy = (lambda: np.copyto(dst, src)) if backend == "numpy" else (lambda: dst.copy_(src))
        samples = _median_seconds(copy, sync, LOCAL_REPEATS)
        return 2 * nbytes / statistics.median(samples) / 1e9
    size = gemm_size_within(int(limit * LOCAL_SHARE["gemm"]), LOCAL_GEMM_SIZE[where], dtype)
    a, b = _roof_buffers(backend, device, dtype, size * size)
    a, b = a.reshape(size, size), b.reshape(size, size)
    samples = _median_seconds(lambda: a @ b, sync, LOCAL_REPEATS)
    return 2 * size**3 / statistics.median(samples) / 1e9


@functools.cache
def _roof_buffers(backend: str, device: str, dtype: str, numel: int) -> tuple[Any, Any]:
    """Two touched buffers, allocated once per process: fresh pages would time page faults."""
    if backend == "numpy":
        return np.ones(numel, dtype=dtype), np.zeros(numel, dtype=dtype)
    src = torch.ones(numel, dtype=getattr(torch, dtype), device=device)
    return src, torch.zeros_like(src)


def measure_roofs(device: str, dtypes: tuple[str, ...], budget: int | None = None) -> dict[str, Any]:
    """Both roofs for one device, GEMM once per dtype of the run, each within ``budget``."""
    return {
        "gemm": {dtype: gemm_roof(device, dtype, budget) for dtype in dtypes},
        "copy": copy_roof(device, budget),
        "threads": torch.get_num_threads(),
    }


def roof_buffer_bytes(device: str, dtypes: tuple[str, ...], budget: int | None) -> dict[str, int]:
    """The most bytes the roofs hold at once: ``roofs`` (start of run, one roof at a time) and
    ``local`` (the per-case roofs, whose buffers a runtime process keeps for its lifetime)."""
    where = "cuda" if device.startswith("cuda") else "cpu"
    limit = budget if budget is not None else 2**62
    copy = 2 * copy_bytes_within(limit, COPY_BYTES[where])
    gemm = [3 * gemm_size_within(limit, GEMM_SIZE[where], t) ** 2 * _itemsize(t) for t in dtypes]
    local_copy = 2 * copy_bytes_within(int(limit * LOCAL_SHARE["copy"]), LOCAL_COPY_BYTES[where])
    local_gemm = [
        3 * gemm_size_within(int(limit * LOCAL_SHARE["gemm"]), LOCAL_GEMM_SIZE[where], t) ** 2 * _itemsize(t)
        for t in dtypes
    ]
    return {"roofs": max([copy, *gemm]), "local": local_copy + sum(local_gemm)}
