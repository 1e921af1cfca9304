"""Seeded inputs for a case and the float64 references they are checked against (``synchronizer``,
the device synchronisation GPU timing needs, lives in :mod:`bench.harness.cudatime`)."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch

from bench.cases import Case
from bench.harness.cudatime import synchronizer  # noqa: F401  (re-exported: its old home)
from bench.validation import BACKEND_DTYPES


def seed_of(case: Case) -> int:
    """The same (N, D, M, dtype) always gets the same inputs, whatever the method."""
    return zlib.crc32(f"{case.dtype}-{case.n}-{case.d}-{case.m}".encode())


def make_inputs(case: Case) -> tuple[Any, Any, Any]:
    """X (N×D), W (D×M), dY (N×M): standard normal, seeded, in the case's backend and device.

    Half-precision inputs are drawn in float32 and rounded to the dtype (numpy draws no
    float16 or bfloat16); the rounded values are the inputs, so the float64 reference is taken
    from them and measures the method's own error, not the rounding of its inputs.
    """
    if case.dtype not in BACKEND_DTYPES[case.backend]:
        raise ValueError(
            f"{case.backend} inputs cannot be {case.dtype}: "
            f"{case.backend} supports {' and '.join(BACKEND_DTYPES[case.backend])}"
        )
    rng = np.random.default_rng(seed_of(case))
    arrays = tuple(
        rng.standard_normal(shape, dtype=np.float64 if case.dtype == "float64" else np.float32)
        for shape in ((case.n, case.d), (case.d, case.m), (case.n, case.m))
    )
    if case.backend == "numpy":
        return arrays
    dtype = getattr(torch, case.dtype)
    return tuple(torch.from_numpy(a).to(device=case.device, dtype=dtype) for a in arrays)


def _float64(array: Any) -> Any:
    if isinstance(array, torch.Tensor):
        return array.detach().double()
    return np.asarray(array, dtype=np.float64)


def relative_error(got: tuple[Any, Any], inputs: tuple[Any, Any, Any]) -> float:
    """Largest error of (dX, dW) against the float64 formula, relative to the largest entry.

    The reference is computed with the case's own backend and device: a numpy (OpenBLAS) call
    before a torch timing would leave OpenBLAS threads spinning on the cores that torch's
    OpenMP threads are about to need.
    """
    X, W, dY = (_float64(a) for a in inputs)
    return max(_relative(got[0], dY @ W.T), _relative(got[1], X.T @ dY))


def dx_relative_error(dX: Any, inputs: tuple[Any, Any, Any]) -> float:
    """``relative_error`` of dX alone (the headline samples dY/dW, so its dW is partial)."""
    _, W, dY = (_float64(a) for a in inputs)
    return _relative(dX, dY @ W.T)


def dw_relative_error(dW: Any, inputs: tuple[Any, Any, Any]) -> float:
    """``relative_error`` of dW alone (a full dY/dW pass of the headline)."""
    X, _, dY = (_float64(a) for a in inputs)
    return _relative(dW, X.T @ dY)


def _relative(value: Any, want: Any) -> float:
    scale = max(float(abs(want).max()), np.finfo(np.float64).tiny)
    return float(abs(_float64(value) - want).max()) / scale


HALF_TOLERANCE_EPS = 8
"""Half-precision tolerance in units of the dtype's machine epsilon. Inputs are exact in the
dtype (see :func:`make_inputs`) and torch's matmul and mv kernels accumulate half-precision
products in float32, so each result is rounded once: at most eps/2 of the largest entry
(measured 0.2-0.5·eps for every torch method, K up to 4096, float16 and bfloat16). The streamed
method rounds each tile's partial sum to the dtype once and adds the partials in float32
(0.3-0.5·eps with up to 32,768 tiles per output column; summing in the dtype itself had reached
7.7·eps). The margin of 16× the bound is for kernels that round more than torch's do today."""

TOLERANCE = {
    "float32": 1e-4,
    "float64": 1e-10,
    "float16": HALF_TOLERANCE_EPS * torch.finfo(torch.float16).eps,  # 2⁻¹⁰·8 ≈ 7.8e-3
    "bfloat16": HALF_TOLERANCE_EPS * torch.finfo(torch.bfloat16).eps,  # 2⁻⁷·8 = 6.25e-2
}
"""Relative error a case may show against the float64 formula and still count as correct."""
