"""Exact, analytic counts for backprop through Y = X·W (X: N×D, W: D×M, dY: N×M).

Everything here is a pure function of (N, D, M, dtype) and the method family, so the
analysis can extrapolate to sizes that were never run. Python ints throughout: the headline
case (N=64, D=M=4096) overflows nothing and rounds nothing.

Families: ``formula`` (dY·Wᵀ and Xᵀ·dY), ``autograd`` (``Y.backward(dY)``), ``explicit``
(dense Jacobians, then a matrix-vector contraction), ``jacrev`` (``torch.func.jacrev``),
``streamed`` (every Jacobian entry materialised tile by tile in a small reusable buffer),
``ajacobian`` (``torch.autograd.functional.jacobian``, default ``vectorize=False``: one backward
call per output element), ``ajacobianvec`` (the same with ``vectorize=True``: one vmapped
backward over an identity basis) and ``jacfwd`` (``torch.func.jacfwd``: forward mode, one
vmapped jvp over an identity basis of the *input*).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bench.sizes import (
    AJACOBIAN_BYTES_PER_CALL,
    check_shape,
    input_bytes,  # noqa: F401  (re-exported: callers read every size from costs)
    itemsize,
    jacfwd_basis_bytes,
    jacobian_bytes,
    jacrev_basis_bytes,
    output_bytes,
    streamed_buffer_bytes,
    streamed_results_bytes,
)

# --- each family's counts (the registry below names which family uses which) -----------------


def _contraction_flops(n: int, d: int, m: int) -> int:
    """vec(dY)ᵀ·J for both Jacobians: building them is copying, not arithmetic."""
    return 2 * n * m * (n * d + d * m)


def _gemm_flops(n: int, d: int, m: int) -> int:
    """The formula's two GEMMs (dY·Wᵀ, Xᵀ·dY) of 2·N·D·M each; autograd runs the same two."""
    return 4 * n * d * m


def _vjp_flops(n: int, d: int, m: int) -> int:
    """A vjp per basis vector, i.e. (N·M) batched GEMMs of 2·N·M·D for each Jacobian (jacrev,
    ajacobianvec; ajacobian makes the same (N·M) vjps one backward call at a time), then the
    contraction."""
    return 4 * (n * m) ** 2 * d + _contraction_flops(n, d, m)


def _jvp_flops(n: int, d: int, m: int) -> int:
    """A jvp per input element: (N·D) GEMMs (N×D)·(D×M) for dY/dX, (D·M) of X·(D×M) for dY/dW,
    then the contraction."""
    return 2 * n * d * m * (n * d + d * m) + _contraction_flops(n, d, m)


def _operand_traffic(n: int, d: int, m: int, dtype: str) -> int:
    """The formula reads its operands and writes its results."""
    return 2 * (n * m + d * m + n * d) * itemsize(dtype)


def _jacobian_traffic(n: int, d: int, m: int, dtype: str) -> int:
    """Every Jacobian entry written once (zero fill plus the non-zero blocks) and read once in the
    contraction. The streamed family is counted the same, though it writes and reads a
    cache-sized tile rather than DRAM (its "effective" throughput)."""
    return 2 * sum(jacobian_bytes(n, d, m, dtype))


def _basis_traffic(n: int, d: int, m: int, dtype: str) -> int:
    """jacrev and ajacobianvec: the Jacobians as the explicit family, plus their (N·M)² identity
    basis written and read once per Jacobian."""
    return _jacobian_traffic(n, d, m, dtype) + 4 * jacrev_basis_bytes(n, d, m, dtype)


def _looped_traffic(n: int, d: int, m: int, dtype: str) -> int:
    """ajacobian writes a one-hot N×M cotangent per call (the same bytes as jacrev's basis, one
    row at a time) and reads it, and writes its Jacobian in rows, then reads and writes it again
    to stack the rows: 4× each Jacobian."""
    return 2 * _jacobian_traffic(n, d, m, dtype) + 4 * jacrev_basis_bytes(n, d, m, dtype)


