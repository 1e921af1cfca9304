"""The headline's two ways to stream a Jacobian, behind one interface: a pass cut into parts.

- ``streamed-compiled`` (``bench.compiled``), the CPU's in float32 and float64: every core, a
  tile of half its L2 each; a part is a chunk of column blocks (about 8 GiB of Jacobian);
- ``streamed-torch`` (``bench.streamed``), CUDA's and half precision's: one tile buffer
  (4 MiB on CPU, 256 MiB on CUDA); a part is one tile.

Both materialise every entry of the Jacobian, zeros included, and contract it before the next
part reuses the memory. A pass over some of the parts (a sample) computes part of the result:
it is timed, never checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.streamed import stream_jacobian, tile_plan
from bench.tiles import default_block_bytes
from bench.validation import BACKEND_DTYPES

COMPILED = "streamed-compiled"
TORCH = "streamed-torch"


def kernel_for(device: str, dtype: str, asked: str | None) -> str:
    """The method a device and dtype stream with: the compiled kernel on the CPU where numpy has
    the dtype, ``streamed-torch`` otherwise; ``asked`` ("compiled" or "torch") overrides it
    where it can run, and a ``ValueError`` says why where it cannot."""
    can_compile = device == "cpu" and dtype in BACKEND_DTYPES["numpy"]
    if asked == "compiled" and not can_compile:
        raise ValueError(
            f"--kernel compiled runs on the CPU in {' and '.join(BACKEND_DTYPES['numpy'])} only "
            f"(asked: {device}, {dtype})"
        )
    if asked == "torch" or not can_compile:
        return TORCH
    return COMPILED


@dataclass
class Streamer:
    """One Jacobian pass of ``method`` on fixed inputs, in parts."""

    method: str
    inputs: tuple[Any, Any, Any]
    block_bytes: int
    """The tile: per core for the compiled kernel, the one buffer for ``streamed-torch``."""

    def __post_init__(self) -> None:
        if self.method == COMPILED:
            from bench import compiled

            X = self.inputs[0]
            self._tiles = compiled.tiles_for(X.dtype, self.block_bytes)  # allocated once, reused

    @property
    def unit(self) -> str:
        return "chunks" if self.method == COMPILED else "tiles"

    def parts(self, kind: str) -> list[Any]:
        """Every part of a pass over dY/dX (``kind`` "dydx") or dY/dW ("dydw"), in order."""
        X, W, _ = self.inputs
        n, d = X.shape
        if self.method == COMPILED:
            from bench import compiled

            return compiled.chunks(kind, n, d, W.shape[1], X.dtype.itemsize)
        return list(tile_plan(kind, X, W, self.block_bytes))

    def run(self, kind: str, parts: list[Any] | None = None, progress: Any = None) -> Any:
        """The pass over ``parts`` (default every part); the result (dX or dW) is whole only then."""
        X, W, dY = self.inputs
        parts = parts if parts is not None else self.parts(kind)
        if self.method == COMPILED:
            import numpy as np

            from bench import compiled

            shape = (X.shape[0], X.shape[1]) if kind == "dydx" else (W.shape[0], W.shape[1])
            out = np.zeros(shape, dtype=X.dtype)
            return compiled.stream(kind, X, W, dY, self._tiles, out, parts, progress)
        return stream_jacobian(kind, X, W, dY, self.block_bytes, progress=progress, tiles=parts)


def default_tile(method: str, device: str) -> int:
    """The tile a method streams with unless told: half the L2 per core, or the device's block."""
    if method == COMPILED:
        from bench.compiled import tile_bytes

        return tile_bytes()
    return default_block_bytes(device)


def sampled(parts: list[Any], stride: int) -> list[Any]:
    """Every ``stride``-th part, spread over the whole pass."""
    return [p for k, p in enumerate(parts) if k % stride == 0]
