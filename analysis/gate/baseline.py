"""The committed baseline: one machine's run, shown beside this one as a record; a gate only where sound.

Peak bytes are exact on one machine but not across CPU kinds: unchanged code measured on a
2-core AMD EPYC (OpenBLAS ``Haswell`` kernels) against a baseline from a 2-core Intel Xeon
(``SkylakeX``) came out 18 cases "worse" (+5% to +330%) and 13 "better", because torch's CPU
kernels (MKL, oneDNN) pick other code paths and workspaces there. Times differ even between
machines of one kind (×2.4 to ×5.3). So the gate's control is the base commit measured in the
same job (:mod:`analysis.gate.memory`, :mod:`analysis.gate.timing`), and this module:

- makes and reads the baseline file (``nox -s baseline``), every field checked on load;
- says in one line which machine the baseline came from and whether it may gate this one
  (:func:`soundness`): only when the CPU model, the BLAS's kernels, torch's CPU capability and
  the library versions are the same, and the profile and thread count match;
- compares a run's peaks with it per case: gated (``worse`` above +5% and 64 KiB) when sound,
  shown as history across machines (``not gated``) otherwise; a missing baseline is a note,
  never a failure;
- shows a run's times beside the baseline's, per method, never gated.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.gate.history import BASELINE_SCHEMA, TIME_METRICS, describe_threads, machine_id
from analysis.gate.timing import method_key
from analysis.load import Run, load_run
from bench.cases import method_and_variant, split_name
from bench.costs import roof
from bench.rundir.fields import RecordError, load_json
from bench.units import format_bytes

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BASELINE = REPO / "reports" / "baseline" / "quick-cpu.json"
"""Resolved from the project's root, not the current directory, so ``regress`` finds it anywhere."""
MAX_SAMPLES = 64
MEMORY_FLOOR = 64 * 1024
NOT_MEASURED = "not measured in the current run"


STATUSES = ("ok", "skipped", "failed")


@dataclass(frozen=True)
class Thresholds:
    memory: float = 0.05
    allow_partial: bool = False  # True: missing comparisons are reported, not an error


class BaselineError(ValueError):
    """A missing, corrupt or incompatible baseline: exit status 2."""


def _thin(samples: list[float]) -> list[float]:
    """At most MAX_SAMPLES samples, evenly spread over the rounds (keeps the file small)."""
    if len(samples) <= MAX_SAMPLES:
        return list(samples)
    index = np.linspace(0, len(samples) - 1, MAX_SAMPLES).round().astype(int)
    return [samples[i] for i in index]


ROOF_COLUMN = {"copy": "copy_roof_gbps", "gemm": "gemm_roof_gflops"}
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
    samples = {name: entry.samples for name, entry in run.timings.items()}
    cases = run.cases
    roofs = run_roofs(cases)
    out: dict[str, dict[str, Any]] = {}
    formula = {}
    for _, row in cases.iterrows():
        if row["family"] == "formula" and row["variant"] == "" and row["case"] in samples:
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
            kind = roof(row["family"])
            work = (row["bytes_moved"] if kind == "copy" else row["flops"]) / 1e9
            rate = roofs.get((row["backend"], row["device"], row["dtype"], ROOF_COLUMN[kind]), np.nan)
            if np.isfinite(rate) and work > 0:  # time ÷ the time the roof would take
                entry["norm_time"] = [t * rate / work for t in entry["raw_time"]]
            base = formula.get((row["backend"], row["device"], row["dtype"], row["n"], row["d"], row["m"]))
            if base and row["family"] != "formula":
                entry["ratio"] = [t / base for t in entry["raw_time"]]
                entry["formula_time"] = base
        out[row["case"]] = entry
    return out


