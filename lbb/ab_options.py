"""The A/B's options, shared by ``lbb regress`` and ``lbb noise`` (each defined once, as in
:mod:`lbb.options`). Apart from :mod:`lbb.options` because they need the gate's defaults, and
the sweep's command must not import the gate (its memory pass's children would load pandas)."""

from __future__ import annotations

import argparse

from analysis.gate import timing
from analysis.gate.cli import DEFAULT_CONFIDENCE, DEFAULT_TIME_BUDGET_S
from lbb import options as opt


def add_ab_options(parser: argparse.ArgumentParser, kind: str) -> None:
    opt.add_profile(
        parser, None,
        "profile whose A/B points and threads are used (default: the baseline's, else quick; "
        "smoke's 3 repetitions give too few pairs to gate time)",
    )  # fmt: skip
    opt.add_methods(parser)
    opt.add_device(parser, ("cpu", "cuda"), "cpu", "device of the A/B (default cpu)")
    parser.add_argument(
        "--reps", type=opt.count("--reps", 1, 1000), help="interleaved repetitions (default: the profile's)"
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
    parser.add_argument(
        "--gate",
        type=opt.one_of("--gate", ("all", "memory", "time")),
        default="all",
        help="all, memory or time: what is compared (default all)",
    )
    parser.add_argument("--seed", type=int, help="seed of the random visiting order")
    where = "--current's run directory, else " if kind == "regress" else ""
    parser.add_argument(
        "--out",
        type=opt.path("--out"),
        help=f"directory for the results (default: {where}reports/{kind}-<time>)",
    )
    parser.set_defaults(command=kind)


def add_current(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--current", type=opt.path("--current"), help=help)
