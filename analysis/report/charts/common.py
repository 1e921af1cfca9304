"""What every chart shares: headless matplotlib, saving PNG + CSV atomically, axis titles and
units, and the small-multiples grid (rows by method family, columns by sweep axis).

Series look the same in every chart (:mod:`analysis.report.style`); legends sit beside the
panels, never on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from analysis.fits import AxesByRun, axis_names, runs_on_axis
from analysis.report.output import write_atomically
from analysis.report.study import Analysis
from analysis.report.style import family_order, handle, label_order, outside_legend, series_style
from bench.units import format_bytes

AXIS_TITLES = {
    "N": "N (batch), D and M fixed",
    "D": "D (input width)",
    "M": "M (output width)",
    "diag": "N = D = M",
    "DM": "D = M at the target's N",
}
PANEL = (3.1, 2.3)
"""Inches per small-multiple panel: five axes side by side fit a 1400 px page with the legend."""


def save(fig: plt.Figure, data: pd.DataFrame, out: Path, name: str) -> Path:
    """The PNG and its CSV, each written whole or not at all (a full disk leaves no 0-byte PNG)."""
    png = out / f"{name}.png"
    try:
        write_atomically(png, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)
    write_atomically(out / f"{name}.csv", lambda tmp: data.to_csv(tmp, index=False))
    return png


def _bytes_label(count: float, _pos: object = None) -> str:
    return format_bytes(count, decimal=False).replace(".0 ", " ") if count > 0 else "0"


def bytes_axis(axis: matplotlib.axis.Axis) -> None:
    """Ticks at every power of 8 (1 KiB, 8 KiB, 64 KiB, …: about every 10×), in binary units."""
    lo, hi = axis.axes.get_ylim() if axis is axis.axes.yaxis else axis.axes.get_xlim()
    lo, hi = max(lo, 1.0), max(hi, 2.0)
    exponents = [k for k in range(64) if lo <= 2.0**k <= hi]
    step = 3 * max(1, -(-len(exponents) // 24))  # every 8×, or 64×, … so that at most 8 labels show
    ticks = [2.0**k for k in exponents if k % step == 0] or [2.0**k for k in exponents]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(_bytes_label))


def with_target_on_dm(axes: AxesByRun, target: tuple[int, int, int]) -> AxesByRun:
    """The runs' axes with the target appended to the DM axis it lies on, so that the DM panels
    reach the point the suite is about (drawing only: fits never train on the target)."""
    out: AxesByRun = {}
    for run, named in axes.items():
        named = dict(named)
        if "DM" in named and list(target) not in [list(p) for p in named["DM"]]:
            named["DM"] = [*named["DM"], list(target)]
        out[run] = named
    return out


def run_order(frame: pd.DataFrame) -> dict[str, int]:
    """Each run's place in the report's run order (by name): it picks the run's dash patterns."""
    return {run: k for k, run in enumerate(sorted(frame["run_id"].unique()))}


def swept_with(analysis: Analysis, column: str) -> bool:
    """Whether the runs swept a size axis and measured ``column`` in any case: what a chart of
    ``column`` against size needs."""
    cases = analysis.cases
    return bool(analysis.swept and not cases.empty and cases[column].notna().any())


def families(frame: pd.DataFrame) -> list[str]:
    present, order = set(frame["family"]), family_order()
    return [f for f in order if f in present] + sorted(present - set(order))


@dataclass
class Grid:
    """Small multiples: one row per method family (and device, where a run has several), one
    column per sweep axis; each panel lists its rows of the data."""

    fig: plt.Figure
    axes: np.ndarray
    rows: list[tuple[str, str]]  # (family, device)
    columns: list[str]
    run_order: dict[str, int]

    def panels(
        self, data: pd.DataFrame, axes: AxesByRun
    ) -> Iterator[tuple[plt.Axes, str, str, str, pd.DataFrame]]:
        """(ax, family, device, axis, the rows on that axis) for every panel."""
        for i, (family, device) in enumerate(self.rows):
            mine = data[(data["family"] == family) & (data["device"] == device)]
            for j, axis in enumerate(self.columns):
                yield self.axes[i, j], family, device, axis, runs_on_axis(mine, axes, axis)


