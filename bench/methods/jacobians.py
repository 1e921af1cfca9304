"""The dense Jacobians of Y = X·W in row-major vec, each entry written once: a zero fill, then the
non-zero blocks through a strided diagonal view (no Python loop over rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.validation import validate

Array = Any  # numpy.ndarray or torch.Tensor


def _zeros_like_buffer(buffer: Array | None, numel: int, like: Array) -> Array:
    """A zeroed flat buffer of ``numel`` elements: a view of ``buffer``, or fresh memory."""
    if isinstance(like, torch.Tensor):
        flat = torch.empty(numel, dtype=like.dtype, device=like.device) if buffer is None else buffer[:numel]
        return flat.zero_()
    flat = np.empty(numel, dtype=like.dtype) if buffer is None else buffer[:numel]
    flat.fill(0)
    return flat


def _diagonal(view4: Array, dim1: int, dim2: int) -> Array:
    """Writable view of the diagonal of a 4-D array over two equal-sized axes.

    The result keeps the two other axes in order, followed by the diagonal axis.
    """
    if isinstance(view4, torch.Tensor):
        return torch.diagonal(view4, dim1=dim1, dim2=dim2)
    rest = [k for k in range(4) if k not in (dim1, dim2)]
    shape = (*(view4.shape[k] for k in rest), view4.shape[dim1])
    strides = (*(view4.strides[k] for k in rest), view4.strides[dim1] + view4.strides[dim2])
    return np.lib.stride_tricks.as_strided(view4, shape=shape, strides=strides, writeable=True)


def fill_dydx(W: Array, n: int, buffer: Array | None = None) -> Array:
    """dY/dX = I_N ⊗ Wᵀ as a dense (N·M)×(N·D) matrix, in ``buffer`` if given."""
    d, m = W.shape
    flat = _zeros_like_buffer(buffer, n * m * n * d, W)
    jac = flat.reshape(n, m, n, d)
    diag = _diagonal(jac, 0, 2)  # (M, D, N): entry [j, l, i] is J[(i, j), (i, l)] = W[l, j]
    diag[...] = W.T[:, :, None]
    return flat.reshape(n * m, n * d)


def fill_dydw(X: Array, m: int, buffer: Array | None = None) -> Array:
    """dY/dW = X ⊗ I_M as a dense (N·M)×(D·M) matrix, in ``buffer`` if given."""
    n, d = X.shape
    flat = _zeros_like_buffer(buffer, n * m * d * m, X)
    jac = flat.reshape(n, m, d, m)
    diag = _diagonal(jac, 1, 3)  # (N, D, M): entry [i, k, j] is J[(i, j), (k, j)] = X[i, k]
    diag[...] = X[:, :, None]
    return flat.reshape(n * m, d * m)


def _contract(vec_dy: Array, jac: Array) -> Array:
    """vec(dY)ᵀ·J: one pass over J, reading each entry once."""
    if isinstance(jac, torch.Tensor):
        return torch.mv(jac.t(), vec_dy)
    return vec_dy @ jac


def jacobians(X: Array, W: Array) -> tuple[Array, Array]:
    """The dense dY/dX ((N·M)×(N·D)) and dY/dW ((N·M)×(D·M)) of Y = X·W, both at once."""
    backend = "torch" if isinstance(X, torch.Tensor) else "numpy"
    problem = validate(X, W, None, backend)
    return fill_dydx(W, problem.n), fill_dydw(X, problem.m)
