"""Where the bytes go at the target, on a log scale: the problem and the formula against the dense
Jacobians against the machine (first screen; needs no measurement)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.report.anatomy import bytes_data
from analysis.report.charts.common import bytes_axis, save
from analysis.report.study import Analysis
from bench.units import format_bytes

FILE = "where_the_bytes_go"
TITLE = "Where the bytes go at the target (log scale)"
ALT = (
    "Horizontal bars on a log scale: the bytes of the problem's inputs and outputs and of the "
    "formula's work, against the dense Jacobians' bytes at the target, against the machine's RAM and "
    "cache."
)

BYTES_COLOURS = {"problem": "#4c9a5a", "formula": "#4c9a5a", "jacobian": "#c0392b", "machine": "#7f7f7f"}


def needs(analysis: Analysis) -> bool:
    return True


def draw(analysis: Analysis, out: Path) -> Path:
    return bytes_plot(bytes_data(analysis.runs, analysis.target), analysis.target, out)


def bytes_plot(data: pd.DataFrame, target: tuple[int, int, int], out: Path) -> Path:
    """Where the bytes go at the target, on a log scale: the problem and the formula against the
    dense Jacobians against the machine (``data`` from :func:`analysis.report.anatomy.bytes_data`)."""
    fig, ax = plt.subplots(figsize=(11.5, 0.42 * len(data) + 1.1))
    y = np.arange(len(data))[::-1]
    values = data["bytes"].to_numpy(float)
    ax.barh(y, values, color=[BYTES_COLOURS.get(k, "#7f7f7f") for k in data["kind"]], height=0.6)
    for yi, value in zip(y, values, strict=True):
        ax.text(value * 1.3, yi, format_bytes(value, decimal=False), va="center", fontsize=9)
    ax.set_yticks(y, data["quantity"])
    ax.set_xscale("log")
    ax.set_xlim(1024 ** np.floor(np.log(values.min()) / np.log(1024)), values.max() * 30)  # from a whole unit
    bytes_axis(ax.xaxis)
    ax.grid(True, axis="x", alpha=0.3)
    n, d, m = target
    ax.set_title(f"Where the bytes go at N={n}, D={d}, M={m} (float32, log scale)", fontsize=11)
    fig.tight_layout()
    return save(fig, data, out, "where_the_bytes_go")
