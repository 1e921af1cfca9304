"""The compiled streamed kernel: dX and dW as the dense Jacobians give them, on any tile, shape, cores."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from bench import compiled, patternroof
from bench.methods import jacobians
from bench.panels import panels


def _inputs(n: int, d: int, m: int, dtype: str = "float64", seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(dtype) for s in ((n, d), (d, m), (n, m)))


def _dense(X: np.ndarray, W: np.ndarray, dY: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vec(dY)ᵀ times each dense Jacobian from bench.methods.jacobians: the reference."""
    dydx, dydw = jacobians(X, W)
    v = dY.reshape(-1)
    return (v @ dydx).reshape(X.shape), (v @ dydw).reshape(W.shape)


SLOTS_BYTES = 2 * compiled.PASS * compiled.ROW_WIDTH * 8
"""The smallest float64 tile that holds the two slots of the overlapped loop."""
SHORT_SLOTS_BYTES = 2 * compiled.SHORT_PASS * compiled.ROW_WIDTH * 8
"""A float64 tile that holds two slots of short passes only."""


@pytest.mark.parametrize(
    ("shape", "tile"),
    [
        ((2, 3, 5), 4 * compiled.ROW_WIDTH * 8),  # everything in one tile
        ((7, 5, 3), 1),  # the smallest tile: one row of ROW_WIDTH per fill
        ((3, 600, 7), 2 * compiled.ROW_WIDTH * 8),  # D above a tile row: dX's columns in two blocks
        ((5, 4, 1030), 3 * compiled.ROW_WIDTH * 8),  # M above a tile row: dW's in three, the last short
        ((1, 1, 1), 1),
        ((3, 530, 20), SLOTS_BYTES),  # two slots of PASS rows: dX overlapped, across n = g
        ((9, 300, 70), SLOTS_BYTES),  # dX: copy passes spread among the zeros of nine groups
        ((3, 2, 523), SLOTS_BYTES),  # dW overlapped, a short last pass, a narrow block
        ((2, 3, 1030), SLOTS_BYTES),  # dW: four overlapped blocks, passes wrapping past M
        ((9, 300, 70), SHORT_SLOTS_BYTES),  # the same in passes of SHORT_PASS rows, as a 32 KiB L1d has
        ((2, 3, 1030), SHORT_SLOTS_BYTES),
    ],
)
def test_compiled_kernel_agrees_with_the_dense_jacobians_on_odd_shapes_and_tiles(shape, tile):
    X, W, dY = _inputs(*shape)
    dX, dW = compiled.streamed_compiled(X, W, dY, tile=tile)
    want_dx, want_dw = _dense(X, W, dY)
    np.testing.assert_allclose(dX, want_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW, want_dw, rtol=1e-12, atol=1e-12)


def test_compiled_kernel_gives_the_same_answer_on_one_core_and_on_every_core():
    X, W, dY = _inputs(6, 530, 520, seed=3)
    every = compiled.streamed_compiled(X, W, dY, tile=2 * compiled.ROW_WIDTH * 8)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert compiled.threads() == 1
        assert compiled.tile_elements(compiled.tiles_for(np.float64, 8192)) == 8192 // 8
        one = compiled.streamed_compiled(X, W, dY, tile=2 * compiled.ROW_WIDTH * 8)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, every, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # disjoint column blocks: no reduction order


@pytest.mark.parametrize(
    "shape", [(4, 64, 48), (5, 300, 260)]
)  # narrow blocks; overlapped in the default tile
def test_float32_inputs_stay_float32_within_its_epsilon(shape):
    X, W, dY = _inputs(*shape, dtype="float32", seed=1)
    dX, dW = compiled.streamed_compiled(X, W, dY)
    assert dX.dtype == dW.dtype == np.float32
    want_dx, want_dw = _dense(*(a.astype(np.float64) for a in (X, W, dY)))
    for got, want in ((dX, want_dx), (dW, want_dw)):
        assert np.abs(got - want).max() <= 8 * np.finfo(np.float32).eps * np.abs(want).max()


