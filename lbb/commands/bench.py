"""``lbb bench``: the benchmark sweep (runtime and memory passes), then its HTML report.

``python -m bench`` runs the sweep alone. Every file is written atomically, so an interrupted run
keeps its finished cases; ``--resume DIR`` runs only the cases DIR does not have yet, with the
options stored in DIR. Exit status: 0 done; 1 the report could not be built (the run is kept);
2 bad input, a locked run directory or a run file that cannot be written; 130 Ctrl-C, 143
SIGTERM, 141 a broken pipe on stdout (finished cases are kept, run.json says "interrupted").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.harness.threads import clamp_numba_threads
from bench.rundir.records import Options
from bench.sweep.session import sweep
from bench.usage import UsageError
from lbb import options as opt

DESCRIPTION = __doc__.splitlines()[0].partition(": ")[2]


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("bench", DESCRIPTION)
    opt.add_profile(parser)
    opt.add_device(parser)
    opt.add_methods(parser)
    opt.add_out(parser, "run directory (default: reports/<UTC time>-<profile>)")
    opt.add_resume(parser)
    opt.add_memory_budget(
        parser, "bytes a case may need, e.g. 8GiB (default: half of available RAM, or of free GPU memory)"
    )
    opt.add_passes(parser)
    return parser


def parse(argv: list[str]) -> tuple[Options | None, Path | None, Path | None]:
    """The sweep's options, ``--out`` and ``--resume``; UsageError (one line) for bad input.

    With ``--resume`` the options are None: the run's own are read once its directory is locked.
    """
    args = parser().parse_args(argv)
    clamp_numba_threads()  # before numba is imported: it starts that many threads
    if args.resume is not None:
        if args.out is not None:
            raise UsageError("--resume DIR continues DIR; it cannot be combined with --out")
        return None, None, args.resume
    options = Options(args.profile, args.device, args.methods, args.memory_budget, args.passes)
    return options, args.out, None


def run_sweep(argv: list[str]) -> tuple[int, Path | None]:
    """The sweep's exit status and run directory (None when bad input stopped it first)."""
    try:
        options, out, resume = parse(argv)
    except opt.ERRORS as exc:
        return opt.fail("bench", exc), None
    return sweep(options, out, resume)


def sweep_main(argv: list[str] | None = None) -> int:
    """``python -m bench``: the sweep alone; the report is one more command away."""
    status, run_dir = run_sweep(sys.argv[1:] if argv is None else argv)
    if status == 0 and run_dir is not None:
        print(f"report: lbb report {run_dir}")
    return status


def write_report(run_dir: Path) -> int:
    """Build the HTML report from a finished run's files; a failure here loses no measurement.

    A streamed headline pass that the profile ran into ``DIR/headline`` is reported beside the
    sweep, so that the measured 256 GiB case sits next to the extrapolation. The report's
    modules are imported here, after the sweep: the memory pass's children re-import the
    program's main module and must not load pandas, scipy and matplotlib.
    """
    from analysis.gate.history import DEFAULT_HISTORY
    from analysis.report.page import build_report
    from analysis.report.runs import with_headlines

    try:
        page = build_report(with_headlines([run_dir]), run_dir / "report", history=DEFAULT_HISTORY)
    except Exception as exc:  # the run is saved: say how to rebuild rather than crash
        print(
            f"report failed ({type(exc).__name__}: {exc}); rebuild with: lbb report {run_dir}",
            file=sys.stderr,
        )
        return 1
    print(f"report: {page}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``lbb bench``: the sweep, then its report."""
    status, run_dir = run_sweep(sys.argv[1:] if argv is None else argv)
    if status != 0 or run_dir is None:
        return status
    return write_report(run_dir)