def _jvp_traffic(n: int, d: int, m: int, dtype: str) -> int:
    """jacfwd writes and reads its input-sized bases, writes each Jacobian, copies it once (read
    and write) to move the batch axis last, and reads it in the contraction: 4× each Jacobian."""
    return 2 * _jacobian_traffic(n, d, m, dtype) + 2 * sum(jacfwd_basis_bytes(n, d, m, dtype))


Peak = Callable[[int, int, int, str, int | None, str], int]
"""``peak(n, d, m, dtype, block_bytes, variant)``: bytes above the inputs (see :func:`peak_bytes`)."""
Allocations = Callable[[int, int, int, str, int | None, str], list[int]]
"""``allocations(n, d, m, dtype, block_bytes, variant)``: see :func:`allocations`."""


def _results(n: int, d: int, m: int, dtype: str) -> list[int]:
    return [n * d * itemsize(dtype), d * m * itemsize(dtype)]


def _formula_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """The two results; "warm": the reused results it writes into (``out=``), the same bytes."""
    return output_bytes(n, d, m, dtype)


def _formula_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    return [] if variant == "warm" else _results(n, d, m, dtype)


def _autograd_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """The forward output Y (the graph needs a forward) plus the two gradients; "warm" adds the
    kept ``.grad`` the fresh gradients are added into."""
    return (2 if variant == "warm" else 1) * output_bytes(n, d, m, dtype) + n * m * itemsize(dtype)


def _autograd_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    """Warm keeps ``.grad``, but backward still computes each gradient into a fresh tensor first."""
    return _results(n, d, m, dtype)


def _explicit_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """One Jacobian at a time (dY/dX is freed before dY/dW is built) plus results. A reused
    workspace holds max(|dY/dX|, |dY/dW|), so the warm variant predicts the same."""
    return max(jacobian_bytes(n, d, m, dtype)) + output_bytes(n, d, m, dtype)


def _explicit_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    jx, jw = jacobian_bytes(n, d, m, dtype)
    return _results(n, d, m, dtype) if variant == "warm" else [jx, jw, *_results(n, d, m, dtype)]


def _streamed_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """The tile buffer (``block``, default the CPU's) plus results; a transposed copy of W lives
    only while dY/dX streams, before dW exists, and is the size of dW. Half precision adds a
    float32 accumulator per result (see :func:`_streamed_results_bytes`)."""
    buffer = streamed_buffer_bytes(n, d, m, dtype, block)
    return streamed_results_bytes(n, d, m, dtype, block) + buffer


def _streamed_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    return [streamed_buffer_bytes(n, d, m, dtype, block), *_results(n, d, m, dtype)]


def _basis_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """jacrev and ajacobianvec: one Jacobian plus its (N·M)² identity basis, plus results."""
    jacobian = max(jacobian_bytes(n, d, m, dtype))
    return jacobian + jacrev_basis_bytes(n, d, m, dtype) + output_bytes(n, d, m, dtype)


def _basis_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    """The basis and the Jacobian, once per Jacobian (a basis read back is counted once)."""
    basis, (jx, jw) = jacrev_basis_bytes(n, d, m, dtype), jacobian_bytes(n, d, m, dtype)
    return [basis, jx, basis, jw, *_results(n, d, m, dtype)]


def _looped_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """ajacobian: one Jacobian twice (its N·M rows, then ``torch.stack`` of them) plus
    :data:`AJACOBIAN_BYTES_PER_CALL` per row, plus results."""
    jacobian = max(jacobian_bytes(n, d, m, dtype))
    return 2 * jacobian + AJACOBIAN_BYTES_PER_CALL * n * m + output_bytes(n, d, m, dtype)


def _looped_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    basis, (jx, jw) = jacrev_basis_bytes(n, d, m, dtype), jacobian_bytes(n, d, m, dtype)
    return [basis, 2 * jx, basis, 2 * jw, *_results(n, d, m, dtype)]


