"""What ``lbb regress``, ``noise`` and ``baseline`` run (their parsers are :mod:`lbb.commands`'):
gate a change, measure the gate's noise, keep a record.

``regress`` compares the working tree (head) with a base commit (``--against``; by default the
commit the committed baseline records) **measured in the same job on the same machine**, the
base checked out in a temporary worktree (:mod:`bench.abtest`):

- **memory**: each case's peak once per side in a fresh process; a case fails when it grows
  beyond the allocator's jitter (:mod:`analysis.gate.memory`);
- **time**: interleaved repetitions of both sides; a method fails when its whole interval of
  head ÷ base lies above ×1.05, is *inconclusive* (a warning) when it held but could have missed
  a 10% slowdown, and *not compared* when it had too few pairs for an interval
  (:mod:`analysis.gate.timing`). Methods still undecided after the profile's repetitions get
  more, until ``--time-budget`` is spent.

The committed baseline is a record: the head's peaks are shown against it as history across
machines. With ``--current RUN_DIR`` (a finished sweep, no A/B unless ``--against`` is given)
that run's peaks are compared with the baseline, and gate only when the baseline came from a
machine of the same fingerprint (:func:`analysis.gate.baseline.soundness`); its times are shown,
never gated. A missing baseline is a note, never a failure.

Exit status: 0 passed; 1 a regression; 2 bad input (a bad ``--against``, an unreadable run or
baseline, a locked ``--out``) or a gate that compared too little (a method with too few pairs, a
memory A/B that compared nothing) unless ``--allow-partial``; 130 after Ctrl-C and 143 after
SIGTERM, with what was measured written and marked interrupted. The smallest profile that can
gate time is ``quick`` (2 points × 8 repetitions: 16 pairs per method; a 95% interval needs 6).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.gate import memory as peaks_gate
from analysis.gate import timing
from analysis.gate.baseline import (
    DEFAULT_BASELINE,
    BaselineError,
    Outcome,
    Thresholds,
    compare,
    format_value,
    gate_memory,
    github_action_benchmark,
    make_baseline,
    read_baseline,
    soundness,
    summary_json,
)
from analysis.gate.baseline import markdown as baseline_markdown
from analysis.gate.history import DEFAULT_HISTORY, append_history
from analysis.load import load_run
from analysis.report.output import write_atomically
from bench.abtest.runner import AB_FILE, PEAKS_FILE, ABError, Side, ab_cases, peak_cases, run_ab, run_peaks
from bench.abtest.worktree import RefError, checkout, head_commit, is_dirty, repo_root, resolve_commit
from bench.harness import children
from bench.harness.threads import clamp_numba_threads
from bench.profiles import PROFILES, Profile
from bench.rundir.fields import RecordError
from bench.rundir.lock import RunLockedError, run_lock
from bench.rundir.store import RUN_FILE, RunFileError, write_json_atomic
from bench.usage import EXIT_USAGE, REPORTS, UsageError, stamp

HEAD_TREE = Path(__file__).resolve().parents[2]
DEFAULT_CONFIDENCE = 0.95
DEFAULT_TIME_BUDGET_S = 420.0
"""Seconds the time A/B may run in all, the profile's repetitions included, before it stops
adding repetitions for methods whose MDE is still above 10% (docs/gate.md: what it costs in CI)."""


def _methods(names: tuple[str, ...]) -> list[str]:
    """The methods ``--methods`` chose (:mod:`lbb.options` checks each name)."""
    return list(names)


@dataclass
class Report:
    """What regress or noise has found so far: written on every way out, interrupted included."""

    out: Path
    name: str  # "regress" or "noise"
    title: str
    sections: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    not_gated: str | None = None  # why a regress --current compared against a record only

    def worse(self, status: int) -> None:
        self.status = max(self.status, status)

    def write(self, state: str) -> None:
        self.summary["exit_status"] = self.status
        self.summary["state"] = state
        text = f"## {self.title}: {state}\n\n" + "\n".join(self.sections)
        write_json_atomic(self.out / f"{self.name}.json", self.summary)
        write_atomically(self.out / f"{self.name}.md", lambda tmp: tmp.write_text(text))


def _profile(name: str) -> Profile:
    if name not in PROFILES:  # a baseline's recorded profile this code no longer has
        raise UsageError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name]


def _head() -> Side:
    return Side("head", HEAD_TREE, head_commit(HEAD_TREE), is_dirty(HEAD_TREE))


def _base_commit(args: argparse.Namespace, baseline: dict[str, Any] | None) -> str:
    repo = repo_root(HEAD_TREE)
    if args.against is not None:
        return resolve_commit(repo, args.against)
    recorded = (baseline or {}).get("commit")
    if recorded:
        return resolve_commit(repo, recorded, what="the baseline's commit")
    if is_dirty(repo):
        raise RefError(
            "no --against given, the baseline records no commit, and the working tree has uncommitted "
            "changes: name the base with --against REF"
        )
    return resolve_commit(repo, "HEAD")


def _check_out_dir(out: Path) -> None:
    """Refuse an ``--out`` inside another run's directory: its files would mix with that run's."""
    for parent in out.resolve().parents:
        if (parent / RUN_FILE).is_file():
            raise UsageError(
                f"--out {out} is inside the run directory {parent}; choose a directory of its own"
            )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")


def _print_time(gates: list[timing.MethodGate]) -> None:
    worse = [g for g in gates if g.verdict == "worse"]
    compared = [g for g in gates if g.verdict not in ("not compared", "new")]
    unsure = [g for g in gates if g.verdict == "inconclusive"]
    print(
        f"time (A/B): {len(worse)} worse, {len(unsure)} inconclusive, "
        f"{len(compared)} of {len(gates)} methods compared"
    )
    for g in gates:
        if not math.isfinite(g.ratio):
            print(f"  {g.method:40s} {g.verdict}: {g.note}")
        else:
            print(
                f"  {g.method:40s} ×{g.ratio:.3f} [{g.low:.3f}, {g.high:.3f}] MDE {g.mde:+.1%} "
                f"spread {g.spread:.1%} reps {g.reps} {g.verdict}"
                + (f": {g.note}" if g.verdict in ("not compared", "inconclusive") else "")
            )


def _time_ab(
    args: argparse.Namespace, base: Side, head: Side, profile: Profile, report: Report
) -> list[timing.MethodGate]:
    cases = ab_cases(profile, _methods(args.methods), args.device)
    reps = args.reps or profile.ab_reps
    print(
        f"time A/B: base {base.commit[:12] if base.commit else base.tree} against head, "
        f"{len(cases)} cases × {reps} repetitions (budget {args.time_budget:.0f} s)",
        flush=True,
    )

    def more(data: dict[str, Any]) -> list[str]:
        return timing.needs_more(data, args.time_threshold, args.confidence)

    data = run_ab(
        base,
        head,
        cases,
        profile,
        reps,
        report.out / AB_FILE,
        seed=args.seed,
        more=more,
        budget_s=args.time_budget,
    )
    gates = timing.gate(data, args.time_threshold, args.confidence)
    report.sections.append(timing.markdown(data, gates, args.time_threshold, args.confidence))
    report.summary["time"] = {
        "base": data["base"],
        "head": data["head"],
        "threshold": args.time_threshold,
        "confidence": args.confidence,
        "max_mde": timing.MAX_MDE,
        "reps": data["reps"],
        "extra_reps": data["extra_reps"],
        "methods": timing.as_json(gates),
    }
    _print_time(gates)
    if any(g.verdict == "worse" for g in gates):
        report.worse(1)
    uncompared = [g for g in gates if g.verdict == "not compared"]
    if uncompared and not getattr(args, "allow_partial", False):
        print(
            f"time (A/B): INCOMPLETE: {len(uncompared)} of {len(gates)} methods not compared "
            f"({', '.join(g.method for g in uncompared[:4])}); exit 2 (--allow-partial accepts that)",
            file=sys.stderr,
        )
        report.worse(2)
    return gates


def _memory_ab(
    args: argparse.Namespace,
    base: Side,
    head: Side,
    profile: Profile,
    report: Report,
    baseline: tuple[dict[str, Any], Path] | None,
) -> list[peaks_gate.PeakVerdict]:
    cases = peak_cases(profile, _methods(args.methods), args.device)
    print(f"memory A/B: {len(cases)} cases, each once per side in a fresh process", flush=True)
    data = run_peaks(base, head, cases, profile, report.out / PEAKS_FILE, seed=args.seed)
    verdicts = peaks_gate.gate(data)
    report.sections.append(peaks_gate.markdown(data, verdicts))
    report.summary["memory_ab"] = {
        "base": data["base"],
        "head": data["head"],
        "cases": peaks_gate.as_json(verdicts),
    }
    print(peaks_gate.summary_line(verdicts))
    for label, v in sorted(peaks_gate.worst_by_label(verdicts).items()):
        if v.verdict in ("worse", "not compared"):
            print(f"  {v.verdict}: {label}: {v.describe()} at {v.case}")
    status = peaks_gate.exit_status(verdicts, getattr(args, "allow_partial", False))
    if status == 2:
        print("memory (A/B): INCOMPLETE: no case was compared; exit 2", file=sys.stderr)
    report.worse(status)
    if baseline is not None:
        _record_against_baseline(data, baseline, profile, report)
    return verdicts


def _record_against_baseline(
    data: dict[str, Any], baseline: tuple[dict[str, Any], Path], profile: Profile, report: Report
) -> None:
    """The head's A/B peaks beside the committed baseline's, for the cases both have: history, never gated."""
    record, path = baseline
    peaks = {
        p["case"]: {"status": "ok", "peak_bytes": p["head"]["peak_bytes"]}
        for p in data["pairs"]
        if p["head"].get("status") == "ok"
    }
    shared = {
        case: entry for case, entry in record["cases"].items() if case in peaks and "peak_bytes" in entry
    }
    meta = {"machine": data["machine"], "profile": {"name": profile.name, "threads": profile.threads}}
    sound = soundness(record, meta)
    line = (
        f"{sound.source}: shown as history across machines, never gated here "
        "(the same-job A/B is the memory gate)"
    )
    verdicts = compare(record | {"cases": shared}, peaks, Thresholds(), gates=False)
    rows = [v for v in verdicts if v.metric == "peak_bytes"]
    lines = [
        "### Peak memory against the committed baseline: a record",
        "",
        f"`{path}`: {line}. {len(rows)} cases in common.",
        "",
        "| case | baseline | head (this job) | change |",
        "| --- | --- | --- | --- |",
    ]
    for v in rows:
        change = "–" if not math.isfinite(v.change) else f"{v.change:+.1%}"
        was, now = format_value("peak_bytes", v.baseline), format_value("peak_bytes", v.current)
        lines.append(f"| `{v.case}` | {was} | {now} | {change} |")
    report.sections.append("\n".join(lines) + "\n")
    report.summary["baseline_record"] = {"baseline": str(path), "line": line, "cases": len(rows)}
    print(f"baseline: {line}")


def _read_record(args: argparse.Namespace) -> tuple[dict[str, Any], Path] | None:
    """The baseline, or None (with a note) when the default one is missing: it is a record, and
    a missing record never fails a gate. An explicit ``--baseline`` must exist."""
    path = args.baseline or DEFAULT_BASELINE
    if args.baseline is None and not path.exists():
        print(f"baseline: {path} does not exist; nothing to show the run against (not a failure)")
        return None
    return read_baseline(path), path


def _current(args: argparse.Namespace, report: Report, record: tuple[dict[str, Any], Path] | None) -> None:
    """A finished run's peaks against the baseline (gated only when sound), its times as history."""
    if record is None:
        report.sections.append(
            "### Memory against the committed baseline\n\nNo baseline: nothing compared.\n"
        )
        report.not_gated = f"no baseline at {DEFAULT_BASELINE}"
        return
    path = record[1]
    limits = Thresholds(memory=args.memory_threshold, allow_partial=args.allow_partial)
    outcome, run, current = gate_memory(args.current, path, limits, set(_methods(args.methods)))
    report.sections.append(baseline_markdown(outcome, path, run))
    report.summary["memory"] = summary_json(outcome, path, run)
    write_json_atomic(report.out / "gab.json", github_action_benchmark(current))
    append_history(args.history or DEFAULT_HISTORY, run, current)
    _print_baseline(outcome)
    report.worse(outcome.exit_status)
    if not outcome.sound.gates:
        report.not_gated = outcome.sound.why


