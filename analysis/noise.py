"""How much unchanged code moves on this machine: a fresh baseline, then repeated runs against it.

``nox -s noise`` runs the quick profile ``runs + 1`` times (or takes run directories), makes a
baseline of the first run and compares each later run with it exactly as ``nox -s regress``
does. It reports, per method and time metric, the move of the method's aggregate in each run;
per metric, the median, 90th percentile and largest move of single cases; and every alarm the
gate raised. An alarm means that the gate would fail unchanged code on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.load import load_run
from analysis.regress import (
    Thresholds,
    Verdict,
    check_like_for_like,
    compare,
    machine_id,
    make_baseline,
    metrics_of,
)

CASE_METRICS = ("peak_bytes", "norm_time", "ratio", "raw_time")


@dataclass
class Noise:
    baseline_run: str
    runs: list[str] = field(default_factory=list)
    method_moves: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)  # by run id
    case_moves: dict[str, list[float]] = field(default_factory=dict)  # |change| of every case, run
    alarms: list[tuple[str, Verdict]] = field(default_factory=list)


def measure_noise(run_dirs: list[Path], limits: Thresholds) -> Noise:
    """Baseline from the first run; every later run compared with it as the gate would."""
    first = load_run(run_dirs[0])
    baseline = make_baseline(first)
    noise = Noise(first.run_id)
    for path in run_dirs[1:]:
        run = load_run(path)
        check_like_for_like(baseline, run, run_dirs[0])
        same = machine_id(run.meta) == baseline["machine_id"]
        name = run.run_id if run.run_id not in noise.runs else f"{run.run_id}#{len(noise.runs) + 1}"
        noise.runs.append(name)
        for verdict in compare(baseline, metrics_of(run), same, limits):
            if verdict.verdict == "worse":
                noise.alarms.append((name, verdict))
            if not np.isfinite(verdict.change):
                continue
            if verdict.scope == "method":
                noise.method_moves.setdefault((verdict.case, verdict.metric), {})[name] = verdict.change
            elif verdict.metric in CASE_METRICS:
                noise.case_moves.setdefault(verdict.metric, []).append(abs(verdict.change))
    return noise


def as_json(noise: Noise) -> dict[str, Any]:
    return {
        "baseline_run": noise.baseline_run,
        "runs": noise.runs,
        "method_moves": [
            {"method": method, "metric": metric, "changes": [changes.get(run) for run in noise.runs]}
            for (method, metric), changes in sorted(noise.method_moves.items())
        ],
        "case_moves": {
            metric: {
                "median": float(np.median(moves)),
                "p90": float(np.percentile(moves, 90)),
                "max": float(np.max(moves)),
                "count": len(moves),
            }
            for metric, moves in sorted(noise.case_moves.items())
        },
        "alarms": [
            {
                "run": run,
                "case": v.case,
                "metric": v.metric,
                "change": v.change if np.isfinite(v.change) else None,
                "note": v.note,
            }
            for run, v in noise.alarms
        ],
    }


def markdown(noise: Noise) -> str:
    verdict = (
        f"**{len(noise.alarms)} alarms: the gate would fail unchanged code on this machine.**"
        if noise.alarms
        else "**No alarm: unchanged code passed the gate every time.**"
    )
    lines = [
        "## Noise of unchanged code",
        "",
        f"Baseline `{noise.baseline_run}`; compared: {', '.join(f'`{r}`' for r in noise.runs)}.",
        "",
        verdict,
        "",
        "| method | metric | " + " | ".join(noise.runs) + " | largest |",
        "|" + " --- |" * (len(noise.runs) + 3),
    ]
    for (method, metric), changes in sorted(noise.method_moves.items()):
        cells = " | ".join(f"{changes[run]:+.1%}" if run in changes else "–" for run in noise.runs)
        lines.append(f"| `{method}` | {metric} | {cells} | {max(changes.values(), key=abs):+.1%} |")
    lines += ["", "Single cases, |change| over every run:", "", "| metric | median | 90th pct | max |"]
    lines.append("| --- | --- | --- | --- |")
    for metric, moves in sorted(noise.case_moves.items()):
        lines.append(
            f"| {metric} | {np.median(moves):.2%} | {np.percentile(moves, 90):.2%} | {np.max(moves):.2%} |"
        )
    if noise.alarms:
        lines += ["", "Alarms:", ""]
        lines += [
            f"- `{run}`: `{v.case}` {v.metric}"
            + (f" {v.change:+.1%}" if np.isfinite(v.change) else "")
            + f" ({v.note})"
            for run, v in noise.alarms
        ]
    return "\n".join(lines) + "\n"
