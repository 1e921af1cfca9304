"""Regression tracking that survives a change of machine, with a significance test.

Metrics per case:

- ``peak_bytes``: deterministic, exact bytes; fails above +5% (and at least 64 KiB more, so that
  a few KiB of allocator noise on a 20 KiB case cannot fail a build).
- ``norm_time``: the time divided by what the case's work would take at the roof (copy bandwidth
  for the Jacobian families, GEMM throughput for the others): the inverse of the fraction of
  the roof reached. The roof is the median, over the run, of the roofs measured just before
  each case of the same backend, device and dtype (see ``run_roofs``). Gated per method: the
  geometric mean of its cases' changes fails above +25% when the median case moved past +25%
  too and a one-sided Mann–Whitney U test over the pooled rounds says the shift is significant
  (p < 0.01). Each case's change is shown.
- ``ratio``: a method's time over the formula's at the same size, same backend, same run;
  gated like ``norm_time``.
- ``raw_time``: shown always, gated only when baseline and current come from the same machine
  (pytest-benchmark's own ``--benchmark-compare-fail`` compares raw times only, across machines
  too, with no significance test).

Pytest-benchmark's machine-bound comparison is exactly what this replaces: a baseline from
another machine still gates memory, normalised time and ratios.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Run, load_run
from bench.costs import TIME_DRIVER
from bench.store import RUNTIME_FILE, write_json_atomic

BASELINE_SCHEMA = 2
"""2: normalised time against the run's median roof, and the profile's thread count recorded."""
DEFAULT_BASELINE = Path("reports/baseline/quick-cpu.json")
DEFAULT_HISTORY = Path("reports/history.jsonl")
MAX_SAMPLES = 64
MEMORY_FLOOR = 64 * 1024
NOT_MEASURED = "not measured in the current run"


@dataclass(frozen=True)
class Thresholds:
    memory: float = 0.05
    norm_time: float = 0.25
    ratio: float = 0.25
    raw_time: float = 0.25
    alpha: float = 0.01
    gate_time: bool = True  # False: time metrics are shown, only memory and failures gate


class BaselineError(ValueError):
    """A missing, corrupt or incompatible baseline: exit status 2."""


def machine_id(meta: dict[str, Any]) -> str:
    machine = meta.get("machine", {})
    gpus = ",".join(g.get("name", "?") for g in machine.get("gpus") or [])
    host = f"{machine.get('hostname')}#{machine.get('system_id')}"  # "vm" alone names many machines
    return f"{host}|{machine.get('cpu_model')}|{machine.get('cores')}|{gpus}"


def _thin(samples: list[float]) -> list[float]:
    """At most MAX_SAMPLES samples, evenly spread over the rounds (keeps the file small)."""
    if len(samples) <= MAX_SAMPLES:
        return list(samples)
    index = np.linspace(0, len(samples) - 1, MAX_SAMPLES).round().astype(int)
    return [samples[i] for i in index]


ROOF_COLUMN = {True: "copy_roof_gbps", False: "gemm_roof_gflops"}
LOCAL_ROOF_COLUMN = {"copy_roof_gbps": "local_copy_roof_gbps", "gemm_roof_gflops": "local_gemm_roof_gflops"}


def run_roofs(cases: pd.DataFrame) -> dict[tuple[str, str, str, str], float]:
    """Per backend, device, dtype and roof: the median of the roofs measured just before each case.

    Only the roofs the runtime pass measured before each case count (a case measures the one
    its family is compared with, with its own backend); a run that has none falls back to the
    roof measured at its start. Why not each case's own roof: that one is right for the
    report's fraction of the roof, but it drifts from case to case (copy bandwidth 24 to 41 GB/s
    within one quick run), and a method whose small cases run in cache (the streamed one) does
    not drift with it, so its normalised time moved by up to 30% between runs of unchanged code
    while its raw time held within 10%. The run's median holds within a few percent between
    runs and still follows a slower or faster machine.
    """
    roofs: dict[tuple[str, str, str, str], float] = {}
    timed = cases.dropna(subset=["time_median_s"])
    for key, group in timed.groupby(["backend", "device", "dtype"]):
        for column, local in LOCAL_ROOF_COLUMN.items():
            values = group[local].dropna() if local in group else pd.Series(dtype=float)
            if values.empty:
                values = group[column].dropna()
            if not values.empty:
                roofs[(*key, column)] = float(values.median())
    return roofs


def metrics_of(run: Run) -> dict[str, dict[str, Any]]:
    """Per case: peak bytes, raw and normalised time samples, ratio samples to the formula."""
    runtime = json.loads((run.path / RUNTIME_FILE).read_text()) if (run.path / RUNTIME_FILE).exists() else {}
    samples = {
        b["extra_info"]["case"]: b["stats"].get("data") or [b["stats"]["median"]]
        for b in runtime.get("benchmarks", [])
    }
    cases = run.cases
    roofs = run_roofs(cases)
    out: dict[str, dict[str, Any]] = {}
    formula = {}
    for _, row in cases.iterrows():
        if row["family"] == "formula" and row["case"] in samples:
            formula[(row["backend"], row["device"], row["dtype"], row["n"], row["d"], row["m"])] = (
                statistics.median(samples[row["case"]])
            )
    for _, row in cases.iterrows():
        entry: dict[str, Any] = {"status": row["status"], "reason": row["reason"], "label": row["label"]}
        if np.isfinite(row["peak_bytes"]):
            entry["peak_bytes"] = int(row["peak_bytes"])
        raw = samples.get(row["case"])
        if raw:
            entry["raw_time"] = _thin(raw)
            copy = TIME_DRIVER[row["family"]] == "bytes_moved"
            work = (row["bytes_moved"] if copy else row["flops"]) / 1e9
            rate = roofs.get((row["backend"], row["device"], row["dtype"], ROOF_COLUMN[copy]), np.nan)
            if np.isfinite(rate) and work > 0:  # time ÷ the time the roof would take
                entry["norm_time"] = [t * rate / work for t in entry["raw_time"]]
            base = formula.get((row["backend"], row["device"], row["dtype"], row["n"], row["d"], row["m"]))
            if base and row["family"] != "formula":
                entry["ratio"] = [t / base for t in entry["raw_time"]]
                entry["formula_time"] = base
        out[row["case"]] = entry
    return out


def make_baseline(run: Run) -> dict[str, Any]:
    machine = run.meta.get("machine", {})
    return {
        "schema": BASELINE_SCHEMA,
        "source_run": run.run_id,
        "profile": run.meta.get("profile", {}).get("name"),
        "threads": run.meta.get("profile", {}).get("threads"),
        "machine_id": machine_id(run.meta),
        "machine": machine,
        "commit": (machine.get("commit") or {}).get("id"),
        "created_utc": machine.get("timestamp_utc"),
        "cases": metrics_of(run),
    }


def read_baseline(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise BaselineError(f"baseline {path} does not exist; create one with: nox -s baseline")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path} is corrupt JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or "cases" not in data:
        raise BaselineError(f"baseline {path} holds no cases; is it a baseline file?")
    if data.get("schema") != BASELINE_SCHEMA:
        raise BaselineError(
            f"baseline {path} has schema {data.get('schema')}, this suite reads schema {BASELINE_SCHEMA}; "
            "regenerate it with: nox -s baseline"
        )
    return data


def describe_threads(threads: int | None) -> str:
    """A profile's thread setting in words: "1 thread", "4 threads" or "all cores"."""
    return "all cores" if threads is None else f"{threads} thread{'s' * (threads != 1)}"


