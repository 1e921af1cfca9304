"""Runs → everything the report shows: cases, fits, extrapolations, hold-outs and targets.

The numbers are computed once here; the summary, the tables, the figures and the page only
read them, so the HTML and the PNGs can never disagree about a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.extrapolate import HEADLINE, extrapolate, holdout, measured_vs_extrapolated
from analysis.fits import AxesByRun, axis_names, exponents
from analysis.load import Run, load_run
from analysis.targets import check_targets


@dataclass
class Analysis:
    """Everything the report shows, computed from the runs."""

    runs: list[Run]
    cases: pd.DataFrame
    exponents: pd.DataFrame
    predictions: pd.DataFrame
    holdouts: pd.DataFrame
    targets: pd.DataFrame
    checks: pd.DataFrame
    """Per method at the target: measured (or why not) beside extrapolated, and the error
    (:func:`analysis.extrapolate.measured_vs_extrapolated`)."""
    limits: dict[tuple[str, str], int | None]
    target: tuple[int, int, int]

    @property
    def axes(self) -> AxesByRun:
        return {run.run_id: run.meta["profile"].get("axes", {}) for run in self.runs}

    @property
    def swept(self) -> bool:
        """Whether some run sweeps an axis over more than one size (a headline run alone does not)."""
        return bool(axis_names(self.axes))


def _device_limits(run: Run) -> dict[tuple[str, str], int | None]:
    machine = run.meta.get("machine", {})
    limits: dict[tuple[str, str], int | None] = {(run.run_id, "cpu"): machine.get("ram_bytes")}
    gpus = machine.get("gpus") or []
    if gpus:
        limits[(run.run_id, "cuda")] = gpus[0].get("memory_bytes")
    return limits


def analyse(run_dirs: list[Path], target: tuple[int, int, int] = HEADLINE) -> Analysis:
    """Load every run and compute fits, extrapolations, hold-outs and targets."""
    runs = [load_run(path) for path in run_dirs]
    seen: dict[str, Path] = {}
    for run in runs:
        if run.uid in seen:
            raise ValueError(f"the same run was given twice: {seen[run.uid]} and {run.path}")
        seen[run.uid] = run.path
    names = [run.run_id for run in runs]
    for run in runs:  # two runs of one name (a/r1, b/r1) are told apart by their parent directory
        if names.count(run.run_id) > 1:
            label = f"{run.path.resolve().parent.name}/{run.run_id}"
            run.meta["run_name"] = label
            run.cases["run_id"] = label
    cases = pd.concat([run.cases for run in runs], ignore_index=True)
    limits: dict[tuple[str, str], int | None] = {}
    cache = {run.run_id: run.meta.get("machine", {}).get("llc_bytes") for run in runs}
    for run in runs:
        limits |= _device_limits(run)
    parts = [
        (
            exponents(run.cases, run.meta["profile"].get("axes", {})),
            holdout(run.cases, run.meta["profile"].get("axes", {}), cache),
        )
        for run in runs
        if not run.cases.empty
    ]
    holdouts = pd.concat([p[1] for p in parts], ignore_index=True) if parts else pd.DataFrame()
    predictions = extrapolate(cases, limits, cache, target, holdouts=holdouts)
    return Analysis(
        runs=runs,
        cases=cases,
        exponents=pd.concat([p[0] for p in parts], ignore_index=True) if parts else pd.DataFrame(),
        predictions=predictions,
        holdouts=holdouts,
        targets=check_targets(cases, {run.run_id: run.meta for run in runs}),
        checks=measured_vs_extrapolated(cases, cache, target, memory_limits=limits, predictions=predictions),
        limits=limits,
        target=target,
    )
