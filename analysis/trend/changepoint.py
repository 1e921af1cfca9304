"""Change points of one series: E-divisive means proposes, a test per candidate confirms (Otava's manner).

Apache Otava (formerly Hunter; ``analysis.py``: ``split`` then ``merge``) finds candidates by
E-divisive means (Matteson and James, 2014): split the series where the energy distance between
the two sides, ``q̂``, is largest, and recurse into both sides while the split is significant (a
lenient first pass, at ten times the final p-value). Then, bottom-up, the weakest candidate is
removed and its neighbours re-tested in the windows their neighbours bound, until every candidate
left has a p-value under ``max_pvalue`` and a relative change over ``min_magnitude``. This module
implements both passes (numpy and scipy only, no package of Otava's), with two tests:

- :class:`TTest`, Otava's own: Student's t between the window left of the candidate and the one
  right of it, for points with independent noise (the per-machine history of one runner);
- :class:`ChainTest`, for a chained trend, whose levels are cumulative sums of noisy links and so
  are *not* independent (a random walk would fool a t-test into seeing steps everywhere). The
  difference of the two windows' mean levels is a weighted sum of the links between them, whose
  variance is known from the links' own intervals: a z-test with the right variance.

Values are logs (of a ratio or a normalised time), so a change's magnitude is ``exp(Δ) − 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from scipy import stats

MAX_PVALUE = 0.001
MIN_MAGNITUDE = 0.0


@dataclass(frozen=True)
class Change:
    """A confirmed change point: the series moved between ``index - 1`` and ``index``."""

    index: int
    start: int  # the window tested: [start, index) against [index, end)
    end: int
    delta: float  # the move (log): right window's mean minus the left's, or the run's sum on a chain
    pvalue: float
    first: int = -1  # the points the move spans: it happened between first - 1 and last
    last: int = -1

    @property
    def magnitude(self) -> float:
        return math.expm1(abs(self.delta))


class Tester(Protocol):
    def test(self, index: int, start: int, end: int) -> tuple[float, float]:
        """(delta, p-value) of a change at ``index`` between windows [start, index) and [index, end)."""


class TTest:
    """Student's two-sided t-test of the two windows' means (Otava's ``TTestSignificanceTester``)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=float)

    def test(self, index: int, start: int, end: int) -> tuple[float, float]:
        left, right = self.values[start:index], self.values[index:end]
        delta = float(right.mean() - left.mean())
        if len(left) + len(right) <= 2:
            return delta, 1.0
        _, p = stats.ttest_ind_from_stats(
            left.mean(), left.std(), len(left), right.mean(), right.std(), len(right)
        )
        return delta, 1.0 if not math.isfinite(p) else float(p)


class ChainTest:
    """On a chain (``levels[k] - levels[k-1]`` is link k, of variance ``link_vars[k]``, links
    independent): the run of consecutive links around the candidate, inside its window and at most
    ``max_links`` long, whose summed log ratio is the most significant; a z-test with the run's
    own variance, Bonferroni-corrected for the runs tried. The run is the change's commit range.
    """

    def __init__(self, levels: np.ndarray, link_vars: np.ndarray, max_links: int = 8) -> None:
        self.steps = np.diff(np.asarray(levels, dtype=float), prepend=float(levels[0]))
        self.vars = np.asarray(link_vars, dtype=float)
        self.max_links = max_links

    def best_run(self, index: int, start: int, end: int) -> tuple[int, int, float, float]:
        """(first link, last link, summed log ratio, p-value) of the most significant run of links
        within ``max_links`` of ``index`` and inside the window (links start + 1 … end − 1)."""
        low, high = max(start + 1, index - self.max_links), min(end - 1, index + self.max_links - 1)
        best, best_z, tried = (index, index, 0.0), -1.0, 0
        for first in range(low, high + 1):
            for last in range(first, min(high, first + self.max_links - 1) + 1):
                delta = float(self.steps[first : last + 1].sum())
                var = float(self.vars[first : last + 1].sum())
                z = abs(delta) / math.sqrt(var) if var > 0 else (math.inf if delta else 0.0)
                tried += 1
                if z > best_z:
                    best_z, best = z, (first, last, delta)
        p = min(1.0, tried * 2 * float(stats.norm.sf(best_z))) if tried else 1.0
        return best[0], best[1], best[2], p

    def test(self, index: int, start: int, end: int) -> tuple[float, float]:
        if index <= start or index >= end:
            return 0.0, 1.0
        _, _, delta, p = self.best_run(index, start, end)
        return delta, p


def energy_split(x: np.ndarray) -> tuple[int, float]:
    """The split τ (1 ≤ τ < n) of ``x`` with the largest E-divisive statistic q̂, and q̂ there.

    q̂(τ) = τ(n−τ)/n · (2·mean|left − right| − mean|left − left| − mean|right − right|), the
    within-means over distinct pairs (0 for a single point).
    """
    n = len(x)
    dist = np.abs(x[:, None] - x[None, :])
    prefix = np.zeros((n + 1, n + 1))
    prefix[1:, 1:] = dist.cumsum(0).cumsum(1)

    def block(a: int, b: int, c: int, d: int) -> float:
        return prefix[b, d] - prefix[a, d] - prefix[b, c] + prefix[a, c]

    best, best_q = 0, -math.inf
    for tau in range(1, n):
        m = n - tau
        between = block(0, tau, tau, n) / (tau * m)
        within_l = block(0, tau, 0, tau) / (tau * (tau - 1)) if tau > 1 else 0.0
        within_r = block(tau, n, tau, n) / (m * (m - 1)) if m > 1 else 0.0
        q = tau * m / n * (2 * between - within_l - within_r)
        if q > best_q:
            best, best_q = tau, q
    return best, best_q


def candidates(x: np.ndarray, tester: Tester, pvalue: float) -> list[int]:
    """Otava's first pass: split by q̂ recursively while the split's test is under ``pvalue``."""
    found: list[int] = []
    todo = [(0, len(x))]
    while todo:
        start, end = todo.pop()
        if end - start < 2:
            continue
        tau, _ = energy_split(x[start:end])
        index = start + tau
        _, p = tester.test(index, start, end)
        if p <= pvalue:
            found.append(index)
            todo += [(start, index), (index, end)]
    return sorted(found)


def _tested(indexes: list[int], n: int, tester: Tester) -> list[Change]:
    bounds = [0, *indexes, n]
    changes = []
    for k, index in enumerate(indexes):
        start, end = bounds[k], bounds[k + 2]
        delta, p = tester.test(index, start, end)
        first, last = index, index
        if isinstance(tester, ChainTest):
            first, last, delta, p = tester.best_run(index, start, end)
        changes.append(Change(index, start, end, delta, p, first, last))
    return changes


def joined(changes: list[Change]) -> list[Change]:
    """Changes of one sign whose spans touch or overlap, as one: five +3% merges in a row are one
    creeping change, not five. The joined change keeps the largest p-value of its parts."""
    out: list[Change] = []
    for c in sorted(changes, key=lambda c: (c.first, c.last)):
        prev = out[-1] if out else None
        if prev is not None and c.first <= prev.last + 1 and (c.delta > 0) == (prev.delta > 0):
            # disjoint runs: their moves add up; overlapping runs of one chain: keep the larger move
            delta = prev.delta + c.delta if c.first > prev.last else max(prev.delta, c.delta, key=abs)
            out[-1] = Change(
                prev.index, prev.start, max(prev.end, c.end), delta, max(prev.pvalue, c.pvalue),
                prev.first, max(prev.last, c.last),
            )  # fmt: skip
        else:
            out.append(c)
    return out


def merge(
    indexes: list[int], n: int, tester: Tester, max_pvalue: float, min_magnitude: float
) -> list[Change]:
    """Otava's second pass: drop the weakest candidate (largest p, else smallest change) and
    re-test the rest in their new windows, until all are significant and large enough."""
    kept = list(indexes)
    while kept:
        changes = _tested(kept, n, tester)
        weakest = max(changes, key=lambda c: c.pvalue)
        if weakest.pvalue < max_pvalue:
            weakest = min(changes, key=lambda c: c.magnitude)
            if weakest.magnitude > min_magnitude:
                return changes
        kept.remove(weakest.index)
    return []


def change_points(
    x: np.ndarray, tester: Tester, max_pvalue: float = MAX_PVALUE, min_magnitude: float = MIN_MAGNITUDE
) -> list[Change]:
    """The confirmed change points of ``x`` (values in log space) under ``tester``."""
    x = np.asarray(x, dtype=float)
    first_pass = max_pvalue * 10 if max_pvalue < 0.05 else max_pvalue  # Otava's lenient split
    changes = joined(merge(candidates(x, tester, first_pass), len(x), tester, max_pvalue, min_magnitude))
    if isinstance(tester, ChainTest):  # a joined span's move is the product of its links, exactly
        changes = [replace(c, delta=float(tester.steps[c.first : c.last + 1].sum())) for c in changes]
    return changes
