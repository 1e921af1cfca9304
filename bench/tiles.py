"""How a Jacobian is cut into tiles for streaming: pure arithmetic, no arrays.

A Jacobian has N·M rows, (i, j) for sample i and output feature j. Each row holds ``groups``
column groups of ``width`` entries: for dY/dX a group is one sample's D columns (groups = N),
for dY/dW one input feature's M columns (groups = D). A tile is a run of rows and a run of
groups, sized to fit ``block_bytes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

ROWS_WHEN_SPLIT = 64
"""Rows per tile when one row is larger than the block, or than :data:`CACHED_SLICE_BYTES`. The
contraction adds each tile into the slice of the result its columns cover, so a tile of R rows
reads and writes that slice once for R rows of work; with one row per tile the result's traffic
would equal the tile's."""
CACHED_SLICE_BYTES = 8 * 2**20
"""A result slice up to this size stays in a cache between tiles (a CPU's L2 or L3, a GPU's L2),
so tiles of whole rows may be few-rowed. Above it each tile reads and writes its slice from
memory: dY/dW at the target on CUDA (rows of 64 MiB, 256 MiB tiles) had 4 rows a tile, and the
64 MiB of dW it rewrote added a quarter to the traffic. Such rows are split into column groups
too, for :data:`ROWS_WHEN_SPLIT` rows a tile. No CPU default plan has rows this large that
fit its 4 MiB block, so the CPU's plans are unchanged by it."""

KINDS = ("dydx", "dydw")

DEFAULT_BLOCK_BYTES = {"cpu": 4 * 2**20, "cuda": 256 * 2**20}
"""Tile size. CPU: 4 MiB stays in the last-level cache (32 MiB here, shared by 2 cores), so a
tile is written and read back without touching DRAM, while the per-tile Python overhead stays
small against the tile's work (1, 2, 4 and 8 MiB were tried: 4 MiB was fastest, 53–60 GB/s).
CUDA: 256 MiB, enough work per kernel to saturate a large GPU's memory system."""


def default_block_bytes(device: str) -> int:
    return DEFAULT_BLOCK_BYTES["cuda" if str(device).startswith("cuda") else "cpu"]


@dataclass(frozen=True)
class Tile:
    """Rows i0:i1 × j0:j1 (either one sample, or whole samples with all of M) and groups g0:g1."""

    i0: int
    i1: int
    j0: int
    j1: int
    g0: int
    g1: int


@dataclass(frozen=True)
class TilePlan:
    """The tiles of one Jacobian, generated lazily: dY/dW at N=64, D=M=4096 has millions."""

    n: int
    m: int
    groups: int
    width: int
    samples_per_tile: int  # > 0: whole samples (all M rows) per tile
    rows_per_tile: int  # rows of one sample per tile, when samples_per_tile == 0
    groups_per_tile: int

    def __iter__(self) -> Iterator[Tile]:
        if self.samples_per_tile:
            for i0 in range(0, self.n, self.samples_per_tile):
                yield Tile(i0, min(self.n, i0 + self.samples_per_tile), 0, self.m, 0, self.groups)
            return
        for i in range(self.n):
            for j0 in range(0, self.m, self.rows_per_tile):
                for g0 in range(0, self.groups, self.groups_per_tile):
                    yield Tile(
                        i,
                        i + 1,
                        j0,
                        min(self.m, j0 + self.rows_per_tile),
                        g0,
                        min(self.groups, g0 + self.groups_per_tile),
                    )

    def __len__(self) -> int:
        if self.samples_per_tile:
            return -(-self.n // self.samples_per_tile)
        return self.n * -(-self.m // self.rows_per_tile) * -(-self.groups // self.groups_per_tile)

    @property
    def max_tile_elements(self) -> int:
        """The largest tile: the buffer a streamed pass needs."""
        if self.samples_per_tile:
            return min(self.n, self.samples_per_tile) * self.m * self.groups * self.width
        return min(self.m, self.rows_per_tile) * min(self.groups, self.groups_per_tile) * self.width

    @property
    def max_output_elements(self) -> int:
        """The longest slice of the result that one tile's contraction writes."""
        if self.samples_per_tile:
            return self.groups * self.width
        return min(self.groups, self.groups_per_tile) * self.width


def plan(kind: str, n: int, d: int, m: int, itemsize: int, block_bytes: int) -> TilePlan:
    """Tiles of at most ``block_bytes`` (one column group at least) covering dY/dX or dY/dW."""
    if kind not in KINDS:
        raise ValueError(f"unknown Jacobian {kind!r}; use one of {', '.join(KINDS)}")
    if block_bytes <= 0:
        raise ValueError(f"block size must be positive, got {block_bytes}")
    groups, width = (n, d) if kind == "dydx" else (d, m)
    group_bytes = width * itemsize
    row_bytes = groups * group_bytes
    few_rows = block_bytes // row_bytes < min(m, ROWS_WHEN_SPLIT)
    if row_bytes > block_bytes or (row_bytes > CACHED_SLICE_BYTES and few_rows):  # runs of column groups
        rows = max(1, min(m, ROWS_WHEN_SPLIT, block_bytes // group_bytes))
        per_tile = max(1, block_bytes // (rows * group_bytes))
        return TilePlan(n, m, groups, width, 0, rows, per_tile)
    rows = block_bytes // row_bytes
    if rows >= m:
        return TilePlan(n, m, groups, width, rows // m, 0, groups)
    return TilePlan(n, m, groups, width, 0, rows, groups)
