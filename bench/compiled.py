"""The streamed explicit method compiled for the CPU, on every core.

Why numba: an LLVM JIT that comes as a wheel, ``prange`` over every core, and ``cache=True`` so a
fresh process (the memory pass and the A/B fork one per case) loads the machine code in
milliseconds; a C extension would need a compiler at install time.

The semantics are ``streamed-torch``'s: every entry of dY/dX = I_N ⊗ Wᵀ and of dY/dW = X ⊗ I_M,
zeros included, is written once into a tile, and the contraction with vec(dY) reads it once,
a pass after it was written. Within them:

- **every core, its own tile and accumulator**: the result's columns are cut into blocks a tile
  row wide (:data:`ROW_WIDTH`); a core takes whole blocks, a whole number per call
  (:func:`chunks`), and its accumulator is the slice of dX or dW the block owns (no reduction);
- **the tile from L1**: two thirds of the per-core L1d (:func:`tile_bytes`), as the L1 copy
  roof's buffers, and 16 KiB between two cores' tiles (:data:`TILE_GAP`);
- **fill and contraction overlapped** (:func:`_overlapped`): two slots of :data:`PASS` rows; one
  loop (:func:`_zero_while_contracting`) writes the zeros of the next rows into one slot while
  it contracts the other, so the store and load ports work at once. The slots' offsets are
  constants there, so LLVM needs no overlap check. dY/dX's rows of Wᵀ (copied from the block's
  panel, :mod:`bench.panels`), a short last pass and narrow blocks fill, then contract;
- **the widest vectors**: 512-bit on AVX-512 (:mod:`bench.harness.jit`, checked in the machine
  code, :func:`vector_bits`); zeros stored from a value passed in (a literal zero becomes
  ``memset``); the contraction's eight rows summed as a tree (:data:`NO_REASSOCIATION`).

Its floor is the machine's L1 copy roof (:mod:`bench.harness.cacheroofs`): each entry is one
store and one load, what a copy does per element. How close it gets, measured, is in
docs/headline.md; :mod:`bench.patternroof` times this kernel's own pattern, a diagnostic only.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from bench.hardware import cache_bytes
from bench.harness import jit
from bench.panels import panels

DEFAULT_TILE_BYTES = 21 * 2**10
"""The tile when sysfs says nothing about the caches: two thirds of a common 32 KiB L1d."""
ROW_WIDTH = 512
"""Columns in a tile row (the accumulator slice): 2 KiB of float32, well inside L1."""


L1_SHARE = 2 / 3
"""Share of the per-core L1d the tile takes: the rest holds the accumulator slice, the rows of Wᵀ
it copies and the stack (the L1 copy roof's two buffers take the same share)."""


def tile_bytes() -> int:
    """Two thirds of the per-core L1d, in whole KiB."""
    l1 = cache_bytes(1)
    return int(l1 * L1_SHARE) // 1024 * 1024 if l1 else DEFAULT_TILE_BYTES


def threads() -> int:
    """The cores the kernels run on: numba's thread count (set by ``bench.harness.threads``)."""
    return int(numba.get_num_threads())


@jit.kernel(fastmath=True, inline="always")
def contract(tile: Any, width: int, w: int, count: int, vec: Any, r0: int, acc: Any) -> None:
    """acc += the tile's ``count`` rows weighted by vec[r0:]: every entry of the tile read once.

    Eight rows at a time, so the accumulator slice is loaded and stored once per eight tile
    entries (the loads and stores of the tile itself are what the L1 copy roof bounds).
    """
    i = 0
    while i + 8 <= count:
        g0, g1, g2, g3 = vec[r0 + i], vec[r0 + i + 1], vec[r0 + i + 2], vec[r0 + i + 3]
        g4, g5, g6, g7 = vec[r0 + i + 4], vec[r0 + i + 5], vec[r0 + i + 6], vec[r0 + i + 7]
        t0 = tile[i * width : i * width + w]
        t1 = tile[(i + 1) * width : (i + 1) * width + w]
        t2 = tile[(i + 2) * width : (i + 2) * width + w]
        t3 = tile[(i + 3) * width : (i + 3) * width + w]
        t4 = tile[(i + 4) * width : (i + 4) * width + w]
        t5 = tile[(i + 5) * width : (i + 5) * width + w]
        t6 = tile[(i + 6) * width : (i + 6) * width + w]
        t7 = tile[(i + 7) * width : (i + 7) * width + w]
        for j in range(w):
            acc[j] += (
                t0[j] * g0
                + t1[j] * g1
                + t2[j] * g2
                + t3[j] * g3
                + t4[j] * g4
                + t5[j] * g5
                + t6[j] * g6
                + t7[j] * g7
            )
        i += 8
    while i < count:
        g = vec[r0 + i]
        t0 = tile[i * width : i * width + w]
        for j in range(w):
            acc[j] += t0[j] * g
        i += 1


@jit.kernel(fastmath=True, inline="always")
def _zero(tile: Any, start: int, stop: int, zero: Any) -> None:
    """tile[start:stop] = 0, one contiguous run of full-width stores (of ``zero``, a value LLVM
    cannot see is zero, so the loop stays a loop of vector stores, not a call to ``memset``)."""
    t = tile[start:stop]
    for j in range(stop - start):
        t[j] = zero


@jit.kernel(fastmath=True, inline="always")
def _fill(
    dydx: bool,
    src: Any,
    tile: Any,
    width: int,
    w: int,
    count: int,
    r0: int,
    m: int,
    g: int,
    c0: int,
    ld: int,
    zero: Any,
) -> None:
    """The tile's ``count`` rows from Jacobian row ``r0`` on, every entry written, zeros included.

    dY/dX: the rows with n = g (a contiguous run of them, Wᵀ's rows, read from the block's panel,
    :func:`panels`) are copied, the rest zeroed as one or two contiguous runs. dY/dW: the whole
    tile zeroed as one run, then each row's one value X[n, g] (``src`` is X raveled, ``ld`` its
    row length) at column k (where k falls in the block) written over its zero.
    """
    if dydx:
        first = min(max(g * m - r0, 0), count)  # tile rows before n = g
        last = min(max((g + 1) * m - r0, first), count)  # and from n = g + 1 on
        _zero(tile, 0, first * width, zero)
        for i in range(first, last):
            t = tile[i * width : i * width + w]
            at = c0 * m + (r0 + i - g * m) * w  # row k = r0 + i - g·m of the block's panel
            row = src[at : at + w]
            for j in range(w):
                t[j] = row[j]
        _zero(tile, last * width, count * width, zero)
        return
    _zero(tile, 0, count * width, zero)
    row_n = r0 // m
    k = r0 - row_n * m
    for i in range(count):  # (n, k) stepped along the rows: no division per row
        if c0 <= k < c0 + w:
            tile[i * width + k - c0] = src[row_n * ld + g]
        k += 1
        if k == m:
            k = 0
            row_n += 1


NO_REASSOCIATION = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}
"""fastmath less ``reassoc``: LLVM keeps the overlapped contraction's sum as the tree written
(still fusing multiply-adds) instead of one chain of eight dependent FMAs per vector."""
PASS = 8
"""Tile rows per pass: the rows one contraction step reads (and one fill step writes) together."""