def _print_baseline(outcome: Outcome) -> None:
    print(f"baseline: {outcome.sound.line}")
    print(outcome.memory_line())
    for title, group in (("worse", outcome.worse), ("better", outcome.better), ("missing", outcome.missing)):
        for v in group[:20]:
            was, now = format_value(v.metric, v.baseline), format_value(v.metric, v.current)
            change = f"{v.change:+.1%}" if math.isfinite(v.change) else ""
            print(f"  {title}: {v.case:55s} {was:>12} → {now:>12} {change} {v.note}")
        if len(group) > 20:
            print(f"  … and {len(group) - 20} more {title}")
    if outcome.incomplete:
        print(
            f"peak memory: INCOMPLETE: {len(outcome.missing)} baseline comparisons missing "
            "(exit 2; --allow-partial accepts that)",
            file=sys.stderr,
        )


@dataclass(frozen=True)
class Plan:
    """What a gate will measure, checked before any directory is made or any minute is spent."""

    profile: Profile
    record: tuple[dict[str, Any], Path] | None = None
    base_commit: str | None = None  # None: no A/B (``--current`` without ``--against``)
    time: bool = False
    memory: bool = False


def _plan_regress(args: argparse.Namespace) -> Plan:
    ab_wanted = args.current is None or args.against is not None
    record = _read_record(args) if (args.gate != "time" or args.against is None) else None
    base_commit = _base_commit(args, record[0] if record else None) if ab_wanted else None
    profile = _profile(args.profile or (record[0].get("profile") if record else None) or "quick")
    _methods(args.methods)
    return Plan(
        profile,
        record,
        base_commit,
        time=args.gate in ("all", "time") and ab_wanted,
        memory=args.gate in ("all", "memory") and ab_wanted,
    )


