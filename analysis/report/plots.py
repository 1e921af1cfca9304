"""PNG plots, each with the CSV of exactly what it plots beside it; pure functions of the data.

matplotlib runs headless (Agg). Axes are labelled in units people read (µs, ms, s; KiB … TiB).
Several runs overlay: colour is the method, line style the run (machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.ticker import FuncFormatter, LogLocator

from analysis.fits import GROUP, AxesByRun, axis_names, loglog_slope, runs_on_axis
from analysis.report.output import write_atomically
from bench.costs import roof as roof_of
from bench.units import format_bytes, format_time

AXIS_TITLES = {
    "N": "N (batch), D and M fixed",
    "D": "D (input width)",
    "M": "M (output width)",
    "diag": "N = D = M",
    "DM": "D = M at the target's N",
}
STYLES = ("-", "--", ":", "-.")


def _time_label(seconds: float, _pos: object = None) -> str:
    return format_time(seconds, long=False) if seconds > 0 else "0"


def _bytes_label(count: float, _pos: object = None) -> str:
    return format_bytes(count, decimal=False) if count > 0 else "0"


TIME_FORMAT = FuncFormatter(_time_label)


def _bytes_axis(axis: matplotlib.axis.Axis) -> None:
    """Ticks at powers of 1024 (1 KiB, 1 MiB, …), labelled in binary units."""
    axis.set_major_locator(LogLocator(base=1024, numticks=12))
    axis.set_minor_locator(LogLocator(base=1024, subs=(32.0,), numticks=12))
    axis.set_major_formatter(FuncFormatter(_bytes_label))


def _colours(labels: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {label: cmap(i % 10) for i, label in enumerate(sorted(labels))}


def _style_by_run(frame: pd.DataFrame) -> dict[str, str]:
    return {run: STYLES[i % len(STYLES)] for i, run in enumerate(sorted(frame["run_id"].unique()))}


def _series_name(label: str, run: str, runs: int) -> str:
    return label if runs == 1 else f"{label} · {run}"


def _save(fig: plt.Figure, data: pd.DataFrame, out: Path, name: str) -> Path:
    """The PNG and its CSV, each written whole or not at all (a full disk leaves no 0-byte PNG)."""
    png = out / f"{name}.png"
    try:
        write_atomically(png, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)
    write_atomically(out / f"{name}.csv", lambda tmp: data.to_csv(tmp, index=False))
    return png


@dataclass
class Panels:
    """A figure of one panel per axis (rows) and device (columns), with the series' colours (by
    method label) and line styles (by run): the setup every per-axis plot shares."""

    fig: plt.Figure
    grid: np.ndarray
    colours: dict[str, Any]
    styles: dict[str, str]
    runs: int
    panels: list[tuple[plt.Axes, str, str, pd.DataFrame]]  # (ax, axis, device, its rows)


def _panels(frame: pd.DataFrame, data: pd.DataFrame, axes: AxesByRun) -> Panels:
    """Panels for the rows of ``data`` (a subset of ``frame``, whose labels and runs set the styles)."""
    names = axis_names(axes)
    devices = sorted(data["device"].unique()) or ["cpu"]
    fig, grid = plt.subplots(
        len(names), len(devices), figsize=(6.2 * len(devices), 3.6 * len(names)), squeeze=False
    )
    panels = [
        (grid[i, j], axis, device, runs_on_axis(data[data["device"] == device], axes, axis))
        for i, axis in enumerate(names)
        for j, device in enumerate(devices)
    ]
    colours, styles = _colours(list(frame["label"].unique())), _style_by_run(frame)
    return Panels(fig, grid, colours, styles, frame["run_id"].nunique(), panels)


def _legend(fig: plt.Figure, grid: np.ndarray) -> None:
    handles, names = {}, []
    for ax in grid.flat:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in handles:
                handles[name] = handle
                names.append(name)
    if handles:
        fig.legend(
            [handles[n] for n in names],
            names,
            loc="lower center",
            ncol=4,
            bbox_to_anchor=(0.5, -0.02 - 0.015 * (len(names) // 4)),
        )


def _memory_lines(ax: plt.Axes, limits: dict[tuple[str, str], int | None]) -> None:
    """Grey horizontal lines at each device's memory (RAM, GPU memory), labelled."""
    for (_run, device), limit in limits.items():
        if limit:
            ax.axhline(limit, color="grey", lw=1)
            ax.annotate(
                f"{device} memory {format_bytes(limit, decimal=False)}",
                (0.01, limit),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                va="bottom",
                color="grey",
            )


