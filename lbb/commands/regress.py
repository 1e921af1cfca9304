"""``lbb regress``: gate time and peak memory by an A/B against a base commit measured in the same job.

The base (``--against``; by default the commit the committed baseline records) is checked out in
a temporary worktree and both sides are measured here, interleaved: peaks once per side in a
fresh process, times by interleaved repetitions (:mod:`analysis.gate.cli` runs it). The smallest
profile that can gate time is quick (16 pairs per method; a 95% interval needs 6). Exit status:
0 passed, 1 a regression, 2 bad input or a gate that compared too little, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.gate import cli as gate
from analysis.gate.baseline_file import DEFAULT_BASELINE
from analysis.gate.baseline_verdicts import Thresholds
from analysis.gate.history import DEFAULT_HISTORY
from lbb import ab_options
from lbb import options as opt
from lbb.options import in_repository


def parser() -> argparse.ArgumentParser:
    parser = opt.parser(
        "regress",
        "Gate the working tree against a base commit measured in this job. The smallest "
        "profile that can gate time is quick (16 pairs per method; a 95% interval needs 6).",
    )
    parser.add_argument("--against", metavar="REF", help="base commit (default: the baseline's commit)")
    ab_options.add_ab_options(parser, "regress")
    ab_options.add_current(parser, "compare this finished run with the baseline (no A/B)")
    baseline, history = in_repository(DEFAULT_BASELINE), in_repository(DEFAULT_HISTORY)
    parser.add_argument("--baseline", type=Path, help=f"baseline file (default {baseline})")
    parser.add_argument("--history", type=Path, help=f"JSON Lines file to append to (default {history})")
    parser.add_argument(
        "--memory-threshold",
        type=opt.fraction("--memory-threshold"),
        default=Thresholds.memory,
        help="(0.05: +5%%)",
    )
    parser.add_argument("--allow-partial", action="store_true", help="missing comparisons do not fail")
    return parser


def main(argv: list[str] | None = None) -> int:
    return gate.run("regress", lambda: parser().parse_args(sys.argv[1:] if argv is None else argv))
