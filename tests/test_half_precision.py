"""float16 and bfloat16 run on the torch methods only: inputs, cases and the full profile."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.cases import Case
from bench.inputs import TOLERANCE, make_inputs, relative_error, seed_of
from bench.methods import METHODS
from bench.profiles import PROFILES, build_cases


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torch_inputs_in_half_precision_are_seeded_float32_draws_rounded_to_the_dtype(dtype):
    case = Case("formula-torch", "", "cpu", dtype, 3, 4, 5)
    X, W, dY = make_inputs(case)
    rng = np.random.default_rng(seed_of(case))
    for got, shape in zip((X, W, dY), ((3, 4), (4, 5), (3, 5)), strict=True):
        want = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)).to(getattr(torch, dtype))
        assert got.dtype == getattr(torch, dtype)
        assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_numpy_case_in_half_precision_is_refused_naming_the_dtype(dtype):
    with pytest.raises(
        ValueError, match=rf"formula-numpy cannot run in {dtype}: numpy supports float32, float64"
    ):
        Case("formula-numpy", "", "cpu", dtype, 2, 3, 4)


def test_full_profile_runs_bfloat16_on_torch_methods_and_never_on_numpy():
    cases = build_cases(PROFILES["full"], METHODS, ["cpu"])
    half = {c.method for c in cases if c.dtype == "bfloat16"}
    assert half == {name for name, method in METHODS.items() if method.backend == "torch"}
    assert {c.dtype for c in cases if c.backend == "numpy"} == {"float32", "float64"}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_benchmark_correctness_check_passes_torch_methods_in_half_precision(dtype):
    """The same check the runtime pass makes before timing a case, at a size it sweeps."""
    for name, method in METHODS.items():
        if method.backend != "torch":
            continue
        case = Case(name, method.variants[0], "cpu", dtype, 8, 32, 32)
        inputs = make_inputs(case)
        assert relative_error(method.backward(*inputs), inputs) <= TOLERANCE[dtype], name