def scaling_plot(
    frame: pd.DataFrame,
    axes: AxesByRun,
    out: Path,
    metric: str,
    limits: dict[tuple[str, str], int | None] | None = None,
) -> Path:
    """Time (``metric="time"``) or peak memory (``"memory"``) against size, per axis and device.

    Time panels carry the fitted power law of each series; memory panels the cost model's
    prediction (dashed) and the device's memory (grey lines) from ``limits``.
    """
    column = "time_median_s" if metric == "time" else "peak_bytes"
    layout = _panels(frame, frame[frame[column].notna()], axes)
    fig, grid, colours, styles, runs = layout.fig, layout.grid, layout.colours, layout.styles, layout.runs
    rows = []
    for ax, axis, device, on_axis in layout.panels:
        for (run, label), group in on_axis.groupby(["run_id", "label"]):
            colour, style = colours[label], styles[run]
            name = _series_name(label, run, runs)
            ax.plot(group["size"], group[column], "o", color=colour, ms=4, label=name)
            fit = loglog_slope(group["size"], group[column]) if metric == "time" else None
            line = np.full(len(group), np.nan)
            if fit is not None:
                x, y = np.log(group["size"].to_numpy(float)), np.log(group[column].to_numpy(float))
                line = np.exp(y.mean() + fit.exponent * (x - x.mean()))
                ax.plot(group["size"], line, style, color=colour, lw=1)
            elif metric == "memory":
                line = group["predicted_peak_bytes"].to_numpy(float)
                ax.plot(group["size"], line, "--", color=colour, lw=1)
            for size, value, model in zip(group["size"], group[column], line, strict=True):
                rows.append({"run_id": run, "label": label, "device": device, "axis": axis,
                             "size": size, column: value, "line": model})  # fmt: skip
        if metric == "memory" and limits:
            _memory_lines(ax, {key: v for key, v in limits.items() if key[1] == device})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        if metric == "time":
            ax.yaxis.set_major_formatter(TIME_FORMAT)
        else:
            _bytes_axis(ax.yaxis)
        ax.set_xlabel(AXIS_TITLES.get(axis, axis))
        ax.set_ylabel("median time" if metric == "time" else "peak memory")
        ax.set_title(f"{device}: {'time' if metric == 'time' else 'peak memory'} along {axis}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    note = (
        "solid/dashed lines: fitted power laws"
        if metric == "time"
        else "dashed: cost model; grey: device memory"
    )
    fig.suptitle(f"{'Runtime' if metric == 'time' else 'Peak memory'} against size ({note})", y=1.0)
    _legend(fig, grid)
    fig.tight_layout()
    return _save(fig, pd.DataFrame(rows), out, "runtime_vs_size" if metric == "time" else "memory_vs_size")


