"""How the time gate decides: per method, head ÷ base with a confidence interval, and what it can see.

Input is ``ab.json`` from :mod:`bench.abtest.runner`: pairs of measurements (base and head of one case,
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
- **New**: a method the base tree does not have is ``new``: shown, neither compared nor a failure.
- **Too few pairs**: with fewer pairs than :func:`min_pairs` (6 at 95%) no interval exists at
  all (it is [0, ∞]), and such a method is ``not compared``, never ``held``: a gate that could
  not have seen a 2.4× slowdown must not say it passed.
- **Minimum detectable effect**: the slowdown this run's spread lets the gate catch with 80%
  power: ``log(1 + threshold) + (estimate − lower) · (z₁₋α/₂ + z₀.₈) / z₁₋α/₂``. A method that
  held with an MDE above ``max_mde`` (10%) is ``inconclusive``: a slowdown of that size could
  have passed unseen. That warns and does not fail; :func:`needs_more` names its cases so the
  A/B can give them more repetitions first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from bench.cases import split_name
from bench.rundir.gate_files import GateFile, Pair

DEFAULT_TIME_THRESHOLD = 0.05
"""A method fails when its whole 95% interval of head ÷ base lies above ×1.05. Why 5%: in five
A/B runs of a docs-only change no method was flagged (point ratios ×0.95 to ×1.18, the
intervals always reaching below ×1.05), while injected +10% and +25% slowdowns of explicit-torch
were caught (docs/gate.md)."""

POWER = 0.8
MAX_MDE = 0.10
"""A method that held with a larger minimum detectable effect is reported inconclusive."""


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
    verdict: str  # "worse", "better", "held", "inconclusive", "not compared", "new"
    note: str = ""
    case_ratios: dict[str, float] = field(default_factory=dict)
    reps: int = 0  # repetitions that timed this method (the profile's plus any extra ones)


def method_key(case: str) -> str:
    """``explicit-torch-warm[cpu-float32-N16-D64-M64]`` → ``explicit-torch-warm[cpu-float32]``."""
    label, device, dtype, *_ = split_name(case)
    return f"{label}[{device}-{dtype}]"


def _signed_rank_counts(n: int) -> np.ndarray:
    """How many sign patterns of ranks 1..n give each signed-rank sum 0..n(n+1)/2."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts


def min_pairs(confidence: float) -> int:
    """The fewest pairs for which a signed-rank interval at ``confidence`` is bounded (6 at 95%)."""
    n = 1
    while hodges_lehmann(np.zeros(n), confidence)[1] == -math.inf:
        n += 1
    return n


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


def _status_problems(pairs: Sequence[Pair]) -> tuple[list[str], list[str]]:
    """Cases the head now fails that the base measured; cases one side could not measure."""
    regressions, uncompared = [], []
    for pair in pairs:
        base, head = pair.base, pair.head
        if base.ok and not head.ok:
            regressions.append(f"{pair.case}: {head.reason}")
        elif head.ok and not base.ok:
            uncompared.append(f"{pair.case}: base {base.status} ({base.reason})")
        elif not base.ok:
            uncompared.append(f"{pair.case}: both {head.status} ({head.reason})")
    return sorted(set(regressions)), sorted(set(uncompared))


def gate_method(
    method: str, pairs: Sequence[Pair], threshold: float, confidence: float, max_mde: float = MAX_MDE
) -> MethodGate:
    regressions, uncompared = _status_problems(pairs)
    both = [p for p in pairs if p.base.ok and p.head.ok]
    reps = len({i if p.rep is None else p.rep for i, p in enumerate(pairs)})
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
            reps=reps,
        )
    if not both:
        new = bool(pairs) and all(p.base.status == "missing" for p in pairs)
        return MethodGate(
            method,
            0,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            "new" if new else "not compared",
            "not in the base tree: nothing to compare with"
            if new
            else "; ".join(uncompared[:3]) or "no pairs",
            reps=reps,
        )
    logs = np.array([math.log(p.head.min_s / p.base.min_s) for p in both])
    estimate, low, high = hodges_lehmann(logs, confidence)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    limit = math.log1p(threshold)
    mde = math.expm1(limit + (estimate - low) * (z + stats.norm.ppf(POWER)) / z)
    verdict = "worse" if low > limit else "better" if high < -limit else "held"
    if not math.isfinite(low) or not math.isfinite(high):
        verdict = "not compared"
    elif verdict == "held" and mde > max_mde:
        verdict = "inconclusive"
    by_case: dict[str, list[float]] = {}
    for pair, value in zip(both, logs, strict=True):
        by_case.setdefault(pair.case, []).append(value)
    q1, q3 = np.percentile(logs, [25, 75])
    note = f"{len(by_case)} cases"
    if verdict == "not compared":
        note = (
            f"{len(both)} pairs are too few for a {confidence:.0%} interval "
            f"(at least {min_pairs(confidence)}): no change of any size could be seen"
        )
    elif verdict == "inconclusive":
        note += f"; a slowdown under {mde:+.0%} could pass unseen (more --reps, or a quieter machine)"
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
        reps,
    )