def test_each_core_gets_an_accumulator_then_a_tile_of_the_tile_size_then_a_gap_allocated_by_the_caller():
    tiles = compiled.tiles_for(np.float32, 64 * 2**10)
    # the accumulator, the tile, then the rest of 16 KiB unused
    assert tiles.shape == (compiled.threads(), (64 + 16) * 2**10 // 4)
    assert (
        compiled.ROW_WIDTH * 8 <= compiled.TILE_GAP // 4
    )  # float64's accumulator takes a quarter of it at most
    assert compiled.tile_elements(tiles) == 16 * 2**10
    assert tiles.dtype == np.float32


def test_the_tile_is_two_thirds_of_the_per_core_l1d_that_sysfs_reports(monkeypatch):
    monkeypatch.setattr(compiled, "cache_bytes", lambda level: {1: 48 * 2**10, 2: 2 * 2**20}.get(level))
    assert compiled.tile_bytes() == 32 * 2**10
    monkeypatch.setattr(compiled, "cache_bytes", lambda level: {1: 32 * 2**10}.get(level))
    assert compiled.tile_bytes() == 21 * 2**10  # 21.33 KiB, whole KiB
    monkeypatch.setattr(compiled, "cache_bytes", lambda level: None)
    assert compiled.tile_bytes() == compiled.DEFAULT_TILE_BYTES == 21 * 2**10


def test_tiles_start_on_a_page_and_the_cost_model_counts_what_is_allocated():
    tiles = compiled.tiles_for(np.float32, 32 * 2**10)
    assert tiles.ctypes.data % 4096 == 0 and tiles.strides[0] % 4096 == 0  # every core's tile on a page
    assert tiles.base.nbytes == compiled.tiles_bytes(np.float32, 32 * 2**10)  # tiles, gaps, a page of slack
    assert compiled.tiles_bytes(np.float32, 32 * 2**10) == compiled.threads() * (32 + 16) * 2**10 + 4096


def test_the_pattern_roof_runs_every_core_on_a_buffer_of_the_tile_size():
    roof = patternroof.pattern_roof(tile=64 * 2**10, seconds=0.01)
    assert roof["tile_bytes"] == 64 * 2**10 and roof["threads"] == compiled.threads()
    assert roof["gbps"] > 0 and all(s > 0 for s in roof["seconds"])


@pytest.mark.parametrize("kind", ["dydx", "dydw"])
def test_a_pass_cut_into_chunks_gives_the_answer_of_one_call_and_reports_each_chunk(kind, monkeypatch):
    X, W, dY = _inputs(3, 1100, 1030, seed=5)
    monkeypatch.setattr(compiled, "CHUNK_BYTES", 3 * 1030 * compiled.ROW_WIDTH * 8)  # about 3 blocks
    parts = compiled.chunks(kind, 3, 1100, 1030, 8, cores=2)
    total = compiled.column_blocks(kind, 3, 1100, 1030)
    assert [b for lo, hi in parts for b in range(lo, hi)] == list(range(total))  # each block once
    assert all((hi - lo) % 2 == 0 for lo, hi in parts[:-1])  # whole blocks per core
    shape = (3, 1100) if kind == "dydx" else (1100, 1030)
    tiles = compiled.tiles_for(np.float64, 2 * compiled.ROW_WIDTH * 8)
    seen = []
    chunked = compiled.stream(kind, X, W, dY, tiles, np.empty(shape), parts, lambda k, n: seen.append((k, n)))
    whole = compiled.stream(kind, X, W, dY, tiles, np.empty(shape))
    np.testing.assert_array_equal(chunked, whole)
    assert seen == [(k, len(parts)) for k in range(1, len(parts) + 1)] and len(parts) > 3


def test_column_blocks_count_a_tile_row_wide_slices_of_every_group():
    assert compiled.ROW_WIDTH == 256
    assert compiled.column_blocks("dydx", 64, 4096, 4096) == 64 * 16  # dX's 64 rows, 16 slices of 256
    assert compiled.column_blocks("dydw", 64, 4096, 4096) == 4096 * 16
    assert compiled.column_blocks("dydw", 2, 3, 1030) == 3 * 5  # 4 × 256 + 6
    assert compiled.column_blocks("dydx", 2, 5, 7) == 2  # one narrow block per row of dX


@pytest.mark.parametrize(("d", "m", "width"), [(512, 64, 512), (1100, 37, 512), (5, 7, 5), (33, 17, 16)])
def test_panels_hold_every_block_of_w_transposed_one_after_the_other(d, m, width):
    W = np.random.default_rng(3).standard_normal((d, m)).astype(np.float32)
    expected = np.concatenate([W[c0 : c0 + width].T.ravel() for c0 in range(0, d, width)])
    np.testing.assert_array_equal(panels(W, width), expected)
