"""Wᵀ packed for the compiled dY/dX kernel: one contiguous panel per column block.

Row (n, k) of dY/dX = I_N ⊗ Wᵀ holds Wᵀ[k, :] where n = g, so a column block (g, c0) of the
Jacobian copies Wᵀ[k, c0 : c0 + width] for every k into its tiles. Read from a plain Wᵀ those
are M pieces 4·D bytes apart; from a panel they are one sequential stream that the hardware
prefetchers follow. The pack itself is a transposition, as ``np.ascontiguousarray(W.T)`` was:
every core packs squares of :data:`PACK` × :data:`PACK` (4096 × 4096 float32 on a 2-core AVX-512
Xeon: 24-40 ms, against 145-152 ms for numpy's single-threaded transposed copy).
"""

from __future__ import annotations

import mmap
from typing import Any

import numba
import numpy as np

from bench.harness import jit

PACK = 16
"""The pack's square: 16 rows of W by 16 of its columns per step, read as 16 pieces of a cache
line and written as 16 (one line of float32 each way), so both sides stay in L1."""


@jit.kernel(parallel=True)
def _pack(W: Any, out: Any, width: int) -> None:  # pragma: no cover - compiled
    """out = Wᵀ cut into panels of ``width`` columns (:func:`panels`), every core packing
    :data:`PACK` rows of a panel at a time, in squares of :data:`PACK` × :data:`PACK`."""
    d, m = W.shape
    per = (m + PACK - 1) // PACK
    for t in numba.prange(((d + width - 1) // width) * per):
        c0, k0 = (t // per) * width, (t % per) * PACK
        w, k1 = min(width, d - c0), min(k0 + PACK, m)
        base = c0 * m
        for cb in range(0, w, PACK):
            ce = min(cb + PACK, w)
            for k in range(k0, k1):
                at = base + k * w
                for c in range(cb, ce):
                    out[at + c] = W[c0 + c, k]


def panels(W: np.ndarray, width: int) -> np.ndarray:
    """Wᵀ as the dY/dX kernel reads it: one contiguous panel per column block (``width`` columns
    of Wᵀ, the last one narrower), each M rows of its block's columns, one after the other. The
    rows a block copies into its tiles are then one sequential stream that the hardware
    prefetchers follow, not M pieces 4·D bytes apart; as many bytes as W (1-D, D·M entries)."""
    out = mapped_empty(W.size, W.dtype)
    _pack(np.ascontiguousarray(W), out, width)
    return out


def mapped_empty(count: int, dtype: Any) -> np.ndarray:
    """``np.empty(count, dtype)`` whose pages the OS maps in one call (``MAP_POPULATE``), where
    Linux offers it, instead of one page fault at a time as the pack first writes each page:
    64 MiB took 29-45 ms so, against about 115 ms of faults inside the pack, on a 2-core Xeon VM.
    The buffer is fresh either way, in the timed pass, and freed with the array; memray sees it
    as it sees numpy's own large buffers (an anonymous ``mmap``)."""
    dtype = np.dtype(dtype)
    populate = getattr(mmap, "MAP_POPULATE", 0)
    if not populate or count == 0:
        return np.empty(count, dtype=dtype)
    mapped = mmap.mmap(-1, count * dtype.itemsize, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate)
    return np.frombuffer(mapped, dtype=dtype, count=count)
