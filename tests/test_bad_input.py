"""Bad input fails early with a TypeError/ValueError naming the shapes, dtypes or devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.methods import METHODS, jacobians, make_workspace
from tests.conftest import ALL_METHODS


def _arrays(backend: str, shapes: list[tuple[int, ...]], dtype: str = "float64") -> list:
    arrays = [np.ones(s, dtype=dtype) for s in shapes]
    return [torch.from_numpy(a) for a in arrays] if backend == "torch" else arrays


SHAPE_CASES = {
    "X-not-2d": ([(2, 3, 1), (3, 4), (2, 4)], ValueError, r"X must be 2-D, got 3-D .*X\[2, 3, 1\]"),
    "W-not-2d": ([(2, 3), (3,), (2, 4)], ValueError, r"W must be 2-D, got 1-D"),
    "dY-not-2d": ([(2, 3), (3, 4), (8,)], ValueError, r"dY must be 2-D"),
    "inner-mismatch": (
        [(2, 3), (5, 4), (2, 4)],
        ValueError,
        r"inner dimensions differ: X is N×D=2×3 but W is D×M=5×4",
    ),
    "dY-wrong-shape": ([(2, 3), (3, 4), (4, 2)], ValueError, r"dY must be N×M=2×4 .*got 4×2"),
    "N-zero": ([(0, 3), (3, 4), (0, 4)], ValueError, r"N=0, D=3, M=4"),
    "D-zero": ([(2, 0), (0, 4), (2, 4)], ValueError, r"N=2, D=0, M=4"),
    "M-zero": ([(2, 3), (3, 0), (2, 0)], ValueError, r"N=2, D=3, M=0"),
}


@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
@pytest.mark.parametrize("name", ALL_METHODS)
def test_bad_shape_raises_value_error_naming_shapes(name, case):
    shapes, error, pattern = SHAPE_CASES[case]
    method = METHODS[name]
    with pytest.raises(error, match=pattern):
        method.backward(*_arrays(method.backend, shapes))


SUPPORTED = {"numpy": "float32 and float64", "torch": "float32, float64, float16 and bfloat16"}


@pytest.mark.parametrize("dtype", ["int64", "int32", "complex128", "bool"])
@pytest.mark.parametrize("name", ALL_METHODS)
def test_non_float_dtype_raises_type_error_naming_dtype(name, dtype):
    method = METHODS[name]
    X, W, dY = _arrays(method.backend, [(2, 3), (3, 4), (2, 4)], dtype)
    supported = SUPPORTED[method.backend]
    with pytest.raises(TypeError, match=rf"{method.backend} methods support only {supported}; got X={dtype}"):
        method.backward(X, W, dY)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_mixed_float_dtypes_raise_type_error_listing_each(name):
    method = METHODS[name]
    X, W, dY = _arrays(method.backend, [(2, 3), (3, 4), (2, 4)])
    W = W.astype(np.float32) if method.backend == "numpy" else W.float()
    with pytest.raises(TypeError, match=r"share one dtype; got X=float64, W=float32, dY=float64"):
        method.backward(X, W, dY)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_numpy_mixed_with_torch_raises_type_error(name):
    method = METHODS[name]
    X, W, dY = _arrays(method.backend, [(2, 3), (3, 4), (2, 4)])
    other = dY.numpy() if method.backend == "torch" else torch.from_numpy(dY)
    with pytest.raises(TypeError, match=rf"method needs {method.backend} arrays .*dY="):
        method.backward(X, W, other)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_python_lists_raise_type_error(name):
    with pytest.raises(TypeError, match=r"expected a numpy.ndarray or torch.Tensor, got builtins.list"):
        METHODS[name].backward([[1.0]], [[1.0]], [[1.0]])


@pytest.mark.parametrize("name", [n for n in ALL_METHODS if METHODS[n].backend == "torch"])
def test_mixed_devices_raise_value_error_naming_devices(name):
    X, W, dY = _arrays("torch", [(2, 3), (3, 4), (2, 4)])
    W = W.to("meta")  # a second device that every machine has
    with pytest.raises(ValueError, match=r"one device; got X=cpu, W=meta, dY=cpu"):
        METHODS[name].backward(X, W, dY)


@pytest.mark.parametrize("name", [n for n in ALL_METHODS if METHODS[n].uses_workspace])
def test_too_small_workspace_raises_value_error_with_needed_size(name):
    method = METHODS[name]
    X, W, dY = _arrays(method.backend, [(2, 3), (3, 4), (2, 4)])
    need = 96 if method.family == "explicit" else 2 * 3 + 3 * 4  # larger Jacobian, or dX and dW
    small = make_workspace(X, W, method.family)[:10]
    with pytest.raises(ValueError, match=rf"at least {need} elements for N=2, D=3, M=4; got shape \[10\]"):
        method.backward(X, W, dY, workspace=small)


@pytest.mark.parametrize("name", [n for n in ALL_METHODS if METHODS[n].uses_workspace])
def test_workspace_of_other_dtype_raises_type_error(name):
    method = METHODS[name]
    X, W, dY = _arrays(method.backend, [(2, 3), (3, 4), (2, 4)])
    wrong = make_workspace(*_arrays(method.backend, [(2, 3), (3, 4)], "float32"), method.family)
    with pytest.raises(TypeError, match=rf"workspace must be a {method.backend} float64 array"):
        method.backward(X, W, dY, workspace=wrong)


def test_workspace_given_to_a_method_without_a_warm_variant_raises_type_error():
    X, W, dY = _arrays("torch", [(2, 3), (3, 4), (2, 4)])
    with pytest.raises(TypeError, match="jacrev-torch takes no workspace"):
        METHODS["jacrev-torch"].backward(X, W, dY, workspace=torch.empty(100, dtype=torch.float64))


def test_jacobians_reject_mismatched_inner_dimensions():
    X, W = _arrays("numpy", [(2, 3), (4, 5)])
    with pytest.raises(ValueError, match="inner dimensions differ"):
        jacobians(X, W)