def make_baseline(run: Run) -> dict[str, Any]:
    """A baseline from a complete run that measured memory; BaselineError for anything less.

    An interrupted run, a headline run or a runtime-only run would gate later runs against a
    handful of cases, or none, and a gate that compares nothing must not pass.
    """
    status = run.meta.get("status")
    if status != "complete":
        raise BaselineError(f"{run.path / 'run.json'}: status is {status!r}; a baseline needs a complete run")
    if run.meta.get("headline") or run.meta.get("profile", {}).get("name") == "headline":
        raise BaselineError(f"{run.path}: a headline run is no baseline; use a sweep of the quick profile")
    if "memory" not in run.meta.get("options", {}).get("passes", ["memory"]):
        raise BaselineError(f"{run.path}: the run has no memory pass, and memory is what a baseline gates")
    machine = run.meta.get("machine", {})
    cases = metrics_of(run)
    if not any("peak_bytes" in entry for entry in cases.values()):
        raise BaselineError(f"{run.path}: no case has a measured peak; nothing to gate against")
    return {
        "schema": BASELINE_SCHEMA,
        "source_run": run.run_id,
        "profile": run.meta.get("profile", {}).get("name"),
        "threads": run.meta.get("profile", {}).get("threads"),
        "machine_id": machine_id(run.meta),
        "machine": machine,
        "commit": (machine.get("commit") or {}).get("id"),
        "created_utc": machine.get("timestamp_utc"),
        "cases": cases,
    }


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _check_case(path: Path, case: str, entry: Any) -> None:
    """One line naming the file, case and field of the first value that cannot be gated."""
    if not isinstance(entry, dict):
        raise BaselineError(f"baseline {path}: cases.{case} is not an object")
    if entry.get("status") not in STATUSES:
        raise BaselineError(
            f"baseline {path}: cases.{case}.status is {entry.get('status')!r}, "
            f"not one of {', '.join(STATUSES)}"
        )
    if "peak_bytes" in entry and not (
        isinstance(entry["peak_bytes"], int) and _positive(entry["peak_bytes"])
    ):
        raise BaselineError(
            f"baseline {path}: cases.{case}.peak_bytes is {entry['peak_bytes']!r}, "
            "not a positive whole number"
        )
    for metric in TIME_METRICS:
        if metric not in entry:
            continue
        samples = entry[metric]
        if not isinstance(samples, list) or not samples or not all(_positive(x) for x in samples):
            raise BaselineError(
                f"baseline {path}: cases.{case}.{metric} must be a non-empty list of positive numbers"
            )


def read_baseline(path: Path) -> dict[str, Any]:
    """The baseline at ``path``, every field checked; BaselineError (exit 2) with one line otherwise."""
    if not path.exists():
        raise BaselineError(f"baseline {path} does not exist; create one with: nox -s baseline")
    if path.is_dir():
        raise BaselineError(f"baseline {path} is a directory, not a baseline file")
    try:
        data = load_json(path, required=True)  # the one JSON reader, with its one-line errors
    except RecordError as exc:
        raise BaselineError(f"baseline {exc}") from None
    if not isinstance(data, dict) or "cases" not in data:
        raise BaselineError(f"baseline {path} holds no cases; is it a baseline file?")
    if data.get("schema") != BASELINE_SCHEMA:
        raise BaselineError(
            f"baseline {path} has schema {data.get('schema')}, this suite reads schema {BASELINE_SCHEMA}; "
            "regenerate it with: nox -s baseline"
        )
    if not isinstance(data["cases"], dict) or not data["cases"]:
        raise BaselineError(f"baseline {path}: cases must be a non-empty object keyed by case name")
    for case, entry in data["cases"].items():
        _check_case(path, case, entry)
    commit = data.get("commit")
    if commit is not None and not isinstance(commit, str):
        raise BaselineError(f"baseline {path}: commit is {commit!r}, not a commit hash")
    return data


def fingerprint(machine: dict[str, Any]) -> dict[str, Any]:
    """What decides which kernels, and so which workspaces, a CPU run uses: CPU model, BLAS
    kernels, torch's CPU capability, library versions. Two runs with equal fingerprints allocate
    alike; two without may not."""
    blas = sorted({str(b.get("architecture")) for b in machine.get("blas") or [] if b.get("architecture")})
    return {
        "cpu_model": machine.get("cpu_model"),
        "blas_kernels": blas,
        "cpu_capability": machine.get("cpu_capability"),
        "torch": machine.get("torch"),
        "numpy": machine.get("numpy"),
    }


def describe_machine(machine: dict[str, Any]) -> str:
    """``AMD EPYC (BLAS Haswell, torch 2.13.0+cpu)``."""
    facts = fingerprint(machine)
    kernels = "/".join(facts["blas_kernels"]) or "?"
    capability = f", {facts['cpu_capability']}" if facts["cpu_capability"] else ""
    return f"{facts['cpu_model']} (BLAS {kernels}{capability}, torch {facts['torch']})"


@dataclass(frozen=True)
class Soundness:
    """Whether a baseline may gate a run, and one line that says so and why."""

    gates: bool
    line: str
    source: str = ""  # "baseline from <machine>, commit <id>, <date>"
    why: str = ""  # when it does not gate: what differs


