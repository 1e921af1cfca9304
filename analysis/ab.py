"""The A/B time gate's statistics: per method, head/base with a confidence interval, and what it can see.

Input is ``ab.json`` from :mod:`bench.ab`: pairs of measurements (base and head of one case,
timed back to back in fresh processes), each the **minimum** of its rounds. Per pair the
statistic is ``log(head / base)``; a method pools the pairs of all its cases (log ratios are free
of the cases' scale).

Why the minimum: on a shared machine interference only ever adds time, so the fastest round is
the one least disturbed (Chen and Revels, "Robust benchmarking in noisy environments", 2016;
Julia's BenchmarkTools judges regressions on it). In an A/A run here, with other jobs on the
two cores, the interval half-width of head ÷ base was 1–5% per method on the minimum and up to
38% on the median of rounds (explicit-numpy-cold), whose processes were sometimes slowed
throughout.

- **Estimate and interval**: the Hodges–Lehmann estimate (the median of the Walsh averages
  ``(x_i + x_j) / 2, i ≤ j``) with its distribution-free confidence interval from the exact
  Wilcoxon signed-rank distribution. It assumes no normality, and one stretch of interference
  that slows a few pairs moves it little.
- **Verdict**: ``worse`` when the whole interval lies above ``log(1 + threshold)``, ``better``
  when it lies wholly below ``-log(1 + threshold)``, ``held`` otherwise. A case that the base
  measured and the head now fails is ``worse`` too.
- **Minimum detectable effect**: the slowdown this run's spread lets the gate catch with 80%
  power: ``log(1 + threshold) + (estimate − lower) · (z₁₋α/₂ + z₀.₈) / z₁₋α/₂``. A method whose
  MDE is above the slowdown you care about needs more repetitions, or a quieter machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

POWER = 0.8


@dataclass
class MethodGate:
    """A method's head/base time ratio, its interval, and the gate's verdict on it."""

    method: str  # "explicit-torch-warm[cpu-float32]"
    pairs: int
    ratio: float  # head / base, Hodges–Lehmann
    low: float
    high: float
    mde: float  # smallest slowdown caught with 80% power, e.g. 0.07 for +7%
    spread: float  # interquartile range of the pairs' ratios, e.g. 0.04
    verdict: str  # "worse", "better", "held", "not compared"
    note: str = ""
    case_ratios: dict[str, float] = field(default_factory=dict)


def method_key(case: str) -> str:
    """``explicit-torch-warm[cpu-float32-N16-D64-M64]`` → ``explicit-torch-warm[cpu-float32]``."""
    label, _, params = case.partition("[")
    device, dtype = params.split("-")[:2]
    return f"{label}[{device}-{dtype}]"


def _signed_rank_counts(n: int) -> np.ndarray:
    """How many sign patterns of ranks 1..n give each signed-rank sum 0..n(n+1)/2."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts


def hodges_lehmann(x: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Pseudo-median of ``x`` and its ``confidence`` interval (exact signed-rank, any n ≥ 1).

    With too few values for the level asked (n ≤ 5 at 95%) the interval is the whole range of
    the Walsh averages, which a gate never reads as a change.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    i, j = np.triu_indices(n)
    walsh = np.sort((x[i] + x[j]) / 2)
    estimate = float(np.median(walsh))
    counts = _signed_rank_counts(n)
    cdf = np.cumsum(counts) / counts.sum()
    alpha = 1 - confidence
    # C: the largest c with P(T <= c - 1) <= alpha / 2; the interval is [W_(C), W_(K + 1 - C)].
    c = int(np.searchsorted(cdf, alpha / 2, side="right"))
    if c < 1:
        return estimate, -math.inf, math.inf
    return estimate, float(walsh[c - 1]), float(walsh[len(walsh) - c])


def _status_problems(pairs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Cases the head now fails that the base measured; cases one side could not measure."""
    regressions, uncompared = [], []
    for pair in pairs:
        base, head = pair["base"], pair["head"]
        if base["status"] == "ok" and head["status"] != "ok":
            regressions.append(f"{pair['case']}: {head['reason']}")
        elif head["status"] == "ok" and base["status"] != "ok":
            uncompared.append(f"{pair['case']}: base {base['status']} ({base['reason']})")
        elif base["status"] != "ok":
            uncompared.append(f"{pair['case']}: both {head['status']} ({head['reason']})")
    return sorted(set(regressions)), sorted(set(uncompared))


def gate_method(method: str, pairs: list[dict[str, Any]], threshold: float, confidence: float) -> MethodGate:
    regressions, uncompared = _status_problems(pairs)
    both = [p for p in pairs if p["base"]["status"] == "ok" and p["head"]["status"] == "ok"]
    if regressions:
        return MethodGate(
            method,
            len(both),
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            "worse",
            "now fails: " + "; ".join(regressions[:3]),
        )
    if not both:
        return MethodGate(
            method,
            0,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            "not compared",
            "; ".join(uncompared[:3]) or "no pairs",
        )
    logs = np.array([math.log(p["head"]["min_s"] / p["base"]["min_s"]) for p in both])
    estimate, low, high = hodges_lehmann(logs, confidence)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    limit = math.log1p(threshold)
    mde = math.expm1(limit + (estimate - low) * (z + stats.norm.ppf(POWER)) / z)
    verdict = "worse" if low > limit else "better" if high < -limit else "held"
    by_case: dict[str, list[float]] = {}
    for pair, value in zip(both, logs, strict=True):
        by_case.setdefault(pair["case"], []).append(value)
    q1, q3 = np.percentile(logs, [25, 75])
    note = f"{len(by_case)} cases"
    if uncompared:
        note += f"; not compared: {'; '.join(uncompared[:3])}"
    return MethodGate(
        method,
        len(both),
        math.exp(estimate),
        math.exp(low),
        math.exp(high),
        mde,
        math.expm1(q3 - q1),
        verdict,
        note,
        {case: math.exp(float(np.median(v))) for case, v in sorted(by_case.items())},
    )


def gate(data: dict[str, Any], threshold: float, confidence: float) -> list[MethodGate]:
    """One verdict per method (label, device, dtype) of an ``ab.json``."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for pair in data["pairs"]:
        grouped.setdefault(method_key(pair["case"]), []).append(pair)
    return [gate_method(m, pairs, threshold, confidence) for m, pairs in sorted(grouped.items())]


def _ratio(value: float) -> str:
    return "–" if not math.isfinite(value) else f"×{value:.3f}"


def _pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:+.1%}"


def markdown(data: dict[str, Any], gates: list[MethodGate], threshold: float, confidence: float) -> str:
    """The A/B section of ``regress.md``: one row per method, worst first."""
    base, head = data["base"], data["head"]
    worse = [g for g in gates if g.verdict == "worse"]
    name = {"worse": 0, "not compared": 1, "held": 2, "better": 3}
    lines = [
        f"### Time: interleaved A/B, {'REGRESSED' if worse else 'passed'}",
        "",
        f"Head `{(head['commit'] or 'working tree')[:12]}`"
        f"{' (with uncommitted changes)' if head['dirty'] else ''} "
        f"against base `{(base['commit'] or '?')[:12]}`, measured in this job on this machine: "
        f"{data['reps']} repetitions of {len(data['cases'])} cases, each side in a fresh process, "
        f"in random order (profile {data['profile']}, status {data.get('status')}).",
        f"A method fails when its whole {confidence:.0%} interval of head ÷ base lies above "
        f"×{1 + threshold:.2f} (+{threshold:.0%}). MDE: the slowdown this run would catch with "
        f"{POWER:.0%} power.",
        "",
        "| method | pairs | head ÷ base | interval | spread (IQR) | MDE | verdict | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in sorted(
        gates, key=lambda g: (name.get(g.verdict, 9), -(g.ratio if math.isfinite(g.ratio) else 0))
    ):
        interval = "–" if not math.isfinite(g.low) else f"{_ratio(g.low)} … {_ratio(g.high)}"
        lines.append(
            f"| `{g.method}` | {g.pairs} | {_ratio(g.ratio)} | {interval} | {_pct(g.spread)} "
            f"| {_pct(g.mde)} | {g.verdict} | {g.note} |"
        )
    return "\n".join(lines) + "\n"


def as_json(gates: list[MethodGate]) -> list[dict[str, Any]]:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return [{k: clean(v) for k, v in g.__dict__.items()} for g in gates]
