"""Roofs are roofs: the best of several shapes and repeats, and a case above one says so."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.targets import ROOF_NOISE, check_targets, roof_label
from bench.harness import roofs
from bench.profiles import TARGET


def test_gemm_roof_is_the_best_shape_at_its_fastest_repeat():
    seconds = {  # a skinny product that the BLAS runs faster than the square
        (64, 64, 64): [2e-5, 1e-5, 3e-5],
        (4, 64, 64): [4e-7, 8e-7],
        (64, 4, 64): [5e-6],
    }
    best = roofs.best_gemm(list(seconds), lambda shape: seconds[shape])
    rates = {shape: 2 * shape[0] * shape[1] * shape[2] / min(times) / 1e9 for shape, times in seconds.items()}
    assert best["gflops"] == pytest.approx(max(rates.values()))
    assert best["shape"] == [4, 64, 64]
    assert [entry["gflops"] for entry in best["shapes"]] == pytest.approx(list(rates.values()))


def test_gemm_roof_includes_the_target_and_skinny_shapes_and_fits_the_budget():
    budget = 3 * 2**20
    calls = []

    def timer(run, sync, repeats):
        calls.append(repeats)
        return [0.5, 0.25, 1.0]  # every shape equally fast: the most FLOPs wins

    measured = roofs.gemm_roof("cpu", "float32", budget, timer=timer)
    shapes = [tuple(entry["shape"]) for entry in measured["shapes"]]
    assert len(calls) == len(shapes) >= 5  # both squares shrink to one at this budget
    assert measured["buffer_bytes"] <= budget
    assert all(roofs.gemm_bytes(shape, "float32") <= budget for shape in shapes)
    # the target's and the skinny sweep point's products, shrunk in proportion: still skinny
    skinny = [shape for shape in shapes if min(shape) * 8 < max(shape)]
    assert len(skinny) >= 4
    flops = {shape: 2 * shape[0] * shape[1] * shape[2] for shape in shapes}
    assert measured["gflops"] == pytest.approx(max(flops.values()) / 0.25 / 1e9)


def test_unshrunk_gemm_shapes_are_the_formulas_products_at_the_target():
    n, d, m = TARGET
    shapes = roofs.gemm_shapes("cpu")
    assert (n, m, d) in shapes and (d, n, m) in shapes  # dY·Wᵀ and Xᵀ·dY
    assert (roofs.GEMM_SIZE["cpu"],) * 3 in shapes


def test_real_gemm_roof_on_small_buffers_reports_its_best_shape():
    measured = roofs.gemm_roof("cpu", "float32", 2**20)
    assert measured["gflops"] == max(entry["gflops"] for entry in measured["shapes"]) > 0
    assert measured["buffer_bytes"] <= 2**20


def test_copy_roof_is_the_fastest_of_its_repeats_counting_read_and_write(monkeypatch):
    # 1 MiB read and 1 MiB written in 0.5, 0.25 and 1.0 s: the fastest moves 8,388,608 B/s,
    # the median 4,194,304 B/s (counted by hand).
    monkeypatch.setattr(roofs, "timed_seconds", lambda run, sync, repeats=3: [0.5, 0.25, 1.0])
    measured = roofs.copy_roof("cpu", 2 * 2**20)
    assert measured["bytes"] == 2**20
    assert measured["gbps"] == pytest.approx(0.008388608)
    assert measured["gbps_median"] == pytest.approx(0.004194304)


def test_local_gemm_roof_with_the_cases_shapes_keeps_them_within_their_share(monkeypatch):
    fresh = []
    real = roofs._fresh_buffers

    def buffers(backend, device, dtype, first, second):
        fresh.append((first + second) * 4)
        return real(backend, device, dtype, first, second)

    monkeypatch.setattr(roofs, "_fresh_buffers", buffers)
    budget = 2**20
    gflops = roofs.local_roof("torch", "cpu", "float32", "gemm", budget, roofs.formula_shapes(*TARGET))
    assert gflops > 0
    assert len(fresh) == 2
    assert all(size <= budget * roofs.LOCAL_SHARE["shapes"] for size in fresh)


def _formula_case(fraction: float) -> dict:
    return {
        "run_id": "r", "label": "formula-torch", "device": "cpu", "dtype": "float32",
        "family": "formula", "variant": "", "case": "formula-torch[cpu-float32-N64-D4096-M4096]",
        "time_median_s": 0.05, "flops": 4 * 64 * 4096 * 4096, "frac_gemm_roof": fraction,
        "frac_copy_roof": float("nan"), "peak_bytes": float("nan"), "predicted_peak_bytes": 0,
        "jacobian_dydx_bytes": 0, "jacobian_dydw_bytes": 0,
    }  # fmt: skip


def test_a_case_above_its_roof_is_labelled_roof_underestimated_not_above_100_percent():
    row = check_targets(pd.DataFrame([_formula_case(1.2)])).iloc[0]
    assert row["reached"].startswith("roof underestimated (measured 120% of it)")
    assert not row["passed"]


def test_a_case_at_its_roof_within_noise_reads_100_percent_and_passes():
    row = check_targets(pd.DataFrame([_formula_case(1 + ROOF_NOISE / 2)])).iloc[0]
    assert row["reached"].startswith("100% (")
    assert row["passed"]
    assert roof_label(0.834) == "83%"