def grid(frame: pd.DataFrame, axes: AxesByRun, title: str) -> Grid:
    """An empty grid for ``frame``'s families and devices over the runs' swept axes."""
    devices = sorted(frame["device"].unique())
    rows = [
        (f, d)
        for f in families(frame)
        for d in devices
        if ((frame["family"] == f) & (frame["device"] == d)).any()
    ]
    columns = axis_names(axes)
    fig, panels = plt.subplots(
        len(rows),
        len(columns),
        figsize=(PANEL[0] * len(columns), PANEL[1] * len(rows) + 0.6),
        squeeze=False,
        sharex="col",
        sharey="row",
    )
    for i, (family, device) in enumerate(rows):
        panels[i, 0].annotate(
            family + ("" if len(devices) == 1 else f" ({device})"),
            (-0.42, 0.5),
            xycoords="axes fraction",
            rotation=90,
            va="center",
            ha="center",
            fontsize=10,
            fontweight="bold",
        )
    for j, axis in enumerate(columns):
        panels[0, j].set_title(AXIS_TITLES.get(axis, axis), fontsize=9)
        panels[-1, j].set_xlabel(AXIS_TITLES.get(axis, axis).split(" (")[0].split(",")[0], fontsize=8)
    fig.suptitle(title, fontsize=11, y=1.0)
    return Grid(fig, panels, rows, columns, run_order(frame))


def size_grid(analysis: Analysis, column: str, title: str) -> tuple[pd.DataFrame, AxesByRun, Grid]:
    """The cases that measured ``column``, the runs' axes reaching the target on DM, and an empty
    grid of them: the start of every chart of ``column`` against size."""
    data = analysis.cases[analysis.cases[column].notna()]
    axes = with_target_on_dm(analysis.axes, analysis.target)
    return data, axes, grid(data, axes, title)


def log_panel(ax: plt.Axes) -> None:
    """A panel against size: log-2 x, log y, small tick labels, a light grid."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.tick_params(labelsize=7)
    ax.grid(True, which="major", alpha=0.3)


def mark_empty(layout: Grid) -> None:
    """A panel with no case says so (a profile caps the family on that axis) instead of showing
    bare ticks."""
    for ax in layout.axes.flat:
        if not ax.lines:
            ax.text(
                0.5,
                0.5,
                "no case on this axis",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=7,
                color="#777",
            )


def series_name(label: str, run: str, runs: int) -> str:
    return label if runs == 1 else f"{label} · {run}"


def series_legend(
    fig: plt.Figure, frame: pd.DataFrame, run_order: dict[str, int], extra: list | None = None
) -> None:
    """One legend entry per (run, method variant) drawn in ``frame``, beside the panels."""
    runs = len(run_order)
    pairs = frame[["run_id", "label", "method", "variant"]].drop_duplicates()
    handles, names = [], []
    for label in label_order(list(pairs["label"].unique())):
        for _, row in pairs[pairs["label"] == label].sort_values("run_id").iterrows():
            handles.append(handle(series_style(row["method"], row["variant"], run_order[row["run_id"]])))
            names.append(series_name(label, row["run_id"], runs))
    for entry, name in extra or []:
        handles.append(entry)
        names.append(name)
    outside_legend(fig, handles, names)


def draw_series(
    ax: plt.Axes,
    x: Iterable[float],
    y: Iterable[float],
    noisy: Iterable[bool],
    method: str,
    variant: str,
    run_index: int,
    line: Iterable[float] | None = None,
) -> None:
    """Points of one series, hollow where noisy, joined by ``line`` (the model or the points)."""
    style = series_style(method, variant, run_index)
    x, y = np.asarray(x, float), np.asarray(y, float)
    noisy = np.asarray(noisy, bool)
    ax.plot(x, y if line is None else np.asarray(line, float), color=style.color, ls=style.linestyle, lw=1.1)
    for hollow in (False, True):
        pick = noisy == hollow
        if pick.any():
            ax.plot(
                x[pick],
                y[pick],
                ls="none",
                marker=style.marker,
                ms=4,
                color=style.color,
                mfc="white" if hollow else style.color,
            )


def draw_group(
    ax: plt.Axes,
    group: pd.DataFrame,
    column: str,
    run_index: int,
    noisy: bool = True,
    line: Iterable[float] | None = None,
) -> None:
    """One (run, method variant)'s rows as a series of ``column`` against size, hollow where the
    timing was noisy (with ``noisy``; a peak is never noisy)."""
    first = group.iloc[0]
    marks = group["noisy"].fillna(False) if noisy else [False] * len(group)
    draw_series(ax, group["size"], group[column], marks, first["method"], first["variant"], run_index, line)
