"""``lbb``: the one command line, with a subcommand per job; what the nox sessions call.

Each subcommand is the ``main(argv)`` of the module that owns the job, so ``python -m bench``,
``python -m bench.headline``, ``python -m analysis`` and ``python -m analysis.gate.cli`` keep
working; they share one parser base and one usage error (:mod:`bench.usage`). This module is the
layer above both packages: "measure, then report" is composed here, so that bench/ never imports
analysis/.

Exit status: 0 done or passed; 1 a regression (regress) or a report that could not be built;
2 bad input, a locked run directory, a run file that cannot be written, or a gate that compared
too little; 130 Ctrl-C, 143 SIGTERM and 141 a broken pipe on stdout (finished cases are kept).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from analysis.gate import cli as gate_cli
from analysis.gate.history import DEFAULT_HISTORY
from analysis.report import cli as report_cli
from analysis.report.page import build_report
from analysis.trend import cli as trend_cli
from bench import headline
from bench.sweep import cli as bench_cli
from bench.usage import EXIT_USAGE


def write_report(run_dir: Path) -> int:
    """Build the HTML report from a finished run's files; a failure here loses no measurement.

    A streamed headline pass that the profile ran into ``DIR/headline`` is reported beside the
    sweep, so that the measured 256 GiB case sits next to the extrapolation.
    """
    try:
        page = build_report(report_cli.with_headlines([run_dir]), run_dir / "report", history=DEFAULT_HISTORY)
    except Exception as exc:  # the run is saved: say how to rebuild rather than crash
        print(
            f"report failed ({type(exc).__name__}: {exc}); rebuild with: lbb report {run_dir}",
            file=sys.stderr,
        )
        return 1
    print(f"report: {page}")
    return 0


def bench(argv: list[str]) -> int:
    """The sweep, then its report."""
    status, run_dir = bench_cli.sweep(argv)
    if status != 0 or run_dir is None:
        return status
    return write_report(run_dir)


def _regress(name: str) -> Callable[[list[str]], int]:
    return lambda argv: gate_cli.main([name, *argv])


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "bench": (bench, "the benchmark sweep (runtime and memory passes), then its HTML report"),
    "headline": (headline.main, "the N=64, D=M=4096 Jacobians streamed end to end in bounded memory"),
    "report": (report_cli.main, "rebuild the HTML report from run directories, measuring nothing"),
    "baseline": (_regress("baseline"), "write the committed memory baseline from a complete quick run"),
    "regress": (_regress("regress"), "gate time by an interleaved A/B, memory against the baseline"),
    "noise": (_regress("noise"), "the A/A test: the working tree timed against itself"),
    "trend": (trend_cli.main, "the history over commits: record, push, pull, page, validate"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return (
        "usage: lbb COMMAND [OPTIONS]   (lbb COMMAND --help for its options)\n\n"
        "Benchmarks of explicit-Jacobian versus matrix-formula backprop through a linear layer.\n\n"
        "commands:\n" + "\n".join(lines)
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else EXIT_USAGE
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"lbb: error: unknown command {name!r}; one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    return COMMANDS[name][0](rest)


if __name__ == "__main__":
    sys.exit(main())
