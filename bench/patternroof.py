"""The pattern roof: a diagnostic of the compiled kernel, never a floor.

Every core writes, then reads, a buffer of the tile's size with the kernel's own fill and
contraction. It says how well that access pattern runs on the machine; what the machine allows
is the L1 copy roof (:mod:`bench.harness.cacheroofs`), measured with a plain copy.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np

from bench.compiled import threads, tile_bytes
from bench.harness import jit
from bench.kernelsteps import ROW_WIDTH, contract


@jit.kernel(parallel=True, fastmath=True)
def _write_then_read(buffers: Any, repeats: int, sums: Any) -> None:  # pragma: no cover - compiled
    """Each core writes its buffer whole, a tile row at a time (zeros and one value per row, as
    the kernels' fill writes its rows), then reads it whole with the kernels' own contraction
    (:func:`bench.kernelsteps.contract`, weights of one): their access pattern with nothing to look up, so no
    streamed kernel of this shape can beat it by more than the noise."""
    for t in numba.prange(buffers.shape[0]):
        buf = buffers[t]
        rows = buf.shape[0] // ROW_WIDTH
        ones = np.ones(rows, dtype=buf.dtype)
        acc = np.zeros(ROW_WIDTH, dtype=buf.dtype)
        for rep in range(repeats):
            for i in range(rows):
                row = buf[i * ROW_WIDTH : (i + 1) * ROW_WIDTH]
                for j in range(ROW_WIDTH):
                    row[j] = 0.0
                row[(i + rep) % ROW_WIDTH] = 1.0
            contract(buf, ROW_WIDTH, ROW_WIDTH, rows, ones, 0, acc)
        sums[t] = acc.sum()


def pattern_roof(tile: int | None = None, seconds: float = 0.2) -> dict[str, Any]:
    """A diagnostic, never a floor: GB/s of every core at once writing, then reading, its own
    buffer of the tile's size with this kernel's own fill and contraction (:func:`_write_then_read`).

    Counted as the streamed kernels count their Jacobian: each byte written once and read once
    is two bytes of traffic. The fastest of the repeats (interference only adds time).
    """
    size = max(tile or tile_bytes(), ROW_WIDTH * 4)
    buffers = np.empty((threads(), size // 4 // ROW_WIDTH * ROW_WIDTH), dtype=np.float32)
    sums = np.empty(threads(), dtype=np.float64)
    _write_then_read(buffers, 1, sums)  # compile (or load) and warm the buffers
    repeats = max(1, int(2e8 // buffers.size))
    samples = []
    start = time.perf_counter()
    while not samples or (time.perf_counter() - start < seconds and len(samples) < 50):
        t0 = time.perf_counter()
        _write_then_read(buffers, repeats, sums)
        samples.append(time.perf_counter() - t0)
    moved = 2 * buffers.nbytes * repeats
    return {
        "gbps": moved / min(samples) / 1e9,
        "tile_bytes": size,
        "threads": threads(),
        "statistic": f"fastest of {len(samples)} repeats",
        "seconds": samples,
    }
