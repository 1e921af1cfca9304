"""The steps of the compiled kernel (:mod:`bench.compiled`) on one core's L1 tile, inlined into it.

A column block's rows go through the tile a pass of :data:`PASS` rows at a time: :func:`fill`
writes every entry of a pass (zeros included), :func:`contract` reads a pass into the block's
accumulator, and :func:`zero_while_contracting` does both at once on two slots of the tile, the
pass that holds only zeros (:func:`zero_while_short` in passes of :data:`SHORT_PASS` rows, where
two slots of :data:`PASS` do not fit the tile). :func:`write_values` puts dY/dW's one value per
row over its zero. :mod:`bench.patternroof` times :func:`contract` as a diagnostic.
"""

from __future__ import annotations

from typing import Any

from bench.harness import jit

ROW_WIDTH = 256
"""Columns in a tile row (the accumulator slice): 1 KiB of float32, so that two slots of
:data:`PASS` rows take the 32 KiB tile of a 48 KiB L1d."""


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
def zero_run(tile: Any, start: int, stop: int, zero: Any) -> None:
    """tile[start:stop] = 0, one contiguous run of full-width stores (of ``zero``, a value LLVM
    cannot see is zero, so the loop stays a loop of vector stores, not a call to ``memset``)."""
    t = tile[start:stop]
    for j in range(stop - start):
        t[j] = zero


@jit.kernel(fastmath=True, inline="always")
def fill(
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
    :func:`~bench.panels.panels`) are copied, the rest zeroed as one or two contiguous runs. dY/dW: the whole
    tile zeroed as one run, then each row's one value X[n, g] (``src`` is X raveled, ``ld`` its
    row length) at column k (where k falls in the block) written over its zero.
    """
    if dydx:
        first = min(max(g * m - r0, 0), count)  # tile rows before n = g
        last = min(max((g + 1) * m - r0, first), count)  # and from n = g + 1 on
        zero_run(tile, 0, first * width, zero)
        for i in range(first, last):
            t = tile[i * width : i * width + w]
            at = c0 * m + (r0 + i - g * m) * w  # row k = r0 + i - g·m of the block's panel
            row = src[at : at + w]
            for j in range(w):
                t[j] = row[j]
        zero_run(tile, last * width, count * width, zero)
        return
    zero_run(tile, 0, count * width, zero)
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
(still fusing multiply-adds) instead of one chain of dependent FMAs per vector."""
PASS = 16
"""Tile rows per pass: the rows one contraction step reads (and one fill step writes) together.
Sixteen, not eight, so the accumulator is loaded and stored once per sixteen rows: whole dY/dX
passes on both cores of the 2-core AVX-512 Xeon went from 481-512 to 505-535 GB/s of traffic,
six runs alternating in one process (rows of 512 columns, eight to a pass, against rows of 256,
sixteen to a pass, the accumulator in the tiles' array)."""
SLOTS = (ROW_WIDTH, ROW_WIDTH + PASS * ROW_WIDTH)
"""Where the two slots of :func:`zero_while_contracting` start in a core's row of the tiles array:
after the block's accumulator (entries 0 to :data:`ROW_WIDTH`)."""


