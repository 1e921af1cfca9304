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

from bench import tiles
from bench.validation import FLOAT_DTYPES, HALF_DTYPES

TIME_DRIVER: dict[str, str] = {
    "formula": "flops",
    "autograd": "flops",
    "explicit": "bytes_moved",
    "jacrev": "bytes_moved",
    "streamed": "bytes_moved",
    "ajacobian": "bytes_moved",
    "ajacobianvec": "bytes_moved",
    "jacfwd": "bytes_moved",
}
"""What bounds each family's time: arithmetic (``flops``, compared with the GEMM roof) or memory
traffic (``bytes_moved``, compared with copy bandwidth). The Jacobian APIs build and read
whole Jacobians and identity bases, so they are bytes-bound like ``explicit``; ``ajacobian``'s
time is mostly the fixed cost of its N·M backward calls per Jacobian (30-100 µs each, measured
on one thread of the 2-core CPU), which neither count sees: profiles cap it by
:func:`backward_calls` instead."""

FAMILIES: tuple[str, ...] = tuple(TIME_DRIVER)
DENSE_JACOBIAN_FAMILIES = frozenset({"explicit", "jacrev", "ajacobian", "ajacobianvec", "jacfwd"})
"""Families whose memory holds a whole dense Jacobian: the profiles' ``jacobian_cap`` and the
memory guard apply to them through :func:`peak_bytes`."""

LOOPED_FAMILIES = frozenset({"ajacobian"})
"""Families that run one Python-level backward call per output element (see
:func:`backward_calls`); the profiles' ``call_cap`` applies to them."""

AJACOBIAN_BYTES_PER_CALL = 416
"""Host bytes that each of ``ajacobian``'s backward calls leaves alive until its Jacobian is
stacked: every row is its own tensor (Python object, TensorImpl, StorageImpl). Measured with
memray (trace_python_allocators=True) on torch 2.13 CPU: 413 bytes per call plus about 5 KiB
fixed, over 128-512 calls. Not seen by torch.cuda, which counts tensor storage only."""


def itemsize(dtype: str) -> int:
    """Bytes per element of a supported dtype name."""
    try:
        return FLOAT_DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unsupported dtype {dtype!r}; use one of {sorted(FLOAT_DTYPES)}") from None


def _check(n: int, d: int, m: int) -> None:
    if min(n, d, m) <= 0:
        raise ValueError(f"N, D and M must be positive, got N={n}, D={d}, M={m}")


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown method family {family!r}; known: {', '.join(FAMILIES)}")


def jacobian_bytes(n: int, d: int, m: int, dtype: str = "float32") -> tuple[int, int]:
    """Bytes of the dense dY/dX ((N·M)×(N·D)) and dY/dW ((N·M)×(D·M)) Jacobians."""
    _check(n, d, m)
    size = itemsize(dtype)
    return n * m * n * d * size, n * m * d * m * size


