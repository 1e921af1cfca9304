"""Change points as the report lists them: a commit range, the trend it was seen on, and the methods.

Two trends are searched (:mod:`analysis.trend.changepoint`):

- **chained** (:mod:`analysis.trend.chain`): per method its chained time, per case its chained
  peak, each segment on its own; machine-independent, because every link was an A/B on one runner;
- **per machine**: per runner kind (CPU model, cores, GPUs: hosted runners get a new host name
  every run) and method, the geometric mean of the method's normalised times in each run, in
  commit order; a t-test between windows, as Otava does. It can see only what one kind of runner
  saw, and a runner whose speed drifts can fake a change here that the chained trend cannot.

Change points of several series over the same commit range are one finding naming all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.trend.chain import Series
from analysis.trend.changepoint import MAX_PVALUE, ChainTest, Change, TTest, change_points

MIN_MAGNITUDE = 0.01
"""A change under 1% is not reported: below every method's resolution on a single link."""


@dataclass
class Finding:
    """One change point: where, on which trend, and per series its ratio (after ÷ before)."""

    trend: str  # "chained" or "per machine: <runner kind>"
    metric: str  # "time" or "memory"
    before: str  # the last commit before the change
    after: str  # the last commit of the change (the range is before..after, git's notation)
    ratios: dict[str, float] = field(default_factory=dict)
    pvalue: float = 0.0

    @property
    def commit_range(self) -> str:
        return f"{self.before[:12]}..{self.after[:12]}"


def _group(found: list[tuple[str, str, str, str, str, Change]]) -> list[Finding]:
    findings: dict[tuple[str, str, str, str], Finding] = {}
    for trend, metric, name, before, after, change in found:
        finding = findings.setdefault((trend, metric, before, after), Finding(trend, metric, before, after))
        finding.ratios[name] = math.exp(change.delta)
        finding.pvalue = max(finding.pvalue, change.pvalue)
    return list(findings.values())


def chained(series: list[Series], max_pvalue: float = MAX_PVALUE) -> list[Finding]:
    """Change points of every series of the chained trend, segment by segment."""
    found = []
    for s in series:
        for segment in s.segments():
            if len(segment) < 2:
                continue
            levels = np.array([p.level for p in segment])
            tester = ChainTest(levels, np.array([p.link_var for p in segment]))
            for c in change_points(levels, tester, max_pvalue, MIN_MAGNITUDE):
                before, after = segment[c.first - 1].commit, segment[c.last].commit
                found.append(("chained", s.metric, s.name, before, after, c))
    return _group(found)


def runner_kind(machine: str | None) -> str:
    """``host#id|cpu|cores|gpus`` → ``cpu|cores|gpus``: hosted runners change host every run."""
    return "|".join(str(machine).split("|")[1:]) if machine and "|" in machine else str(machine)


def per_machine_series(history: pd.DataFrame, first_parent: list[str]) -> pd.DataFrame:
    """Per runner kind, label and run: the geometric mean of normalised time, in commit order.

    Runs of commits off the first-parent line are left out; columns kind, label, run_id, commit,
    position, norm_time.
    """
    if history.empty:
        return pd.DataFrame(columns=["kind", "label", "run_id", "commit", "position", "norm_time"])
    position = {c: k for k, c in enumerate(first_parent)}
    data = history.dropna(subset=["norm_time"])
    data = data[(data["norm_time"] > 0) & data["commit"].isin(position)]
    data = data.assign(kind=data["machine"].map(runner_kind), log=np.log(data["norm_time"]))
    runs = (
        data.groupby(["kind", "label", "run_id", "commit", "date"], dropna=False)["log"].mean().reset_index()
    )
    runs = runs.assign(position=runs["commit"].map(position), norm_time=np.exp(runs["log"]))
    return runs.sort_values(["kind", "label", "position", "date"]).drop(columns=["log", "date"])


def per_machine(
    history: pd.DataFrame, first_parent: list[str], max_pvalue: float = MAX_PVALUE
) -> list[Finding]:
    """Change points of each runner kind's normalised time per method (Otava's t-test)."""
    found = []
    series = per_machine_series(history, first_parent)
    for (kind, label), group in series.groupby(["kind", "label"]):
        values = np.log(group["norm_time"].to_numpy())
        commits = group["commit"].tolist()
        for c in change_points(values, TTest(values), max_pvalue, MIN_MAGNITUDE):
            found.append((f"per machine: {kind}", "time", label, commits[c.index - 1], commits[c.index], c))
    return _group(found)