def check_like_for_like(baseline: dict[str, Any], run: Run, baseline_path: Path) -> None:
    """A baseline gates only a run of its own profile on its own thread count."""
    profile = run.meta.get("profile", {})
    ours = (profile.get("name"), profile.get("threads"))
    theirs = (baseline.get("profile"), baseline.get("threads"))
    if ours != theirs:
        raise BaselineError(
            f"baseline {baseline_path} is of profile {theirs[0]} on {describe_threads(theirs[1])}, "
            f"the run {run.path} of profile {ours[0]} on {describe_threads(ours[1])}; "
            "compare runs of the same profile"
        )


@dataclass
class Verdict:
    case: str
    metric: str
    baseline: float
    current: float
    change: float
    p_value: float | None
    verdict: str  # "worse", "better", "held", "not gated"
    note: str = ""
    scope: str = "case"  # "method": values are relative to the baseline (its cases' geometric mean)


def method_key(case: str) -> str:
    """``explicit-torch-warm[cpu-float32-N16-D64-M64]`` → ``explicit-torch-warm[cpu-float32]``."""
    label, _, params = case.partition("[")
    device, dtype = params.split("-")[:2]
    return f"{label}[{device}-{dtype}]"


def _method_shift(
    pairs: list[tuple[str, list[float], list[float]]], limit: float, alpha: float
) -> tuple[float, float, str, str]:
    """A method's change over its cases, and a Mann–Whitney U test on the pooled rounds.

    The change is the geometric mean of the cases' changes. It counts as worse (or better) only
    when the median case moved past the threshold too, so that the shift is broad: a real
    regression of a method moves most of its cases, while a stretch of interference on a
    shared machine moves the few cases that ran during it. Seen here: unchanged jacrev-torch,
    five consecutive cases of sixteen 45–88% slower, a geometric mean of +19% and a median
    case of +5%. Each case's rounds are divided by its baseline median, so that cases of every
    size pool together for the test.
    """
    logs = [np.log(statistics.median(c) / statistics.median(b)) for _, b, c in pairs]
    change = float(np.exp(np.mean(logs)) - 1)
    typical = float(np.exp(np.median(logs)) - 1)
    base = [x / statistics.median(b) for _, b, _ in pairs for x in b]
    cur = [x / statistics.median(b) for _, b, c in pairs for x in c]
    worst = max(zip(logs, pairs, strict=True), key=lambda item: abs(item[0]))
    note = (
        f"{len(pairs)} cases, median case {typical:+.0%}; "
        f"most moved: {worst[1][0]} ({np.exp(worst[0]) - 1:+.0%})"
    )
    if min(change, typical) > limit:
        p = float(stats.mannwhitneyu(cur, base, alternative="greater").pvalue)
        return change, p, "worse" if p < alpha else "held", note
    if max(change, typical) < 1 / (1 + limit) - 1:
        p = float(stats.mannwhitneyu(cur, base, alternative="less").pvalue)
        return change, p, "better" if p < alpha else "held", note
    return change, float("nan"), "held", note


