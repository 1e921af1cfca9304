"""The methods' bodies: ``impl(X, W, dY, workspace) -> (dX, dW)``, one per family and engine."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from bench import costs
from bench.methods.jacobians import _contract, fill_dydw, fill_dydx
from bench.methods.method import Array, Grads, Prepared


def _results_in(workspace: Array, n: int, d: int, m: int) -> Grads:
    """dX (N×D) and dW (D×M) as views of a reused flat buffer: the warm variants' results."""
    return workspace[: n * d].reshape(n, d), workspace[n * d : n * d + d * m].reshape(d, m)


def _formula(X: Array, W: Array, dY: Array, workspace: Array | None) -> Grads:
    if workspace is None:  # cold: fresh results, as ``dY @ W.T`` gives them
        return dY @ W.T, X.T @ dY
    dX, dW = _results_in(workspace, X.shape[0], X.shape[1], W.shape[1])
    if isinstance(X, torch.Tensor):
        torch.matmul(dY, W.T, out=dX)
        torch.matmul(X.T, dY, out=dW)
    else:
        np.matmul(dY, W.T, out=dX)
        np.matmul(X.T, dY, out=dW)
    return dX, dW


def _explicit(X: Array, W: Array, dY: Array, workspace: Array | None) -> Grads:
    n, d = X.shape
    m = W.shape[1]
    vec_dy = dY.reshape(-1)
    jac = fill_dydx(W, n, workspace)
    dX = _contract(vec_dy, jac).reshape(n, d)
    del jac  # freed before dY/dW exists: the peak is the larger Jacobian, not the sum
    jac = fill_dydw(X, m, workspace)
    dW = _contract(vec_dy, jac).reshape(d, m)
    return dX, dW


JacobianOf = Callable[[Callable[[Array], Array], Array], Array]
"""``jacobian_of(f, x)``: the Jacobian of ``f`` at ``x``, shaped ``f(x).shape + x.shape``."""


def _through(jacobian_of: JacobianOf) -> Callable[[Array, Array, Array, Array | None], Grads]:
    """A method that takes each Jacobian from a library API, then contracts it with dY.

    One Jacobian at a time, as the explicit methods do: dY/dX is freed before dY/dW is built,
    so the peak is the larger of the two (with whatever basis the API holds), not the sum.
    """

    def impl(X: Array, W: Array, dY: Array, workspace: Array | None) -> Grads:
        jac = jacobian_of(lambda x: x @ W, X)  # (N, M, N, D)
        dX = torch.tensordot(dY, jac, dims=2)
        del jac
        jac = jacobian_of(lambda w: X @ w, W)  # (N, M, D, M)
        dW = torch.tensordot(dY, jac, dims=2)
        return dX, dW

    return impl


def _jacrev_of(f: Callable[[Array], Array], x: Array) -> Array:
    return torch.func.jacrev(f)(x)


def _jacfwd_of(f: Callable[[Array], Array], x: Array) -> Array:
    return torch.func.jacfwd(f)(x)


def _ajacobian_of(f: Callable[[Array], Array], x: Array) -> Array:
    return torch.autograd.functional.jacobian(f, x)  # vectorize=False: one backward per output


def _ajacobianvec_of(f: Callable[[Array], Array], x: Array) -> Array:
    return torch.autograd.functional.jacobian(f, x, vectorize=True)


def _streamed(X: Array, W: Array, dY: Array, workspace: Array | None) -> Grads:
    from bench.streamed import streamed_backward

    return streamed_backward(X, W, dY)


def _streamed_compiled(X: Array, W: Array, dY: Array, workspace: Array | None) -> Grads:
    from bench.compiled import streamed_compiled  # numba: imported by the methods that need it

    return streamed_compiled(X, W, dY)


def _compiled_tiles(dtype: str, block_bytes: int | None) -> int:
    """One tile per core of the numba pool, each ``block_bytes`` or by default two thirds of the L1d."""
    from bench.compiled import tiles_bytes  # numba: only for the method that uses it

    return tiles_bytes(dtype, block_bytes)


def _compiled_peak(n: int, d: int, m: int, dtype: str, tiles: int) -> int:
    """``streamed-compiled``'s peak above the inputs: its per-core tiles (``tiles`` bytes in all,
    allocated before either pass) and both results. While dY/dX streams, a contiguous Wᵀ stands
    where dW will be (the same size); each core's accumulator lies in its tile's gap."""
    return tiles + costs.output_bytes(n, d, m, dtype)


def _autograd_leaves(X: Array, W: Array) -> tuple[Array, Array, Array]:
    x = X.detach().requires_grad_(True)
    w = W.detach().requires_grad_(True)
    return x, w, x @ w


def _keep_grads(x: Array, w: Array, workspace: Array | None) -> None:
    """``.grad`` reset: None (cold: backward stores fresh tensors), or zeroed views of the reused
    ``workspace`` (warm, as ``zero_grad(set_to_none=False)`` leaves them: backward adds into them)."""
    if workspace is None:
        x.grad = None
        w.grad = None
        return
    dX, dW = _results_in(workspace, x.shape[0], x.shape[1], w.shape[1])
    x.grad, w.grad = dX.zero_(), dW.zero_()


def _autograd(X: Array, W: Array, dY: Array, workspace: Array | None) -> Grads:
    x, w, y = _autograd_leaves(X, W)
    _keep_grads(x, w, workspace)
    y.backward(dY)
    return x.grad, w.grad


def _prepare_autograd(X: Array, W: Array, dY: Array, workspace: Array | None) -> Prepared:
    """Forward once, outside the timed region; each round resets ``.grad`` and runs backward."""
    x, w, y = _autograd_leaves(X, W)

    def reset() -> None:
        _keep_grads(x, w, workspace)

    def run() -> Grads:
        y.backward(dY, retain_graph=True)
        return x.grad, w.grad  # the leaves' gradients, so every prepared run returns (dX, dW)

    return Prepared(run=run, reset=reset)