def _jvp_peak(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> int:
    """jacfwd: for each Jacobian, its input-sized basis plus the Jacobian twice (the jvp's
    batched result and its contiguous copy); the larger of the two, plus results."""
    (jx, jw), (bx, bw) = jacobian_bytes(n, d, m, dtype), jacfwd_basis_bytes(n, d, m, dtype)
    return max(bx + 2 * jx, bw + 2 * jw) + output_bytes(n, d, m, dtype)


def _jvp_allocations(n: int, d: int, m: int, dtype: str, block: int | None, variant: str) -> list[int]:
    (jx, jw), (bx, bw) = jacobian_bytes(n, d, m, dtype), jacfwd_basis_bytes(n, d, m, dtype)
    return [bx, 2 * jx, bw, 2 * jw, *_results(n, d, m, dtype)]


# --- the registry ------------------------------------------------------------------------------

ROOFS: Mapping[str, str] = MappingProxyType({"flops": "gemm", "bytes_moved": "copy"})
"""Time driver → the roof a family's time is compared with: arithmetic with the GEMM roof
(GFLOP/s), memory traffic with copy bandwidth (GB/s)."""

Points = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Family:
    """Everything the cost model knows of one method family; every count comes from here."""

    name: str
    time_driver: str
    """What bounds its time: arithmetic (``flops``) or memory traffic (``bytes_moved``)."""
    dense: bool
    """Its memory holds a whole dense Jacobian: the profiles' ``jacobian_cap`` applies."""
    looped: bool
    """One Python-level backward call per output element (:func:`backward_calls`): ``call_cap``."""
    flops: Callable[[int, int, int], int] = field(repr=False)
    bytes_moved: Callable[[int, int, int, str], int] = field(repr=False)
    peak: Peak = field(repr=False)
    allocations: Allocations = field(repr=False)
    ab_points: Points
    """The A/B time gate's (N, D, M): each call about 1 to 10 ms on one CPU thread here, long
    enough that the method, not the interpreter, is timed, and short enough that 8 interleaved
    repetitions of both sides take about 2 minutes."""
    peak_points: Points
    """The memory gate's: the time gate's two, plus one where the Jacobian (or its basis; for the
    formula and autograd, the BLAS's workspace) dominates. About 0.3 s a measurement."""

    def __post_init__(self) -> None:
        if self.time_driver not in ROOFS:
            raise ValueError(
                f"family {self.name}: time driver {self.time_driver!r} is not one of {list(ROOFS)}"
            )

    @property
    def roof(self) -> str:
        """``gemm`` or ``copy``: the roof its time is compared with (:data:`ROOFS`)."""
        return ROOFS[self.time_driver]


_DENSE_AB = ((16, 64, 64), (64, 32, 32))
_FORMULA_AB = ((64, 1024, 1024), (256, 512, 512))
_FORMULA_PEAK = (*_FORMULA_AB, (16, 512, 64))
"""N=16, D=512, M=64: outputs of 160 KiB, under the BLAS's own workspace on some CPUs (166 KiB
on a Xeon, 599 KiB on an EPYC): a peak the workspace dominates."""


FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in (
    Family("formula", "flops", False, False, _gemm_flops, _operand_traffic, _formula_peak,
           _formula_allocations, _FORMULA_AB, _FORMULA_PEAK),
    Family("autograd", "flops", False, False, _gemm_flops, _operand_traffic, _autograd_peak,
           _autograd_allocations, _FORMULA_AB, _FORMULA_PEAK),
    Family("explicit", "bytes_moved", True, False, _contraction_flops, _jacobian_traffic, _explicit_peak,
           _explicit_allocations, _DENSE_AB, (*_DENSE_AB, (32, 64, 64))),
    Family("jacrev", "bytes_moved", True, False, _vjp_flops, _basis_traffic, _basis_peak,
           _basis_allocations, ((8, 64, 64), (32, 32, 32)), ((8, 64, 64), (32, 32, 32), (16, 64, 64))),
    Family("streamed", "bytes_moved", False, False, _contraction_flops, _jacobian_traffic, _streamed_peak,
           _streamed_allocations, ((16, 64, 64), (32, 64, 64)), ((16, 64, 64), (32, 64, 64), (64, 64, 64))),
    Family("ajacobian", "bytes_moved", True, True, _vjp_flops, _looped_traffic, _looped_peak,
           _looped_allocations, ((2, 16, 16), (4, 16, 16)), ((2, 16, 16), (4, 16, 16), (4, 32, 32))),
    Family("ajacobianvec", "bytes_moved", True, False, _vjp_flops, _basis_traffic, _basis_peak,
           _basis_allocations, ((8, 64, 64), (32, 32, 32)), ((8, 64, 64), (32, 32, 32), (16, 64, 64))),
    Family("jacfwd", "bytes_moved", True, False, _jvp_flops, _jvp_traffic, _jvp_peak,
           _jvp_allocations, ((8, 32, 32), (16, 32, 32)), ((8, 32, 32), (16, 32, 32), (8, 64, 64))),
)})  # fmt: skip
"""Every method family by name: ``formula`` and ``autograd`` are bounded by arithmetic; the
Jacobian APIs build and read whole Jacobians and identity bases, so they are bytes-bound like
``explicit``. ``ajacobian``'s time is mostly the fixed cost of its N·M backward calls per
Jacobian (30-100 µs each, measured on one thread of the 2-core CPU), which neither count sees:
profiles cap it by :func:`backward_calls` instead."""


