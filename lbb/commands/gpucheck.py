"""``lbb gpucheck``: the whole GPU half in one call within a budget: roofs, headline, dense bfloat16, sweep.

Made for a GPU machine lent for minutes (``python -m bench.gpucheck`` runs it with only a
checkout on ``PYTHONPATH``); :mod:`bench.gpucheck` runs the parts. Exit status: 0 every part
ran or was skipped with its reason, 1 a part failed, 2 bad input, 3 a part ran past its share
and was stopped, 130/143 Ctrl-C/SIGTERM (the summary and the archive are still written).
"""

from __future__ import annotations

import argparse
import sys

from bench.gpucheck import DEFAULT_BUDGET_S, CheckOptions, prepare_out, run
from bench.harness import children
from lbb import options as opt

DESCRIPTION = __doc__.splitlines()[0].partition(": ")[2]


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("gpucheck", DESCRIPTION)
    opt.add_out(parser, "directory for the runs, summary and archive", required=True)
    opt.add_device(parser, ("cuda", "cpu"), "cuda", "cuda (default) or cpu (the tests' dry run)")
    opt.add_budget_s(parser, DEFAULT_BUDGET_S, f"seconds in all (default {DEFAULT_BUDGET_S:.0f})")
    # checked here, not by the sweep after minutes of other parts
    opt.add_profile(parser, None, "sweep profile (default: gpu on CUDA, smoke on CPU)")
    opt.add_target(parser, help=f"headline N,D,M (default {opt.TARGET_TEXT})")
    opt.add_target(parser, "--dense-target", "dense bfloat16 dY/dX N,D,M (default the target)")
    return parser


def parse(argv: list[str]) -> CheckOptions:
    args = parser().parse_args(argv)
    profile = args.profile or ("gpu" if args.device == "cuda" else "smoke")
    return CheckOptions(
        args.out.absolute(), args.device, args.budget_s, profile, args.target, args.dense_target
    )


def main(argv: list[str] | None = None) -> int:
    with children.supervised():
        try:
            options = parse(sys.argv[1:] if argv is None else argv)
            prepare_out(options.out)
        except opt.ERRORS as exc:
            return opt.fail("gpucheck", exc)
        return run(options)
