"""The baseline comparison as people and files read it: the markdown section and ``summary.json``'s
part (the console lines are the gate command's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.gate.baseline_verdicts import OTHER_RUN, Outcome, Verdict
from analysis.load import Run
from bench.units import format_bytes


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
