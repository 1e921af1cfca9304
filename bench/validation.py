"""Input checks shared by every gradient method.

Each bad input is turned into a ``TypeError`` or ``ValueError`` that names the offending
shapes, dtypes or devices, before any numpy or torch kernel can fail somewhere deep inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

FLOAT_DTYPES: dict[str, int] = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
"""Supported dtypes by stable name, with their item size in bytes."""

BACKEND_DTYPES: dict[str, tuple[str, ...]] = {
    "numpy": ("float32", "float64"),
    "torch": ("float32", "float64", "float16", "bfloat16"),
}
"""The dtypes each backend accepts. Half precision is torch-only: numpy has no bfloat16, and
no BLAS for float16 (its matmul is a plain loop), so timing it would say nothing about the
question; numpy methods refuse both with a one-line TypeError."""

HALF_DTYPES = frozenset({"float16", "bfloat16"})


@dataclass(frozen=True)
class Problem:
    """The validated shape, dtype and home of one backward problem."""

    backend: str  # "numpy" or "torch"
    n: int
    d: int
    m: int
    dtype: str  # a key of FLOAT_DTYPES allowed for the backend (BACKEND_DTYPES)
    device: str  # "cpu", "cuda:0", ...


def _and(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1]


def dtype_name(array: Any) -> str:
    """Stable dtype name ("float32", ...) of a numpy array or torch tensor."""
    if isinstance(array, torch.Tensor):
        return str(array.dtype).removeprefix("torch.")
    return str(np.asarray(array).dtype)


def _kind(array: Any) -> str:
    if isinstance(array, torch.Tensor):
        return "torch"
    if isinstance(array, np.ndarray):
        return "numpy"
    raise TypeError(
        f"expected a numpy.ndarray or torch.Tensor, got {type(array).__module__}.{type(array).__name__}"
    )


def validate(X: Any, W: Any, dY: Any | None, backend: str) -> Problem:
    """Check X (N×D), W (D×M) and dY (N×M) for a method of ``backend``; return the problem.

    ``dY=None`` checks X and W alone (to build Jacobians, which do not depend on dY).
    """
    named = [("X", X), ("W", W)] + ([] if dY is None else [("dY", dY)])
    kinds = {name: _kind(a) for name, a in named}
    if set(kinds.values()) != {backend}:
        found = ", ".join(f"{k}={v}" for k, v in kinds.items())
        raise TypeError(f"method needs {backend} arrays for {', '.join(kinds)}; got {found}")
    dims = {name: tuple(a.shape) for name, a in named}
    shapes = ", ".join(f"{k}{list(v)}" for k, v in dims.items())
    for name, shape in dims.items():
        if len(shape) != 2:
            raise ValueError(f"{name} must be 2-D, got {len(shape)}-D ({shapes})")
    n, d = dims["X"]
    d_w, m = dims["W"]
    if d != d_w:
        raise ValueError(f"inner dimensions differ: X is N×D={n}×{d} but W is D×M={d_w}×{m}")
    if "dY" in dims and dims["dY"] != (n, m):
        raise ValueError(f"dY must be N×M={n}×{m} to match X·W, got {dims['dY'][0]}×{dims['dY'][1]}")
    if 0 in (n, d, m):
        raise ValueError(f"N, D and M must all be positive, got N={n}, D={d}, M={m} ({shapes})")
    dtypes = {name: dtype_name(a) for name, a in named}
    allowed = BACKEND_DTYPES[backend]
    unsupported = {k: v for k, v in dtypes.items() if v not in allowed}
    if unsupported:
        bad = ", ".join(f"{k}={v}" for k, v in unsupported.items())
        hint = (
            " (half precision runs on the torch methods)" if HALF_DTYPES & set(unsupported.values()) else ""
        )
        raise TypeError(f"{backend} methods support only {_and(allowed)}; got {bad}{hint}")
    if len(set(dtypes.values())) != 1:
        mixed = ", ".join(f"{k}={v}" for k, v in dtypes.items())
        raise TypeError(f"X, W and dY must share one dtype; got {mixed}")
    device = "cpu"
    if backend == "torch":
        devices = {name: str(a.device) for name, a in named}
        if len(set(devices.values())) != 1:
            mixed = ", ".join(f"{k}={v}" for k, v in devices.items())
            raise ValueError(f"X, W and dY must be on one device; got {mixed}")
        device = devices["X"]
    return Problem(backend, n, d, m, dtypes["X"], device)
