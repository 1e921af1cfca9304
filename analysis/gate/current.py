"""``lbb regress --current RUN_DIR``: a finished sweep's peaks against the committed baseline,
gated only when the baseline came from a machine of the same fingerprint
(:func:`analysis.gate.fingerprint.soundness`); its times are shown, never gated. A missing
default baseline is a note, never a failure."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from analysis.gate.baseline_file import DEFAULT_BASELINE, read_baseline
from analysis.gate.baseline_render import format_value, markdown, summary_json
from analysis.gate.baseline_verdicts import Outcome, Thresholds, gate_memory
from analysis.gate.gab import github_action_benchmark
from analysis.gate.history import DEFAULT_HISTORY, append_history
from analysis.gate.report_file import Report
from bench.rundir.store import write_json_atomic


def read_record(args: argparse.Namespace) -> tuple[dict[str, Any], Path] | None:
    """The baseline, or None (with a note) when the default one is missing: it is a record, and
    a missing record never fails a gate. An explicit ``--baseline`` must exist."""
    path = args.baseline or DEFAULT_BASELINE
    if args.baseline is None and not path.exists():
        print(f"baseline: {path} does not exist; nothing to show the run against (not a failure)")
        return None
    return read_baseline(path), path


def current(args: argparse.Namespace, report: Report, record: tuple[dict[str, Any], Path] | None) -> None:
    """A finished run's peaks against the baseline (gated only when sound), its times as history."""
    if record is None:
        report.sections.append(
            "### Memory against the committed baseline\n\nNo baseline: nothing compared.\n"
        )
        report.not_gated = f"no baseline at {DEFAULT_BASELINE}"
        return
    path = record[1]
    limits = Thresholds(memory=args.memory_threshold, allow_partial=args.allow_partial)
    outcome, run, measured = gate_memory(args.current, path, limits, set(args.methods))
    report.sections.append(markdown(outcome, path, run))
    report.summary["memory"] = summary_json(outcome, path, run)
    write_json_atomic(report.out / "gab.json", github_action_benchmark(measured))
    append_history(args.history or DEFAULT_HISTORY, run, measured)
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
