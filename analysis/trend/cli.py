"""What ``lbb trend`` runs: record a gate into the history, push it to its branch, read it back, build a page.

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

import argparse
import sys

from analysis.trend import branch, page, records, store
from analysis.trend.branch import BranchError
from analysis.trend.records import GateDirError
from analysis.trend.store import HistoryError
from bench.usage import UsageError

ERRORS = (UsageError, GateDirError, HistoryError, BranchError, OSError)
"""What stops a trend action with one line and exit status 2."""


def run(args: argparse.Namespace) -> int:
    """The action ``args.action`` (its parser is :mod:`lbb.commands.trend`'s)."""
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


if __name__ == "__main__":  # python -m analysis.trend.cli: the lbb command
    from lbb.commands.trend import main

    sys.exit(main())
