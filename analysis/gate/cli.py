"""What ``lbb regress``, ``noise`` and ``baseline`` run (their parsers are :mod:`lbb.commands`'):
gate a change, measure the gate's noise, keep a record.

``regress`` compares the working tree (head) with a base commit (``--against``; by default the
commit the committed baseline records) **measured in the same job on the same machine**, the
base checked out in a temporary worktree (:mod:`bench.abtest`): one A/B per rule of the
registry that ``--gate`` chose (:data:`analysis.gate.rules.RULES`, in its order;
:mod:`analysis.gate.rule` says what a rule is):

- **memory** (:mod:`analysis.gate.rules.memory_ab`): each case's peak once per side in a fresh
  process; a case fails when it grows beyond the allocator's jitter;
- **time** (:mod:`analysis.gate.rules.time_ab`): interleaved repetitions of both sides; a method
  fails when its whole interval of head ÷ base lies above ×1.05.

Planning (what is measured, checked before anything is) is :mod:`analysis.gate.plan`; the
report, written on every way out, :mod:`analysis.gate.report_file`; ``--current``,
:mod:`analysis.gate.current`.

The committed baseline is a record: the head's peaks are shown against it as history across
machines. With ``--current RUN_DIR`` (a finished sweep, no A/B unless ``--against`` is given)
that run's peaks are compared with the baseline, and gate only when the baseline came from a
machine of the same fingerprint (:func:`analysis.gate.fingerprint.soundness`); its times are shown,
never gated. A missing baseline is a note, never a failure.

Exit status: 0 passed; 1 a regression; 2 bad input (a bad ``--against``, an unreadable run or
baseline, a locked ``--out``) or a gate that compared too little (a method with too few pairs, a
memory A/B that compared nothing) unless ``--allow-partial``; 130 after Ctrl-C and 143 after
SIGTERM, with what was measured written and marked interrupted. The smallest profile that can
gate time is ``quick`` (2 points × 8 repetitions: 16 pairs per method; a 95% interval needs 6).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from analysis.gate.baseline_file import BaselineError, make_baseline
from analysis.gate.current import current
from analysis.gate.plan import (
    HEAD_TREE,
    Plan,
    check_out_dir,
    picked,
    plan_noise,
    plan_regress,
    reads_baseline,
)
from analysis.gate.report_file import Report
from analysis.gate.rule import Job, run_rule
from analysis.load import load_run
from bench.abtest.runner import ABError, Side
from bench.abtest.worktree import RefError, checkout, head_commit, is_dirty, repo_root
from bench.harness import children
from bench.harness.threads import clamp_numba_threads
from bench.rundir.fields import RecordError
from bench.rundir.lock import RunLockedError, run_lock
from bench.rundir.store import RunFileError, write_json_atomic
from bench.usage import EXIT_USAGE, REPORTS, UsageError, stamp


def _head() -> Side:
    return Side("head", HEAD_TREE, head_commit(HEAD_TREE), is_dirty(HEAD_TREE))


def _regress(args: argparse.Namespace, plan: Plan, report: Report) -> None:
    if args.current is not None and reads_baseline(args):
        current(args, report, plan.record)
    if plan.base_commit is None or not plan.rules:
        return
    record = plan.record if args.current is None else None  # beside --current, shown there already
    with checkout(repo_root(HEAD_TREE), plan.base_commit) as tree:
        base = Side("base", tree, plan.base_commit)
        for rule in plan.rules:
            run_rule(rule, Job(args, base, _head(), plan.profile, report.out, record), report)


def _noise(args: argparse.Namespace, plan: Plan, report: Report) -> None:
    """The A/A test: the working tree against itself, exactly as the gate would compare a change."""
    head = _head()
    same = Side("base", head.tree, head.commit, head.dirty)
    for rule in plan.rules:
        summary, line = rule.noise(run_rule(rule, Job(args, same, head, plan.profile, report.out), report))
        report.summary.update(summary)
        if line is not None:
            print(line)
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


def _state(args: argparse.Namespace, plan: Plan, report: Report) -> str:
    """The report's last word: passed, REGRESSED, INCOMPLETE, or why a regress was only recorded."""
    if args.command == "noise":
        return {0: "no false alarm", 1: "FALSE ALARM", 2: "INCOMPLETE"}[report.status]
    if report.status == 0 and plan.base_commit is None and (report.not_gated or not reads_baseline(args)):
        # --current alone: the baseline was a record (another machine kind) or missing; no A/B ran
        names = " and ".join(rule.name for rule in picked(args))
        return f"recorded, not gated: {report.not_gated or f'the {names} gate needs an A/B (--against)'}"
    return {0: "passed", 1: "REGRESSED", 2: "INCOMPLETE"}[report.status]


def _gate(args: argparse.Namespace) -> int:
    """``regress`` or ``noise`` in a locked ``--out``: on every way out the report is written."""
    name = args.command
    out = args.out or getattr(args, "current", None) or REPORTS / f"{name}-{stamp()}"
    check_out_dir(out)
    plan = (plan_regress if name == "regress" else plan_noise)(args)  # bad input fails before any file
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
    state = _state(args, plan, report)
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
