"""The chained trend: each link's head ÷ base, multiplied along main's first-parent history.

Every link was measured base against head in one job on one runner, so its ratio is free of that
runner's speed; the product of the ratios from commit a to commit b is b's time relative to a's,
whatever runners measured the links in between. It is kept in log space: the level of a commit
is the sum of the links' log ratios since the chain's start, and its variance the sum of theirs
(independent runs), each link's standard error read off its interval:
``(log high − log low) / (2 z)``. Peaks chain the same way; a link's peaks are exact on its own
runner up to the allocator's jitter (:func:`analysis.gate.memory.allowance`), taken as a uniform
error of that width.

A commit that no link reaches, or a link that could not compare a method (too few pairs, a case
that now fails), breaks that method's chain: the next link starts a new segment at level 0,
because a product across an unmeasured step would invent a ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from analysis.gate.memory import allowance

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Step:
    """One link of one series: log(head ÷ base) and its variance."""

    log_ratio: float
    var: float


@dataclass
class Point:
    """A commit on a series' chain: its level (log, relative to the segment's start) and variance."""

    commit: str
    index: int  # position on the first-parent line, oldest 0
    level: float
    var: float
    link_var: float  # the variance of the link that reached it (0 at a segment's start)
    segment: int
    machine: str | None = None


@dataclass
class Series:
    """One method's time (``metric="time"``) or one case's peak (``"memory"``) along the chain."""

    name: str
    metric: str
    points: list[Point] = field(default_factory=list)

    def segments(self) -> list[list[Point]]:
        groups: dict[int, list[Point]] = {}
        for p in self.points:
            groups.setdefault(p.segment, []).append(p)
        return list(groups.values())


def time_step(entry: dict[str, Any], confidence: float) -> Step | None:
    """A method's link as a step, or None when that link compared nothing for it."""
    ratio, low, high = (entry.get(k) for k in ("ratio", "low", "high"))
    if not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in (ratio, low, high)):
        return None
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    return Step(math.log(ratio), ((math.log(high) - math.log(low)) / (2 * z)) ** 2)


def memory_step(entry: dict[str, Any]) -> Step | None:
    """A case's link as a step (uniform jitter of ± the allowance), or None when a side has no peak."""
    base, head = entry.get("base"), entry.get("head")
    if not base or not head:
        return None
    return Step(math.log(head / base), (allowance(base) / base) ** 2 / 3)


def steps_of(link: dict[str, Any]) -> dict[tuple[str, str], Step]:
    """Every series' step in one link record, keyed by (metric, name)."""
    confidence = link.get("confidence") or DEFAULT_CONFIDENCE
    steps: dict[tuple[str, str], Step] = {}
    for method, entry in link["time"].items():
        step = time_step(entry, confidence)
        if step is not None:
            steps["time", method] = step
    for case, entry in link["memory"].items():
        step = memory_step(entry)
        if step is not None:
            steps["memory", case] = step
    return steps


def chain(links: list[dict[str, Any]], first_parent: list[str]) -> list[Series]:
    """Every series chained along ``first_parent`` (oldest first; full commit ids).

    A commit is reached by a link from the series' last point; of several (re-runs on other
    runners) the one with the smallest variance. Without such a link, the link from the latest
    earlier commit starts a new segment. Links whose commits are off the line (another branch, a
    rewritten history) are not used.
    """
    position = {commit: k for k, commit in enumerate(first_parent)}
    by_head: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        head, parent = position.get(link["commit"]), position.get(link["parent"])
        if head is not None and parent is not None and parent < head:
            by_head.setdefault(link["commit"], []).append(link)
    series: dict[tuple[str, str], Series] = {}
    for commit in first_parent:
        candidates: dict[tuple[str, str], list[tuple[dict[str, Any], Step]]] = {}
        for link in sorted(by_head.get(commit, []), key=lambda lk: -position[lk["parent"]]):
            for name, step in steps_of(link).items():
                candidates.setdefault(name, []).append((link, step))
        for name, found in candidates.items():
            s = series.setdefault(name, Series(name[1], name[0]))
            last = s.points[-1] if s.points else None
            going_on = [c for c in found if last is not None and c[0]["parent"] == last.commit]
            link, step = min(going_on, key=lambda c: c[1].var) if going_on else found[0]
            if not going_on:
                segment = last.segment + 1 if last is not None else 0
                last = Point(link["parent"], position[link["parent"]], 0.0, 0.0, 0.0, segment)
                s.points.append(last)
            s.points.append(
                Point(
                    commit,
                    position[commit],
                    last.level + step.log_ratio,
                    last.var + step.var,
                    step.var,
                    last.segment,
                    link.get("machine"),
                )
            )
    return sorted(series.values(), key=lambda s: (s.metric, s.name))


def relative(
    series: Series, older: str, newer: str, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float, float]:
    """``newer``'s value ÷ ``older``'s along the chain, with its interval: (ratio, low, high).

    ValueError when either commit is not on the series or they lie in different segments.
    """
    points = {p.commit: p for p in series.points}
    if older not in points or newer not in points:
        raise ValueError(f"{series.name}: {older[:12]} or {newer[:12]} is not on its chain")
    a, b = points[older], points[newer]
    if a.segment != b.segment:
        raise ValueError(f"{series.name}: the chain is broken between {older[:12]} and {newer[:12]}")
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    delta, sd = b.level - a.level, math.sqrt(abs(b.var - a.var))
    return math.exp(delta), math.exp(delta - z * sd), math.exp(delta + z * sd)
