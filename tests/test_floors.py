"""Floors at the target: the larger of FLOPs ÷ GEMM roof and bytes ÷ the roof that bounds the method."""

from __future__ import annotations

import pytest

from analysis.floors import best_cache_roof, device_roofs, formula_floor, fraction, jacobian_floor
from bench.harness.roofs import formula_shapes

N, D, M = 64, 4096, 4096
ROOFS = {
    "gemm": {
        "float32": {
            "gflops": 100.0,
            "shapes": [
                {"shape": list(s), "gflops": g}
                for s, g in zip(formula_shapes(N, D, M), (50.0, 25.0), strict=True)
            ],
        }
    },
    "copy": {"gbps": 20.0},
    "incache": {"gbps": 160.0},  # the kernel's own pattern: a diagnostic, never a floor
    "l1_copy": {"gbps": 800.0},
    "l2_copy": {"gbps": 200.0},
}


def test_the_formula_floor_is_its_flops_at_the_gemm_roof_with_its_own_products_beside_it():
    floor = formula_floor(ROOFS, N, D, M, "float32")
    assert floor.seconds == pytest.approx(4 * N * D * M / 100e9)  # 2.1 GFLOP... at 100 GFLOP/s
    assert floor.bound == "FLOPs ÷ GEMM roof (100 GFLOP/s)"
    own = 2 * N * D * M / 50e9 + 2 * N * D * M / 25e9
    assert f"(50, 25 GFLOP/s): {own * 1e3:.1f} ms" in floor.detail


def test_a_formula_bound_by_its_bytes_takes_the_copy_roof():
    slow_copy = ROOFS | {"copy": {"gbps": 0.001}}
    floor = formula_floor(slow_copy, N, D, M, "float32")
    assert floor.bound == "bytes ÷ copy roof (0.0 GB/s)"
    assert floor.seconds == pytest.approx(2 * (N * M + D * M + N * D) * 4 / 1e6)


def test_streamed_floors_use_the_l1_copy_roof_and_the_dense_one_copy_bandwidth():
    moved = 2 * (N * M * N * D + N * M * D * M) * 4  # 2 × 16.25 TiB
    fast_gemm = ROOFS | {"gemm": {"float32": {"gflops": 10_000.0}}}  # its FLOPs: not the bound
    streamed = jacobian_floor(fast_gemm, N, D, M, "float32", in_cache=True)
    assert streamed.seconds == pytest.approx(moved / 800e9)
    assert streamed.bound == "Jacobian bytes ÷ L1 copy roof (800.0 GB/s)" and streamed.lowest
    dense = jacobian_floor(ROOFS, N, D, M, "float32", in_cache=False)
    assert dense.seconds == pytest.approx(moved / 20e9)
    assert dense.bound == "Jacobian bytes ÷ copy roof (DRAM) (20.0 GB/s)" and not dense.lowest


def test_a_jacobian_whose_flops_outlast_its_bytes_names_the_gemm_roof():
    entries = N * M * N * D + N * M * D * M
    floor = jacobian_floor(ROOFS, N, D, M, "float32", in_cache=True)  # 100 GFLOP/s: slower than L1
    assert floor.seconds == pytest.approx(2 * entries / 100e9)
    assert floor.bound == "Jacobian FLOPs ÷ GEMM roof (100 GFLOP/s)"


def test_without_an_l1_roof_the_streamed_floor_names_the_slower_bound_it_used():
    only_l2 = {k: v for k, v in ROOFS.items() if k != "l1_copy"}
    floor = jacobian_floor(only_l2, N, D, M, "float32", in_cache=True)
    assert floor.bound == "Jacobian bytes ÷ L2 copy roof (200.0 GB/s)" and not floor.lowest
    no_cache = {k: v for k, v in ROOFS.items() if k not in ("l1_copy", "l2_copy")}  # CUDA, older runs
    floor = jacobian_floor(no_cache, N, D, M, "float32", in_cache=True)
    assert "copy roof (DRAM)" in floor.bound and not floor.lowest  # the pattern roof is never used


def test_the_best_cache_roof_is_the_fastest_level_measured():
    assert best_cache_roof(ROOFS) == ("l1_copy", 800.0)
    assert best_cache_roof({"l2_copy": {"gbps": 200.0}}) == ("l2_copy", 200.0)
    assert best_cache_roof({"copy": {"gbps": 20.0}, "incache": {"gbps": 150.0}}) is None


def test_no_roof_no_floor_and_the_fraction_says_how_close_a_time_is():
    assert formula_floor({}, N, D, M, "float32") is None
    assert jacobian_floor({}, N, D, M, "float32", in_cache=True) is None
    floor = jacobian_floor(ROOFS, N, D, M, "float32", in_cache=True)
    assert fraction(floor, 2 * floor.seconds) == "50%"
    assert fraction(None, 1.0) == "" and fraction(floor, float("nan")) == ""


def test_a_later_runs_roof_of_a_kind_replaces_an_earlier_ones():
    sweep = {"devices": {"cpu": {"roofs": {"copy": {"gbps": 10.0}, "gemm": {"float32": {"gflops": 90.0}}}}}}
    headline = {"devices": {"cpu": {"roofs": {"copy": {"gbps": 12.0}, "incache": {"gbps": 150.0}}}}}
    merged = device_roofs([sweep, headline, {"devices": {}}], "cpu")
    assert merged["copy"]["gbps"] == 12.0 and merged["incache"]["gbps"] == 150.0
    assert merged["gemm"]["float32"]["gflops"] == 90.0
    assert device_roofs([sweep], "cuda") == {}


def test_a_time_faster_than_its_floor_says_the_roof_was_measured_too_low():
    floor = jacobian_floor(ROOFS, N, D, M, "float32", in_cache=True)
    assert fraction(floor, floor.seconds / 1.32) == "roof underestimated (measured 132% of it)"
