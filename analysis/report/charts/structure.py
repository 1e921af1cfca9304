"""The sparsity pattern of dY/dX and dY/dW at a small case, every non-zero cell named by the input
entry it equals (first screen; needs no measurement)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from analysis.report.anatomy import structure_data
from analysis.report.charts.common import save
from analysis.report.study import Analysis
from bench.units import format_bytes

FILE = "jacobian_structure"
TITLE = (
    "The Jacobians' structure at N=2, D=2, M=3, computed by bench.methods.jacobians: blue cells are"
    " non-zero, each named by the entry of X or W it copies; everything else is a stored zero"
)
ALT = (
    "The two Jacobians at N=2, D=2, M=3 as grids: blue non-zero cells named by the entry of X or W "
    "they copy, grey zeros, with the share of non-zero entries and the bytes of zeros at the target "
    "written beside each."
)


def needs(analysis: Analysis) -> bool:
    return True


def draw(analysis: Analysis, out: Path) -> Path:
    return structure_plot(structure_data(target=analysis.target), out)


def structure_plot(data: pd.DataFrame, out: Path) -> Path:
    """The sparsity pattern of dY/dX and dY/dW at a small case, every non-zero cell named by the
    input entry it equals, each with its non-zero fraction and its zero bytes at the target
    written beside it (``data`` from :func:`analysis.report.anatomy.structure_data`)."""
    parts = [data[data["jacobian"] == name] for name in ("dY/dX", "dY/dW")]
    kron = {"dY/dX": "I_N ⊗ Wᵀ", "dY/dW": "X ⊗ I_M"}
    shape = {"dY/dX": "(N·M)×(N·D)", "dY/dW": "(N·M)×(D·M)"}
    keeps = {"dY/dX": "1/N", "dY/dW": "1/M"}
    first = parts[0].iloc[0]
    d, m = int(first["d"]), int(first["m"])
    blocks = {"dY/dX": (m, d), "dY/dW": (m, m)}  # block rows, block columns
    cell, width = 0.34, 11.0  # inches: one matrix entry, the figure
    rows_max = max(int(p["row"].max()) + 1 for p in parts)
    height = rows_max * cell + 0.2
    fig = plt.figure(figsize=(width, height))
    for half, part in enumerate(parts):
        name = str(part["jacobian"].iloc[0])
        rows, cols = int(part["row"].max()) + 1, int(part["col"].max()) + 1
        left = 0.01 + half * 0.5
        ax = fig.add_axes((left, 0.1 / height, cols * cell / width, rows * cell / height))
        mask = np.zeros((rows, cols))
        mask[part["row"], part["col"]] = part["nonzero"].astype(float)
        ax.imshow(mask, cmap=ListedColormap(["#f4f4f4", "#9db4f0"]), vmin=0, vmax=1, aspect="auto")
        for row, col, entry in zip(part["row"], part["col"], part["entry"].fillna(""), strict=True):
            ax.text(
                col,
                row,
                entry or "0",
                ha="center",
                va="center",
                fontsize=9 if entry else 7,
                color="#111" if entry else "#bbb",
            )
        ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
        ax.grid(which="minor", color="white", lw=1.5)
        block_rows, block_cols = blocks[name]
        for y in np.arange(block_rows, rows, block_rows) - 0.5:
            ax.axhline(y, color="#555", lw=1)
        for x in np.arange(block_cols, cols, block_cols) - 0.5:
            ax.axvline(x, color="#555", lw=1)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        row = part.iloc[0]
        total, zeros = int(row["target_bytes"]), int(row["target_zero_bytes"])
        text = (
            f"{shape[name]} = {rows}×{cols} at N={row['n']}, D={row['d']}, M={row['m']}\n"
            f"{keeps[name]} = {row['nonzero_fraction']:.0%} of the entries are non-zero\n\n"
            f"At N={row['target_n']}, D={row['target_d']}, M={row['target_m']}:\n"
            f"{format_bytes(zeros, decimal=False)} of its {format_bytes(total, decimal=False)}"
            f" are zeros ({zeros / total:.2%})"
        )
        x = left + cols * cell / width + 0.015
        fig.text(x, 0.95, f"{name} = {kron[name]}", fontsize=12, fontweight="bold", va="top")
        fig.text(x, 0.95 - 0.32 / height, text, fontsize=10, va="top", linespacing=1.4)
    return save(fig, data, out, "jacobian_structure")
