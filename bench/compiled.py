"""The streamed explicit method compiled for the CPU, on every core.

Why numba: an LLVM JIT that comes as a wheel, ``prange`` over every core, and ``cache=True`` so a
fresh process (the memory pass and the A/B fork one per case) loads the machine code in
milliseconds; a C extension would need a compiler at install time.

The semantics are ``streamed-torch``'s: every entry of dY/dX = I_N ⊗ Wᵀ and of dY/dW = X ⊗ I_M,
zeros included, is written once into a tile, and the contraction with vec(dY) reads it once,
a pass after it was written. Within them:

- **every core, its own tile and accumulator**: the result's columns are cut into blocks a tile
  row wide (:data:`ROW_WIDTH`); a core takes whole blocks, a whole number per call
  (:func:`chunks`), and its accumulator (the start of its row of the tiles array) becomes the
  slice of dX or dW the block owns (no reduction);
- **the tile from L1**: two thirds of the per-core L1d (:func:`tile_bytes`), as the L1 copy
  roof's buffers, and 16 KiB between two cores' tiles (:data:`TILE_GAP`);
- **fill and contraction overlapped** (:func:`_overlapped`, its steps in :mod:`bench.kernelsteps`):
  two slots of :data:`PASS` rows; one loop writes the zeros of the next rows into one slot while
  it contracts the other, so the store and load ports work at once. The slots' offsets are
  constants there, so LLVM needs no overlap check. dY/dX's rows of Wᵀ (copied from the block's
  panel, :mod:`bench.panels`), a short last pass and narrow blocks fill, then contract;
- **the panel from L2**: dY/dX's copy passes are spread among its passes of zeros, which ask for
  the copies' panel rows ahead (:func:`_prefetch_panel`);
- **the widest vectors**: 512-bit on AVX-512 (:mod:`bench.harness.jit`, checked in the machine
  code, :func:`vector_bits`); zeros stored from a value passed in (a literal zero becomes
  ``memset``); a pass's sixteen rows summed as a tree
  (:data:`~bench.kernelsteps.NO_REASSOCIATION`), the accumulator in the same array as the slots.

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
from bench.harness.prefetch import prefetch_l2
from bench.kernelsteps import (
    NO_REASSOCIATION,
    PASS,
    ROW_WIDTH,
    SHORT_PASS,
    SHORT_SLOTS,
    SLOTS,
    contract,
    fill,
    write_values,
    zero_while_contracting,
    zero_while_short,
)
from bench.panels import panels

DEFAULT_TILE_BYTES = 21 * 2**10
"""The tile when sysfs says nothing about the caches: two thirds of a common 32 KiB L1d."""
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


PREFETCH_LINES = 8
"""Cache lines of the block's panel of Wᵀ a pass of zeros asks for (:func:`prefetch_l2`): at
N = 64, 63 passes of zeros come between two copy passes, each of which reads 256 lines."""
LOOKAHEAD = 2
"""Copy passes, past the next, whose panel rows are asked for ahead."""


@jit.kernel(inline="always")
def _prefetch_panel(src: Any, ahead: int, until: int) -> int:
    """Ask for up to :data:`PREFETCH_LINES` lines of src from ``ahead`` on, not past ``until``."""
    line = max(1, 64 // src.itemsize)
    for _ in range(PREFETCH_LINES):
        if ahead < until:
            prefetch_l2(src, ahead)
            ahead += line
    return ahead


@jit.kernel(fastmath=NO_REASSOCIATION, inline="always")
def _overlapped(
    dydx: bool, src: Any, vec: Any, row: Any, nm: int, m: int, g: int, c0: int, ld: int, zero: Any, rows: int
) -> None:  # pragma: no cover - compiled
    """One full-width column block, its accumulator ``row[:ROW_WIDTH]``, the tile's first 2·rows
    rows as two slots (``rows`` is :data:`PASS`, the slots :data:`~bench.kernelsteps.SLOTS`, or
    :data:`SHORT_PASS` and :data:`SHORT_SLOTS`): step i fills slot i % 2 while the contraction
    reads the other, which step i - 1 filled.

    A pass whose rows are all zero (dY/dX away from n = g; every pass of dY/dW, whose one value
    per row is then written over its zero) is :func:`~bench.kernelsteps.zero_while_contracting`;
    the others (dY/dX's rows of Wᵀ, the short last pass) fill and contract one after the other.
    dY/dX's copy passes (ps to pe) are spread evenly among its passes of zeros, and those ask
    for the panel rows of the next copies (:func:`_prefetch_panel`), so the copies read them from
    L2: taken one after the other, the copies read the block's panel (4 MiB at the target) at the
    speed of L3 or DRAM (a fifth of a block's time), while the zeros left those idle.
    """
    passes = (nm + rows - 1) // rows
    acc = row[:ROW_WIDTH]
    ps = min(g * m // rows, passes) if dydx else passes
    pe = min(((g + 1) * m + rows - 1) // rows, passes) if dydx else passes
    copies, taken = pe - ps, 0
    zp = pe if ps == 0 else 0  # the next pass of zeros, in row order
    ahead = c0 * m  # the next entry of the block's panel to ask for
    prev_at, prev_r0, prev_count = 0, 0, 0
    row_n, k = 0, 0  # (n, k) of row r0, for dY/dW's values (its passes go in row order)
    for i in range(passes + 1):
        if i == passes:
            p = passes
        elif copies and (i + 1) * copies // passes > taken:
            p = ps + taken
            taken += 1
        else:
            p = zp
            zp = pe if zp + 1 == ps else zp + 1
        r0 = p * rows
        count = min(rows, nm - r0) if p < passes else 0
        at = SLOTS[i % 2] if rows == PASS else SHORT_SLOTS[i % 2]
        if copies:
            rows_ahead = min(m, (ps + taken + LOOKAHEAD) * rows - g * m)
            ahead = _prefetch_panel(src, ahead, c0 * m + rows_ahead * ROW_WIDTH)
        if count == rows and prev_count == rows and (p < ps or p >= pe):
            # the slots' offsets as constants: LLVM then needs no overlap check
            if rows == PASS and i % 2 == 0:
                zero_while_contracting(row, SLOTS[0], SLOTS[1], vec, prev_r0, zero)
            elif rows == PASS:
                zero_while_contracting(row, SLOTS[1], SLOTS[0], vec, prev_r0, zero)
            elif i % 2 == 0:
                zero_while_short(row, SHORT_SLOTS[0], SHORT_SLOTS[1], vec, prev_r0, zero)
            else:
                zero_while_short(row, SHORT_SLOTS[1], SHORT_SLOTS[0], vec, prev_r0, zero)
            # dY/dW: rows k .. k + rows - 1 (wrapping past M once at most: M >= ROW_WIDTH here)
            # hold their value X[n, g] at column k; only passes that reach the block's columns write
            if not dydx and ((k < c0 + ROW_WIDTH and k + rows > c0) or k + rows - m > c0):
                write_values(row[at:], src, ld, g, c0, row_n, k, m, rows)
        else:
            if count:
                fill(dydx, src, row[at:], ROW_WIDTH, ROW_WIDTH, count, r0, m, g, c0, ld, zero)
            if prev_count:
                contract(row[prev_at:], ROW_WIDTH, ROW_WIDTH, prev_count, vec, prev_r0, acc)
        prev_at, prev_r0, prev_count = at, r0, count
        if not dydx:
            k += rows
            while k >= m:
                k -= m
                row_n += 1


@jit.kernel(fastmath=NO_REASSOCIATION)
def _overlapped_full(
    dydx: bool, src: Any, vec: Any, row: Any, nm: int, m: int, g: int, c0: int, ld: int, zero: Any
) -> None:  # pragma: no cover - compiled
    """:func:`_overlapped` in passes of :data:`PASS` rows, ``rows`` a constant in its machine code:
    passed as a variable from one function for both pass sizes, whole passes ran 8-11% slower."""
    _overlapped(dydx, src, vec, row, nm, m, g, c0, ld, zero, PASS)


@jit.kernel(fastmath=NO_REASSOCIATION)
def _overlapped_short(
    dydx: bool, src: Any, vec: Any, row: Any, nm: int, m: int, g: int, c0: int, ld: int, zero: Any
) -> None:  # pragma: no cover - compiled
    """:func:`_overlapped` in passes of :data:`SHORT_PASS` rows, ``rows`` a constant likewise."""
    _overlapped(dydx, src, vec, row, nm, m, g, c0, ld, zero, SHORT_PASS)


@jit.kernel(fastmath=True)
def _block(
    dydx: bool,
    src: Any,
    vec: Any,
    row: Any,
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
    """One column block on one core, its accumulator ``row[:w]`` and its tile the rest of ``row``:
    every tile of it filled whole, then read whole into the accumulator."""
    zero = zeros[0]
    if w == ROW_WIDTH and rows >= 2 * SHORT_PASS:
        if rows >= 2 * PASS:
            _overlapped_full(dydx, src, vec, row, nm, m, g, c0, ld, zero)
        else:
            _overlapped_short(dydx, src, vec, row, nm, m, g, c0, ld, zero)
        return
    acc, tile = row[:w], row[ROW_WIDTH:]
    for r0 in range(0, nm, rows):
        count = min(rows, nm - r0)
        fill(dydx, src, tile, width, w, count, r0, m, g, c0, ld, zero)
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
        row = tiles[numba.get_thread_id(), : ROW_WIDTH + elements]  # accumulator, tile; the rest unused
        g, c0 = block // per_group, (block % per_group) * width
        w = min(width, columns - c0)
        row[:w] = 0  # the accumulator: this block's columns of the result, no other block adds to them
        _block(dydx, src, vec, row, width, w, rows, n * m, m, g, c0, ld, zeros)
        out[g, c0 : c0 + w] = row[:w]


def _tile_elements(dtype: Any, tile: int | None) -> int:
    return max(ROW_WIDTH, (tile or tile_bytes()) // np.dtype(dtype).itemsize)


PAGE = 4096
TILE_GAP = 4 * PAGE
"""Bytes after each core's tile to the next core's row, which starts on a page (as the first
does, and so every row, where a tile is whole pages, as two thirds of a 48 KiB L1d is). The
next core's accumulator (:data:`ROW_WIDTH` entries) takes the last of them, the rest no kernel
touches: no page, and none of the pages next to it that a core's prefetchers reach into, holds
lines of two cores' tiles (a line the other core fetched must be taken back before a store).
Tiles back to back cost both cores a sixth of their speed or more. dY/dW's column blocks on both
cores of a 2-core AVX-512 Xeon, quiet, 1,024 blocks a run, two runs each, in GB/s of traffic:
page-aligned tiles with no gap 420-423, a 4 KiB gap 486-489, 16 KiB 532-578; unaligned (64-byte)
tiles with no gap 461-495, 4 KiB 535-573, 16 KiB 597-615, 32 KiB 553-559, 128 KiB 575-583."""


def tiles_for(dtype: Any, tile: int | None = None) -> np.ndarray:
    """One tile per core, allocated by the caller (so a memory tracker sees it), from a page: row t
    is core t's accumulator (:data:`ROW_WIDTH` entries), its tile (:func:`tile_elements`), then
    the rest of :data:`TILE_GAP` that no kernel touches."""
    gap = TILE_GAP // np.dtype(dtype).itemsize
    return jit.aligned_empty((threads(), _tile_elements(dtype, tile) + gap), dtype, align=PAGE)


def tile_elements(tiles: np.ndarray) -> int:
    """The entries of one core's tile in ``tiles`` (:func:`tiles_for`), its accumulator and gap left out."""
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
"""Jacobian bytes per call into the kernel when a pass is chunked (:func:`chunks`): about 0.03 s
on both cores of the 2-core Xeon (and 0.15 s at 57 GB/s), so a long pass reports progress and
answers Ctrl-C or SIGTERM within a chunk."""


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
    zeros = np.zeros(1, dtype=out.dtype)  # the zero the fill writes, passed in: see kernelsteps.zero_run
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
    vec = np.zeros(ROW_WIDTH, dtype=np.float32)
    src = np.zeros(2 * ROW_WIDTH, dtype=np.float32)
    args = (True, src, vec, tiles[0], ROW_WIDTH, ROW_WIDTH, 1, 2, 2, 0, 0, 0, vec[:1])
    return jit.vector_bits(_block, *args)
