"""A run's peaks against the baseline, per case: gated (``worse`` above +5% and 64 KiB) when the
baseline is sound for this run, shown as history across machines otherwise; its times per
method, never gated. ``Outcome`` holds the verdicts and the exit status they give."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.gate.baseline_file import read_baseline
from analysis.gate.fingerprint import Soundness, soundness
from analysis.gate.history import TIME_METRICS
from analysis.gate.run_metrics import metrics_of
from analysis.gate.timing import method_key
from analysis.load import Run, load_run
from bench.cases import method_and_variant, split_name

MEMORY_FLOOR = 64 * 1024
NOT_MEASURED = "not measured in the current run"


@dataclass(frozen=True)
class Thresholds:
    memory: float = 0.05
    allow_partial: bool = False  # True: missing comparisons are reported, not an error


@dataclass
class Verdict:
    case: str
    metric: str
    baseline: float
    current: float
    change: float
    verdict: str  # "worse", "better", "held", "not gated", "missing"; "not gated" for a record
    note: str = ""
    scope: str = "case"  # "method": values are relative to the baseline (its cases' geometric mean)


OTHER_RUN = "another run's time: history, never gated"


def _memory_verdict(case: str, b: int, c: int, limits: Thresholds) -> Verdict:
    change = c / b - 1
    verdict = "held"
    if change > limits.memory and c - b > MEMORY_FLOOR:
        verdict = "worse"
    elif change < -limits.memory and b - c > MEMORY_FLOOR:
        verdict = "better"
    return Verdict(case, "peak_bytes", b, c, change, verdict)


def _peak_verdict(case: str, base: int, cur: dict[str, Any] | None, limits: Thresholds) -> Verdict:
    """A baseline peak against the run's: compared, now failing (worse), or missing."""
    if cur is not None and "peak_bytes" in cur:
        return _memory_verdict(case, base, cur["peak_bytes"], limits)
    if cur is None:
        verdict, note = "missing", "not in the current run"
    elif cur.get("status") == "failed":
        verdict, note = "worse", f"now fails: {cur.get('reason')}"
    else:
        verdict, note = "missing", f"no peak in the current run ({cur.get('status')})"
    return Verdict(case, "peak_bytes", base, math.nan, math.nan, verdict, note)


def _record(verdict: Verdict) -> Verdict:
    """The same comparison, shown as history across machines: never gated."""
    verdict.note = f"{verdict.verdict} if it gated; {verdict.note}".rstrip("; ")
    verdict.verdict = "not gated"
    return verdict


def compare(
    baseline: dict[str, Any], current: dict[str, dict[str, Any]], limits: Thresholds, gates: bool = True
) -> list[Verdict]:
    """Memory and failures gate per case when ``gates``; times are shown per method, never gated.

    A case whose peak the baseline has and the run lacks is ``missing``: the caller decides
    whether an incomplete comparison may pass (``allow_partial``). Without ``gates`` every peak
    verdict is ``not gated`` (history across machines), its note saying what it would have been.
    """
    verdicts = []
    pooled: dict[tuple[str, str], list[float]] = {}
    for case, base in sorted(baseline["cases"].items()):
        cur = current.get(case)
        if "peak_bytes" in base:
            verdict = _peak_verdict(case, base["peak_bytes"], cur, limits)
            verdicts.append(verdict if gates or verdict.verdict == "missing" else _record(verdict))
        if cur is None:
            continue
        for metric in TIME_METRICS:
            if metric in base and metric in cur:
                change = statistics.median(cur[metric]) / statistics.median(base[metric]) - 1
                pooled.setdefault((method_key(case), metric), []).append(math.log1p(change))
    for (method, metric), logs in sorted(pooled.items()):
        change = math.expm1(float(np.mean(logs)))
        verdicts.append(
            Verdict(
                method,
                metric,
                1.0,
                1.0 + change,
                change,
                "not gated",
                f"{len(logs)} cases; {OTHER_RUN}",
                "method",
            )
        )
    return verdicts


@dataclass
class Outcome:
    verdicts: list[Verdict]
    limits: Thresholds = field(default_factory=Thresholds)
    files: dict[str, Path] = field(default_factory=dict)
    sound: Soundness = field(default_factory=lambda: Soundness(True, ""))

    @property
    def worse(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == "worse"]

    @property
    def better(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == "better"]

    @property
    def missing(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == "missing"]

    @property
    def compared(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.metric == "peak_bytes" and v.verdict not in ("missing",)]

    @property
    def times(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.scope == "method"]

    def memory_line(self) -> str:
        """Counts of what was compared, and the largest move among the peaks that held."""
        held = [v for v in self.verdicts if v.metric == "peak_bytes" and v.verdict in ("held", "not gated")]
        expected = len(self.compared) + len(self.missing)
        shown = "gated" if self.sound.gates else "shown, not gated"
        text = f"peak memory against the baseline: {len(self.compared)} of {expected} cases {shown}"
        if self.missing:
            text += f", {len(self.missing)} missing" + (
                " (allowed: --allow-partial)" if self.limits.allow_partial else ""
            )
        if held:
            largest = max(held, key=lambda v: abs(v.change))
            what = "held" if self.sound.gates else "compared"
            if largest.change == 0:
                text += f"; {len(held)} {what}, every one to the byte"
            else:
                text += f"; {len(held)} {what}, largest move {largest.change:+.2%} ({largest.case})"
        return text

    @property
    def incomplete(self) -> bool:
        """Nothing compared at all (a run whose memory.json is gone) is incomplete, record or gate,
        as the memory A/B is when it compares nothing; otherwise a record cannot be incomplete."""
        if not self.compared:
            return True
        if not self.sound.gates:
            return False  # a record gates nothing: cases missing from it fail nothing
        return bool(self.missing) and not self.limits.allow_partial

    @property
    def exit_status(self) -> int:
        """1: something got worse; 2: a gating comparison is incomplete (nothing lost silently); 0:
        passed, or the baseline is only a record here (another machine kind: it cannot fail)."""
        if self.worse:
            return 1
        return 2 if self.incomplete else 0


def method_of(case: str) -> str:
    """``explicit-torch-warm[cpu-float32-N16-D64-M64]`` → ``explicit-torch``."""
    return method_and_variant(split_name(case)[0])[0]


def gate_memory(
    run_dir: Path, baseline_path: Path, limits: Thresholds, methods: set[str] | None = None
) -> tuple[Outcome, Run, dict[str, Any]]:
    """Compare a run's peaks with the baseline (its cases of ``methods``, default all); times shown."""
    baseline = read_baseline(baseline_path)
    if methods is not None:
        baseline["cases"] = {c: e for c, e in baseline["cases"].items() if method_of(c) in methods}
    run = load_run(run_dir)
    sound = soundness(baseline, run.meta)
    current = metrics_of(run)
    return Outcome(compare(baseline, current, limits, sound.gates), limits, sound=sound), run, current