class UnknownFamilyError(KeyError, ValueError):
    """A family the registry does not have: a KeyError (a lookup failed) and a ValueError (bad
    input, as the cost model's other refusals)."""

    def __str__(self) -> str:
        return str(self.args[0])


def family(name: str) -> Family:
    """The family's record; an unknown name is an error, never another family's counts."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownFamilyError(f"unknown method family {name!r}; known: {', '.join(FAMILIES)}") from None


def time_driver(name: str) -> str:
    """The count a family's time scales with ("flops" or "bytes_moved"); an unknown family is an
    :class:`UnknownFamilyError`, never a default."""
    return family(name).time_driver


def roof(name: str) -> str:
    """The roof (``gemm`` or ``copy``) that family ``name``'s time is compared with."""
    return family(name).roof


# --- the counts, by family name ---------------------------------------------------------------


def backward_calls(family_name: str, n: int, d: int, m: int) -> int:
    """Python-level backward calls of one gradient computation.

    ``ajacobian`` (``vectorize=False``) calls ``torch.autograd.grad`` once per output element,
    N·M times for each of the two Jacobians. Every other family makes at most a few calls
    whatever the size, counted as 0: for them, the time is in the kernels.
    """
    looped = family(family_name).looped
    check_shape(n, d, m)
    return 2 * n * m if looped else 0


def flops(family_name: str, n: int, d: int, m: int) -> int:
    """Floating-point operations (a multiply-add counts 2) of one backward call."""
    count = family(family_name).flops
    check_shape(n, d, m)
    return count(n, d, m)


