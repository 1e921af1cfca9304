"""The streamed explicit method compiled for the CPU, on every core, and the in-cache roof it is held to.

Why numba: an LLVM JIT that comes as a wheel (numba, llvmlite), so nothing is compiled at install
time and no compiler is needed at run time; ``prange`` spreads a loop over every core; and
``cache=True`` keeps the machine code on disk, so a fresh process (the memory pass and the A/B
fork one per case) loads it in milliseconds instead of compiling again. A C extension or Cython
would need a compiler when installed; ``streamed-torch`` keeps a Python loop and torch calls per
tile, which is what held it to a third of this kernel's speed.

The semantics are ``streamed-torch``'s: every entry of dY/dX = I_N ⊗ Wᵀ and of dY/dW = X ⊗ I_M,
zeros included, is written once into a tile buffer, and the contraction with vec(dY) then reads
the whole tile. Beyond it:

- **every core, each with its own tile and its own accumulator**: the result's columns are cut
  into blocks, and a core takes whole blocks. Its accumulator is the slice of dX (or dW) that
  the block's columns own, so the slices are disjoint and need no reduction;
- **the tile from the measured cache**: half the per-core L2 (:func:`tile_bytes`), so that the
  tile, the accumulator slice and the rows of W or X it copies stay in that core's cache;
- **a loop order that keeps the accumulator in cache**: column blocks outermost, then every row
  block of the Jacobian, so one accumulator slice (a tile row) is reused across all row blocks.

Its floor is :func:`incache_roof`: every core at once writing, then reading, a buffer of the
tile's size in its own cache. That is the most any streamed explicit method could reach here.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np

from bench.hardware import cache_bytes

DEFAULT_TILE_BYTES = 256 * 2**10
"""The tile when sysfs says nothing about the caches: half of a common 512 KiB L2."""
ROW_WIDTH = 512
"""Columns in a tile row (the accumulator slice): 2 KiB of float32, well inside L1."""


def tile_bytes() -> int:
    """Half the per-core L2 (the tile shares it with the accumulator and the rows it copies)."""
    l2 = cache_bytes(2)
    return l2 // 2 if l2 else DEFAULT_TILE_BYTES


def threads() -> int:
    """The cores the kernels run on: numba's thread count (set by ``bench.harness.threads``)."""
    return int(numba.get_num_threads())


@numba.njit(cache=True, fastmath=True, inline="always")
def _contract(tile: Any, width: int, w: int, count: int, vec: Any, r0: int, acc: Any) -> None:
    """acc += the tile's ``count`` rows weighted by vec[r0:]: every entry of the tile read once.

    Four rows at a time, so the accumulator (a local, contiguous array: LLVM vectorises it) is
    loaded and stored once per four tile entries rather than once per entry.
    """
    i = 0
    while i + 4 <= count:
        g0, g1, g2, g3 = vec[r0 + i], vec[r0 + i + 1], vec[r0 + i + 2], vec[r0 + i + 3]
        t0 = tile[i * width : i * width + w]
        t1 = tile[(i + 1) * width : (i + 1) * width + w]
        t2 = tile[(i + 2) * width : (i + 2) * width + w]
        t3 = tile[(i + 3) * width : (i + 3) * width + w]
        for j in range(w):
            acc[j] += t0[j] * g0 + t1[j] * g1 + t2[j] * g2 + t3[j] * g3
        i += 4
    while i < count:
        g = vec[r0 + i]
        t0 = tile[i * width : i * width + w]
        for j in range(w):
            acc[j] += t0[j] * g
        i += 1