def _plan_noise(args: argparse.Namespace) -> Plan:
    profile = _profile(args.profile or "quick")
    _methods(args.methods)
    return Plan(profile, time=args.gate in ("all", "time"), memory=args.gate in ("all", "memory"))


def _regress(args: argparse.Namespace, plan: Plan, report: Report) -> None:
    if args.current is not None and args.gate != "time":
        _current(args, report, plan.record)
    if plan.base_commit is None or not (plan.time or plan.memory):
        return
    with checkout(repo_root(HEAD_TREE), plan.base_commit) as tree:
        base = Side("base", tree, plan.base_commit)
        if plan.memory:
            _memory_ab(
                args, base, _head(), plan.profile, report, plan.record if args.current is None else None
            )
        if plan.time:
            _time_ab(args, base, _head(), plan.profile, report)


def _noise(args: argparse.Namespace, plan: Plan, report: Report) -> None:
    """The A/A test: the working tree against itself, exactly as the gate would compare a change."""
    head = _head()
    same = Side("base", head.tree, head.commit, head.dirty)
    if plan.memory:
        verdicts = _memory_ab(args, same, head, plan.profile, report, None)
        moves = [abs(v.growth) for v in verdicts if v.growth is not None]
        jitter = max(moves, default=0)
        report.summary["memory_jitter_bytes"] = jitter
        print(f"noise: largest peak difference between the two sides of a case: {jitter} bytes")
    if plan.time:
        gates = _time_ab(args, same, head, plan.profile, report)
        finite = [g for g in gates if math.isfinite(g.ratio)]
        if finite:
            largest = max(finite, key=lambda g: abs(math.log(g.ratio)))
            mde = max(finite, key=lambda g: g.mde)
            print(
                f"noise: largest ratio ×{largest.ratio:.3f} ({largest.method}); "
                f"largest MDE {mde.mde:+.1%} ({mde.method})"
            )
    alarms = report.status == 1
    report.sections.insert(
        0,
        "**A false alarm: the gate would fail unchanged code here.**\n"
        if alarms
        else "**No false alarm: unchanged code passed the gate.**\n",
    )


