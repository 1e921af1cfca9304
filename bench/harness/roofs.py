"""Roofs measured in the same run: large-GEMM throughput and copy bandwidth, per device.

Results are reported as fractions of these roofs rather than as absolute times, because
absolute times on shared machines drift while the ratio to a roof measured minutes earlier on
the same machine, threads and dtype holds.

A roof is a best, not a typical figure: a case that beats its roof shows only that the roof was
measured too low. So each roof is the fastest of several timed repeats after a warm-up (with
CUDA synchronised around every repeat; interference only ever adds time), and the GEMM roof is
the best over several shapes: large squares, and the skinny products the formula computes in
the sweep and at the target (an N×M by M×D and a D×N by N×M product with N much smaller than D
and M), where a BLAS can run faster or slower than on a square.

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

from bench.harness.cudatime import synchronizer
from bench.problem import TARGET, Shape, formula_shapes  # formula_shapes, Shape: re-exported

GEMM_SIZE = {"cpu": 2048, "cuda": 8192}
"""Square GEMM edge: large enough to run at the BLAS's peak, small enough to take well under a second."""
SKINNY_POINT = (16, 2048, 2048)
"""An (N, D, M) with the sweep's small N (every profile's base has N of 16 or 32) and large D, M."""


def gemm_shapes(device: str) -> list[Shape]:
    """The shapes the start-of-run GEMM roof is the best of: two squares, the formula's products
    at the target and at a skinny sweep point."""
    size = GEMM_SIZE["cuda" if device.startswith("cuda") else "cpu"]
    return [(size, size, size), (size // 2,) * 3, *formula_shapes(*TARGET), *formula_shapes(*SKINNY_POINT)]


def gemm_bytes(shape: Shape, dtype: str) -> int:
    """Bytes of both operands and the product."""
    r, k, c = shape
    return (r * k + k * c + r * c) * _itemsize(dtype)


def shape_within(limit: int, shape: Shape, dtype: str) -> Shape:
    """``shape``, or the same proportions scaled down until operands and product fit ``limit``."""
    scaled = shape
    while gemm_bytes(scaled, dtype) > limit and max(scaled) > 1:
        factor = math.sqrt(max(limit, 1) / gemm_bytes(scaled, dtype))
        r, k, c = (max(1, min(x - 1, int(x * factor))) for x in scaled)
        scaled = (r, k, c)
    return scaled


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


def timed_seconds(run: Callable[[], Any], sync: Callable[[], None], repeats: int = REPEATS) -> list[float]:
    """Seconds of each of ``repeats`` synchronised calls after one warm-up (roofs and the headline)."""
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


Timer = Callable[[Callable[[], Any], Callable[[], None], int], list[float]]
"""How a roof times a call: (call, sync, repeats) → seconds of each repeat. Tests stub it."""


def _torch_gemm_seconds(
    shape: Shape, device: str, dtype: str, timer: Timer, repeats: int, gen: torch.Generator
) -> list[float]:
    r, k, c = shape
    torch_dtype = getattr(torch, dtype)
    a = torch.randn(r, k, generator=gen, dtype=torch_dtype).to(device)
    b = torch.randn(k, c, generator=gen, dtype=torch_dtype).to(device)
    out = torch.empty(r, c, dtype=torch_dtype, device=device)
    return timer(lambda: torch.mm(a, b, out=out), synchronizer(device), repeats)


def best_gemm(
    shapes: list[Shape],
    time_shape: Callable[[Shape], list[float]],
) -> dict[str, Any]:
    """The best GFLOP/s over ``shapes``, each at its fastest repeat, with every shape's figure."""
    measured = []
    for shape in shapes:
        samples = time_shape(shape)
        r, k, c = shape
        measured.append(
            {"shape": list(shape), "gflops": 2 * r * k * c / min(samples) / 1e9, "seconds": samples}
        )
    best = max(measured, key=lambda entry: entry["gflops"])
    return {"gflops": best["gflops"], "shape": best["shape"], "shapes": measured}


def gemm_roof(
    device: str, dtype: str, budget: int | None = None, timer: Timer | None = None
) -> dict[str, Any]:
    """GFLOP/s of the fastest of :func:`gemm_shapes` in ``dtype``, each shrunk to fit ``budget``.

    ``size`` is the large square's edge, ``shape`` the fastest shape, ``shapes`` every shape's
    figure and repeats, ``buffer_bytes`` the most any one shape held (one shape at a time).
    """
    limit = budget if budget is not None else 2**62
    shapes = list(dict.fromkeys(shape_within(limit, shape, dtype) for shape in gemm_shapes(device)))
    gen = torch.Generator(device="cpu").manual_seed(0)
    chosen = timer or timed_seconds
    result = best_gemm(shapes, lambda shape: _torch_gemm_seconds(shape, device, dtype, chosen, REPEATS, gen))
    return result | {
        "size": shapes[0][0],
        "buffer_bytes": max(gemm_bytes(shape, dtype) for shape in shapes),
        "dtype": dtype,
        "statistic": f"best of {len(shapes)} shapes, fastest of {REPEATS} repeats each",
    }


def copy_roof(device: str, budget: int | None = None) -> dict[str, Any]:
    """GB/s of ``dst.copy_(src)`` over a buffer far larger than cache (unless ``budget`` is
    smaller), counting read + write, at the fastest of its repeats (``gbps_median`` beside it)."""
    nbytes = COPY_BYTES["cuda" if device.startswith("cuda") else "cpu"]
    if budget is not None:
        nbytes = copy_bytes_within(budget, nbytes)
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.zeros_like(src)  # both touched before timing: no page faults in the timed copy
    samples = timed_seconds(lambda: dst.copy_(src), synchronizer(device))
    return {
        "gbps": 2 * nbytes / min(samples) / 1e9,
        "gbps_median": 2 * nbytes / statistics.median(samples) / 1e9,
        "bytes": nbytes,
        "buffer_bytes": 2 * nbytes,
        "statistic": f"fastest of {REPEATS} repeats",
        "seconds": samples,
    }


LOCAL_COPY_BYTES = {"cpu": 256 * 2**20, "cuda": 2**30}
LOCAL_GEMM_SIZE = {"cpu": 1024, "cuda": 8192}
LOCAL_REPEATS = 3
LOCAL_SHARE = {"copy": 0.4, "gemm": 0.2, "shapes": 0.2}
"""Share of the budget each kind of local roof may hold: a runtime process caches its copy
buffers and one square GEMM pair per dtype (two dtypes at most) for its lifetime; the case's own
GEMM shapes are allocated for one measurement and freed. Together they stay within the budget."""


def local_roof(
    backend: str,
    device: str,
    dtype: str,
    kind: str,
    budget: int | None = None,
    shapes: list[Shape] | None = None,
) -> float:
    """A roof measured right before a case, with the case's own backend: GB/s or GFLOP/s.

    Why: on a shared machine the copy bandwidth was seen to drift between 22 and 51 GB/s within
    minutes, so a case is compared with the roof measured seconds before it, not at the start
    of the run. The backend matters too: numpy copies on one thread through its own code, and
    mixing torch's OpenMP pool into the numpy process would slow both (see the runtime pass).
    Each figure is the fastest repeat; the GEMM roof is the best of a square and ``shapes``
    (the case's own products, :func:`formula_shapes`), so that no case can beat its roof on a
    shape the square does not represent.
    """
    where = "cuda" if device.startswith("cuda") else "cpu"
    sync = synchronizer(device) if backend == "torch" else lambda: None
    limit = budget if budget is not None else 2**62
    if kind == "copy":
        nbytes = copy_bytes_within(int(limit * LOCAL_SHARE["copy"]), LOCAL_COPY_BYTES[where])
        src, dst = _roof_buffers(backend, device, "float32", nbytes // 4)
        copy = (lambda: np.copyto(dst, src)) if backend == "numpy" else (lambda: dst.copy_(src))
        samples = timed_seconds(copy, sync, LOCAL_REPEATS)
        return 2 * nbytes / min(samples) / 1e9
    size = gemm_size_within(int(limit * LOCAL_SHARE["gemm"]), LOCAL_GEMM_SIZE[where], dtype)

    def time_shape(shape: Shape) -> list[float]:
        r, k, c = shape
        if shape == (size, size, size):
            a, b = _roof_buffers(backend, device, dtype, size * size)
        else:
            a, b = _fresh_buffers(backend, device, dtype, r * k, k * c)
        a, b = a.reshape(r, k), b.reshape(k, c)
        return timed_seconds(lambda: a @ b, sync, LOCAL_REPEATS)

    fitted = [shape_within(int(limit * LOCAL_SHARE["shapes"]), shape, dtype) for shape in shapes or []]
    return best_gemm(list(dict.fromkeys([(size, size, size), *fitted])), time_shape)["gflops"]


def _fresh_buffers(backend: str, device: str, dtype: str, first: int, second: int) -> tuple[Any, Any]:
    """Two touched buffers for one measurement, freed with it."""
    if backend == "numpy":
        return np.ones(first, dtype=dtype), np.ones(second, dtype=dtype)
    torch_dtype = getattr(torch, dtype)
    return torch.ones(first, dtype=torch_dtype, device=device), torch.ones(
        second, dtype=torch_dtype, device=device
    )


@functools.cache
def _roof_buffers(backend: str, device: str, dtype: str, numel: int) -> tuple[Any, Any]:
    """Two touched buffers, allocated once per process: fresh pages would time page faults."""
    if backend == "numpy":
        return np.ones(numel, dtype=dtype), np.zeros(numel, dtype=dtype)
    src = torch.ones(numel, dtype=getattr(torch, dtype), device=device)
    return src, torch.zeros_like(src)


FIRST_TOUCH_BYTES = 256 * 2**20
"""The first-touch roof's buffer: far above glibc's 32 MiB mmap threshold, so each repeat maps
new pages, as a cold call's large result does."""


def first_touch_roof(budget: int | None = None, repeats: int = REPEATS) -> dict[str, Any]:
    """GB/s at which fresh pages are written: a new ``torch.empty`` above the mmap threshold,
    filled once, then freed (its pages go back to the kernel), fastest of ``repeats``.

    What a cold call pays for each byte of a fresh large result (page faults and zeroing by the
    kernel), beside the copy roof's bandwidth over pages already mapped.
    """
    nbytes = FIRST_TOUCH_BYTES if budget is None else max(2**20, min(FIRST_TOUCH_BYTES, budget // 2))
    samples = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        torch.empty(nbytes // 4, dtype=torch.float32).fill_(1.0)
        samples.append(time.perf_counter() - start)
    samples = samples[1:]  # the first also loads the fill kernel
    return {
        "gbps": nbytes / min(samples) / 1e9,
        "bytes": nbytes,
        "statistic": f"fastest of {repeats} repeats",
        "seconds": samples,
    }


def measure_roofs(device: str, dtypes: tuple[str, ...], budget: int | None = None) -> dict[str, Any]:
    """The device's roofs, each within ``budget``: GEMM once per dtype of the run, copy bandwidth
    and, on the CPU, the first-touch roof (fresh pages) and the in-cache roof (every core writing
    and reading a tile of its own cache: the floor of the compiled streamed kernel,
    :func:`bench.compiled.incache_roof`)."""
    roofs: dict[str, Any] = {
        "gemm": {dtype: gemm_roof(device, dtype, budget) for dtype in dtypes},
        "copy": copy_roof(device, budget),
        "threads": torch.get_num_threads(),
    }
    if not device.startswith("cuda"):
        from bench.compiled import incache_roof

        roofs["first_touch"] = first_touch_roof(budget)
        roofs["incache"] = incache_roof()
    return roofs


def roof_buffer_bytes(device: str, dtypes: tuple[str, ...], budget: int | None) -> dict[str, int]:
    """The most bytes the roofs hold at once: ``roofs`` (start of run, one roof at a time) and
    ``local`` (the per-case roofs, whose buffers a runtime process keeps for its lifetime)."""
    where = "cuda" if device.startswith("cuda") else "cpu"
    limit = budget if budget is not None else 2**62
    copy = 2 * copy_bytes_within(limit, COPY_BYTES[where])
    gemm = [gemm_bytes(shape_within(limit, s, t), t) for t in dtypes for s in gemm_shapes(device)]
    local_copy = 2 * copy_bytes_within(int(limit * LOCAL_SHARE["copy"]), LOCAL_COPY_BYTES[where])
    local_gemm = [
        3 * gemm_size_within(int(limit * LOCAL_SHARE["gemm"]), LOCAL_GEMM_SIZE[where], t) ** 2 * _itemsize(t)
        for t in dtypes
    ]
    # A case's own GEMM shapes, one measurement at a time; the target's are the largest any
    # profile's formula computes.
    largest = max(gemm_bytes(shape, t) for t in dtypes for shape in formula_shapes(*TARGET))
    shapes = min(int(limit * LOCAL_SHARE["shapes"]), largest)
    return {"roofs": max([copy, *gemm]), "local": local_copy + sum(local_gemm) + shapes}