@jit.kernel(fastmath=NO_REASSOCIATION, inline="always")
def zero_while_contracting(row: Any, fill_at: int, read_at: int, vec: Any, r0: int, zero: Any) -> None:
    """Zero the :data:`PASS` full rows at ``fill_at`` while acc += the :data:`PASS` rows at
    ``read_at`` (written by the pass before) weighted by vec[r0:]: one loop whose stores and
    loads go to different rows, so the store port and the load ports work at once.

    The accumulator is row[0:ROW_WIDTH] and the slots are in ``row`` too, indexed without slices
    from offsets that are constants where this is inlined (:data:`SLOTS`): LLVM then sees one
    array at fixed distances and vectorizes the loop with no run-time overlap checks (with the
    accumulator a separate array, sixteen rows need more checks than LLVM allows, and it left the
    loop scalar, ten times slower).
    """
    g0, g1, g2, g3 = vec[r0], vec[r0 + 1], vec[r0 + 2], vec[r0 + 3]
    g4, g5, g6, g7 = vec[r0 + 4], vec[r0 + 5], vec[r0 + 6], vec[r0 + 7]
    g8, g9, g10, g11 = vec[r0 + 8], vec[r0 + 9], vec[r0 + 10], vec[r0 + 11]
    g12, g13, g14, g15 = vec[r0 + 12], vec[r0 + 13], vec[r0 + 14], vec[r0 + 15]
    r = ROW_WIDTH
    for j in range(ROW_WIDTH):
        b = read_at + j
        low = ((row[b] * g0 + row[b + r] * g1) + (row[b + 2 * r] * g2 + row[b + 3 * r] * g3)) + (
            (row[b + 4 * r] * g4 + row[b + 5 * r] * g5) + (row[b + 6 * r] * g6 + row[b + 7 * r] * g7)
        )
        high = (
            (row[b + 8 * r] * g8 + row[b + 9 * r] * g9) + (row[b + 10 * r] * g10 + row[b + 11 * r] * g11)
        ) + (
            (row[b + 12 * r] * g12 + row[b + 13 * r] * g13) + (row[b + 14 * r] * g14 + row[b + 15 * r] * g15)
        )
        row[j] += low + high
        a = fill_at + j
        row[a] = zero
        row[a + 1 * r] = zero
        row[a + 2 * r] = zero
        row[a + 3 * r] = zero
        row[a + 4 * r] = zero
        row[a + 5 * r] = zero
        row[a + 6 * r] = zero
        row[a + 7 * r] = zero
        row[a + 8 * r] = zero
        row[a + 9 * r] = zero
        row[a + 10 * r] = zero
        row[a + 11 * r] = zero
        row[a + 12 * r] = zero
        row[a + 13 * r] = zero
        row[a + 14 * r] = zero
        row[a + 15 * r] = zero


SHORT_PASS = 8
"""Tile rows per pass where two slots of :data:`PASS` rows do not fit the tile but two of eight do
(float32 in the 21 KiB tile of a 32 KiB L1d, float64 in 32 KiB): :func:`zero_while_short`."""
SHORT_SLOTS = (ROW_WIDTH, ROW_WIDTH + SHORT_PASS * ROW_WIDTH)
"""The two slots of :func:`zero_while_short`, after the accumulator as :data:`SLOTS` are."""


@jit.kernel(fastmath=NO_REASSOCIATION, inline="always")
def zero_while_short(row: Any, fill_at: int, read_at: int, vec: Any, r0: int, zero: Any) -> None:
    """:func:`zero_while_contracting` for passes of :data:`SHORT_PASS` rows: the accumulator
    loaded and stored once per eight rows."""
    g0, g1, g2, g3 = vec[r0], vec[r0 + 1], vec[r0 + 2], vec[r0 + 3]
    g4, g5, g6, g7 = vec[r0 + 4], vec[r0 + 5], vec[r0 + 6], vec[r0 + 7]
    r = ROW_WIDTH
    for j in range(ROW_WIDTH):
        b = read_at + j
        row[j] += ((row[b] * g0 + row[b + r] * g1) + (row[b + 2 * r] * g2 + row[b + 3 * r] * g3)) + (
            (row[b + 4 * r] * g4 + row[b + 5 * r] * g5) + (row[b + 6 * r] * g6 + row[b + 7 * r] * g7)
        )
        a = fill_at + j
        row[a] = zero
        row[a + 1 * r] = zero
        row[a + 2 * r] = zero
        row[a + 3 * r] = zero
        row[a + 4 * r] = zero
        row[a + 5 * r] = zero
        row[a + 6 * r] = zero
        row[a + 7 * r] = zero


@jit.kernel(inline="always")
def write_values(slot: Any, src: Any, ld: int, g: int, c0: int, n: int, k: int, m: int, rows: int) -> None:
    """dY/dW: the ``rows`` rows (n, k) on of a pass of zeros in ``slot`` (a full-width block at
    columns c0 on) get their one value X[n, g] (``src`` is X raveled, ``ld`` its row length) at
    column k, where k falls in the block; k wraps past M to the next n."""
    for i in range(rows):
        if c0 <= k < c0 + ROW_WIDTH:
            slot[i * ROW_WIDTH + k - c0] = src[n * ld + g]
        k += 1
        if k == m:
            k = 0
            n += 1