def compare(
    baseline: dict[str, Any], current: dict[str, dict[str, Any]], same_machine: bool, limits: Thresholds
) -> list[Verdict]:
    """Memory and failures gate per case; time metrics gate per method (and show per case).

    Per case, times of unchanged code moved by up to 77% between back-to-back quick runs on
    the shared 2-core machine (nine in ten by under 19%); a method's aggregate over its cases
    is what a real regression of that method moves, and such noise mostly cancels in it.
    """
    verdicts = []
    pooled: dict[tuple[str, str], list[tuple[str, list[float], list[float]]]] = {}
    for case, base in sorted(baseline["cases"].items()):
        cur = current.get(case)
        if cur is None:
            verdicts.append(
                Verdict(case, "status", np.nan, np.nan, np.nan, None, "not gated", "not in the current run")
            )
            continue
        if base.get("status") == "ok" and cur.get("status") == "failed":
            verdicts.append(
                Verdict(
                    case, "status", np.nan, np.nan, np.nan, None, "worse", f"now fails: {cur.get('reason')}"
                )
            )
            continue
        if "peak_bytes" in base and "peak_bytes" in cur:
            b, c = base["peak_bytes"], cur["peak_bytes"]
            change = c / b - 1 if b else 0.0
            verdict = "held"
            if change > limits.memory and c - b > MEMORY_FLOOR:
                verdict = "worse"
            elif change < -limits.memory and b - c > MEMORY_FLOOR:
                verdict = "better"
            verdicts.append(Verdict(case, "peak_bytes", b, c, change, None, verdict))
        for metric in ("norm_time", "ratio", "raw_time"):
            if metric in base and metric not in cur:  # e.g. a run of --passes memory
                verdicts.append(
                    Verdict(
                        case,
                        metric,
                        statistics.median(base[metric]),
                        np.nan,
                        np.nan,
                        None,
                        "not gated",
                        NOT_MEASURED,
                    )
                )
            if metric in base and metric in cur:
                change = statistics.median(cur[metric]) / statistics.median(base[metric]) - 1
                verdicts.append(
                    Verdict(
                        case,
                        metric,
                        statistics.median(base[metric]),
                        statistics.median(cur[metric]),
                        change,
                        None,
                        "not gated",
                        "per case: shown; the method gates",
                    )
                )
                pooled.setdefault((method_key(case), metric), []).append((case, base[metric], cur[metric]))
    limit_of = {"norm_time": limits.norm_time, "ratio": limits.ratio, "raw_time": limits.raw_time}
    for (method, metric), pairs in sorted(pooled.items()):
        change, p, verdict, note = _method_shift(pairs, limit_of[metric], limits.alpha)
        if metric == "raw_time" and not same_machine:
            verdict, note = "not gated", f"other machine; {note}"
        elif not limits.gate_time:
            verdict, note = "not gated", f"time not gated (--gate memory); {note}"
        verdicts.append(
            Verdict(
                method, metric, 1.0, 1.0 + change, change, None if np.isnan(p) else p, verdict, note, "method"
            )
        )
    return verdicts


