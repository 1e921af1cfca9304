"""One gradient method as a record (``Method``), a method bound to its inputs (``Prepared``), and
the reused memory its warm variant takes (``make_workspace``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench import costs
from bench.tiles import default_block_bytes
from bench.validation import Problem, dtype_name, validate

Array = Any  # numpy.ndarray or torch.Tensor, matching the method's backend
Grads = tuple[Array, Array]


@dataclass(frozen=True)
class Prepared:
    """A method bound to its inputs, for timing: ``reset()`` between rounds, time ``run()``."""

    run: Callable[[], object]
    reset: Callable[[], None] = field(default=lambda: None)


@dataclass(frozen=True)
class Method:
    """One way to compute (dX, dW) from (X, W, dY)."""

    name: str
    family: str  # a key of bench.costs.FAMILIES
    backend: str  # "numpy" or "torch": the arrays it takes and returns
    summary: str
    impl: Callable[[Array, Array, Array, Array | None], Grads] = field(repr=False)
    variants: tuple[str, ...] = ("",)
    """How it is measured: ("",) one way; ("cold", "warm") fresh or reused Jacobian memory;
    ("", "warm") fresh results (the name alone, as always) or results written into reused memory."""
    prepare_impl: Callable[[Array, Array, Array, Array | None], Prepared] | None = field(
        default=None, repr=False
    )
    engine: str = ""
    """What computes it when that is not the backend's own library (``compiled``: numba); the
    name is ``<family>-<engine or backend>``."""
    tiles_override: Callable[[str, int | None], int] | None = field(default=None, repr=False)
    """Its own tile memory, ``(dtype, block_bytes) -> bytes``, where its engine sizes its tiles
    itself instead of taking the family's one ``block_bytes`` buffer."""
    peak_override: Callable[[int, int, int, str, int], int] | None = field(default=None, repr=False)
    """Its own predicted peak, ``(n, d, m, dtype, tile bytes) -> bytes``, where it holds other
    memory than its family's (:func:`bench.costs.peak_bytes`) counts."""

    def tile_bytes(self, device: str, dtype: str, block_bytes: int | None = None) -> int:
        """The tile memory its counts assume: its own, else ``block_bytes`` or the device's default."""
        if self.tiles_override is not None:
            return self.tiles_override(dtype, block_bytes)
        return block_bytes or default_block_bytes(device)

    def peak_bytes(self, n: int, d: int, m: int, dtype: str, tiles: int, variant: str = "") -> int:
        """Predicted peak above the inputs with ``tiles`` bytes of tiles (:meth:`tile_bytes`)."""
        if self.peak_override is not None:
            return self.peak_override(n, d, m, dtype, tiles)
        return costs.peak_bytes(self.family, n, d, m, dtype, tiles, variant)

    @property
    def uses_workspace(self) -> bool:
        """Whether it takes reused memory (see :func:`make_workspace`): its "warm" variant."""
        return "warm" in self.variants

    def backward(self, X: Array, W: Array, dY: Array, workspace: Array | None = None) -> Grads:
        """Return (dL/dX, dL/dW); ``workspace`` (explicit methods only) is reused memory."""
        problem = validate(X, W, dY, self.backend)
        self._check_workspace(problem, workspace)
        return self.impl(X, W, dY, workspace)

    def prepare(self, X: Array, W: Array, dY: Array, workspace: Array | None = None) -> Prepared:
        """Validate once and bind the inputs, so that timing covers the gradient work alone."""
        problem = validate(X, W, dY, self.backend)
        self._check_workspace(problem, workspace)
        if self.prepare_impl is not None:
            return self.prepare_impl(X, W, dY, workspace)
        return Prepared(run=lambda: self.impl(X, W, dY, workspace))

    def _check_workspace(self, problem: Problem, workspace: Array | None) -> None:
        if workspace is None:
            return
        if not self.uses_workspace:
            raise TypeError(f"method {self.name} takes no workspace")
        need = workspace_elements(problem.n, problem.d, problem.m, self.family)
        kind = "torch" if isinstance(workspace, torch.Tensor) else "numpy"
        if kind != problem.backend or dtype_name(workspace) != problem.dtype:
            raise TypeError(
                f"workspace must be a {problem.backend} {problem.dtype} array, "
                f"got {kind} {dtype_name(workspace)}"
            )
        if kind == "torch" and str(workspace.device) != problem.device:
            raise ValueError(f"workspace is on {workspace.device}, inputs on {problem.device}")
        if workspace.ndim != 1 or workspace.shape[0] < need:
            raise ValueError(
                f"workspace must be 1-D with at least {need} elements for N={problem.n}, "
                f"D={problem.d}, M={problem.m}; got shape {list(workspace.shape)}"
            )


def workspace_elements(n: int, d: int, m: int, family: str = "explicit") -> int:
    """Elements a family's reused workspace needs: the larger of the two Jacobians for the
    explicit methods, the two results (dX then dW) for the formula and autograd."""
    if family == "explicit":
        return max(n * m * n * d, n * m * d * m)
    return n * d + d * m


def make_workspace(X: Array, W: Array, family: str = "explicit") -> Array:
    """A flat buffer, on the inputs' device and dtype, that a warm variant reuses."""
    n, d = X.shape
    m = W.shape[1]
    numel = workspace_elements(n, d, m, family)
    if isinstance(X, torch.Tensor):
        return torch.empty(numel, dtype=X.dtype, device=X.device)
    return np.empty(numel, dtype=X.dtype)
