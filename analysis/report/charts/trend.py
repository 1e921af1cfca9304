"""Normalised time per method over the regress runs in the history: drawn only from two runs up
(a trend of one point is no trend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.report.charts.common import save
from analysis.report.style import handle, label_order, outside_legend, series_style, split_label

FILE = "trend"
TITLE = "Normalised time over commits, from the regress history"
ALT = (
    "Normalised time (time over roof time, geometric mean over a method's cases) per method across "
    "the regress runs of the history, oldest first, labelled by commit."
)


def needs(history: pd.DataFrame | None) -> bool:
    """Whether the history holds normalised times from at least two regress runs."""
    if history is None or history.empty or not history["norm_time"].notna().any():
        return False
    return bool(history.dropna(subset=["norm_time"])["run_id"].nunique() >= 2)


def draw(history: pd.DataFrame, out: Path) -> Path:
    return trend_plot(history, out)


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
    order = {run: 0 for run in per_run["run_id"]}
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label, group in per_run.groupby("label"):
        method, variant = split_label(label)
        ax.plot(group["index"], group["norm_time"], ms=4, lw=1, **series_style(method, variant).kwargs())
    commits = per_run.drop_duplicates("run_id").set_index("run_id")["commit"]
    ax.set_xticks(range(len(order)), [str(commits[r])[:8] for r in order], rotation=45, fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("regress run (commit)")
    ax.set_ylabel("time ÷ roof time (geometric mean)")
    ax.set_title("Normalised time over commits (lower is better)", fontsize=10)
    ax.grid(True, alpha=0.3)
    labels = label_order(list(per_run["label"].unique()))
    outside_legend(fig, [handle(series_style(*split_label(lab))) for lab in labels], labels)
    fig.tight_layout()
    return save(fig, per_run, out, "trend")
