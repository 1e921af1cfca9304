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

from collections.abc import Mapping
from types import MappingProxyType

from bench import costs
from bench.methods.impls import (
    _ajacobian_of,
    _ajacobianvec_of,
    _autograd,
    _compiled_peak,
    _compiled_tiles,
    _explicit,
    _formula,
    _jacfwd_of,
    _jacrev_of,
    _prepare_autograd,
    _streamed,
    _streamed_compiled,
    _through,
)
from bench.methods.jacobians import fill_dydw, fill_dydx, jacobians
from bench.methods.method import Array, Grads, Method, Prepared, make_workspace, workspace_elements

__all__ = [
    "JACOBIAN_VARIANTS",
    "METHODS",
    "RESULT_VARIANTS",
    "Array",
    "Grads",
    "Method",
    "Prepared",
    "fill_dydw",
    "fill_dydx",
    "jacobians",
    "make_workspace",
    "workspace_elements",
]


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
