"""The A/B's options, shared by ``lbb regress`` and ``lbb noise`` (each defined once, as in
:mod:`lbb.options`): ``--gate`` offers every rule of :data:`analysis.gate.rules.RULES`, and each
rule adds its own options. Apart from :mod:`lbb.options` because they need the gate's registry, and
the sweep's command must not import the gate (its memory pass's children would load pandas)."""

from __future__ import annotations

import argparse

from analysis.gate import rules
from lbb import options as opt


def add_ab_options(parser: argparse.ArgumentParser, kind: str) -> None:
    opt.add_profile(
        parser, None,
        "profile whose A/B points and threads are used (default: the baseline's, else quick; "
        "smoke's 3 repetitions give too few pairs to gate time)",
    )  # fmt: skip
    opt.add_methods(parser)
    opt.add_device(parser, ("cpu", "cuda"), "cpu", "device of the A/B (default cpu)")
    for rule in rules.RULES:  # each rule's own options (the time rule's repetitions and thresholds)
        rule.add_options(parser, opt)
    names = [rule.name for rule in rules.RULES]
    parser.add_argument(
        "--gate",
        type=opt.one_of("--gate", ("all", *names)),
        default="all",
        help=f"{', '.join(['all', *names[:-1]])} or {names[-1]}: what is compared (default all)",
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
