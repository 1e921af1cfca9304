"""``lbb report RUN_DIR [RUN_DIR ...]``: rebuild the HTML report from run directories, measuring nothing.

The report is a pure function of the run directories (``python -m analysis`` runs it too). One
run writes ``RUN_DIR/report/index.html``; several runs are overlaid, with the machine as a
dimension, in ``reports/compare-<UTC time>/index.html`` unless ``--out`` says otherwise.

Exit status: 0 done; 2 with one line on stderr for bad input (a run that cannot be read, a
malformed target or one whose Jacobian exceeds 1 EiB, an ``--out`` that is a file or a run
directory, a ``--history`` that is a directory) and for a report file that cannot be written (its name).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.extrapolate import HEADLINE
from analysis.gate.history import DEFAULT_HISTORY
from analysis.report.page import build_report
from analysis.report.runs import check_paths, default_out, with_headlines
from bench.rundir.fields import RecordError
from lbb import options as opt

DESCRIPTION = __doc__.splitlines()[0].partition(": ")[2]


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("report", DESCRIPTION)
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    opt.add_target(parser, help=f"N,D,M to extrapolate to (default {','.join(map(str, HEADLINE))})")
    opt.add_out(parser, "directory for index.html and the plots")
    parser.add_argument(
        "--history",
        type=Path,
        default=DEFAULT_HISTORY,
        help="regress history to plot trends from, if it exists",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
        out = args.out or default_out(args.runs)
        check_paths(out, args.history, args.runs)
        page = build_report(with_headlines(args.runs), out, args.target, args.history)
    except (*opt.ERRORS, RecordError, ValueError, OSError) as exc:  # OSError: a file it cannot write
        return opt.fail("report", exc)
    print(f"report: {page}")
    return 0