def bytes_moved(family_name: str, n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Minimum main-memory traffic of one backward call, in bytes (each family's count says how)."""
    count = family(family_name).bytes_moved
    itemsize(dtype)
    return count(n, d, m, dtype)


def peak_bytes(
    family_name: str,
    n: int,
    d: int,
    m: int,
    dtype: str = "float32",
    block_bytes: int | None = None,
    variant: str = "",
) -> int:
    """Predicted peak working memory of one backward call, above the inputs (each family's
    ``peak`` says what it holds; ``block_bytes`` is the streamed family's tile).

    The Jacobian APIs' peaks were measured with memray in the memory pass (torch 2.13, CPU): at
    peaks of 2-100 MB the prediction is 0.04-1.4% below the measurement (ajacobian -0.2 to
    -0.9%, ajacobianvec -0.3 to -1.4%, jacfwd -0.04 to -1.1%; jacrev -0.4 to -2.1% at the same
    shapes), a fixed 30-100 KiB of Python and autograd objects that matters only below 2 MB.
    """
    return family(family_name).peak(n, d, m, dtype, block_bytes, variant)


def allocations(
    family_name: str,
    variant: str,
    n: int,
    d: int,
    m: int,
    dtype: str = "float32",
    block_bytes: int | None = None,
) -> list[int]:
    """The large blocks one call allocates and first-writes, in bytes (those the time can see).

    A "warm" variant reuses its Jacobian (explicit) or its results (formula: ``out=``); autograd's
    warm variant keeps ``.grad``, but backward still computes each gradient into a fresh tensor
    before adding it in, so its allocations are the cold ones. Allocations that a method makes
    and reads back (jacrev's basis, jacfwd's copies) are counted once each, as allocated.
    """
    return family(family_name).allocations(n, d, m, dtype, block_bytes, variant)


MMAP_THRESHOLD = 32 * 2**20
"""glibc's largest mmap threshold (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit): an allocation above
it is always its own mmap, returned to the kernel when freed, so every call that allocates one
first-touches new pages (page faults, about 1.5 GB/s measured on the 2-core EPYC, against
30 GB/s of copy). Smaller ones are reused from the heap once the dynamic threshold has risen to
them. Measured at N=64 (dW = Xᵀ·dY on 2 threads, median of 9): 24.0 ms fresh and 24.0 ms into a
reused ``out=`` at 16 MiB, 29.1 and 31.4 ms at 32 MiB, 55.6 and 36.0 ms at 36 MiB."""


def fresh_bytes(
    family: str, variant: str, n: int, d: int, m: int, dtype: str = "float32", block_bytes: int | None = None
) -> int:
    """Bytes of new pages one call first-touches: its :func:`allocations` above :data:`MMAP_THRESHOLD`.

    The time fits take it as a feature of its own, beside FLOPs and bytes moved, so that the
    page faults of a cold call above the threshold are not mistaken for slower arithmetic.
    """
    return sum(b for b in allocations(family, variant, n, d, m, dtype, block_bytes) if b > MMAP_THRESHOLD)


CONSERVATIVE_RATES: dict[str, float] = {"flops": 10e9, "bytes": 2e9, "call": 1e-3}
"""Deliberately low throughputs for :func:`predicted_seconds`: 10 GFLOP/s, 2 GB/s of memory
traffic and 1 ms per Python-level backward call. The 2-core CPU this suite was built on measured
about 145 GFLOP/s (GEMM), 30 GB/s (copy) and 30-100 µs per backward call, so a case predicted
under a time cap at these rates stays under it on a machine ten times slower (a busy laptop, one
thread), and the cap never lets a case run far longer than the profile meant."""

DTYPE_SLOWDOWN: dict[str, float] = {"float32": 1.0, "float64": 2.0, "float16": 10.0, "bfloat16": 10.0}
"""How much longer the same count takes in each dtype than in float32, on the conservative side:
float64 has half the SIMD lanes; most CPUs have no native half-precision GEMM, so torch converts
(measured several times slower than float32 where it does)."""


def predicted_seconds(family: str, n: int, d: int, m: int, dtype: str = "float32") -> float:
    """A conservative (high) estimate of one backward call's time, from the exact counts.

    FLOPs (scaled by :data:`DTYPE_SLOWDOWN`; bytes already count the dtype's size), bytes moved
    and backward calls are each charged at :data:`CONSERVATIVE_RATES` and added (no overlap).
    Profiles compare it with their ``target_time_cap`` to decide, before anything runs, whether
    a case at the target size may be measured: an upper bound for planning, never a result.
    """
    rates = CONSERVATIVE_RATES
    moved = bytes_moved(family, n, d, m, dtype)  # validates the dtype first
    return (
        flops(family, n, d, m) / rates["flops"] * DTYPE_SLOWDOWN[dtype]
        + moved / rates["bytes"]
        + backward_calls(family, n, d, m) * rates["call"]
    )