def gate(data: GateFile, threshold: float, confidence: float, max_mde: float = MAX_MDE) -> list[MethodGate]:
    """One verdict per method (label, device, dtype) of an ``ab.json``."""
    grouped: dict[str, list[Pair]] = {}
    for pair in data.pairs:
        grouped.setdefault(method_key(pair.case), []).append(pair)
    return [gate_method(m, pairs, threshold, confidence, max_mde) for m, pairs in sorted(grouped.items())]


def needs_more(data: GateFile, threshold: float, confidence: float, max_mde: float = MAX_MDE) -> list[str]:
    """The cases of every method that more repetitions could decide: inconclusive, or too few pairs.

    A method that is worse, better, or not compared for a reason repetitions cannot cure (a side
    that fails or lacks it) is left as it is.
    """
    undecided = set()
    for g in gate(data, threshold, confidence, max_mde):
        if g.verdict == "inconclusive" or (g.verdict == "not compared" and g.pairs > 0):
            undecided.add(g.method)
    return sorted({p.case for p in data.pairs if method_key(p.case) in undecided})


def _ratio(value: float) -> str:
    return "–" if not math.isfinite(value) else f"×{value:.3f}"


def _pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:+.1%}"


def markdown(data: GateFile, gates: list[MethodGate], threshold: float, confidence: float) -> str:
    """The A/B section of ``regress.md``: one row per method, worst first."""
    base, head = data.base, data.head
    worse = [g for g in gates if g.verdict == "worse"]
    name = {"worse": 0, "not compared": 1, "inconclusive": 2, "held": 3, "better": 4, "new": 5}
    extra = data.extra_reps
    lines = [
        f"### Time: interleaved A/B, {'REGRESSED' if worse else 'passed'}",
        "",
        "Compared against **the base commit, measured in this job on this machine**: times from "
        "another run or machine differ by ×2.4 or more for unchanged code, so they are never the control.",
        "",
        f"Head `{(head['commit'] or 'working tree')[:12]}`"
        f"{' (with uncommitted changes)' if head['dirty'] else ''} "
        f"against base `{(base['commit'] or '?')[:12]}`, measured in this job on this machine: "
        f"{data.reps} repetitions of {len(data.cases)} cases"
        + (f", then {sum(extra.values())} extra ones for methods still undecided" if extra else "")
        + f", each side in a fresh process, in random order (profile {data.profile}, "
        f"status {data.status}" + (f"; {data.stopped}" if data.stopped and extra else "") + ").",
        f"A method fails when its whole {confidence:.0%} interval of head ÷ base lies above "
        f"×{1 + threshold:.2f} (+{threshold:.0%}). MDE: the slowdown this run would catch with "
        f"{POWER:.0%} power; a method that held with an MDE above {MAX_MDE:.0%} is inconclusive "
        f"(it warns, it does not fail), one with too few pairs for an interval is not compared.",
        "",
        "| method | reps | pairs | head ÷ base | interval | spread (IQR) | MDE | verdict | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in sorted(
        gates, key=lambda g: (name.get(g.verdict, 9), -(g.ratio if math.isfinite(g.ratio) else 0))
    ):
        interval = "–" if not math.isfinite(g.low) else f"{_ratio(g.low)} … {_ratio(g.high)}"
        lines.append(
            f"| `{g.method}` | {g.reps} | {g.pairs} | {_ratio(g.ratio)} | {interval} | {_pct(g.spread)} "
            f"| {_pct(g.mde)} | {g.verdict} | {g.note} |"
        )
    return "\n".join(lines) + "\n"


def as_json(gates: list[MethodGate]) -> list[dict[str, Any]]:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return [{k: clean(v) for k, v in g.__dict__.items()} for g in gates]