@jit.kernel(fastmath=NO_REASSOCIATION, inline="always")
def _zero_while_contracting(
    tile: Any, fill_at: int, read_at: int, vec: Any, r0: int, acc: Any, zero: Any
) -> None:
    """Zero the :data:`PASS` full rows at ``fill_at`` while acc += the :data:`PASS` rows at
    ``read_at`` (written by the pass before) weighted by vec[r0:]: one loop whose stores and
    loads go to different rows, so the store port and the load ports work at once."""
    g0, g1, g2, g3 = vec[r0], vec[r0 + 1], vec[r0 + 2], vec[r0 + 3]
    g4, g5, g6, g7 = vec[r0 + 4], vec[r0 + 5], vec[r0 + 6], vec[r0 + 7]
    a = tile[fill_at : fill_at + PASS * ROW_WIDTH]
    b = tile[read_at : read_at + PASS * ROW_WIDTH]
    for j in range(ROW_WIDTH):
        acc[j] += (
            (b[j] * g0 + b[ROW_WIDTH + j] * g1) + (b[2 * ROW_WIDTH + j] * g2 + b[3 * ROW_WIDTH + j] * g3)
        ) + (
            (b[4 * ROW_WIDTH + j] * g4 + b[5 * ROW_WIDTH + j] * g5)
            + (b[6 * ROW_WIDTH + j] * g6 + b[7 * ROW_WIDTH + j] * g7)
        )
        a[j] = zero
        a[ROW_WIDTH + j] = zero
        a[2 * ROW_WIDTH + j] = zero
        a[3 * ROW_WIDTH + j] = zero
        a[4 * ROW_WIDTH + j] = zero
        a[5 * ROW_WIDTH + j] = zero
        a[6 * ROW_WIDTH + j] = zero
        a[7 * ROW_WIDTH + j] = zero


