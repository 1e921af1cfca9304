"""``lbb baseline``: write the committed peak-memory record from a complete quick run.

The record is history across machines, never a gate by itself (``lbb regress`` gates against a
base measured in the same job). Without ``--current`` a quick sweep runs first, in its own
process. Exit status: 0 written, 2 bad input or a run that cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from analysis.gate import cli as gate
from analysis.gate.baseline_file import DEFAULT_BASELINE
from lbb import ab_options
from lbb import options as opt

DESCRIPTION = __doc__.splitlines()[0].partition(": ")[2]


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("baseline", DESCRIPTION)
    ab_options.add_current(parser, "run directory (default: run the quick profile)")
    shown = opt.in_repository(DEFAULT_BASELINE)
    parser.add_argument("--out", type=opt.path("--out"), default=DEFAULT_BASELINE, help=f"(default {shown})")
    parser.set_defaults(command="baseline")
    return parser


def main(argv: list[str] | None = None) -> int:
    return gate.run("baseline", lambda: parser().parse_args(sys.argv[1:] if argv is None else argv))
