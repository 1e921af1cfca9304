"""How well the change-point detector finds steps of known size and place, at this suite's noise.

Histories of :data:`LENGTH` commits get one injected step (+2%, +5%, +10%), a creep of five +3%
merges, or nothing, at a random place, and go through the same code as the real history:

- **chained, real noise**: each link is a resample of the pairs of one method in a measured A/A
  run (:data:`AA_FILE`: the same tree on both sides, so its log ratios are pure noise), the step
  added to the pairs of its link, then the gate's own Hodges–Lehmann estimate and interval
  (:func:`analysis.gate.timing.hodges_lehmann`), the chain and :class:`ChainTest`;
- **chained, synthetic noise**: Gaussian links whose standard errors are the A/A run's smallest,
  median and largest per-method ones, and the one of a link whose MDE is the gate's 10% target
  (what its extra repetitions aim at);
- **per machine, real noise**: each run's value is the mean over a method's cases of one
  resampled A/A measurement per case (relative to the case's median), Student's t-test.

A step counts as found when a change point's commit range contains it (per machine: within one
commit); every other change point is a false one. The figures go between the markers of
docs/tracking.md, so ``lbb trend validate`` regenerates them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

from analysis.gate.timing import DEFAULT_TIME_THRESHOLD, MAX_MDE, POWER, hodges_lehmann, method_key
from analysis.trend.chain import time_step
from analysis.trend.changepoint import MAX_PVALUE, ChainTest, TTest, change_points
from analysis.trend.findings import MIN_MAGNITUDE
from bench.usage import UsageError

AA_FILE = Path(__file__).resolve().parents[2] / "reports" / "noise" / "aa-quick-cpu.json"
LENGTH = 40
SCENARIOS: dict[str, dict[int, float]] = {
    "+2% step": {0: 0.02},
    "+5% step": {0: 0.05},
    "+10% step": {0: 0.10},
    "5 × +3% creep": {k: 0.03 for k in range(5)},
    "no change": {},
}
BEGIN, END = "<!-- validate:begin -->", "<!-- validate:end -->"

Detector = Callable[[np.ndarray, np.random.Generator, dict[int, float]], list[tuple[int, int]]]


def aa_pairs(path: Path = AA_FILE) -> dict[str, list[np.ndarray]]:
    """Per method, per case, the A/A run's log(head ÷ base) of every pair both sides measured."""
    data = json.loads(path.read_text())
    by_case: dict[str, dict[str, list[float]]] = {}
    for p in data["pairs"]:
        if p["base"]["status"] == "ok" and p["head"]["status"] == "ok":
            method = by_case.setdefault(method_key(p["case"]), {})
            method.setdefault(p["case"], []).append(math.log(p["head"]["min_s"] / p["base"]["min_s"]))
    return {m: [np.array(v) for v in cases.values()] for m, cases in sorted(by_case.items())}


def aa_samples(path: Path = AA_FILE) -> dict[str, list[np.ndarray]]:
    """Per method, per case, every single measurement of the A/A run relative to the case's median (log)."""
    data = json.loads(path.read_text())
    by_case: dict[str, dict[str, list[float]]] = {}
    for p in data["pairs"]:
        for side in ("base", "head"):
            if p[side]["status"] == "ok":
                by_case.setdefault(method_key(p["case"]), {}).setdefault(p["case"], []).append(
                    p[side]["min_s"]
                )
    return {
        m: [np.log(np.array(v)) - np.log(np.median(v)) for v in cases.values()]
        for m, cases in sorted(by_case.items())
    }


def target_error(confidence: float = 0.95) -> float:
    """The standard error (log) of a link whose MDE is the gate's ``MAX_MDE``: what the gate's
    extra repetitions aim every method at (:mod:`analysis.gate.timing`'s MDE formula, inverted)."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    half_width = (math.log1p(MAX_MDE) - math.log1p(DEFAULT_TIME_THRESHOLD)) * z / (z + stats.norm.ppf(POWER))
    return half_width / z


def measured_errors(path: Path = AA_FILE) -> list[float]:
    """The standard errors of the A/A run's per-method intervals (log), smallest first."""
    data = json.loads(path.read_text())
    confidence = data.get("gate", {}).get("confidence", 0.95)
    steps = [time_step(m, confidence) for m in data["gate"]["time"]]
    return sorted(math.sqrt(s.var) for s in steps if s is not None)