def _bench_run(out: Path, *options: str) -> Path:
    """A sweep in its own interpreter and process group, which dies with this one."""
    children.expect_to_be_parent()
    status = children.run_in_own_group([sys.executable, "-m", "bench", *options, "--out", str(out)])
    if status in (130, 143):
        raise KeyboardInterrupt
    if status != 0:
        raise UsageError(f"the run in {out} ended with status {status}")
    return out


def _baseline(args: argparse.Namespace) -> int:
    current = args.current or _bench_run(REPORTS / f"{stamp()}-quick", "--profile", "quick")
    baseline = make_baseline(load_run(current))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, baseline)
    print(f"baseline: {args.out} (from {current}, commit {baseline['commit']})")
    return 0


ERRORS = (UsageError, BaselineError, RecordError, RefError, ABError, RunFileError, RunLockedError, OSError)


def _gate(args: argparse.Namespace) -> int:
    """``regress`` or ``noise`` in a locked ``--out``: on every way out the report is written."""
    name = args.command
    out = args.out or getattr(args, "current", None) or REPORTS / f"{name}-{stamp()}"
    _check_out_dir(out)
    plan = (_plan_regress if name == "regress" else _plan_noise)(args)  # bad input fails before any file
    out.mkdir(parents=True, exist_ok=True)
    title = "Regression check" if name == "regress" else "Noise of unchanged code: A/A"
    report = Report(out, name, title)
    with run_lock(out):
        try:
            (_regress if name == "regress" else _noise)(args, plan, report)
        except KeyboardInterrupt as exc:
            code = 143 if isinstance(exc, children.TerminatedError) else 130
            report.status = code
            report.write("INTERRUPTED")
            print(f"\n{name}: interrupted; what was measured is in {out / (name + '.md')}", file=sys.stderr)
            return code
        except ERRORS:
            report.status = EXIT_USAGE
            if report.sections:
                report.write("FAILED")
            raise
    state = {0: "passed", 1: "REGRESSED", 2: "INCOMPLETE"}[report.status]
    if (
        name == "regress"
        and report.status == 0
        and plan.base_commit is None
        and (report.not_gated or args.gate == "time")
    ):
        # --current alone: the baseline was a record (another machine kind) or missing; no A/B ran
        state = f"recorded, not gated: {report.not_gated or 'the time gate needs an A/B (--against)'}"
    if name == "noise":
        state = {0: "no false alarm", 1: "FALSE ALARM", 2: "INCOMPLETE"}[report.status]
    report.write(state)
    print(f"{name}: {state}; {out / (name + '.md')}")
    return report.status


def run(command: str, parse: Callable[[], argparse.Namespace]) -> int:
    """``command`` (baseline, regress or noise) on the arguments ``parse`` gives (its parser is
    :mod:`lbb.commands`'s): bad input is one line and exit 2, however far the command got."""
    with children.supervised():
        try:
            args = parse()
            clamp_numba_threads()  # the sweep and the A/B's workers inherit it
            if command == "baseline":
                return _baseline(args)
            return _gate(args)
        except ERRORS as exc:
            print(f"{command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt as exc:  # outside a gate's report (baseline's sweep, a lock wait)
            print(f"\n{command}: interrupted", file=sys.stderr)
            return 143 if isinstance(exc, children.TerminatedError) else 130


if __name__ == "__main__":  # python -m analysis.gate.cli regress|noise|baseline: the lbb command
    from lbb.main import main

    sys.exit(main())
