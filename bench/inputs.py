"""Seeded inputs for a case, and the device synchronisation that GPU timing needs."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench.cases import Case


def seed_of(case: Case) -> int:
    """The same (N, D, M, dtype) always gets the same inputs, whatever the method."""
    return zlib.crc32(f"{case.dtype}-{case.n}-{case.d}-{case.m}".encode())


def make_inputs(case: Case) -> tuple[Any, Any, Any]:
    """X (N×D), W (D×M), dY (N×M): standard normal, seeded, in the case's backend and device."""
    rng = np.random.default_rng(seed_of(case))
    arrays = tuple(
        rng.standard_normal(shape, dtype=np.float32 if case.dtype == "float32" else np.float64)
        for shape in ((case.n, case.d), (case.d, case.m), (case.n, case.m))
    )
    if case.backend == "numpy":
        return arrays
    return tuple(torch.from_numpy(a).to(case.device) for a in arrays)


def synchronizer(device: str) -> Callable[[], None]:
    """Waits for queued GPU work on CUDA (timers must not stop early); a no-op on CPU."""
    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


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


def _relative(value: Any, want: Any) -> float:
    scale = max(float(abs(want).max()), np.finfo(np.float64).tiny)
    return float(abs(_float64(value) - want).max()) / scale


TOLERANCE = {"float32": 1e-4, "float64": 1e-10}
"""Relative error a case may show against the float64 formula and still count as correct."""
