"""``lbb trend``: record a gate into the history, push it to its branch, read it back, build the page.

What the workflow calls, step by step (``.github/workflows/bench.yml``)::

    lbb regress --against PARENT --out reports/link-cpu          # the A/B of the push (measures)
    lbb trend record reports/link-cpu --kind link --device cpu --out new.jsonl
    lbb regress --current reports/quick-cpu --history new.jsonl    # per-machine run records
    lbb trend push new.jsonl                                       # append to bench-history, retry on a race
    lbb trend pull --out history.jsonl                             # read the whole history back
    lbb trend page history.jsonl --out site                        # trends, change points, noise

``validate`` regenerates the detector's precision and recall in docs/tracking.md.

Exit status: 0 done; 2 bad input (a gate directory without a finished gate, a corrupt history,
a git step that failed, a branch whose pushes kept losing the race).
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis.trend import branch, page, records, store
from analysis.trend.branch import BranchError
from analysis.trend.records import GateDirError
from analysis.trend.store import HistoryError
from bench.usage import EXIT_USAGE, Parser, UsageError


def _parser() -> Parser:
    parser = Parser(prog="lbb trend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record", help="append a finished gate's link or aa record to a JSON Lines file")
    rec.add_argument("gate_dir", type=Path, help="the --out of lbb regress (link) or lbb noise (aa)")
    rec.add_argument("--kind", choices=("link", "aa"), required=True)
    rec.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
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
        action.error = parser.error
    return parser


def _run(args) -> int:  # noqa: ANN001 - argparse's Namespace
    if args.action == "record":
        record = records.gate_record(args.gate_dir, args.kind, args.device, args.commit)
        store.append(args.out, [record])
        print(f"trend: {args.kind} record of {record['commit'][:12]} appended to {args.out}")
    elif args.action == "push":
        new = [r for f in args.files for r in store.read(f)]
        added = branch.push_records(args.repo, new, args.remote, args.branch)
        print(f"trend: {added} of {len(new)} records pushed to {args.remote}/{args.branch}")
    elif args.action == "pull":
        text = branch.read_remote(args.repo, args.remote, args.branch)
        store.parse(text, f"{args.remote}/{args.branch}")  # checked before anything uses it
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"trend: {len(text.splitlines())} lines of {args.remote}/{args.branch} in {args.out}")
    elif args.action == "page":
        built = page.build(args.history, branch.first_parent(args.repo, args.ref), args.out, args.report)
        print((args.out / "changepoints.md").read_text(), end="")
        print(f"trend: {built}")
    else:
        from analysis.trend import validate

        validate.write_doc(args.doc, args.trials, args.seed)
        print(f"trend: detection rates written into {args.doc}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(_parser().parse_args(sys.argv[1:] if argv is None else argv))
    except (UsageError, GateDirError, HistoryError, BranchError, OSError) as exc:
        print(f"trend: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