@dataclass
class Outcome:
    verdicts: list[Verdict]
    same_machine: bool
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def worse(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == "worse"]

    @property
    def better(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == "better"]

    @property
    def unmeasured(self) -> list[Verdict]:
        """Time metrics the baseline has and the current run does not (e.g. --passes memory)."""
        return [v for v in self.verdicts if v.note == NOT_MEASURED]

    @property
    def held_methods(self) -> list[Verdict]:
        """Method-level time verdicts that neither got worse nor better (held, or not gated)."""
        return [v for v in self.verdicts if v.scope == "method" and v.verdict in ("held", "not gated")]

    def memory_line(self) -> str:
        """One line on the peaks that held: how many, and the largest move among them."""
        held = [v for v in self.verdicts if v.metric == "peak_bytes" and v.verdict == "held"]
        if not held:
            return "peak memory: no case held"
        largest = max(held, key=lambda v: abs(v.change))
        if largest.change == 0:
            return f"peak memory: {len(held)} cases held, every one to the byte"
        return f"peak memory: {len(held)} cases held; largest move {largest.change:+.2%} ({largest.case})"

    @property
    def exit_status(self) -> int:
        return 1 if self.worse else 0


def format_value(metric: str, value: float, scope: str = "case") -> str:
    if not np.isfinite(value):
        return "–"
    if scope == "method":  # the geometric mean of the cases' ratios to their baseline
        return f"×{value:.3g}"
    if metric == "peak_bytes":
        from bench.costs import format_bytes

        return format_bytes(int(value), decimal=False)
    if metric == "raw_time":
        return f"{value * 1e3:.4g} ms"
    return f"{value:.4g}"


def _rows(verdicts: list[Verdict]) -> list[str]:
    rows = []
    for v in verdicts:
        p = "–" if v.p_value is None else f"{v.p_value:.1e}"
        was, now = format_value(v.metric, v.baseline, v.scope), format_value(v.metric, v.current, v.scope)
        rows.append(f"| `{v.case}` | {v.metric} | {was} | {now} | {v.change:+.1%} | {p} | {v.note} |")
    return rows


SAME = "same machine: raw times gate too"
OTHER = "other machine: raw times shown, not gated"