@jit.kernel(fastmath=NO_REASSOCIATION)
def _overlapped(
    dydx: bool, src: Any, vec: Any, tile: Any, acc: Any, nm: int, m: int, g: int, c0: int, ld: int, zero: Any
) -> None:  # pragma: no cover - compiled
    """One full-width column block with the tile's first 2·:data:`PASS` rows as two slots: pass
    p fills slot p % 2 while the contraction reads the other, which pass p - 1 filled.

    A pass whose rows are all zero (dY/dX away from n = g; every pass of dY/dW, whose one value
    per row is then written over its zero) is :func:`_zero_while_contracting`; the others (dY/dX's
    rows of Wᵀ, the short last pass) fill and contract one after the other.
    """
    passes = (nm + PASS - 1) // PASS
    step = PASS * ROW_WIDTH  # a slot
    prev_at, prev_r0, prev_count = 0, 0, 0
    row_n, k = 0, 0  # (n, k) of row r0, for dY/dW's values
    for p in range(passes + 1):
        r0 = p * PASS
        count = min(PASS, nm - r0) if p < passes else 0
        at = (p % 2) * step
        zeros_only = not dydx or r0 + PASS <= g * m or r0 >= (g + 1) * m
        if count == PASS and prev_count == PASS and zeros_only:
            if at == 0:  # the slots' offsets as constants: LLVM then needs no overlap check
                _zero_while_contracting(tile, 0, step, vec, prev_r0, acc, zero)
            else:
                _zero_while_contracting(tile, step, 0, vec, prev_r0, acc, zero)
            # dY/dW: rows k .. k + 7 (wrapping past M once at most: M >= ROW_WIDTH here) hold
            # their value X[n, g] at column k; only passes that reach this block's columns write
            if not dydx and ((k < c0 + ROW_WIDTH and k + PASS > c0) or k + PASS - m > c0):
                nn, kk = row_n, k
                for i in range(PASS):
                    if c0 <= kk < c0 + ROW_WIDTH:
                        tile[at + i * ROW_WIDTH + kk - c0] = src[nn * ld + g]
                    kk += 1
                    if kk == m:
                        kk = 0
                        nn += 1
        else:
            if count:
                _fill(dydx, src, tile[at:], ROW_WIDTH, ROW_WIDTH, count, r0, m, g, c0, ld, zero)
            if prev_count:
                contract(tile[prev_at:], ROW_WIDTH, ROW_WIDTH, prev_count, vec, prev_r0, acc)
        prev_at, prev_r0, prev_count = at, r0, count
        k += PASS
        while k >= m:
            k -= m
            row_n += 1


@jit.kernel(fastmath=True)
def _block(
    dydx: bool,
    src: Any,
    vec: Any,
    tile: Any,
    acc: Any,
    width: int,
    w: int,
    rows: int,
    nm: int,
    m: int,
    g: int,
    c0: int,
    ld: int,
    zeros: Any,
) -> None:  # pragma: no cover - compiled
    """One column block on one core: every tile of it filled whole, then read whole into ``acc``."""
    zero = zeros[0]
    if w == ROW_WIDTH and rows >= 2 * PASS:
        _overlapped(dydx, src, vec, tile, acc, nm, m, g, c0, ld, zero)
        return
    for r0 in range(0, nm, rows):
        count = min(rows, nm - r0)
        _fill(dydx, src, tile, width, w, count, r0, m, g, c0, ld, zero)
        contract(tile, width, w, count, vec, r0, acc)


