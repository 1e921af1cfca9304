"""The gradient methods, in one registry: ``METHODS[name].backward(X, W, dY) -> (dX, dW)``.

Names are ``<family>-<backend>``. Every method returns arrays of the inputs' type, device and
dtype. The dense Jacobians use row-major vec, as in the notes:
dY/dX = I_N ⊗ Wᵀ ((N·M)×(N·D)) and dY/dW = X ⊗ I_M ((N·M)×(D·M)).

The explicit methods are meant to be a fair baseline, not a strawman:

- they build one Jacobian at a time, so the peak is max(|dY/dX|, |dY/dW|), not the sum;
- every entry is written once (a zero fill, then the non-zero blocks through a strided
  diagonal view, with no Python loop over rows) and read once (one matrix-vector product);
- callers may pass a reusable ``workspace`` (see :func:`make_workspace`). Without one, each
  call allocates fresh Jacobian memory ("cold"): first-touching fresh pages runs at page-fault
  speed, far below memory bandwidth. With one ("warm"), the buffer is only re-zeroed. The
  benchmarks time both, as separately named cases.

Zeros are written explicitly rather than left to ``calloc``'s lazy zero pages, so the dense
matrix really exists in memory, as the method claims.

The Jacobian APIs a PyTorch user would reach for are measured as they come, each building one
Jacobian at a time and contracting it with dY as ``jacrev-torch`` does. Their family names say
which API: ``jacrev`` and ``jacfwd`` are ``torch.func``'s functions of the same names (reverse
mode over an (N·M)² identity basis; forward mode over an identity basis of the input, (N·D)²
for dY/dX and (D·M)² for dY/dW); ``ajacobian`` is ``torch.autograd.functional.jacobian`` as
called by default (``vectorize=False``: a Python loop of N·M backward calls per Jacobian), and
``ajacobianvec`` the same function with ``vectorize=True`` (one batched backward over an
(N·M)² basis). The leading "a" is for autograd, to keep them apart from the ``explicit``
Jacobians.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
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


# --- dense Jacobians -------------------------------------------------------------------------


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


# --- the methods -------------------------------------------------------------------------------


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
    """One tile per core of the numba pool, each ``block_bytes`` or by default half the L2."""
    from bench.compiled import tiles_bytes  # numba: only for the method that uses it

    return tiles_bytes(dtype, block_bytes)


def _compiled_peak(n: int, d: int, m: int, dtype: str, tiles: int) -> int:
    """``streamed-compiled``'s peak above the inputs: its per-core tiles (``tiles`` bytes in all,
    allocated before either pass) and both results. While dY/dX streams, a contiguous Wᵀ stands
    where dW will be (the same size); each core's accumulator is one tile row (2 KiB), left out."""
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


JACOBIAN_VARIANTS: tuple[str, ...] = ("cold", "warm")
"""The explicit methods: fresh Jacobian memory per call ("cold"), or a reused, re-zeroed one."""
RESULT_VARIANTS: tuple[str, ...] = ("", "warm")
"""The formula and autograd: fresh results per call (the method's name alone, as it always was),
or results written into reused memory ("warm": ``out=``, or kept ``.grad`` that backward adds
into). Above glibc's 32 MiB mmap threshold every fresh result is new pages, first touched inside
the timed call; the warm variant shows what that costs."""


def _registry(*methods: Method) -> Mapping[str, Method]:
    for method in methods:
        if (
            method.family not in costs.FAMILIES
            or method.name != f"{method.family}-{method.engine or method.backend}"
        ):
            raise AssertionError(f"inconsistent registry entry {method.name}")
    return MappingProxyType({method.name: method for method in methods})


METHODS: Mapping[str, Method] = _registry(
    Method(
        "formula-numpy",
        "formula",
        "numpy",
        "dX = dY·Wᵀ, dW = Xᵀ·dY with numpy matmul",
        _formula,
        variants=RESULT_VARIANTS,
    ),
    Method(
        "formula-torch",
        "formula",
        "torch",
        "dX = dY·Wᵀ, dW = Xᵀ·dY with torch matmul",
        _formula,
        variants=RESULT_VARIANTS,
    ),
    Method(
        "explicit-numpy",
        "explicit",
        "numpy",
        "dense dY/dX and dY/dW built in numpy one at a time, each contracted with vec(dY)",
        _explicit,
        variants=JACOBIAN_VARIANTS,
    ),
    Method(
        "explicit-torch",
        "explicit",
        "torch",
        "dense dY/dX and dY/dW built in torch one at a time, each contracted with vec(dY)",
        _explicit,
        variants=JACOBIAN_VARIANTS,
    ),
    Method(
        "jacrev-torch",
        "jacrev",
        "torch",
        "each Jacobian from torch.func.jacrev, then contracted with dY",
        _through(_jacrev_of),
    ),
    Method(
        "ajacobian-torch",
        "ajacobian",
        "torch",
        "each Jacobian from torch.autograd.functional.jacobian (vectorize=False: N·M backward "
        "calls), then contracted with dY",
        _through(_ajacobian_of),
    ),
    Method(
        "ajacobianvec-torch",
        "ajacobianvec",
        "torch",
        "each Jacobian from torch.autograd.functional.jacobian(vectorize=True), then contracted with dY",
        _through(_ajacobianvec_of),
    ),
    Method(
        "jacfwd-torch",
        "jacfwd",
        "torch",
        "each Jacobian from torch.func.jacfwd (forward mode, an input-sized basis), then contracted with dY",
        _through(_jacfwd_of),
    ),
    Method(
        "streamed-torch",
        "streamed",
        "torch",
        "every Jacobian entry built tile by tile in a reusable cache-sized buffer, contracted tile by tile",
        _streamed,
    ),
    Method(
        "streamed-compiled",
        "streamed",
        "numpy",
        "every Jacobian entry built in a per-core tile of half the L2 and contracted by a compiled "
        "(numba) kernel on every core",
        _streamed_compiled,
        engine="compiled",
        tiles_override=_compiled_tiles,
        peak_override=_compiled_peak,
    ),
    Method(
        "autograd-torch",
        "autograd",
        "torch",
        "Y = X·W on leaf tensors, then Y.backward(dY)",
        _autograd,
        variants=RESULT_VARIANTS,
        prepare_impl=_prepare_autograd,
    ),
)
"""Every gradient method by stable name."""
