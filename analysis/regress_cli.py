"""``nox -s baseline``, ``nox -s regress`` and ``nox -s noise``: write a baseline, gate a run, measure noise.

``python -m analysis.regress_cli baseline [--current RUN_DIR] [--out FILE]``
``python -m analysis.regress_cli regress [--current RUN_DIR] [--baseline FILE] [--history FILE]
[--memory-threshold 0.05] [--time-threshold 0.25] [--alpha 0.01] [--gate all|memory]``
``python -m analysis.regress_cli noise [--runs 3 | --current RUN_DIR RUN_DIR ...] [--out DIR]``

Without ``--current`` they run the quick profile first (``noise``: ``runs + 1`` times, the first
as a fresh baseline). Exit status of ``regress``: 1 when anything got worse, 0 otherwise; of
``noise``: 1 when unchanged code raised an alarm. Both exit 2 for bad input (missing or corrupt
baseline; a baseline of another schema, profile or thread count; an unreadable run), each
with a one-line reason.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from analysis.load import RunLoadError, load_run
from analysis.noise import as_json as noise_json
from analysis.noise import markdown as noise_markdown
from analysis.noise import measure_noise
from analysis.regress import (
    DEFAULT_BASELINE,
    DEFAULT_HISTORY,
    NOT_MEASURED,
    BaselineError,
    Thresholds,
    Verdict,
    format_value,
    make_baseline,
    regress,
)
from bench.store import write_json_atomic


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _quick_run() -> Path:
    """Run the quick profile (the same sweep CI runs) and return its directory.

    In its own interpreter: the memory pass forks a child per case, and each child re-imports
    the main module; with this module as main, that would be pandas and scipy every time.
    """
    out = Path("reports") / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-quick"
    status = subprocess.run(
        [sys.executable, "-m", "bench", "--profile", "quick", "--out", str(out)], check=False
    ).returncode
    if status != 0:
        raise UsageError(f"the quick run in {out} ended with status {status}")
    return out


def _print(outcome_rows: list[Verdict], title: str) -> None:
    if not outcome_rows:
        return
    print(f"{title}:")
    for v in outcome_rows:
        p = "" if v.p_value is None else f", p={v.p_value:.1e}"
        was, now = format_value(v.metric, v.baseline, v.scope), format_value(v.metric, v.current, v.scope)
        print(f"  {v.case:55s} {v.metric:10s} {was:>12} → {now:>12} ({v.change:+.1%}{p}) {v.note}")


def _noise(args: argparse.Namespace) -> int:
    """A fresh baseline and ``runs`` more quick runs (or the given ones), compared as the gate would."""
    if args.current is not None and len(args.current) < 2:
        raise UsageError("noise needs at least two runs: a baseline and one to compare with it")
    if args.current is None and args.runs < 1:
        raise UsageError(f"--runs must be at least 1, got {args.runs}")
    runs = args.current or [_quick_run() for _ in range(args.runs + 1)]
    noise = measure_noise(runs, Thresholds())
    out = args.out or Path("reports") / f"noise-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "noise.json", noise_json(noise))
    text = noise_markdown(noise)
    (out / "noise.md").write_text(text)
    print(text, end="")
    print(f"noise: {out / 'noise.md'}")
    return 1 if noise.alarms else 0


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m analysis.regress_cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("baseline")
    base.add_argument("--current", type=Path, help="run directory (default: run the quick profile)")
    base.add_argument("--out", type=Path, default=DEFAULT_BASELINE)
    reg = commands.add_parser("regress")
    reg.add_argument("--current", type=Path, help="run directory (default: run the quick profile)")
    reg.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    reg.add_argument("--history", type=Path, default=DEFAULT_HISTORY, help="JSON Lines file to append to")
    reg.add_argument(
        "--memory-threshold",
        type=float,
        default=Thresholds.memory,
        help="peak growth that fails (0.05: +5%%)",
    )
    reg.add_argument(
        "--time-threshold",
        type=float,
        default=Thresholds.norm_time,
        help="growth of a method's normalised time, ratio or raw time that fails (0.25: +25%%)",
    )
    reg.add_argument(
        "--alpha", type=float, default=Thresholds.alpha, help="significance level of the Mann-Whitney U test"
    )
    reg.add_argument(
        "--gate",
        choices=("all", "memory"),
        default="all",
        help="all: memory, failures and time metrics gate (raw times only on the same machine); "
        "memory: time metrics are shown, not gated",
    )
    noisy = commands.add_parser("noise")
    sources = noisy.add_mutually_exclusive_group()
    sources.add_argument("--runs", type=int, default=3, help="quick runs compared with a fresh baseline")
    sources.add_argument("--current", type=Path, nargs="+", help="run directories; the first is the baseline")
    noisy.add_argument(
        "--out", type=Path, help="where noise.json and noise.md go (default: reports/noise-<time>)"
    )
    for sub in (base, reg, noisy):
        sub.error = parser.error  # one-line errors from the subcommands too
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if args.command == "noise":
            return _noise(args)
        if args.command == "regress" and not args.baseline.exists():
            raise BaselineError(f"baseline {args.baseline} does not exist; create one with: nox -s baseline")
        current = args.current or _quick_run()
        if args.command == "baseline":
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(args.out, make_baseline(load_run(current)))
            print(f"baseline: {args.out} (from {current})")
            return 0
        limits = Thresholds(
            memory=args.memory_threshold,
            norm_time=args.time_threshold,
            ratio=args.time_threshold,
            raw_time=args.time_threshold,
            alpha=args.alpha,
            gate_time=args.gate == "all",
        )
        outcome = regress(current, args.baseline, args.history, limits)
    except (UsageError, BaselineError, RunLoadError, OSError) as exc:
        given = sys.argv[1:] if argv is None else argv
        command = given[0] if given and given[0] in ("baseline", "noise") else "regress"
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 2
    held = sum(v.verdict == "held" for v in outcome.verdicts)
    where = "same machine" if outcome.same_machine else "other machine: raw times not gated"
    print(f"regress: {len(outcome.worse)} worse, {len(outcome.better)} better, {held} held ({where})")
    _print(outcome.worse, "worse")
    _print(outcome.better, "better")
    _print(outcome.held_methods, "held (time, per method)")
    print(outcome.memory_line())
    if outcome.unmeasured:
        print(f"time: {len(outcome.unmeasured)} metrics of the baseline were {NOT_MEASURED}, so not compared")
    for name, path in outcome.files.items():
        print(f"regress: {name}: {path}")
    return outcome.exit_status


if __name__ == "__main__":
    sys.exit(main())
