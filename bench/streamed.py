"""Stream a dense Jacobian through a small reusable buffer, one tile at a time.

Every entry of dY/dX = I_N ⊗ Wᵀ and of dY/dW = X ⊗ I_M is materialised, zeros included, in a
tile of a few MiB; the tile is contracted with the matching slice of vec(dY) before the next one
overwrites it. The work is that of the dense explicit method; only the memory is bounded: the
buffer plus the inputs and results, whatever the size of the Jacobian.

A tile covers rows (i, j) of the Jacobian, i the sample and j the output feature, and whole
column groups k (dY/dX: a group is one sample's D columns; dY/dW: one input feature's M
columns). Rows are taken either as one sample's run of j or as whole samples, so each tile's
non-zeros are one strided diagonal view: no Python loop runs per entry, only per tile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch

from bench.tiles import Tile, TilePlan, default_block_bytes, plan
from bench.validation import HALF_DTYPES

Progress = Callable[[int, int], None]
"""Called after each tile with (tiles done, tiles in total)."""


def _fill_dydx_tile(tile4: torch.Tensor, Wt: torch.Tensor, t: Tile) -> None:
    """tile4 is (i, j, k, l) over the tile; non-zero where k == i: Wᵀ[j, l] (Wt is Wᵀ, contiguous)."""
    lo, hi = max(t.i0, t.g0), min(t.i1, t.g1)
    if hi - lo == 1:  # one sample: a plain 2-D slab with contiguous rows
        tile4[lo - t.i0, :, lo - t.g0, :].copy_(Wt[t.j0 : t.j1])
    elif lo < hi:
        block = tile4[lo - t.i0 : hi - t.i0, :, lo - t.g0 : hi - t.g0, :]
        torch.diagonal(block, dim1=0, dim2=2).copy_(Wt[t.j0 : t.j1].unsqueeze(-1).expand(-1, -1, hi - lo))


def _fill_dydw_tile(tile4: torch.Tensor, X: torch.Tensor, t: Tile) -> None:
    """tile4 is (i, j, k, l) over the tile; non-zero where l == j: X[i, k]."""
    block = tile4[:, :, :, t.j0 : t.j1]
    diag = torch.diagonal(block, dim1=1, dim2=3)  # (i, k, j)
    diag.copy_(X[t.i0 : t.i1, t.g0 : t.g1].unsqueeze(-1).expand(-1, -1, t.j1 - t.j0))


HALF = tuple(getattr(torch, name) for name in sorted(HALF_DTYPES))

CPU_THREADS = 1
"""Threads for the CPU tile loop. Each tile's operations take tens of microseconds; at that grain,
two OpenMP threads on the 2-core machine ran bimodally between 8 and 70 GB/s (spinning workers
fighting the BLAS), while one thread held 53–60 GB/s run after run."""


@contextmanager
def _threads(device: torch.device) -> Iterator[None]:
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stream_jacobian(
    kind: str,
    X: torch.Tensor,
    W: torch.Tensor,
    dY: torch.Tensor,
    block_bytes: int | None = None,
    progress: Progress | None = None,
    tiles: Iterable[Tile] | None = None,
) -> torch.Tensor:
    """vec(dY)ᵀ·J for J = dY/dX (``kind="dydx"``, returns dX) or dY/dW (``"dydw"``, returns dW).

    ``tiles`` restricts the pass to some tiles of the plan (the headline's sampled dY/dW); the
    result is then partial, and ``progress`` counts against the tiles given.
    """
    n, d = X.shape
    m = W.shape[1]
    layout = plan(kind, n, d, m, X.element_size(), block_bytes or default_block_bytes(X.device))
    chosen = list(tiles) if tiles is not None else None
    total = len(chosen) if chosen is not None else len(layout)
    width = layout.width
    # Half-precision partial sums are added in float32: each tile's product is rounded to the
    # dtype once, and the running sum over a column's tiles is not rounded again.
    acc_dtype = torch.float32 if X.dtype in HALF else X.dtype
    out = torch.zeros(layout.groups * width, dtype=acc_dtype, device=X.device)
    vec_dy = dY.reshape(-1)
    buffer = torch.empty(layout.max_tile_elements, dtype=X.dtype, device=X.device)
    fill = _fill_dydx_tile if kind == "dydx" else _fill_dydw_tile
    source = W.T.contiguous() if kind == "dydx" else X  # rows of Wᵀ are copied whole
    with _threads(X.device):
        for done, t in enumerate(chosen if chosen is not None else layout, start=1):
            rows_i, rows_j, cols = t.i1 - t.i0, t.j1 - t.j0, (t.g1 - t.g0) * width
            tile = buffer[: rows_i * rows_j * cols].view(rows_i * rows_j, cols)
            tile.zero_()
            fill(tile.view(rows_i, rows_j, t.g1 - t.g0, width), source, t)
            r0 = t.i0 * m + t.j0
            rows = vec_dy[r0 : r0 + rows_i * rows_j]
            if acc_dtype is X.dtype:
                out[t.g0 * width : t.g1 * width].addmv_(tile.t(), rows)
            else:
                out[t.g0 * width : t.g1 * width].add_(torch.mv(tile.t(), rows))
            if progress is not None:
                progress(done, total)
    out = out.to(X.dtype)
    return out.view(n, d) if kind == "dydx" else out.view(d, m)


def tile_plan(kind: str, X: torch.Tensor, W: torch.Tensor, block_bytes: int | None = None) -> TilePlan:
    """The plan ``stream_jacobian`` follows for these inputs."""
    n, d = X.shape
    return plan(kind, n, d, W.shape[1], X.element_size(), block_bytes or default_block_bytes(X.device))


def streamed_backward(
    X: torch.Tensor, W: torch.Tensor, dY: torch.Tensor, block_bytes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dX, dW) by streaming both Jacobians through one reusable tile buffer each."""
    return stream_jacobian("dydx", X, W, dY, block_bytes), stream_jacobian("dydw", X, W, dY, block_bytes)
