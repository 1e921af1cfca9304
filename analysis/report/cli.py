"""``python -m analysis RUN_DIR [RUN_DIR ...]`` (what ``nox -s report`` runs): rebuild the report.

Nothing is measured: the report is a pure function of the run directories. One run writes
``RUN_DIR/report/index.html``; several runs are overlaid, with the machine as a dimension, in
``reports/compare-<UTC time>/index.html`` unless ``--out`` says otherwise.

Exit status: 0 done; 2 with one line on stderr for bad input (a run that cannot be read, a
malformed target or one whose Jacobian exceeds 1 EiB, an ``--out`` that is a file or a run
directory, a ``--history`` that is a directory) and for a report file that cannot be written (its name).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.extrapolate import HEADLINE
from analysis.gate.history import DEFAULT_HISTORY
from analysis.report.page import build_report
from bench.rundir.directory import HEADLINE_DIR
from bench.rundir.fields import RecordError
from bench.rundir.records import read_run
from bench.rundir.store import RUN_FILE
from bench.usage import Parser, UsageError, default_run_dir, parse_target


def check_paths(out: Path, history: Path | None, runs: Sequence[Path] = ()) -> None:
    """Refuse an ``--out`` that is a file, or that is (or resolves to, through ``..`` or a symlink)
    a run directory, and a ``--history`` that is a directory, before any work: a report never
    writes beside a run's files."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory for the report")
    where = out.resolve()
    if where in {run.resolve() for run in runs} or (where / RUN_FILE).exists():
        raise UsageError(f"--out {out} is a run directory ({where}); the report goes beside it, not into it")
    if history is not None and history.is_dir():
        raise UsageError(f"--history {history} is a directory, not a JSON Lines file")


def with_headlines(run_dirs: list[Path]) -> list[Path]:
    """The runs, each followed by the streamed headline pass its profile ran into ``DIR/headline``
    when that pass is complete: ``lbb report DIR`` shows what ``lbb bench`` showed."""
    runs = []
    for run_dir in run_dirs:
        runs.append(run_dir)
        streamed = run_dir / HEADLINE_DIR
        if streamed not in run_dirs and (streamed / RUN_FILE).exists():
            try:
                complete = read_run(streamed).status == "complete"
            except RecordError:
                complete = False  # an unreadable headline is left out, as lbb bench leaves it out
            if complete:
                runs.append(streamed)
    return runs


def default_out(run_dirs: list[Path]) -> Path:
    if len(run_dirs) == 1:
        return run_dirs[0] / "report"
    return default_run_dir("compare")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="nox -s report --", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--target", default=",".join(map(str, HEADLINE)), help="N,D,M to extrapolate to")
    parser.add_argument("--out", type=Path, help="directory for index.html and the plots")
    parser.add_argument(
        "--history",
        type=Path,
        default=DEFAULT_HISTORY,
        help="regress history to plot trends from, if it exists",
    )
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        target = parse_target(args.target)
        out = args.out or default_out(args.runs)
        check_paths(out, args.history, args.runs)
        page = build_report(with_headlines(args.runs), out, target, args.history)
    except (UsageError, RecordError, ValueError, OSError) as exc:  # OSError: a file it cannot write
        print(f"report: error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {page}")
    return 0