def _placed(steps: dict[int, float], rng: np.random.Generator) -> dict[int, float]:
    """The scenario's steps moved to a random place in the middle of the history."""
    at = int(rng.integers(LENGTH // 4, 3 * LENGTH // 4))
    return {at + k: v for k, v in steps.items()}


def chain_detector(link: Callable[[np.random.Generator, float], tuple[float, float]]) -> Detector:
    """A detector over a chain whose link k is ``link(rng, true log step)``: (log ratio, variance)."""

    def detect(_: np.ndarray, rng: np.random.Generator, steps: dict[int, float]) -> list[tuple[int, int]]:
        moves = [link(rng, math.log1p(steps.get(k, 0.0))) if k else (0.0, 0.0) for k in range(LENGTH)]
        levels = np.cumsum([m[0] for m in moves])
        tester = ChainTest(levels, np.array([m[1] for m in moves]))
        return [(c.first, c.last) for c in change_points(levels, tester, MAX_PVALUE, MIN_MAGNITUDE)]

    return detect


def real_link(cases: list[np.ndarray]) -> Callable[[np.random.Generator, float], tuple[float, float]]:
    """A link of one method: its A/A pairs resampled, the step added, the gate's estimate and interval.

    The pairs are centred on their own Hodges–Lehmann estimate first: one A/A run's estimate is
    itself noise (×0.96 to ×1.06 here), and resampling it uncentred would repeat that draw as a
    drift in every link, where the shape of the noise is what is wanted.
    """
    pooled = np.concatenate(cases)
    pooled = pooled - hodges_lehmann(pooled, 0.95)[0]

    def link(rng: np.random.Generator, step: float) -> tuple[float, float]:
        sample = rng.choice(pooled, size=len(pooled), replace=True) + step
        estimate, low, high = hodges_lehmann(sample, 0.95)
        found = time_step({"ratio": math.exp(estimate), "low": math.exp(low), "high": math.exp(high)}, 0.95)
        assert found is not None  # enough pairs: the A/A run gave every method ≥ 16
        return found.log_ratio, found.var

    return link


def gaussian_link(sd: float) -> Callable[[np.random.Generator, float], tuple[float, float]]:
    return lambda rng, step: (step + float(rng.normal(0.0, sd)), sd**2)


def machine_detector(cases: list[np.ndarray]) -> Detector:
    """Per-machine runs: per run the mean over cases of one resampled measurement, plus the level."""

    def detect(_: np.ndarray, rng: np.random.Generator, steps: dict[int, float]) -> list[tuple[int, int]]:
        level = np.cumsum([math.log1p(steps.get(k, 0.0)) for k in range(LENGTH)])
        runs = np.array([np.mean([rng.choice(c) for c in cases]) for _ in range(LENGTH)]) + level
        found = change_points(runs, TTest(runs), MAX_PVALUE, MIN_MAGNITUDE)
        return [(c.index - 1, c.index + 1) for c in found]  # within one commit

    return detect


def score(
    detectors: list[Detector], steps: dict[int, float], trials: int, rng: np.random.Generator
) -> tuple[int, int, int]:
    """(trials whose step was found, true change points, false change points) over ``trials`` histories."""
    found = true = false = 0
    for trial in range(trials):
        placed = _placed(steps, rng)
        spans = detectors[trial % len(detectors)](np.empty(0), rng, placed)
        hit = [s for s in spans if placed and any(s[0] <= k <= s[1] for k in placed)]
        found += bool(hit)
        true += len(hit)
        false += len(spans) - len(hit)
    return found, true, false


def _cell(found: int, true: int, false: int, trials: int, null: bool) -> str:
    if null:
        return f"{false} false in {trials} histories"
    precision = "–" if not true + false else f"{true / (true + false):.0%}"
    return f"{found / trials:.0%} / {precision}"


def table(trials: int, seed: int, aa: Path = AA_FILE) -> str:
    """The Markdown table of recall / precision per scenario and noise source."""
    rng = np.random.default_rng(seed)
    pairs, samples = aa_pairs(aa), aa_samples(aa)
    sds = measured_errors(aa)
    rows = {
        f"chained, real A/A pairs of all {len(pairs)} methods resampled": [
            real_link(c) for c in pairs.values()
        ],
        f"chained, Gaussian, smallest link s.e. ({sds[0]:.2%})": [gaussian_link(sds[0])],
        f"chained, Gaussian, median link s.e. ({sds[len(sds) // 2]:.2%})": [
            gaussian_link(sds[len(sds) // 2])
        ],
        f"chained, Gaussian, largest link s.e. ({sds[-1]:.2%})": [gaussian_link(sds[-1])],
        f"chained, Gaussian, a link at the gate's target MDE of {MAX_MDE:.0%} (s.e. {target_error():.2%})": [
            gaussian_link(target_error())
        ],
    }
    detectors: dict[str, list[Detector]] = {
        name: [chain_detector(link) for link in links] for name, links in rows.items()
    }
    detectors[f"per machine, real A/A measurements of all {len(samples)} methods"] = [
        machine_detector(c) for c in samples.values()
    ]
    lines = [
        f"| history of {LENGTH} commits | " + " | ".join(SCENARIOS) + " |",
        "| --- |" + " --- |" * len(SCENARIOS),
    ]
    for name, group in detectors.items():
        cells = [_cell(*score(group, steps, trials, rng), trials, not steps) for steps in SCENARIOS.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_doc(doc: Path, trials: int, seed: int, aa: Path = AA_FILE) -> None:
    """Replace the text between the markers of ``doc`` with a fresh table (the prose is kept)."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise UsageError(f"{doc} has no {BEGIN} … {END} block to fill")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = (
        f"\n`lbb trend validate --trials {trials} --seed {seed}` on `{aa.name}` "
        f"(each cell: recall / precision over {trials} histories; p < {MAX_PVALUE}, "
        f"moves ≥ {MIN_MAGNITUDE:.0%}):\n\n" + table(trials, seed, aa) + "\n"
    )
    doc.write_text(head + BEGIN + body + END + tail)