def ratio_plot(frame: pd.DataFrame, axes: AxesByRun, out: Path) -> Path:
    """Each method's time and peak memory as a multiple of the formula's (same backend, fresh
    results: the formula's warm variant is one of the lines), by axis."""
    cold_formula = (frame["family"] == "formula") & (frame["variant"] == "")
    base = frame[cold_formula].set_index(["run_id", "backend", "device", "dtype", "n", "d", "m"])
    others = frame[~cold_formula].copy()
    keys = list(
        zip(*(others[c] for c in ["run_id", "backend", "device", "dtype", "n", "d", "m"]), strict=True)
    )
    others["time_ratio"] = others["time_median_s"].to_numpy(float) / base["time_median_s"].reindex(
        keys
    ).to_numpy(float)
    others["memory_ratio"] = others["peak_bytes"].to_numpy(float) / base["peak_bytes"].reindex(keys).to_numpy(
        float
    )
    names = axis_names(axes)
    colours, styles = _colours(list(frame["label"].unique())), _style_by_run(frame)
    runs = frame["run_id"].nunique()
    fig, grid = plt.subplots(len(names), 2, figsize=(12, 3.4 * len(names)), squeeze=False)
    rows = []
    for i, axis in enumerate(names):
        on_axis = runs_on_axis(others, axes, axis)
        for j, column in enumerate(("time_ratio", "memory_ratio")):
            ax = grid[i, j]
            for (run, label, device), series in on_axis.groupby(["run_id", "label", "device"]):
                group = series[np.isfinite(series[column].astype(float))]
                if group.empty:
                    continue
                name = _series_name(f"{label} ({device})", run, runs)
                ax.plot(
                    group["size"],
                    group[column],
                    "o" + styles[run],
                    color=colours[label],
                    ms=3,
                    lw=1,
                    label=name,
                )
                rows += [{"run_id": run, "label": label, "device": device, "axis": axis, "size": s, column: v}
                         for s, v in zip(group["size"], group[column], strict=True)]  # fmt: skip
            ax.axhline(1, color="black", lw=0.8)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(AXIS_TITLES.get(axis, axis))
            ax.set_ylabel(f"{'time' if j == 0 else 'peak memory'} ÷ formula")
            ax.set_title(f"{'time' if j == 0 else 'memory'} ratio to the formula along {axis}", fontsize=10)
            ax.grid(True, alpha=0.3)
    _legend(fig, grid)
    fig.tight_layout()
    return _save(fig, pd.DataFrame(rows), out, "ratio_to_formula")


