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

from collections.abc import Callable
from dataclasses import dataclass

import torch

DEFAULT_BLOCK_BYTES = {"cpu": 4 * 2**20, "cuda": 256 * 2**20}
"""Tile size. CPU: 4 MiB stays in the last-level cache (32 MiB here, shared by 2 cores), so the
tile is written and read back without touching DRAM, while the per-tile Python and OpenMP
overhead stays small against the tile's work. CUDA: 256 MiB, enough work per kernel to saturate
a large GPU's memory system; there is no cache to fit."""

Progress = Callable[[int, int], None]
"""Called after each tile with (tiles done, tiles in total)."""


@dataclass(frozen=True)
class Tile:
    """Rows i0:i1 × j0:j1 (one of them a single sample or all of M) and column groups g0:g1."""

    i0: int
    i1: int
    j0: int
    j1: int
    g0: int
    g1: int


def default_block_bytes(device: torch.device | str) -> int:
    return DEFAULT_BLOCK_BYTES["cuda" if str(device).startswith("cuda") else "cpu"]


def plan_tiles(n: int, m: int, groups: int, width: int, itemsize: int, block_bytes: int) -> list[Tile]:
    """Tiles of at most ``block_bytes`` (one row-group at least) covering all N·M rows.

    A row holds ``groups`` groups of ``width`` entries. Whole rows are taken when a row fits the
    block; otherwise a tile is one row split into runs of groups.
    """
    group_bytes = width * itemsize
    row_bytes = groups * group_bytes
    if row_bytes > block_bytes:  # one row at a time, split into column groups
        per_tile = max(1, block_bytes // group_bytes)
        return [
            Tile(i, i + 1, j, j + 1, g0, min(groups, g0 + per_tile))
            for i in range(n)
            for j in range(m)
            for g0 in range(0, groups, per_tile)
        ]
    rows = max(1, block_bytes // row_bytes)
    if rows >= m:  # whole samples per tile
        per_tile = rows // m
        return [Tile(i0, min(n, i0 + per_tile), 0, m, 0, groups) for i0 in range(0, n, per_tile)]
    return [Tile(i, i + 1, j0, min(m, j0 + rows), 0, groups) for i in range(n) for j0 in range(0, m, rows)]


def _fill_dydx_tile(tile4: torch.Tensor, W: torch.Tensor, t: Tile) -> None:
    """tile4 is (i, j, k, l) over the tile; non-zero where k == i: W[l, j]."""
    lo, hi = max(t.i0, t.g0), min(t.i1, t.g1)
    if lo < hi:
        block = tile4[lo - t.i0 : hi - t.i0, :, lo - t.g0 : hi - t.g0, :]
        torch.diagonal(block, dim1=0, dim2=2).copy_(W[:, t.j0 : t.j1].T.unsqueeze(-1).expand(-1, -1, hi - lo))


def _fill_dydw_tile(tile4: torch.Tensor, X: torch.Tensor, t: Tile) -> None:
    """tile4 is (i, j, k, l) over the tile; non-zero where l == j: X[i, k]."""
    block = tile4[:, :, :, t.j0 : t.j1]
    diag = torch.diagonal(block, dim1=1, dim2=3)  # (i, k, j)
    diag.copy_(X[t.i0 : t.i1, t.g0 : t.g1].unsqueeze(-1).expand(-1, -1, t.j1 - t.j0))


def _stream(
    kind: str,
    X: torch.Tensor,
    W: torch.Tensor,
    dY: torch.Tensor,
    block_bytes: int,
    tiles: list[Tile],
    progress: Progress | None,
) -> torch.Tensor:
    n, d = X.shape
    m = W.shape[1]
    groups, width = (n, d) if kind == "dydx" else (d, m)
    out = torch.zeros(groups * width, dtype=X.dtype, device=X.device)
    vec_dy = dY.reshape(-1)
    buffer = torch.empty(max(block_bytes // X.element_size(), width), dtype=X.dtype, device=X.device)
    fill = _fill_dydx_tile if kind == "dydx" else _fill_dydw_tile
    for done, t in enumerate(tiles, start=1):
        rows_i, rows_j, cols = t.i1 - t.i0, t.j1 - t.j0, (t.g1 - t.g0) * width
        tile = buffer[: rows_i * rows_j * cols].view(rows_i * rows_j, cols)
        tile.zero_()
        fill(tile.view(rows_i, rows_j, t.g1 - t.g0, width), W if kind == "dydx" else X, t)
        r0 = t.i0 * m + t.j0
        out[t.g0 * width : t.g1 * width].addmv_(tile.t(), vec_dy[r0 : r0 + rows_i * rows_j])
        if progress is not None:
            progress(done, len(tiles))
    return out


def tiles_for(kind: str, n: int, d: int, m: int, itemsize: int, block_bytes: int) -> list[Tile]:
    """The tile plan of one Jacobian (``kind`` "dydx" or "dydw")."""
    groups, width = (n, d) if kind == "dydx" else (d, m)
    return plan_tiles(n, m, groups, width, itemsize, block_bytes)


def stream_jacobian(
    kind: str,
    X: torch.Tensor,
    W: torch.Tensor,
    dY: torch.Tensor,
    block_bytes: int | None = None,
    progress: Progress | None = None,
    tiles: list[Tile] | None = None,
) -> torch.Tensor:
    """vec(dY)ᵀ·J for J = dY/dX (``kind="dydx"``, returns dX) or dY/dW (``"dydw"``, returns dW).

    ``tiles`` restricts the pass to some of the plan's tiles (the headline's sampled dY/dW);
    the result is then partial.
    """
    n, d = X.shape
    m = W.shape[1]
    block = block_bytes or default_block_bytes(X.device)
    plan = tiles if tiles is not None else tiles_for(kind, n, d, m, X.element_size(), block)
    flat = _stream(kind, X, W, dY, block, plan, progress)
    return flat.view(n, d) if kind == "dydx" else flat.view(d, m)


def streamed_backward(
    X: torch.Tensor, W: torch.Tensor, dY: torch.Tensor, block_bytes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dX, dW) by streaming both Jacobians through one ``block_bytes`` buffer at a time."""
    return stream_jacobian("dydx", X, W, dY, block_bytes), stream_jacobian("dydw", X, W, dY, block_bytes)