def markdown(outcome: Outcome, baseline_path: Path, run: Run) -> str:
    held = sum(v.verdict == "held" for v in outcome.verdicts)
    ungated = sum(v.verdict == "not gated" for v in outcome.verdicts)
    head = "| case | metric | baseline | current | change | p | note |\n" + "| --- " * 7 + "|"
    lines = [
        f"## Regression check: {'REGRESSED' if outcome.worse else 'passed'}",
        "",
        f"Current run `{run.run_id}` against baseline `{baseline_path}` "
        f"({SAME if outcome.same_machine else OTHER}).",
        "",
        f"**{len(outcome.worse)} worse, {len(outcome.better)} better, {held} held, {ungated} not gated.**",
    ]
    for title, group in (("Worse", outcome.worse), ("Better", outcome.better)):
        if group:
            lines += ["", f"### {title}", "", head, *_rows(group)]
    lines += ["", "### Held", "", outcome.memory_line() + ".", ""]
    if outcome.unmeasured:
        lines += [f"{len(outcome.unmeasured)} time metrics of the baseline were {NOT_MEASURED}.", ""]
    if outcome.held_methods:
        lines += ["Time, per method:", "", head, *_rows(outcome.held_methods)]
    return "\n".join(lines) + "\n"


def append_history(path: Path, run: Run, current: dict[str, dict[str, Any]]) -> None:
    """One JSON line per case: commit, date, machine, and the medians of each metric."""
    machine = run.meta.get("machine", {})
    common = {
        "commit": (machine.get("commit") or {}).get("id"),
        "date": machine.get("timestamp_utc"),
        "machine": machine_id(run.meta),
        "run_id": run.run_id,
        "schema": BASELINE_SCHEMA,  # what norm_time means
        "profile": run.meta.get("profile", {}).get("name"),
        "threads": run.meta.get("profile", {}).get("threads"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        for case, entry in sorted(current.items()):
            values = {
                k: statistics.median(entry[k]) for k in ("norm_time", "ratio", "raw_time") if k in entry
            }
            if "peak_bytes" in entry:
                values["peak_bytes"] = entry["peak_bytes"]
            if values:
                handle.write(
                    json.dumps(common | {"case": case, "label": entry["label"], "metrics": values}) + "\n"
                )


def github_action_benchmark(current: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """github-action-benchmark's ``customSmallerIsBetter`` entries."""
    entries = []
    for case, entry in sorted(current.items()):
        if "norm_time" in entry:
            entries.append(
                {
                    "name": f"{case} normalised time",
                    "unit": "× roof time",
                    "value": statistics.median(entry["norm_time"]),
                }
            )
        if "peak_bytes" in entry:
            entries.append({"name": f"{case} peak memory", "unit": "bytes", "value": entry["peak_bytes"]})
    return entries


def regress(
    run_dir: Path, baseline_path: Path, history: Path | None, limits: Thresholds, out: Path | None = None
) -> Outcome:
    """Compare a run with a baseline; write regress.json, regress.md, gab.json; append history."""
    baseline = read_baseline(baseline_path)
    run = load_run(run_dir)
    check_like_for_like(baseline, run, baseline_path)
    current = metrics_of(run)
    same = machine_id(run.meta) == baseline.get("machine_id")
    outcome = Outcome(compare(baseline, current, same, limits), same)
    target = out or run.path
    target.mkdir(parents=True, exist_ok=True)
    summary = {
        "baseline": str(baseline_path),
        "current": str(run.path),
        "same_machine": same,
        "thresholds": limits.__dict__,
        "worse": len(outcome.worse),
        "better": len(outcome.better),
        "exit_status": outcome.exit_status,
        "results": [
            v.__dict__
            | {
                "baseline": _json_float(v.baseline),
                "current": _json_float(v.current),
                "change": _json_float(v.change),
            }
            for v in outcome.verdicts
        ],
    }
    outcome.files = {
        "json": target / "regress.json",
        "markdown": target / "regress.md",
        "gab": target / "gab.json",
    }
    write_json_atomic(outcome.files["json"], summary)
    outcome.files["markdown"].write_text(markdown(outcome, baseline_path, run))
    write_json_atomic(outcome.files["gab"], github_action_benchmark(current))
    if history is not None:
        append_history(history, run, current)
    return outcome


def _json_float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
