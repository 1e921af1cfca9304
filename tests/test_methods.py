"""Every gradient method gives the same (dX, dW) as a float64 reference.

Tolerances: float64 results agree with the float64 reference to rtol=1e-10, atol=1e-10·scale;
float32 results to rtol=1e-4, atol=1e-4·scale, where scale is the largest reference entry
magnitude. A float32 dot product of length K has a relative rounding error of order
K·2⁻²⁴ ≈ 6e-8·K; the largest contraction here has K ≤ 64, and the explicit methods add
only exact zeros to it. float16 and bfloat16 (torch only) use the benchmark's own tolerance,
``bench.inputs.TOLERANCE``: 8 machine epsilons of the largest entry, against a float64
reference computed from the rounded half-precision inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.inputs import TOLERANCE as INPUT_TOLERANCE
from bench.methods import METHODS, Prepared, jacobians, make_workspace
from tests.conftest import ALL_METHODS

RANDOM_SHAPES = [tuple(int(v) for v in row) for row in np.random.default_rng(12).integers(1, 14, size=(4, 3))]
SHAPES = [
    (1, 1, 1),
    (1, 7, 3),
    (5, 1, 4),
    (4, 6, 1),
    (2, 2, 3),
    (7, 3, 5),
    (3, 9, 2),
    (16, 8, 12),
    *RANDOM_SHAPES,
]
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
TORCH_METHODS = [n for n in ALL_METHODS if METHODS[n].backend == "torch"]
NUMPY_METHODS = [n for n in ALL_METHODS if METHODS[n].backend == "numpy"]


def _reference(n: int, d: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, W, dY = (rng.standard_normal(s) for s in ((n, d), (d, m), (n, m)))
    return dY @ W.T, X.T @ dY


def _as_numpy(array: object) -> np.ndarray:
    return array.numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


def _assert_close(got: object, want: np.ndarray, dtype: str) -> None:
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(_as_numpy(got), want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}-D{}-M{}".format(*s))
@pytest.mark.parametrize("name", ALL_METHODS)
def test_method_matches_float64_reference(name, shape, dtype, make_inputs):
    method = METHODS[name]
    n, d, m = shape
    X, W, dY = make_inputs(method.backend, n, d, m, dtype, seed=n * 100 + d * 10 + m)
    dX, dW = method.backward(X, W, dY)
    ref_dx, ref_dw = _reference(n, d, m, seed=n * 100 + d * 10 + m)
    _assert_close(dX, ref_dx, dtype)
    _assert_close(dW, ref_dw, dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}-D{}-M{}".format(*s))
@pytest.mark.parametrize("name", TORCH_METHODS)
def test_torch_method_in_half_precision_matches_float64_reference_within_eps_tolerance(name, shape, dtype):
    n, d, m = shape
    gen = torch.Generator().manual_seed(n * 100 + d * 10 + m)
    X, W, dY = (torch.randn(s, generator=gen).to(getattr(torch, dtype)) for s in ((n, d), (d, m), (n, m)))
    dX, dW = METHODS[name].backward(X, W, dY)
    assert dX.dtype == dW.dtype == getattr(torch, dtype)
    x, w, dy = (a.double().numpy() for a in (X, W, dY))  # the rounded inputs are the problem solved
    tol = INPUT_TOLERANCE[dtype]
    for got, want in ((dX, dy @ w.T), (dW, x.T @ dy)):
        np.testing.assert_allclose(got.double().numpy(), want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_tolerance_is_eight_epsilons_of_the_dtype(dtype):
    assert INPUT_TOLERANCE[dtype] == pytest.approx(8 * torch.finfo(getattr(torch, dtype)).eps)
    assert INPUT_TOLERANCE[dtype] < 0.1  # bfloat16: 2⁻⁷·8 = 0.0625; a wrong term would show


@pytest.mark.parametrize("name", NUMPY_METHODS)
def test_numpy_method_refuses_float16_saying_numpy_supports_float32_and_float64(name, make_inputs):
    X, W, dY = make_inputs("numpy", 2, 3, 4, "float16")
    pattern = (
        r"numpy methods support only float32 and float64; got X=float16, W=float16, dY=float16 "
        r"\(half precision runs on the torch methods\)$"
    )
    with pytest.raises(TypeError, match=pattern):
        METHODS[name].backward(X, W, dY)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_method_returns_inputs_type_dtype_and_shapes(name, make_inputs):
    method = METHODS[name]
    X, W, dY = make_inputs(method.backend, 3, 4, 5, "float32")
    dX, dW = method.backward(X, W, dY)
    array_type = torch.Tensor if method.backend == "torch" else np.ndarray
    assert isinstance(dX, array_type)
    assert isinstance(dW, array_type)
    assert tuple(dX.shape) == (3, 4)
    assert tuple(dW.shape) == (4, 5)
    assert dX.dtype == X.dtype
    assert dW.dtype == X.dtype


@pytest.mark.parametrize("name", [n for n in ALL_METHODS if METHODS[n].uses_workspace])
def test_warm_variant_with_reused_workspace_stays_correct_across_calls(name, make_inputs):
    method = METHODS[name]
    X, W, dY = make_inputs(method.backend, 6, 5, 4)
    workspace = make_workspace(X, W, method.family)
    workspace[:] = 123.0  # stale garbage must be overwritten, not summed
    for _ in range(2):
        dX, dW = method.backward(X, W, dY, workspace=workspace)
        ref_dx, ref_dw = _reference(6, 5, 4, seed=0)
        _assert_close(dX, ref_dx, "float64")
        _assert_close(dW, ref_dw, "float64")


@pytest.mark.parametrize("name", ALL_METHODS)
def test_prepared_run_repeats_give_the_same_gradients(name, make_inputs):
    """What the benchmark times (reset, then run) computes the right thing every round."""
    method = METHODS[name]
    X, W, dY = make_inputs(method.backend, 4, 3, 5)
    prepared = method.prepare(X, W, dY)
    assert isinstance(prepared, Prepared)
    for _ in range(3):
        prepared.reset()
        dX, dW = prepared.run()  # autograd's are its leaves' .grad: without reset() they would add up
        ref_dx, ref_dw = _reference(4, 3, 5, seed=0)
        _assert_close(dX, ref_dx, "float64")
        _assert_close(dW, ref_dw, "float64")


def test_autograd_prepared_rounds_do_not_accumulate_gradients(make_inputs):
    method = METHODS["autograd-torch"]
    X, W, dY = make_inputs("torch", 4, 3, 5)
    X = X.clone().requires_grad_(True)
    prepared = method.prepare(X, W, dY)
    for _ in range(3):
        prepared.reset()
        prepared.run()
    assert X.grad is None  # the method works on its own detached leaves, never the caller's


@pytest.mark.parametrize("name", ALL_METHODS)
def test_central_finite_differences_agree_with_method_in_float64(name, make_inputs):
    """L = Σ dY ⊙ (X·W), so dL/dX and dL/dW are the gradients every method returns."""
    method = METHODS[name]
    n, d, m = 3, 4, 2
    X, W, dY = (np.asarray(a) for a in make_inputs("numpy", n, d, m, seed=7))
    step = 1e-6

    def loss(x: np.ndarray, w: np.ndarray) -> float:
        return float(np.sum(dY * (x @ w)))

    fd_dx = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        e = np.zeros_like(X)
        e[idx] = step
        fd_dx[idx] = (loss(X + e, W) - loss(X - e, W)) / (2 * step)
    fd_dw = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = step
        fd_dw[idx] = (loss(X, W + e) - loss(X, W - e)) / (2 * step)

    args = (X, W, dY) if method.backend == "numpy" else tuple(torch.from_numpy(a) for a in (X, W, dY))
    dX, dW = method.backward(*args)
    np.testing.assert_allclose(_as_numpy(dX), fd_dx, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(_as_numpy(dW), fd_dw, rtol=1e-7, atol=1e-8)


# --- the worked example from the notes: N=2, D=2, M=3 -------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_notes_example_dy_dx11_is_first_row_of_w_then_zeros(backend, make_inputs):
    X, W, _ = make_inputs(backend, 2, 2, 3)
    jac_x, _ = jacobians(X, W)
    # Column (k=0, l=0) of dY/dX, reshaped to Y's N×M shape, is ∂Y/∂x₁,₁.
    dy_dx11 = _as_numpy(jac_x)[:, 0].reshape(2, 3)
    w = _as_numpy(W)
    np.testing.assert_array_equal(dy_dx11, np.array([w[0], [0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_notes_example_jacobians_equal_kronecker_forms(backend, make_inputs):
    X, W, _ = make_inputs(backend, 2, 2, 3)
    jac_x, jac_w = (_as_numpy(j) for j in jacobians(X, W))
    x, w = _as_numpy(X), _as_numpy(W)
    assert jac_x.shape == (2 * 3, 2 * 2)
    assert jac_w.shape == (2 * 3, 2 * 3)
    np.testing.assert_array_equal(jac_x, np.kron(np.eye(2), w.T))
    np.testing.assert_array_equal(jac_w, np.kron(x, np.eye(3)))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_dense_jacobians_match_autograd_jacobian_on_random_shape(backend, make_inputs):
    X, W, _ = make_inputs("torch", 3, 4, 5)
    want_x = torch.autograd.functional.jacobian(lambda x: x @ W, X).reshape(15, 12)
    want_w = torch.autograd.functional.jacobian(lambda w: X @ w, W).reshape(15, 20)
    args = (X, W) if backend == "torch" else (X.numpy(), W.numpy())
    jac_x, jac_w = (_as_numpy(j) for j in jacobians(*args))
    np.testing.assert_array_equal(jac_x, want_x.numpy())
    np.testing.assert_array_equal(jac_w, want_w.numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("name", [n for n in ALL_METHODS if METHODS[n].backend == "torch"])
def test_torch_method_on_cuda_returns_cuda_tensors_matching_reference(name, make_inputs):
    X, W, dY = (a.cuda() for a in make_inputs("torch", 5, 6, 7))
    dX, dW = METHODS[name].backward(X, W, dY)
    assert dX.is_cuda and dW.is_cuda
    ref_dx, ref_dw = _reference(5, 6, 7, seed=0)
    _assert_close(dX.cpu(), ref_dx, "float64")
    _assert_close(dW.cpu(), ref_dw, "float64")
