"""The trend figures, drawn headless from the chain and the history, each with its CSV beside it.

One figure per metric: on the left the chained A/B trend (machine-independent), on the right
the per-machine normalised history (one runner kind; only comparable within it), each panel
saying which it is. Change points are shaded over their commit range on the panel that found them.
"""

from __future__ import annotations

import math
from itertools import cycle
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter
from scipy import stats

from analysis.trend.chain import Series
from analysis.trend.findings import Finding

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#F0E442")
KIND_LINES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
CHAINED_TITLE = "Chained A/B trend: machine-independent (each link measured base vs head on one runner)"
MACHINE_TITLE = "Per-machine history: normalised time on one runner kind (not comparable across runners)"


def chain_frame(series: list[Series], metric: str, confidence: float = 0.95) -> pd.DataFrame:
    """Every point of the chained series of ``metric``: ratio to the segment's start with its interval."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    rows = [
        {
            "series": s.name,
            "commit": p.commit,
            "position": p.index,
            "segment": p.segment,
            "ratio": math.exp(p.level),
            "low": math.exp(p.level - z * math.sqrt(p.var)),
            "high": math.exp(p.level + z * math.sqrt(p.var)),
            "machine": p.machine,
        }
        for s in series
        if s.metric == metric
        for p in s.points
    ]
    return pd.DataFrame(
        rows, columns=["series", "commit", "position", "segment", "ratio", "low", "high", "machine"]
    )


def method_of(name: str) -> str:
    """``explicit-torch-warm[cpu-float32]`` → ``explicit-torch-warm``: one style per method on both panels."""
    return name.partition("[")[0]


def _styles(names: list[str]) -> dict[str, tuple[str, str]]:
    """Colour and marker per method: identity by more than colour."""
    combos = cycle((c, m) for m in MARKERS for c in OKABE_ITO)
    return {name: next(combos) for name in sorted({method_of(n) for n in names})}


def _shade(ax: plt.Axes, findings: list[Finding], position: dict[str, int]) -> None:
    for f in findings:
        if f.before in position and f.after in position:
            ax.axvspan(position[f.before], position[f.after], color="#D55E00", alpha=0.15, lw=0)


def _ratio_axis(ax: plt.Axes) -> None:
    """Log scale labelled as ratios (×1.05), not as powers of ten."""
    ax.set_yscale("log")
    label = FuncFormatter(lambda v, _: f"×{v:.3g}")
    ax.yaxis.set_major_formatter(label)
    ax.yaxis.set_minor_formatter(label)
    ax.tick_params(axis="y", which="both", labelsize=7)


def _ticks(ax: plt.Axes, first_parent: list[str], used: set[int]) -> None:
    shown = sorted(used)
    step = max(1, len(shown) // 12)
    ax.set_xticks(shown[::step], [first_parent[k][:8] for k in shown[::step]], rotation=45, fontsize=7)


def trend_figure(
    chained: pd.DataFrame,
    machine: pd.DataFrame,
    findings: list[Finding],
    first_parent: list[str],
    metric: str,
    out: Path,
) -> Path:
    """``out/trend-<metric>.png`` and its two CSVs; returns the PNG's path."""
    position = {c: k for k, c in enumerate(first_parent)}
    panels = 2 if metric == "time" else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.8), squeeze=False)
    left = axes[0][0]
    styles = _styles(list(chained["series"].unique()) + list(machine.get("label", pd.Series()).unique()))
    for (name, segment), group in chained.groupby(["series", "segment"]):
        colour, marker = styles[method_of(name)]
        left.plot(group["position"], group["ratio"], marker=marker, color=colour, ms=3, lw=1,
                  label=name if segment == group["segment"].min() else None)  # fmt: skip
        left.fill_between(group["position"], group["low"], group["high"], color=colour, alpha=0.12, lw=0)
    _shade(left, [f for f in findings if f.trend == "chained" and f.metric == metric], position)
    _ratio_axis(left)
    left.set_title(CHAINED_TITLE, fontsize=8)
    left.set_ylabel(
        ("time" if metric == "time" else "peak bytes") + " ÷ the chain's first commit (95% interval)"
    )
    _ticks(left, first_parent, set(chained["position"]))
    if panels == 2:
        right = axes[0][1]
        kinds = {
            kind: KIND_LINES[k % len(KIND_LINES)] for k, kind in enumerate(sorted(machine["kind"].unique()))
        }
        for (kind, label), group in machine.groupby(["kind", "label"]):
            colour, marker = styles[method_of(label)]
            right.plot(
                group["position"], group["norm_time"], marker=marker, ls=kinds[kind], color=colour, ms=3, lw=1
            )
        for kind, line in kinds.items():
            right.plot([], [], ls=line, color="#555555", label=f"runner kind {kind}")
        if kinds:
            right.legend(fontsize=7, loc="upper left")
        _shade(right, [f for f in findings if f.trend.startswith("per machine")], position)
        _ratio_axis(right)
        if machine.empty:
            right.text(0.5, 0.5, "no per-machine runs recorded yet", ha="center", transform=right.transAxes)
        right.set_title(MACHINE_TITLE, fontsize=8)
        right.set_ylabel("time ÷ roof time (geometric mean over cases)")
        _ticks(right, first_parent, set(machine["position"]) if not machine.empty else set())
    for ax in axes[0]:
        ax.set_xlabel("commit on main's first-parent line (shaded: change points)")
        ax.grid(True, alpha=0.3)
    handles, names = left.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=7, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"trend-{metric}.png"
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    chained.to_csv(out / f"trend-{metric}-chained.csv", index=False)
    if panels == 2:
        machine.to_csv(out / f"trend-{metric}-per-machine.csv", index=False)
    return png
