"""Roofs measured in the same run: large-GEMM throughput and copy bandwidth, per device.

Results are reported as fractions of these roofs rather than as absolute times, because
absolute times on shared machines drift while the ratio to a roof measured minutes earlier on
the same machine, threads and dtype holds. Each roof is the median of several timed repeats
after a warm-up, with CUDA synchronised around every repeat.
"""

from __future__ import annotations

import functools
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


def gemm_roof(device: str, dtype: str) -> dict[str, Any]:
    """GFLOP/s of an S×S by S×S matmul in ``dtype`` (2·S³ FLOPs)."""
    size = GEMM_SIZE["cuda" if device.startswith("cuda") else "cpu"]
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
        "dtype": dtype,
        "seconds": samples,
    }


def copy_roof(device: str) -> dict[str, Any]:
    """GB/s of ``dst.copy_(src)`` over a buffer far larger than cache, counting read + write."""
    nbytes = COPY_BYTES["cuda" if device.startswith("cuda") else "cpu"]
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.zeros_like(src)  # both touched before timing: no page faults in the timed copy
    samples = _median_seconds(lambda: dst.copy_(src), synchronizer(device))
    median = statistics.median(samples)
    return {"gbps": 2 * nbytes / median / 1e9, "bytes": nbytes, "seconds": samples}


LOCAL_COPY_BYTES = {"cpu": 256 * 2**20, "cuda": 2**30}
LOCAL_GEMM_SIZE = {"cpu": 1024, "cuda": 8192}
LOCAL_REPEATS = 3


def local_roof(backend: str, device: str, dtype: str, kind: str) -> float:
    """A roof measured right before a case, with the case's own backend: GB/s or GFLOP/s.

    Why: on a shared machine the copy bandwidth was seen to drift between 22 and 51 GB/s within
    minutes, so a case is compared with the roof measured seconds before it, not at the start
    of the run. The backend matters too: numpy copies on one thread through its own code, and
    mixing torch's OpenMP pool into the numpy process would slow both (see the runtime pass).
    """
    where = "cuda" if device.startswith("cuda") else "cpu"
    sync = synchronizer(device) if backend == "torch" else lambda: None
    if kind == "copy":
        src, dst = _roof_buffers(backend, device, "float32", LOCAL_COPY_BYTES[where] // 4)
        copy = (lambda: np.copyto(dst, src)) if backend == "numpy" else (lambda: dst.copy_(src))
        samples = _median_seconds(copy, sync, LOCAL_REPEATS)
        return 2 * LOCAL_COPY_BYTES[where] / statistics.median(samples) / 1e9
    size = LOCAL_GEMM_SIZE[where]
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


def measure_roofs(device: str, dtypes: tuple[str, ...]) -> dict[str, Any]:
    """Both roofs for one device, GEMM once per dtype of the run."""
    return {
        "gemm": {dtype: gemm_roof(device, dtype) for dtype in dtypes},
        "copy": copy_roof(device),
        "threads": torch.get_num_threads(),
    }
