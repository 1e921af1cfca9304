"""The streamed method: exact gradients for any tile size, and memory bounded by its buffer."""

from __future__ import annotations

import itertools

import pytest
import torch

from bench import costs
from bench.cases import Case
from bench.streamed import stream_jacobian, streamed_backward, tile_plan
from bench.sweep.memory_pass import run_memory_pass
from bench.tiles import plan

SHAPES = [(1, 1, 1), (2, 3, 5), (7, 3, 4), (5, 9, 2), (3, 70, 90), (16, 64, 64)]
BLOCKS = [4, 24, 40, 100, 1000, 4096 + 12, 2**20]  # bytes; most divide no row or tile evenly


def _inputs(n: int, d: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(n * 10_000 + d * 100 + m)
    return tuple(torch.randn(s, generator=gen, dtype=torch.float64) for s in ((n, d), (d, m), (n, m)))


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}-D{}-M{}".format(*s))
def test_streamed_equals_formula_for_every_block_size(shape, block):
    X, W, dY = _inputs(*shape)
    dX, dW = streamed_backward(X, W, dY, block_bytes=block)
    torch.testing.assert_close(dX, dY @ W.T, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dW, X.T @ dY, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["dydx", "dydw"])
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}-D{}-M{}".format(*s))
def test_tiles_cover_every_jacobian_entry_exactly_once(shape, block, kind):
    n, d, m = shape
    layout = plan(kind, n, d, m, 8, block)
    seen = torch.zeros(n * m, layout.groups, dtype=torch.int64)
    tiles = list(layout)
    assert len(tiles) == len(layout)
    for t in tiles:
        for i, j in itertools.product(range(t.i0, t.i1), range(t.j0, t.j1)):
            seen[i * m + j, t.g0 : t.g1] += 1
        area = (t.i1 - t.i0) * (t.j1 - t.j0) * (t.g1 - t.g0) * layout.width
        assert area <= max(layout.max_tile_elements, layout.width)
        assert area * 8 <= block or (t.g1 - t.g0 == 1 and t.i1 - t.i0 == 1 and t.j1 - t.j0 == 1)
    assert bool((seen == 1).all())  # zeros included: every entry is materialised once


def test_sampled_tiles_give_a_partial_result_of_those_tiles_only():
    X, W, dY = _inputs(4, 6, 5)
    layout = tile_plan("dydw", X, W, block_bytes=200)
    tiles = list(layout)
    first, rest = tiles[: len(tiles) // 2], tiles[len(tiles) // 2 :]
    part_a = stream_jacobian("dydw", X, W, dY, block_bytes=200, tiles=first)
    part_b = stream_jacobian("dydw", X, W, dY, block_bytes=200, tiles=rest)
    torch.testing.assert_close(part_a + part_b, X.T @ dY)


def test_progress_is_reported_once_per_tile_up_to_the_total():
    X, W, dY = _inputs(3, 4, 5)
    calls: list[tuple[int, int]] = []
    stream_jacobian(
        "dydx", X, W, dY, block_bytes=64, progress=lambda done, total: calls.append((done, total))
    )
    total = len(tile_plan("dydx", X, W, block_bytes=64))
    assert calls == [(k, total) for k in range(1, total + 1)]


def test_streamed_restores_the_torch_thread_count():
    before = torch.get_num_threads()
    streamed_backward(*_inputs(2, 3, 4))
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_measured_peak_is_the_buffer_and_does_not_grow_with_the_number_of_tiles():
    """memray, fresh process per case: 16× more tiles, the same peak (buffer + results)."""
    small = Case("streamed-torch", "", "cpu", "float32", 8, 64, 64)  # |dY/dW| = 8 MiB: 2 tiles
    large = Case("streamed-torch", "", "cpu", "float32", 128, 64, 64)  # |dY/dX| = 512 MiB: 128 tiles
    records: list[dict] = []
    run_memory_pass([small, large], lambda r: records.append(r.to_json()))
    peaks = {r["case"]: r["peak_bytes"] for r in records}
    assert all(r["status"] == "ok" for r in records), records
    block = 4 * 2**20
    for case in (small, large):
        outputs = costs.output_bytes(case.n, case.d, case.m, "float32")
        assert peaks[case.name] <= block + outputs + 256 * 1024  # buffer + results + small change
        assert peaks[case.name] == pytest.approx(case.predicted()["predicted_peak_bytes"], rel=0.05)
    assert peaks[large.name] <= 1.05 * peaks[small.name] + 64 * 1024 * 8  # dX grows by 64 KiB·8 only


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_streamed_half_precision_sums_tiles_in_float32_so_many_tiles_cost_no_accuracy(dtype):
    """16×256×256 with 16 KiB tiles: 2,048 tiles meet each column of dY/dX. Summed in the dtype
    the error reached 2.6-4.4 eps; each tile's partial rounded once and summed in float32, it
    stays at the single rounding of the result (0.4-0.6 eps of the largest entry)."""
    X, W, dY = (a.to(dtype) for a in _inputs(16, 256, 256))
    dX, dW = streamed_backward(X, W, dY, block_bytes=2**14)
    assert dX.dtype == dW.dtype == dtype
    eps = torch.finfo(dtype).eps
    x64, w64, dy64 = (a.double() for a in (X, W, dY))
    for got, want in ((dX, dy64 @ w64.T), (dW, x64.T @ dy64)):
        assert (got.double() - want).abs().max() <= eps * want.abs().max()


@pytest.mark.slow
def test_measured_half_precision_peak_grows_as_the_model_with_its_float32_accumulators():
    """memray, fresh process per case: dW 8× larger (N=1 and M=16 keep dY/dW at 16-128 MiB), so
    the accumulators and the final cast grow by megabytes; measured minus predicted stays the
    same fixed few MiB of the CPU's half-precision kernels (3.24 MB on torch 2.13, any size)."""
    small = Case("streamed-torch", "", "cpu", "bfloat16", 1, 32768, 16)
    large = Case("streamed-torch", "", "cpu", "bfloat16", 1, 262144, 16)
    records: list[dict] = []
    run_memory_pass([small, large], lambda r: records.append(r.to_json()))
    assert all(r["status"] == "ok" for r in records), records
    excess = {r["case"]: r["peak_bytes"] - r["predicted_bytes"] for r in records}
    growth = large.predicted()["predicted_peak_bytes"] - small.predicted()["predicted_peak_bytes"]
    assert growth > 16 * 2**20  # the float32 accumulator of dW alone grows by 12 MiB
    assert 0 <= excess[small.name] < 4 * 2**20
    assert abs(excess[large.name] - excess[small.name]) < 64 * 1024


def test_a_tile_whose_result_slice_would_leave_the_cache_gets_64_rows():
    """dY/dW at the target on CUDA: rows of 64 MiB in 256 MiB tiles would be 4 rows a tile, each
    rewriting all 64 MiB of dW (a quarter more traffic); split, a tile has 64 rows and a 4 MiB slice."""
    cuda = plan("dydw", 64, 4096, 4096, 4, 256 * 2**20)
    assert (cuda.rows_per_tile, cuda.groups_per_tile) == (64, 256)
    assert cuda.max_tile_elements * 4 == 256 * 2**20
    assert cuda.max_output_elements * 64 == cuda.max_tile_elements  # the slice: 1/64 of the tile
    cpu = plan("dydx", 64, 4096, 4096, 4, 4 * 2**20)  # 1 MiB rows: the whole dX stays in cache
    assert (cpu.samples_per_tile, cpu.rows_per_tile, cpu.groups_per_tile) == (0, 4, 64)
