"""The problem's constants: the target point and the formula's GEMM shapes.

A leaf: it imports nothing from the project, so the profiles, the roofs, the headline and the
analysis all take the target from one place without importing each other.
"""

from __future__ import annotations

TARGET: tuple[int, int, int] = (64, 4096, 4096)
"""The notes' case, N=64 and D=M=4096: measured where it fits, extrapolated to where not."""

Shape = tuple[int, int, int]
"""A GEMM (rows, inner, cols): an r×k matrix times a k×c one, 2·r·k·c FLOPs."""


def formula_shapes(n: int, d: int, m: int) -> list[Shape]:
    """The formula's two products: dX = dY·Wᵀ (N×M by M×D) and dW = Xᵀ·dY (D×N by N×M)."""
    return [(n, m, d), (d, n, m)]
