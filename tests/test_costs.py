"""The cost model is exact: it matches real arrays and the notes' headline numbers."""

from __future__ import annotations

import pytest

from bench import costs
from bench.methods import METHODS, jacobians

HEADLINE = (64, 4096, 4096)


def test_headline_jacobian_bytes_are_256_gib_and_16_tib():
    dydx, dydw = costs.jacobian_bytes(*HEADLINE, dtype="float32")
    assert dydx == 274_877_906_944 == 256 * 2**30
    assert dydw == 17_592_186_044_416 == 16 * 2**40
    assert isinstance(dydx, int)
    assert isinstance(dydw, int)


def test_headline_dydx_has_more_than_68_billion_entries_as_the_notes_say():
    dydx, _ = costs.jacobian_bytes(*HEADLINE, dtype="float32")
    assert dydx // 4 == 68_719_476_736


def test_float64_doubles_jacobian_bytes():
    assert costs.jacobian_bytes(3, 5, 7, "float64") == tuple(
        2 * b for b in costs.jacobian_bytes(3, 5, 7, "float32")
    )


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 2, 3), (3, 7, 2), (5, 1, 6)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jacobian_bytes_match_arrays_returned_by_jacobians(backend, shape, dtype, make_inputs):
    X, W, _ = make_inputs(backend, *shape, dtype)
    jac_x, jac_w = jacobians(X, W)
    nbytes = [j.nbytes if backend == "numpy" else j.numel() * j.element_size() for j in (jac_x, jac_w)]
    assert tuple(nbytes) == costs.jacobian_bytes(*shape, dtype)


def test_every_registered_method_has_a_cost_family():
    for method in METHODS.values():
        assert method.family in costs.FAMILIES
        assert costs.flops(method.family, 4, 5, 6) > 0
        assert costs.peak_bytes(method.family, 4, 5, 6) > 0


def test_flops_of_formula_are_two_gemms():
    assert costs.flops("formula", 64, 4096, 4096) == 4 * 64 * 4096 * 4096
    assert costs.flops("autograd", 2, 3, 5) == 4 * 2 * 3 * 5


def test_flops_of_explicit_are_two_matrix_vector_products_over_the_jacobians():
    n, d, m = 2, 3, 5
    assert costs.flops("explicit", n, d, m) == 2 * (n * m) * (n * d) + 2 * (n * m) * (d * m)


def test_jacrev_counts_its_vmapped_vjp_on_top_of_the_contraction():
    n, d, m = 2, 3, 5
    assert costs.flops("jacrev", n, d, m) == 4 * (n * m) ** 2 * d + costs.flops("explicit", n, d, m)


def test_explicit_peak_is_the_larger_jacobian_plus_results_not_the_sum():
    n, d, m = 8, 16, 32
    dydx, dydw = costs.jacobian_bytes(n, d, m)
    assert costs.peak_bytes("explicit", n, d, m) == max(dydx, dydw) + (n * d + d * m) * 4


def test_jacrev_peak_adds_the_nm_squared_identity_basis():
    n, d, m = 8, 16, 32
    assert costs.jacrev_basis_bytes(n, d, m) == (n * m) ** 2 * 4
    assert costs.peak_bytes("jacrev", n, d, m) == costs.peak_bytes(
        "explicit", n, d, m
    ) + costs.jacrev_basis_bytes(n, d, m)


def test_explicit_bytes_moved_write_and_read_each_jacobian_once():
    dydx, dydw = costs.jacobian_bytes(4, 5, 6, "float64")
    assert costs.bytes_moved("explicit", 4, 5, 6, "float64") == 2 * (dydx + dydw)


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (3 * 2**20, "3.0 MiB"),
        (274_877_906_944, "256.0 GiB (274.9 GB)"),
        (17_592_186_044_416, "16.0 TiB (17,592.2 GB)"),
    ],
)
def test_format_bytes_uses_binary_units_and_shows_decimal_gb(count, text):
    assert costs.format_bytes(count) == text


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: costs.jacobian_bytes(0, 4, 4), "N=0, D=4, M=4"),
        (lambda: costs.jacobian_bytes(2, 4, 4, "int8"), "unsupported dtype 'int8'"),
        (lambda: costs.flops("magic", 2, 2, 2), "unknown method family 'magic'"),
        (lambda: costs.format_bytes(-1), "non-negative"),
    ],
)
def test_cost_model_rejects_bad_arguments(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
