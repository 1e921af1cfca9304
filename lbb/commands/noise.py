"""``lbb noise``: the A/A test: the working tree gated against itself, to see the gate's false alarms.

Both sides of the A/B are this tree (:mod:`analysis.gate.cli` runs it): any verdict but "same"
is noise the gate would mistake for a change. Exit status: 0 no false alarm, 1 a false alarm,
2 bad input or a gate that compared too little, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from analysis.gate import cli as gate
from lbb import ab_options
from lbb import options as opt

DESCRIPTION = __doc__.splitlines()[0].partition(": ")[2]


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("noise", DESCRIPTION)
    ab_options.add_ab_options(parser, "noise")
    return parser


def main(argv: list[str] | None = None) -> int:
    return gate.run("noise", lambda: parser().parse_args(sys.argv[1:] if argv is None else argv))