def input_bytes(n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Bytes of X, W and dY together: what the caller holds before backprop starts."""
    _check(n, d, m)
    return (n * d + d * m + n * m) * itemsize(dtype)


def output_bytes(n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Bytes of the results dX (N×D) and dW (D×M)."""
    _check(n, d, m)
    return (n * d + d * m) * itemsize(dtype)


def jacrev_basis_bytes(n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Bytes of the (N·M)×(N·M) identity basis that ``jacrev`` vmaps its vjp over.

    Measured with memray: for each Jacobian, jacrev holds this basis and the finished Jacobian
    at the same time, so its peak is basis + Jacobian, not the Jacobian alone.
    """
    _check(n, d, m)
    return (n * m) ** 2 * itemsize(dtype)


def jacfwd_basis_bytes(n: int, d: int, m: int, dtype: str = "float32") -> tuple[int, int]:
    """Bytes of the identity bases that ``jacfwd`` vmaps its jvp over: (N·D)² and (D·M)².

    Forward mode pushes one tangent per *input* element, so its basis is the input size
    squared: for dY/dW at the headline, (4096·4096)² float32 entries, 1 PiB. Measured with
    memray: for each Jacobian, jacfwd holds this basis, the batched jvp result and a contiguous
    copy of it (the batch axis is moved last, then reshaped) at the same time.
    """
    _check(n, d, m)
    size = itemsize(dtype)
    return (n * d) ** 2 * size, (d * m) ** 2 * size


def backward_calls(family: str, n: int, d: int, m: int) -> int:
    """Python-level backward calls of one gradient computation.

    ``ajacobian`` (``vectorize=False``) calls ``torch.autograd.grad`` once per output element,
    N·M times for each of the two Jacobians. Every other family makes at most a few calls
    whatever the size, counted as 0: for them, the time is in the kernels.
    """
    _check_family(family)
    _check(n, d, m)
    return 2 * n * m if family in LOOPED_FAMILIES else 0


def flops(family: str, n: int, d: int, m: int) -> int:
    """Floating-point operations (a multiply-add counts 2) of one backward call."""
    _check_family(family)
    _check(n, d, m)
    contraction = 2 * n * m * (n * d + d * m)  # vec(dY)ᵀ·J for both Jacobians
    if family in ("formula", "autograd"):
        return 4 * n * d * m  # two GEMMs of 2·N·D·M each
    if family in ("explicit", "streamed"):
        return contraction  # building the Jacobians is copying, not arithmetic
    if family == "jacfwd":
        # A jvp per input element: (N·D) GEMMs (N×D)·(D×M) for dY/dX, (D·M) of X·(D×M) for dY/dW.
        return 2 * n * d * m * (n * d + d * m) + contraction
    # jacrev and ajacobianvec: a vjp per basis vector, i.e. (N·M) batched GEMMs of 2·N·M·D for
    # each Jacobian; ajacobian makes the same (N·M) vjps one backward call at a time.
    return 4 * (n * m) ** 2 * d + contraction


def bytes_moved(family: str, n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Minimum main-memory traffic of one backward call, in bytes.

    The explicit family writes every Jacobian entry once (zero fill plus the non-zero blocks)
    and reads it once in the contraction. jacrev and ajacobianvec also write and read their
    identity basis once per Jacobian. ajacobian writes a one-hot N×M cotangent per call (the
    same bytes as jacrev's basis, one row at a time) and reads it, and writes its Jacobian in
    rows, then reads and writes it again to stack the rows: 4× each Jacobian. jacfwd writes and
    reads its input-sized bases, writes each Jacobian, copies it once (read and write) to move
    the batch axis last, and reads it in the contraction: also 4×. The formula reads its
    operands and writes its results. The streamed family is counted like the explicit one: the
    Jacobian bytes it writes and reads, though from a cache-sized tile rather than from DRAM
    (its "effective" throughput).
    """
    _check_family(family)
    size = itemsize(dtype)
    if family in ("formula", "autograd"):
        return 2 * (n * m + d * m + n * d) * size
    jx, jw = jacobian_bytes(n, d, m, dtype)
    if family == "jacfwd":
        return 4 * (jx + jw) + 2 * sum(jacfwd_basis_bytes(n, d, m, dtype))
    moved = (4 if family == "ajacobian" else 2) * (jx + jw)
    if family in ("jacrev", "ajacobianvec", "ajacobian"):
        moved += 2 * 2 * jacrev_basis_bytes(n, d, m, dtype)
    return moved


def streamed_buffer_bytes(
    n: int, d: int, m: int, dtype: str = "float32", block_bytes: int | None = None
) -> int:
    """The streamed method's tile buffer: the largest tile of either Jacobian's plan."""
    block = block_bytes or tiles.DEFAULT_BLOCK_BYTES["cpu"]
    size = itemsize(dtype)
    return max(tiles.plan(kind, n, d, m, size, block).max_tile_elements for kind in tiles.KINDS) * size


def _streamed_results_bytes(n: int, d: int, m: int, dtype: str, block_bytes: int | None) -> int:
    """What the streamed method holds besides its tile buffer, at the worse of its two passes.

    In float32 and float64 that is the two results (while dY/dX streams, the transposed copy of
    W stands where dW will be). In half precision each result is summed in a float32
    accumulator (4 bytes an entry) from tile products that torch's CPU kernel computes in a
    float32 temporary and rounds to the dtype (4 + itemsize bytes per entry of the tile's
    slice), then cast to the dtype at the end of the pass (itemsize bytes per entry), beside the
    other pass's result or W's copy. memray measured these terms exactly at four sizes (dW of
    0.5-8 M entries), plus a fixed 3.24 MB that torch 2.13's CPU half-precision kernels
    allocate once per process; that constant is left out, like other fixed overheads.
    """
    size = itemsize(dtype)
    if dtype not in HALF_DTYPES:
        return output_bytes(n, d, m, dtype)
    block = block_bytes or tiles.DEFAULT_BLOCK_BYTES["cpu"]
    passes = {"dydx": (n * d, d * m), "dydw": (d * m, n * d)}  # (this result, what else is held)
    worst = 0
    for kind, (result, other) in passes.items():
        slice_ = tiles.plan(kind, n, d, m, size, block).max_output_elements
        worst = max(worst, other * size + result * 4 + max(slice_ * (4 + size), result * size))
    return worst


def peak_bytes(
    family: str,
    n: int,
    d: int,
    m: int,
    dtype: str = "float32",
    block_bytes: int | None = None,
    variant: str = "",
) -> int:
    """Predicted peak working memory of one backward call, above the inputs.

    - formula: the two results.
    - formula "warm": the reused results it writes into (``out=``), the same bytes.
    - autograd: the forward output Y (the graph needs a forward) plus the two gradients; "warm"
      adds the kept ``.grad`` the fresh gradients are added into.
    - explicit: one Jacobian at a time (dY/dX is freed before dY/dW is built) plus results.
      A reused workspace holds max(|dY/dX|, |dY/dW|), so the warm variant predicts the same.
    - jacrev and ajacobianvec: one Jacobian plus its (N·M)² identity basis, plus results.
    - ajacobian: one Jacobian twice (its N·M rows, then ``torch.stack`` of them) plus
      :data:`AJACOBIAN_BYTES_PER_CALL` per row, plus results.
    - jacfwd: for each Jacobian, its input-sized basis plus the Jacobian twice (the jvp's
      batched result and its contiguous copy); the larger of the two, plus results.
    - streamed: the tile buffer (``block_bytes``, default the CPU's) plus results; a transposed
      copy of W lives only while dY/dX streams, before dW exists, and is the size of dW. Half
      precision adds a float32 accumulator per result (see :func:`_streamed_results_bytes`).

    The Jacobian APIs' peaks were measured with memray in the memory pass (torch 2.13, CPU): at
    peaks of 2-100 MB the prediction is 0.04-1.4% below the measurement (ajacobian -0.2 to
    -0.9%, ajacobianvec -0.3 to -1.4%, jacfwd -0.04 to -1.1%; jacrev -0.4 to -2.1% at the same
    shapes), a fixed 30-100 KiB of Python and autograd objects that matters only below 2 MB.
    """
    _check_family(family)
    out = output_bytes(n, d, m, dtype)
    if family == "formula":
        return out
    if family == "autograd":
        return (2 if variant == "warm" else 1) * out + n * m * itemsize(dtype)
    if family == "streamed":
        buffer = streamed_buffer_bytes(n, d, m, dtype, block_bytes)
        return _streamed_results_bytes(n, d, m, dtype, block_bytes) + buffer
    jx, jw = jacobian_bytes(n, d, m, dtype)
    if family == "explicit":
        return max(jx, jw) + out
    if family == "ajacobian":
        return 2 * max(jx, jw) + AJACOBIAN_BYTES_PER_CALL * n * m + out
    if family == "jacfwd":
        bx, bw = jacfwd_basis_bytes(n, d, m, dtype)
        return max(bx + 2 * jx, bw + 2 * jw) + out
    return max(jx, jw) + jacrev_basis_bytes(n, d, m, dtype) + out


MMAP_THRESHOLD = 32 * 2**20
"""glibc's largest mmap threshold (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit): an allocation above
it is always its own mmap, returned to the kernel when freed, so every call that allocates one
first-touches new pages (page faults, about 1.5 GB/s measured on the 2-core EPYC, against
30 GB/s of copy). Smaller ones are reused from the heap once the dynamic threshold has risen to
them. Measured at N=64 (dW = Xᵀ·dY on 2 threads, median of 9): 24.0 ms fresh and 24.0 ms into a
reused ``out=`` at 16 MiB, 29.1 and 31.4 ms at 32 MiB, 55.6 and 36.0 ms at 36 MiB."""


def allocations(
    family: str, variant: str, n: int, d: int, m: int, dtype: str = "float32", block_bytes: int | None = None
) -> list[int]:
    """The large blocks one call allocates and first-writes, in bytes (those the time can see).

    A "warm" variant reuses its Jacobian (explicit) or its results (formula: ``out=``); autograd's
    warm variant keeps ``.grad``, but backward still computes each gradient into a fresh tensor
    before adding it in, so its allocations are the cold ones. Allocations that a method makes
    and reads back (jacrev's basis, jacfwd's copies) are counted once each, as allocated.
    """
    _check_family(family)
    size = itemsize(dtype)
    results = [n * d * size, d * m * size]
    jx, jw = jacobian_bytes(n, d, m, dtype)
    if family == "formula":
        return [] if variant == "warm" else results
    if family == "autograd":
        return results
    if family == "explicit":
        return results if variant == "warm" else [jx, jw, *results]
    if family == "streamed":
        return [streamed_buffer_bytes(n, d, m, dtype, block_bytes), *results]
    if family == "jacfwd":
        bx, bw = jacfwd_basis_bytes(n, d, m, dtype)
        return [bx, 2 * jx, bw, 2 * jw, *results]
    basis = jacrev_basis_bytes(n, d, m, dtype)
    twice = 2 if family == "ajacobian" else 1
    return [basis, twice * jx, basis, twice * jw, *results]


def fresh_bytes(
    family: str, variant: str, n: int, d: int, m: int, dtype: str = "float32", block_bytes: int | None = None
) -> int:
    """Bytes of new pages one call first-touches: its :func:`allocations` above :data:`MMAP_THRESHOLD`.

    The time fits take it as a feature of its own, beside FLOPs and bytes moved, so that the
    page faults of a cold call above the threshold are not mistaken for slower arithmetic.
    """
    return sum(b for b in allocations(family, variant, n, d, m, dtype, block_bytes) if b > MMAP_THRESHOLD)


def compiled_peak_bytes(n: int, d: int, m: int, dtype: str, tiles_bytes: int) -> int:
    """``streamed-compiled``'s peak above the inputs: its per-core tiles (``tiles_bytes`` in all,
    allocated before either pass) and both results. While dY/dX streams, a contiguous Wᵀ stands
    where dW will be (the same size); each core's accumulator is one tile row (2 KiB), left out."""
    return tiles_bytes + output_bytes(n, d, m, dtype)


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
