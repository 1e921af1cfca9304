"""The memory rule (``--gate memory``): each case's peak once per side in a fresh process, head
against base measured in this job; a case fails when it grows beyond the allocator's jitter
(:mod:`analysis.gate.memory` judges, :func:`bench.abtest.runner.run_peaks` measures).

Beside the A/B, the head's peaks are shown against the committed baseline for the cases both
have: history across machines, never gated here (the same-job A/B is the memory gate).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from types import ModuleType
from typing import Any

from analysis.gate import memory as peaks_gate
from analysis.gate.baseline_render import format_value
from analysis.gate.baseline_verdicts import Thresholds, compare
from analysis.gate.fingerprint import soundness
from analysis.gate.rule import Job, Judgement
from bench.abtest.runner import peak_cases, run_peaks
from bench.profiles import Profile
from bench.rundir.gate_files import PEAKS_FILE, GateFile, read_gate_file


class MemoryRule:
    """Peaks, head against base, each case once per side in a fresh process."""

    name = "memory"
    reads_baseline = True

    def add_options(self, parser: argparse.ArgumentParser, opt: ModuleType) -> None:
        """None of its own: the jitter it allows is a fact of the allocator, not a choice."""

    def measure(self, job: Job) -> GateFile:
        cases = peak_cases(job.profile, job.methods, job.args.device)
        print(f"memory A/B: {len(cases)} cases, each once per side in a fresh process", flush=True)
        run_peaks(job.base, job.head, cases, job.profile, job.out / PEAKS_FILE, seed=job.args.seed)
        return read_gate_file(job.out / PEAKS_FILE)

    def judge(self, job: Job, data: GateFile) -> Judgement:
        verdicts = peaks_gate.gate(data)
        judged = Judgement(
            verdicts,
            sections=[peaks_gate.markdown(data, verdicts)],
            summary={
                "memory_ab": {
                    "base": dict(data.base),
                    "head": dict(data.head),
                    "cases": peaks_gate.as_json(verdicts),
                }
            },
            lines=[peaks_gate.summary_line(verdicts)],
            status=peaks_gate.exit_status(verdicts, job.allow_partial),
        )
        for label, v in sorted(peaks_gate.worst_by_label(verdicts).items()):
            if v.verdict in ("worse", "not compared"):
                judged.lines.append(f"  {v.verdict}: {label}: {v.describe()} at {v.case}")
        if judged.status == 2:
            judged.incomplete = "memory (A/B): INCOMPLETE: no case was compared; exit 2"
        if job.record is not None:
            _against_baseline(data, job.record, job.profile, judged)
        return judged

    def noise(self, judged: Judgement) -> tuple[dict[str, Any], str | None]:
        moves = [abs(v.growth) for v in judged.verdicts if v.growth is not None]
        jitter = max(moves, default=0)
        line = f"noise: largest peak difference between the two sides of a case: {jitter} bytes"
        return {"memory_jitter_bytes": jitter}, line


def _against_baseline(
    data: GateFile, baseline: tuple[dict[str, Any], Path], profile: Profile, judged: Judgement
) -> None:
    """The head's A/B peaks beside the committed baseline's, for the cases both have: history, never gated."""
    record, path = baseline
    peaks = {p.case: {"status": "ok", "peak_bytes": p.head.peak_bytes} for p in data.pairs if p.head.ok}
    shared = {
        case: entry for case, entry in record["cases"].items() if case in peaks and "peak_bytes" in entry
    }
    meta = {"machine": dict(data.machine), "profile": {"name": profile.name, "threads": profile.threads}}
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
    judged.sections.append("\n".join(lines) + "\n")
    judged.summary["baseline_record"] = {"baseline": str(path), "line": line, "cases": len(rows)}
    judged.lines.append(f"baseline: {line}")


RULE = MemoryRule()
