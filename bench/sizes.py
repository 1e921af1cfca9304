"""Exact byte sizes of the arrays backprop through Y = X·W holds: the inputs, results, dense
Jacobians, the Jacobian APIs' identity bases and the streamed method's tiles.

Pure functions of (N, D, M, dtype) in Python ints (the headline's 16 TiB rounds nothing); the
cost model (:mod:`bench.costs`) builds each family's counts from them and re-exports them.
"""

from __future__ import annotations

from bench import tiles
from bench.validation import FLOAT_DTYPES, HALF_DTYPES

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


def check_shape(n: int, d: int, m: int) -> None:
    if min(n, d, m) <= 0:
        raise ValueError(f"N, D and M must be positive, got N={n}, D={d}, M={m}")


def jacobian_bytes(n: int, d: int, m: int, dtype: str = "float32") -> tuple[int, int]:
    """Bytes of the dense dY/dX ((N·M)×(N·D)) and dY/dW ((N·M)×(D·M)) Jacobians."""
    check_shape(n, d, m)
    size = itemsize(dtype)
    return n * m * n * d * size, n * m * d * m * size


def input_bytes(n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Bytes of X, W and dY together: what the caller holds before backprop starts."""
    check_shape(n, d, m)
    return (n * d + d * m + n * m) * itemsize(dtype)


def output_bytes(n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Bytes of the results dX (N×D) and dW (D×M)."""
    check_shape(n, d, m)
    return (n * d + d * m) * itemsize(dtype)


def jacrev_basis_bytes(n: int, d: int, m: int, dtype: str = "float32") -> int:
    """Bytes of the (N·M)×(N·M) identity basis that ``jacrev`` vmaps its vjp over.

    Measured with memray: for each Jacobian, jacrev holds this basis and the finished Jacobian
    at the same time, so its peak is basis + Jacobian, not the Jacobian alone.
    """
    check_shape(n, d, m)
    return (n * m) ** 2 * itemsize(dtype)


def jacfwd_basis_bytes(n: int, d: int, m: int, dtype: str = "float32") -> tuple[int, int]:
    """Bytes of the identity bases that ``jacfwd`` vmaps its jvp over: (N·D)² and (D·M)².

    Forward mode pushes one tangent per *input* element, so its basis is the input size
    squared: for dY/dW at the headline, (4096·4096)² float32 entries, 1 PiB. Measured with
    memray: for each Jacobian, jacfwd holds this basis, the batched jvp result and a contiguous
    copy of it (the batch axis is moved last, then reshaped) at the same time.
    """
    check_shape(n, d, m)
    size = itemsize(dtype)
    return (n * d) ** 2 * size, (d * m) ** 2 * size


def streamed_buffer_bytes(
    n: int, d: int, m: int, dtype: str = "float32", block_bytes: int | None = None
) -> int:
    """The streamed method's tile buffer: the largest tile of either Jacobian's plan."""
    block = block_bytes or tiles.DEFAULT_BLOCK_BYTES["cpu"]
    size = itemsize(dtype)
    return max(tiles.plan(kind, n, d, m, size, block).max_tile_elements for kind in tiles.KINDS) * size


def streamed_results_bytes(n: int, d: int, m: int, dtype: str, block_bytes: int | None) -> int:
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
