"""The time rule (``--gate time``): interleaved repetitions of both sides; a method fails when its
whole interval of head ÷ base lies above ×1.05, is *inconclusive* (a warning) when it held but
could have missed a 10% slowdown, and *not compared* when it had too few pairs for an interval
(:mod:`analysis.gate.timing` judges, :func:`bench.abtest.runner.run_ab` measures). Methods still
undecided after the profile's repetitions get more, until ``--time-budget`` is spent.
"""

from __future__ import annotations

import argparse
import math
from types import ModuleType
from typing import Any

from analysis.gate import timing
from analysis.gate.rule import Job, Judgement
from bench.abtest.runner import ab_cases, run_ab
from bench.rundir.gate_files import AB_FILE, GateFile, read_gate_file

DEFAULT_CONFIDENCE = 0.95
DEFAULT_TIME_BUDGET_S = 420.0
"""Seconds the time A/B may run in all, the profile's repetitions included, before it stops
adding repetitions for methods whose MDE is still above 10% (docs/gate.md: what it costs in CI)."""


class TimeRule:
    """Times, head against base, by interleaved repetitions in fresh processes."""

    name = "time"
    reads_baseline = False

    def add_options(self, parser: argparse.ArgumentParser, opt: ModuleType) -> None:
        parser.add_argument(
            "--reps",
            type=opt.count("--reps", 1, 1000),
            help="interleaved repetitions (default: the profile's)",
        )
        parser.add_argument(
            "--time-budget",
            type=opt.fraction("--time-budget"),
            default=DEFAULT_TIME_BUDGET_S,
            help=f"seconds the time A/B may take, adding repetitions for methods whose MDE is above "
            f"{timing.MAX_MDE:.0%}% (default {DEFAULT_TIME_BUDGET_S:.0f}; 0: the profile's repetitions only)",
        )
        parser.add_argument(
            "--time-threshold",
            type=opt.fraction("--time-threshold"),
            default=timing.DEFAULT_TIME_THRESHOLD,
            help="a method fails when its whole interval lies above 1 + this (default 0.05)",
        )
        parser.add_argument(
            "--confidence",
            type=opt.fraction("--confidence", 0.5, 1.0),
            default=DEFAULT_CONFIDENCE,
            help="of the interval",
        )

    def measure(self, job: Job) -> GateFile:
        args, base = job.args, job.base
        cases = ab_cases(job.profile, job.methods, args.device)
        reps = args.reps or job.profile.ab_reps
        print(
            f"time A/B: base {base.commit[:12] if base.commit else base.tree} against head, "
            f"{len(cases)} cases × {reps} repetitions (budget {args.time_budget:.0f} s)",
            flush=True,
        )
        out = job.out / AB_FILE

        def more(data: dict[str, Any]) -> list[str]:
            return timing.needs_more(GateFile.from_json(data, out), args.time_threshold, args.confidence)

        run_ab(
            base,
            job.head,
            cases,
            job.profile,
            reps,
            out,
            seed=args.seed,
            more=more,
            budget_s=args.time_budget,
        )
        return read_gate_file(out)

    def judge(self, job: Job, data: GateFile) -> Judgement:
        threshold, confidence = job.args.time_threshold, job.args.confidence
        gates = timing.gate(data, threshold, confidence)
        summary = {
            "base": dict(data.base),
            "head": dict(data.head),
            "threshold": threshold,
            "confidence": confidence,
            "max_mde": timing.MAX_MDE,
            "reps": data.reps,
            "extra_reps": dict(data.extra_reps),
            "methods": timing.as_json(gates),
        }
        judged = Judgement(
            gates,
            sections=[timing.markdown(data, gates, threshold, confidence)],
            summary={"time": summary},
            lines=_console(gates),
            status=1 if any(g.verdict == "worse" for g in gates) else 0,
        )
        uncompared = [g for g in gates if g.verdict == "not compared"]
        if uncompared and not job.allow_partial:
            judged.incomplete = (
                f"time (A/B): INCOMPLETE: {len(uncompared)} of {len(gates)} methods not compared "
                f"({', '.join(g.method for g in uncompared[:4])}); exit 2 (--allow-partial accepts that)"
            )
            judged.status = 2
        return judged

    def noise(self, judged: Judgement) -> tuple[dict[str, Any], str | None]:
        finite = [g for g in judged.verdicts if math.isfinite(g.ratio)]
        if not finite:
            return {}, None
        largest = max(finite, key=lambda g: abs(math.log(g.ratio)))
        mde = max(finite, key=lambda g: g.mde)
        return {}, (
            f"noise: largest ratio ×{largest.ratio:.3f} ({largest.method}); "
            f"largest MDE {mde.mde:+.1%} ({mde.method})"
        )


def _console(gates: list[timing.MethodGate]) -> list[str]:
    worse = [g for g in gates if g.verdict == "worse"]
    compared = [g for g in gates if g.verdict not in ("not compared", "new")]
    unsure = [g for g in gates if g.verdict == "inconclusive"]
    lines = [
        f"time (A/B): {len(worse)} worse, {len(unsure)} inconclusive, "
        f"{len(compared)} of {len(gates)} methods compared"
    ]
    for g in gates:
        if not math.isfinite(g.ratio):
            lines.append(f"  {g.method:40s} {g.verdict}: {g.note}")
        else:
            lines.append(
                f"  {g.method:40s} ×{g.ratio:.3f} [{g.low:.3f}, {g.high:.3f}] MDE {g.mde:+.1%} "
                f"spread {g.spread:.1%} reps {g.reps} {g.verdict}"
                + (f": {g.note}" if g.verdict in ("not compared", "inconclusive") else "")
            )
    return lines


RULE = TimeRule()