def efficiency_plot(frame: pd.DataFrame, axes: AxesByRun, out: Path) -> Path:
    """Fraction of the run's roof: GEMM GFLOP/s for formula/autograd, copy GB/s for Jacobians."""
    data = frame[frame["time_median_s"].notna()].copy()
    gemm_bound = data["family"].map(roof_of) == "gemm"
    data["fraction"] = np.where(gemm_bound, data["frac_gemm_roof"], data["frac_copy_roof"])
    layout = _panels(frame, data, axes)
    fig, grid, colours, styles, runs = layout.fig, layout.grid, layout.colours, layout.styles, layout.runs
    rows = []
    for ax, axis, device, on_axis in layout.panels:
        for (run, label, family), group in on_axis.groupby(["run_id", "label", "family"]):
            roof = "GEMM" if roof_of(family) == "gemm" else "copy"
            name = _series_name(f"{label} (÷ {roof} roof)", run, runs)
            ax.plot(
                group["size"],
                group["fraction"],
                "o" + styles[run],
                color=colours[label],
                ms=3,
                lw=1,
                label=name,
            )
            rows += [
                {"run_id": run, "label": label, "device": device, "axis": axis, "roof": roof,
                 "size": s, "fraction": v}
                for s, v in zip(group["size"], group["fraction"], strict=True)
            ]  # fmt: skip
        ax.axhline(1, color="black", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(AXIS_TITLES.get(axis, axis))
        ax.set_ylabel("fraction of roof")
        ax.set_title(f"{device}: efficiency along {axis}", fontsize=10)
        ax.grid(True, alpha=0.3)
    _legend(fig, grid)
    fig.tight_layout()
    return _save(fig, pd.DataFrame(rows), out, "efficiency")


def extrapolation_plot(
    frame: pd.DataFrame,
    predictions: pd.DataFrame,
    holdouts: pd.DataFrame,
    limits: dict[tuple[str, str], int | None],
    target: tuple[int, int, int],
    out: Path,
) -> Path:
    """Measured points, cost-model predictions, the target with its interval, and hold-outs.

    Left: time against the size of both Jacobians (the x every method shares); right: peak
    memory against the cost model's predicted peak.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    colours = _colours(list(frame["label"].unique()))
    jac = frame["jacobian_dydx_bytes"] + frame["jacobian_dydw_bytes"]
    rows = []
    for key, group in frame.assign(jacobian_bytes=jac).groupby(GROUP):
        run, label, _family, device, _dtype = key
        colour = colours[label]
        timed = group[group["time_median_s"].notna()]
        left.plot(timed["jacobian_bytes"], timed["time_median_s"], "o", color=colour, ms=3, alpha=0.6)
        peaked = group[group["peak_bytes"].notna()]
        right.plot(peaked["predicted_peak_bytes"], peaked["peak_bytes"], "o", color=colour, ms=3, alpha=0.6)
        columns = ["jacobian_bytes", "time_median_s", "predicted_peak_bytes", "peak_bytes"]
        measured = group[columns].rename(columns={"time_median_s": "time_s"})
        rows += [
            {"run_id": run, "label": label, "device": device, "kind": "measured"} | record
            for record in measured.to_dict("records")
        ]
    for _, row in predictions.iterrows():
        colour = colours[row["label"]]
        x = row["jacobian_dydx_bytes"] + row["jacobian_dydw_bytes"]
        name = f"{row['label']} ({row['device']})"
        if np.isfinite(row["time_value"]):
            err = [[row["time_value"] - row["time_low"]], [row["time_high"] - row["time_value"]]]
            left.errorbar(
                [x], [row["time_value"]], yerr=np.maximum(err, 0), fmt="*", ms=12, color=colour, label=name
            )
        if np.isfinite(row["peak_value"]):
            right.plot(
                [row["predicted_peak_bytes"]], [row["peak_value"]], "*", ms=12, color=colour, label=name
            )
        rows.append(
            {"run_id": row["run_id"], "label": row["label"], "device": row["device"], "kind": "target",
             "jacobian_bytes": x, "time_s": row["time_value"], "time_low_s": row["time_low"],
             "time_high_s": row["time_high"], "predicted_peak_bytes": row["predicted_peak_bytes"],
             "peak_bytes": row["peak_value"]}
        )  # fmt: skip
    if not holdouts.empty:
        merged = holdouts.merge(
            frame[["run_id", "case", "jacobian_dydx_bytes", "jacobian_dydw_bytes", "predicted_peak_bytes"]],
            left_on=["run_id", "held_out"], right_on=["run_id", "case"],
        )  # fmt: skip
        for _, row in merged.iterrows():
            colour = colours[row["label"]]
            if row["metric"] == "time":
                x = row["jacobian_dydx_bytes"] + row["jacobian_dydw_bytes"]
                left.plot([x], [row["predicted"]], "s", mfc="none", color=colour, ms=7)
            else:
                x = row["predicted_peak_bytes"]
                right.plot([x], [row["predicted"]], "s", mfc="none", color=colour, ms=7)
            rows.append(
                {"run_id": row["run_id"], "label": row["label"], "kind": f"holdout-{row['metric']}",
                 "case": row["held_out"], "x": x, "predicted": row["predicted"], "measured": row["measured"]}
            )  # fmt: skip
    dydx = predictions["jacobian_dydx_bytes"].max() if not predictions.empty else 0
    dydw = predictions["jacobian_dydw_bytes"].max() if not predictions.empty else 0
    title = (
        f"target N={target[0]}, D={target[1]}, M={target[2]}: "
        f"dY/dX {format_bytes(dydx, False)}, dY/dW {format_bytes(dydw, False)}"
    )
    if dydx:
        left.axvline(dydx + dydw, color="red", lw=0.8, ls=":")
        right.axvline(predictions["predicted_peak_bytes"].max(), color="red", lw=0.8, ls=":")
    _memory_lines(right, limits)
    lo = frame["predicted_peak_bytes"].min()
    hi = max(
        frame["predicted_peak_bytes"].max(),
        predictions["predicted_peak_bytes"].max() if not predictions.empty else 0,
    )
    right.plot([lo, hi], [lo, hi], color="black", lw=0.6, label="measured = cost model")
    finite = predictions if not predictions.empty else pd.DataFrame({"time_value": [], "peak_value": []})
    has = {
        "time": frame["time_median_s"].notna().any() or np.isfinite(finite["time_value"]).any(),
        "memory": frame["peak_bytes"].notna().any() or np.isfinite(finite["peak_value"]).any(),
    }
    for ax, what in ((left, "time"), (right, "memory")):
        if not has[what]:  # e.g. a run of --passes memory: say so rather than fail on an empty log axis
            ax.cla()
            ax.text(0.5, 0.5, f"no {what} measured in this run", ha="center", va="center")
            ax.set_axis_off()
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        _bytes_axis(ax.xaxis)
        ax.grid(True, alpha=0.3)
    if has["time"]:
        left.yaxis.set_major_formatter(TIME_FORMAT)
    if has["memory"]:
        _bytes_axis(right.yaxis)
    left.set_xlabel("|dY/dX| + |dY/dW| (bytes the explicit method materialises)")
    left.set_ylabel("median time")
    left.set_title(
        "time: measured (dots), extrapolated (stars, 90% interval), hold-out (squares)", fontsize=9
    )
    right.set_xlabel("cost-model peak")
    right.set_ylabel("measured / extrapolated peak")
    right.set_title("peak memory: measured (dots), extrapolated (stars), hold-out (squares)", fontsize=9)
    fig.suptitle(title)
    handles, names = (left if has["time"] else right).get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    return _save(fig, pd.DataFrame(rows), out, "extrapolation")


def trend_plot(history: pd.DataFrame, out: Path) -> Path:
    """Normalised time per method over the regress runs in the history, oldest first.

    Each point is the geometric mean, over a method's cases, of time ÷ roof time in one regress
    run; x is the run, labelled by its commit.
    """
    data = history.dropna(subset=["norm_time"])
    data = data[data["norm_time"] > 0]
    per_run = (
        data.assign(log=np.log(data["norm_time"]))
        .groupby(["run_id", "commit", "date", "label"], dropna=False)["log"]
        .mean()
        .reset_index()
        .assign(norm_time=lambda f: np.exp(f["log"]))
        .drop(columns="log")
        .sort_values("date")
    )
    order = list(dict.fromkeys(per_run["run_id"]))
    per_run["index"] = per_run["run_id"].map({run: k for k, run in enumerate(order)})
    colours = _colours(list(per_run["label"].unique()))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label, group in per_run.groupby("label"):
        ax.plot(group["index"], group["norm_time"], "o-", color=colours[label], ms=4, lw=1, label=label)
    commits = per_run.drop_duplicates("run_id").set_index("run_id")["commit"]
    ax.set_xticks(range(len(order)), [str(commits[r])[:8] for r in order], rotation=45, fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("regress run (commit)")
    ax.set_ylabel("time ÷ roof time (geometric mean)")
    ax.set_title("Normalised time over commits (lower is better)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return _save(fig, per_run, out, "trend")


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
            ax.text(col, row, entry or "0", ha="center", va="center", fontsize=9 if entry else 7,
                    color="#111" if entry else "#bbb")  # fmt: skip
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
    return _save(fig, data, out, "jacobian_structure")


BYTES_COLOURS = {"problem": "#4c9a5a", "formula": "#4c9a5a", "jacobian": "#c0392b", "machine": "#7f7f7f"}


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
    _bytes_axis(ax.xaxis)
    ax.grid(True, axis="x", alpha=0.3)
    n, d, m = target
    ax.set_title(f"Where the bytes go at N={n}, D={d}, M={m} (float32, log scale)", fontsize=11)
    fig.tight_layout()
    return _save(fig, data, out, "where_the_bytes_go")
