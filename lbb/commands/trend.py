"""``lbb trend``: the history over commits: record, push, pull, page, validate.

``record`` a gate's directory into a JSON Lines file, ``push`` records to the ``bench-history``
branch (retried on a lost race), ``pull`` it back, build the tracking ``page`` (chained trend,
per-machine history, change points), ``validate`` the detector into docs/tracking.md
(:mod:`analysis.trend.cli` runs each). Exit status: 0 done; 2 bad input (a gate directory
without a finished gate, a corrupt history, a git step that failed, a branch whose pushes kept
losing the race).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.trend import branch
from analysis.trend.cli import ERRORS, run
from lbb import options as opt

DESCRIPTION = "record a gate into the history, push it to its branch, read it back, build the page"


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("trend", DESCRIPTION)
    sub = parser.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record", help="append a finished gate's link or aa record to a JSON Lines file")
    rec.add_argument("gate_dir", type=Path, help="the --out of lbb regress (link) or lbb noise (aa)")
    rec.add_argument("--kind", type=opt.one_of("--kind", ("link", "aa")), required=True, help="link or aa")
    # the device the gate measured on, a label: no CUDA is needed to record it
    rec.add_argument(
        "--device", type=opt.one_of("device", ("cpu", "cuda")), default="cpu", help="cpu or cuda"
    )
    rec.add_argument("--commit", help="the head's commit, when the gate measured a working tree")
    rec.add_argument("--out", type=Path, required=True)
    for name, text in (("push", "append files of records to the history branch"), ("pull", "read it back")):
        action = sub.add_parser(name, help=text)
        action.add_argument("--repo", type=Path, default=Path("."))
        action.add_argument("--remote", default="origin")
        action.add_argument("--branch", default=branch.BRANCH)
        if name == "push":
            action.add_argument("files", type=Path, nargs="+")
        else:
            action.add_argument("--out", type=Path, required=True)
    pg = sub.add_parser("page", help="the tracking page: trends, change points, the gate's noise")
    pg.add_argument("history", type=Path)
    pg.add_argument("--out", type=Path, required=True)
    pg.add_argument("--repo", type=Path, default=Path("."))
    pg.add_argument("--ref", default="HEAD", help="whose first-parent line the chain follows")
    pg.add_argument("--report", help="link to the latest multi-machine report, relative to the page")
    val = sub.add_parser("validate", help="precision and recall of the detector, into docs/tracking.md")
    val.add_argument("--doc", type=Path, default=Path("docs/tracking.md"))
    val.add_argument("--trials", type=int, default=200)
    val.add_argument("--seed", type=int, default=30)
    for action in sub.choices.values():
        action.error = parser.error  # type: ignore[method-assign]  # one-line errors from the actions too
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parser().parse_args(sys.argv[1:] if argv is None else argv))
    except ERRORS as exc:
        return opt.fail("trend", exc)