def soundness(baseline: dict[str, Any], meta: dict[str, Any]) -> Soundness:
    """A baseline gates a run only of its own profile and threads, on a machine of its fingerprint.

    Every other comparison is history across machines: shown, never gated. The line names the
    baseline's machine and commit, and what differs when it does not gate.
    """
    machine = meta.get("machine", {})
    where = (
        f"baseline from {describe_machine(baseline.get('machine', {}))}, commit "
        f"{str(baseline.get('commit') or '?')[:12]}, {str(baseline.get('created_utc') or '?')[:10]}"
    )
    profile = meta.get("profile", {})
    ours = (profile.get("name"), profile.get("threads"))
    theirs = (baseline.get("profile"), baseline.get("threads"))
    if ours != theirs:
        why = (
            f"it is of profile {theirs[0]} on {describe_threads(theirs[1])}, "
            f"this run of profile {ours[0]} on {describe_threads(ours[1])}"
        )
        return Soundness(False, f"{where}: a record only, not gated: {why}", where, why)
    mine, its = fingerprint(machine), fingerprint(baseline.get("machine", {}))
    differ = [key for key in mine if mine[key] != its[key]]
    if differ:
        why = (
            f"this run is on {describe_machine(machine)} "
            f"({', '.join(k.replace('_', ' ') for k in differ)} differ), and peaks depend on the "
            "CPU's kernels; the same-job A/B is the gate"
        )
        return Soundness(False, f"{where}: a record only, not gated: {why}", where, why)
    return Soundness(
        True, f"{where}: gates this run (same CPU model, BLAS kernels and library versions)", where
    )


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


def format_value(metric: str, value: float, scope: str = "case") -> str:
    if not np.isfinite(value):
        return "–"
    if scope == "method":  # the geometric mean of the cases' ratios to their baseline
        return f"×{value:.3g}"
    if metric == "peak_bytes":
        return format_bytes(int(value), decimal=False)
    if metric == "raw_time":
        return f"{value * 1e3:.4g} ms"
    return f"{value:.4g}"


def _rows(verdicts: list[Verdict]) -> list[str]:
    rows = []
    for v in verdicts:
        was, now = format_value(v.metric, v.baseline, v.scope), format_value(v.metric, v.current, v.scope)
        change = "–" if not np.isfinite(v.change) else f"{v.change:+.1%}"
        rows.append(f"| `{v.case}` | {v.metric} | {was} | {now} | {change} | {v.verdict} | {v.note} |")
    return rows


def markdown(outcome: Outcome, baseline_path: Path, run: Run) -> str:
    head = "| case | metric | baseline | current | change | verdict | note |\n" + "| --- " * 7 + "|"
    state = "REGRESSED" if outcome.worse else "INCOMPLETE" if outcome.incomplete else "passed"
    if not outcome.sound.gates and not outcome.incomplete:
        state = "a record, not gated"
    lines = [
        f"### Memory against the committed baseline: {state}",
        "",
        f"Run `{run.path}` against `{baseline_path}`: {outcome.sound.line}.",
        "",
        f"**{outcome.memory_line()}; {len(outcome.worse)} worse, {len(outcome.better)} better.**",
    ]
    moved = [
        v
        for v in outcome.verdicts
        if v.verdict == "not gated" and v.scope == "case" and v.note.split()[0] != "held"
    ]
    for title, group in (
        ("Worse", outcome.worse),
        ("Better", outcome.better),
        ("Missing", outcome.missing),
        ("Moved beyond the gate's limits (history across machines)", moved),
    ):
        if group:
            lines += ["", f"#### {title}", "", head, *_rows(group[:50])]
            if len(group) > 50:
                lines.append(f"… and {len(group) - 50} more")
    if outcome.times:
        lines += ["", f"#### Time against the baseline's run ({OTHER_RUN})", "", head, *_rows(outcome.times)]
    return "\n".join(lines) + "\n"


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


def summary_json(outcome: Outcome, baseline_path: Path, run: Run) -> dict[str, Any]:
    return {
        "baseline": str(baseline_path),
        "current": str(run.path),
        "thresholds": outcome.limits.__dict__,
        "gated": outcome.sound.gates,
        "baseline_line": outcome.sound.line,
        "worse": len(outcome.worse),
        "better": len(outcome.better),
        "missing": len(outcome.missing),
        "compared": len(outcome.compared),
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


def _json_float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
