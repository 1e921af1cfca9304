"""``python -m analysis RUN_DIR [RUN_DIR ...]`` (what ``nox -s report`` runs): rebuild the report.

Nothing is measured: the report is a pure function of the run directories. One run writes
``RUN_DIR/report/index.html``; several runs are overlaid, with the machine as a dimension, in
``reports/compare-<UTC time>/index.html`` unless ``--out`` says otherwise.

Exit status: 0 done; 2 with one line on stderr for bad input (a run that cannot be read, a
malformed target or one whose Jacobian exceeds 1 EiB, an ``--out`` that is a file, a
``--history`` that is a directory) and for a report file that cannot be written (its name).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from analysis.extrapolate import HEADLINE
from analysis.history import DEFAULT_HISTORY
from analysis.load import RunLoadError
from analysis.report import build_report
from bench.budget import MAX_BYTES
from bench.costs import jacobian_bytes


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_target(text: str) -> tuple[int, int, int]:
    """``"64,4096,4096"`` → (64, 4096, 4096).

    Targets whose Jacobian exceeds 1 EiB are refused, as the headline refuses them: past that the
    byte and FLOP counts leave the 64-bit integers that numpy and pandas compute with.
    """
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"--target must be three positive integers N,D,M, got {text!r}")
    n, d, m = (int(p) for p in parts)
    largest = max(jacobian_bytes(n, d, m, "float32"))
    if largest > MAX_BYTES:
        raise UsageError(
            f"--target {n},{d},{m} makes a Jacobian of {largest:.3g} bytes; targets beyond 1 EiB are refused"
        )
    return n, d, m


def check_paths(out: Path, history: Path | None) -> None:
    """Refuse an ``--out`` that is a file and a ``--history`` that is a directory before any work."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory for the report")
    if history is not None and history.is_dir():
        raise UsageError(f"--history {history} is a directory, not a JSON Lines file")


def default_out(run_dirs: list[Path]) -> Path:
    if len(run_dirs) == 1:
        return run_dirs[0] / "report"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("reports") / f"compare-{stamp}"


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="nox -s report --", description=__doc__.splitlines()[0])
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
        check_paths(out, args.history)
        page = build_report(args.runs, out, target, args.history)
    except (UsageError, RunLoadError, ValueError, OSError) as exc:  # OSError: a file it cannot write
        print(f"report: error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {page}")
    return 0
