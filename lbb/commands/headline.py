"""``lbb headline``: the N=64, D=M=4096 Jacobians streamed end to end in bounded memory.

Every entry of dY/dX (256 GiB) and dY/dW (16 TiB) is materialised in a reusable tile and
contracted before the next overwrites it (:mod:`bench.headline` measures, per device). The
sweep's headline pass runs it as ``python -m bench.headline``. Exit status: 0 done, 2 bad input,
a locked directory or a run file that cannot be written, 130 Ctrl-C, 143 SIGTERM, 141 a broken
pipe on stdout (all three leave run.json "interrupted" and a record of how far the pass got).
"""

from __future__ import annotations

import argparse
import sys

from bench.harness import children
from bench.harness.threads import clamp_numba_threads
from bench.headline import DTYPE, DW_CHOICES, HeadlineOptions, run
from bench.rundir.directory import prepare_run_dir, refuse_existing_run
from bench.rundir.ending import run_ending, run_json
from bench.rundir.lock import run_lock
from bench.streamers import kernel_for
from bench.usage import UsageError
from bench.validation import BACKEND_DTYPES
from lbb import options as opt

DESCRIPTION = __doc__.splitlines()[0].partition(": ")[2]
KERNELS = ("compiled", "torch")


def parser() -> argparse.ArgumentParser:
    parser = opt.parser("headline", DESCRIPTION)
    opt.add_device(parser, ("cpu", "cuda", "all"))
    opt.add_out(parser, "run directory (default reports/<UTC time>-headline)")
    parser.add_argument(
        "--dw", type=opt.one_of("--dw", DW_CHOICES), default="full",
        help="dY/dW in full (default: 16 TiB, about a minute on 2 AVX-512 cores) or a 1/64 sample, scaled up",
    )  # fmt: skip
    parser.add_argument(
        "--kernel", type=opt.one_of("--kernel", KERNELS),
        help="CPU streaming kernel: compiled (default in float32 and float64) or torch (streamed-torch)",
    )  # fmt: skip
    opt.add_target(parser)
    parser.add_argument(
        "--block-bytes", type=opt.byte_size("--block-bytes"),
        help="tile, e.g. 32KiB (default: two thirds of the L1d per core for the compiled kernel; 4 MiB for "
        "streamed-torch on CPU, 256 MiB on CUDA)",
    )  # fmt: skip
    opt.add_memory_budget(parser, "bytes the pass may need (default: half of what is available)")
    opt.add_dtype(parser, BACKEND_DTYPES["torch"], DTYPE)
    return parser


def parse(argv: list[str]) -> tuple[HeadlineOptions, argparse.Namespace]:
    """The headline's options and the parsed arguments (``--out``); UsageError for bad input."""
    args = parser().parse_args(argv)
    clamp_numba_threads()  # before numba is imported: it starts that many threads
    if args.kernel == "compiled" and args.device in ("cpu", "all"):  # "all" includes the CPU
        try:
            kernel_for("cpu", args.dtype, args.kernel)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    options = HeadlineOptions(
        args.device, args.target, args.dtype, args.dw, args.kernel, args.block_bytes, args.memory_budget
    )
    return options, args


def main(argv: list[str] | None = None) -> int:
    """Every way out sets run.json's status through ``bench.rundir.ending``."""
    with children.supervised():
        try:
            options, args = parse(sys.argv[1:] if argv is None else argv)
            out = prepare_run_dir(args.out, "headline")
            with run_lock(out):
                refuse_existing_run(out)
                with run_ending("headline", run_json(out), f"partial record saved in {out}") as ending:
                    ending.exit_status = run(options, out)
                return ending.exit_status
        except opt.ERRORS as exc:
            return opt.fail("headline", exc)