@jit.kernel(parallel=True, fastmath=True)
def _stream(
    dydx: bool, src: Any, dy: Any, tiles: Any, elements: int, out: Any, lo: int, hi: int, zeros: Any
) -> None:  # pragma: no cover - compiled
    """out = vec(dY)ᵀ · J over J's column blocks ``lo`` to ``hi`` (:func:`column_blocks`), each
    tile of J written whole, then read whole, for J = dY/dX (``dydx``, ``src`` = Wᵀ in panels,
    :func:`panels`; out = dX) or J = dY/dW (``src`` = X raveled, out = dW).

    J's columns are (g, c) with g over out's rows and c over its columns; its rows are (n, k),
    k < M. Row (n, k) of dY/dX = I_N ⊗ Wᵀ holds Wᵀ[k, c] where n = g, zeros elsewhere; row
    (n, k) of dY/dW = X ⊗ I_M holds X[n, g] at c = k, zeros elsewhere.
    """
    n, m = dy.shape
    columns = out.shape[1]
    width = min(ROW_WIDTH, columns)
    per_group = (columns + width - 1) // width
    rows = max(1, elements // width)
    ld = out.shape[0]  # dY/dW: X's row length, D
    vec = dy.ravel()
    for b in numba.prange(hi - lo):
        block = lo + b
        tile = tiles[numba.get_thread_id(), :elements]  # the rest of the row: the gap
        g, c0 = block // per_group, (block % per_group) * width
        w = min(width, columns - c0)
        acc = np.zeros(w, dtype=out.dtype)  # this block's columns of the result: no other block adds to them
        _block(dydx, src, vec, tile, acc, width, w, rows, n * m, m, g, c0, ld, zeros)
        out[g, c0 : c0 + w] = acc


def _tile_elements(dtype: Any, tile: int | None) -> int:
    return max(ROW_WIDTH, (tile or tile_bytes()) // np.dtype(dtype).itemsize)


PAGE = 4096
TILE_GAP = 4 * PAGE
"""Bytes left unused after each core's tile, the first tile starting on a page (and so every
tile, where a tile is whole pages, as two thirds of a 48 KiB L1d is): no page, and none of the
pages next to it that a core's prefetchers reach into, holds lines of two cores' tiles (a
line the other core fetched must be taken back before a store). Tiles back to back cost both
cores a sixth of their speed or more. dY/dW's column blocks on both cores of a 2-core AVX-512
Xeon, quiet, 1,024 blocks a run, two runs each, in GB/s of traffic: page-aligned tiles with no
gap 420-423, a 4 KiB gap 486-489, 16 KiB 532-578; unaligned (64-byte) tiles with no gap 461-495,
4 KiB 535-573, 16 KiB 597-615, 32 KiB 553-559, 128 KiB 575-583."""


def tiles_for(dtype: Any, tile: int | None = None) -> np.ndarray:
    """One tile per core, allocated by the caller (so a memory tracker sees it), from a page: row t
    is core t's tile (:func:`tile_elements` of it), then :data:`TILE_GAP` bytes no kernel touches."""
    gap = TILE_GAP // np.dtype(dtype).itemsize
    return jit.aligned_empty((threads(), _tile_elements(dtype, tile) + gap), dtype, align=PAGE)


def tile_elements(tiles: np.ndarray) -> int:
    """The entries of one core's tile in ``tiles`` (:func:`tiles_for`), its gap left out."""
    return tiles.shape[1] - TILE_GAP // tiles.itemsize


def tiles_bytes(dtype: Any, tile: int | None = None) -> int:
    """What :func:`tiles_for` allocates, for the cost model (gaps and the alignment's slack included)."""
    return threads() * (_tile_elements(dtype, tile) * np.dtype(dtype).itemsize + TILE_GAP) + PAGE


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
    width = min(ROW_WIDTH, X.shape[1] if kind == "dydx" else W.shape[1])
    src = panels(W, width) if kind == "dydx" else np.ascontiguousarray(X).ravel()
    vec = np.ascontiguousarray(dY)
    zeros = np.zeros(1, dtype=out.dtype)  # the zero the fill writes, passed in: see _zero
    parts = parts if parts is not None else [(0, column_blocks(kind, n, X.shape[1], m))]
    for done, (lo, hi) in enumerate(parts, 1):
        _stream(kind == "dydx", src, vec, tiles, tile_elements(tiles), out, lo, hi, zeros)
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


def vector_bits(tile: int | None = None) -> int:
    """The widest vectors in the machine code of one column block's kernel (:func:`_block`), as
    compiled for float32 (compiled, or loaded from the cache, here if it was not yet)."""
    tiles = tiles_for(np.float32, tile)
    acc = np.zeros(ROW_WIDTH, dtype=np.float32)
    src = np.zeros(2 * ROW_WIDTH, dtype=np.float32)
    args = (True, src, acc, tiles[0], acc, ROW_WIDTH, ROW_WIDTH, 1, 2, 2, 0, 0, 0, acc[:1])
    return jit.vector_bits(_block, *args)