@numba.njit(parallel=True, cache=True, fastmath=True)
def _stream(
    dydx: bool, src: Any, dy: Any, tiles: Any, out: Any, lo: int, hi: int
) -> None:  # pragma: no cover - compiled
    """out = vec(dY)ᵀ · J over J's column blocks ``lo`` to ``hi`` (:func:`column_blocks`), each
    tile of J written whole, then read whole, for J = dY/dX (``dydx``, ``src`` = Wᵀ, out = dX) or
    J = dY/dW (``src`` = X, out = dW).

    J's columns are (g, c) with g over out's rows and c over its columns; its rows are (n, k),
    k < M. Row (n, k) of dY/dX = I_N ⊗ Wᵀ holds Wᵀ[k, c] where n = g, zeros elsewhere; row
    (n, k) of dY/dW = X ⊗ I_M holds X[n, g] at c = k, zeros elsewhere.
    """
    n, m = dy.shape
    columns = out.shape[1]
    width = min(ROW_WIDTH, columns)
    per_group = (columns + width - 1) // width
    rows = max(1, tiles.shape[1] // width)
    vec = dy.ravel()
    for b in numba.prange(hi - lo):
        block = lo + b
        tile = tiles[numba.get_thread_id()]
        g, c0 = block // per_group, (block % per_group) * width
        w = min(width, columns - c0)
        acc = np.zeros(w, dtype=out.dtype)  # this block's columns of the result: no other block adds to them
        for r0 in range(0, n * m, rows):
            count = min(rows, n * m - r0)
            for i in range(count):  # fill: every entry of the tile's rows, zeros included
                row_n = (r0 + i) // m
                k = r0 + i - row_n * m
                t = tile[i * width : i * width + w]
                if dydx and row_n == g:
                    for j in range(w):
                        t[j] = src[k, c0 + j]
                else:
                    for j in range(w):
                        t[j] = 0.0
                    if not dydx and c0 <= k < c0 + w:
                        t[k - c0] = src[row_n, g]
            _contract(tile, width, w, count, vec, r0, acc)
        out[g, c0 : c0 + w] = acc


@numba.njit(parallel=True, cache=True, fastmath=True)
def _write_then_read(buffers: Any, repeats: int, sums: Any) -> None:  # pragma: no cover - compiled
    """Each core writes its buffer whole, a tile row at a time (zeros and one value per row, as
    the kernels' fill writes its rows), then reads it whole with the kernels' own contraction
    (:func:`_contract`, weights of one): their access pattern with nothing to look up, so no
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
            _contract(buf, ROW_WIDTH, ROW_WIDTH, rows, ones, 0, acc)
        sums[t] = acc.sum()


def _tile_elements(dtype: Any, tile: int | None) -> int:
    return max(ROW_WIDTH, (tile or tile_bytes()) // np.dtype(dtype).itemsize)


def tiles_for(dtype: Any, tile: int | None = None) -> np.ndarray:
    """One tile per core, allocated by the caller (so a memory tracker sees it)."""
    return np.empty((threads(), _tile_elements(dtype, tile)), dtype=dtype)


def tiles_bytes(dtype: Any, tile: int | None = None) -> int:
    """What :func:`tiles_for` allocates, for the cost model."""
    return threads() * _tile_elements(dtype, tile) * np.dtype(dtype).itemsize


def column_blocks(kind: str, n: int, d: int, m: int) -> int:
    """How many column blocks (a tile row wide, :data:`ROW_WIDTH`) the kernel cuts a Jacobian's
    columns into: the units the cores share, each N·M rows tall."""
    groups, columns = (n, d) if kind == "dydx" else (d, m)
    return groups * -(-columns // min(ROW_WIDTH, columns))


CHUNK_BYTES = 8 * 2**30
"""Jacobian bytes per call into the kernel when a pass is chunked (:func:`chunks`): about 0.15 s
at 57 GB/s, so a long pass reports progress and answers Ctrl-C or SIGTERM within a chunk."""


def chunks(
    kind: str, n: int, d: int, m: int, itemsize: int, cores: int | None = None
) -> list[tuple[int, int]]:
    """A pass's column blocks cut into calls of about :data:`CHUNK_BYTES` of Jacobian, each a
    whole number of blocks per core (so no core idles at a chunk's end while another works)."""
    total = column_blocks(kind, n, d, m)
    per_block = n * m * min(ROW_WIDTH, d if kind == "dydx" else m) * itemsize
    cores = cores or threads()
    size = max(cores, round(CHUNK_BYTES / per_block / cores) * cores)
    return [(lo, min(lo + size, total)) for lo in range(0, total, size)]


def stream(
    kind: str,
    X: np.ndarray,
    W: np.ndarray,
    dY: np.ndarray,
    tiles: np.ndarray,
    out: np.ndarray,
    parts: list[tuple[int, int]] | None = None,
    progress: Any = None,
) -> np.ndarray:
    """Contract one Jacobian (``kind``: "dydx" into ``out`` = dX, "dydw" into ``out`` = dW) over
    ``parts`` (default: every block in one call), calling ``progress(done, total)`` after each.

    Blocks left out of ``parts`` (a sample) leave their slice of ``out`` as it was.
    """
    n, m = dY.shape
    src = np.ascontiguousarray(W.T) if kind == "dydx" else np.ascontiguousarray(X)
    vec = np.ascontiguousarray(dY)
    parts = parts if parts is not None else [(0, column_blocks(kind, n, X.shape[1], m))]
    for done, (lo, hi) in enumerate(parts, 1):
        _stream(kind == "dydx", src, vec, tiles, out, lo, hi)
        if progress is not None:
            progress(done, len(parts))
    return out


def streamed_compiled(
    X: np.ndarray, W: np.ndarray, dY: np.ndarray, tile: int | None = None
) -> tuple[Any, Any]:
    """(dX, dW) through both Jacobians, tile by tile on every core: float32 and float64."""
    tiles = tiles_for(X.dtype, tile)
    dX = stream("dydx", X, W, dY, tiles, np.empty((X.shape[0], X.shape[1]), dtype=X.dtype))
    dW = stream("dydw", X, W, dY, tiles, np.empty((W.shape[0], W.shape[1]), dtype=X.dtype))
    return dX, dW


def incache_roof(tile: int | None = None, seconds: float = 0.2) -> dict[str, Any]:
    """GB/s of every core at once writing, then reading, its own buffer of the tile's size.

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
