"""``nox -s headline``: the N=64, D=M=4096 explicit Jacobian measured end to end, in bounded memory.

The dense dY/dX there is 256 GiB and dY/dW 16 TiB: hopeless to store, but not to stream. Every
entry is materialised, zeros included, tile by tile in a reusable buffer (``streamed-torch``),
and contracted before the next tile overwrites it: the dense method's work in the memory of one
tile. Per device:

1. say how big the Jacobian is and how it will be streamed;
2. check the memory guard, measure the roofs, time the formula at the same size;
3. time the full dY/dX pass with a progress bar, and check its dX against the formula;
4. time dY/dW: in full on CUDA, or on CPU with ``--with-dw``; otherwise every
   ``DW_SAMPLE_STRIDE``-th tile of its plan (tiles spread over the whole matrix) is timed and
   the time scaled up by the stride, and the files say so;
5. measure the peak in a fresh process (memray on the host, torch.cuda on the GPU) over the full
   dY/dX pass and the sampled dY/dW tiles: the buffer is reused, so the peak cannot grow with
   the number of tiles (the test suite checks this);
6. write run.json, runtime.json and memory.json in the sweep's schema.

Ctrl-C or SIGTERM at any point leaves valid files, run.json "interrupted" and a record of how
far the pass got (a finished dY/dX pass is kept in run.json's device entry). The directory is
locked for the whole run (``bench.rundir.lock``), the peak child dies with the run
(``bench.harness.children``), and a run file that cannot be written stops the run with one line
and exit status 2.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from bench import costs
from bench.cases import Case
from bench.harness import budget as budgets
from bench.harness import children
from bench.harness.machine import machine_info
from bench.harness.progress import Progress
from bench.harness.roofs import local_roof, roof_buffer_bytes, timed_seconds
from bench.inputs import dx_relative_error, make_inputs, synchronizer
from bench.methods import METHODS
from bench.profiles import TARGET
from bench.rundir.directory import choose_devices, prepare_run_dir, refuse_existing_run
from bench.rundir.lock import RunLockedError, run_lock
from bench.rundir.records import (
    MemoryRecord,
    NotTimed,
    RunMeta,
    TimingEntry,
    Timings,
    mark_status,
    write_memory,
    write_run_meta,
    write_timings,
)
from bench.rundir.store import RunFileError
from bench.streamed import stream_jacobian, tile_plan
from bench.tiles import Tile, default_block_bytes, plan
from bench.units import format_bytes
from bench.usage import Parser, UsageError, parse_target
from bench.validation import BACKEND_DTYPES

DTYPE = "float32"
"""The default dtype; ``--dtype`` takes any torch dtype of the suite (bfloat16: the 128 GiB case)."""
DW_SAMPLE_STRIDE = 64
"""Without --with-dw, the CPU times every 64th tile of dY/dW's plan (1/64 of 16 TiB is 256 GiB,
the size of the dY/dX pass) and scales the time by 64."""
FORMULA_ROUNDS = 7


class InterruptedPassError(Exception):
    """Ctrl-C or SIGTERM during a pass, with how far it got."""

    def __init__(self, message: str, terminated: bool) -> None:
        super().__init__(message)
        self.terminated = terminated


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="nox -s headline --", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", help="cpu, cuda or all available (default)")
    parser.add_argument("--out", type=Path, help="run directory (default reports/<UTC time>-headline)")
    parser.add_argument("--with-dw", action="store_true", help="stream all of dY/dW on CPU too (minutes)")
    parser.add_argument("--target", default=",".join(map(str, TARGET)), help="N,D,M (default 64,4096,4096)")
    parser.add_argument("--block-bytes", help="tile size, e.g. 4MiB (default: 4 MiB on CPU, 256 MiB on CUDA)")
    parser.add_argument(
        "--memory-budget", help="bytes the pass may need (default: half of what is available)"
    )
    parser.add_argument(
        "--dtype", default=DTYPE, help=f"one of {', '.join(BACKEND_DTYPES['torch'])} (default {DTYPE})"
    )
    args = parser.parse_args(argv)
    if args.dtype not in BACKEND_DTYPES["torch"]:
        raise UsageError(f"unknown dtype {args.dtype!r}; choose from {', '.join(BACKEND_DTYPES['torch'])}")
    args.target = parse_target(args.target)
    if args.device not in ("cpu", "cuda", "all"):
        raise UsageError(f"unknown device {args.device!r}; choose from cpu, cuda, all")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but CUDA is not available")
    try:
        args.block_bytes = budgets.parse_bytes(args.block_bytes) if args.block_bytes else None
        args.memory_budget = budgets.parse_bytes(args.memory_budget) if args.memory_budget else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return args


def _timed_pass(run: Callable[[], Any], sync: Callable[[], None], bar: Progress) -> tuple[Any, float]:
    sync()
    start = time.perf_counter()
    try:
        result = run()
    except KeyboardInterrupt as exc:
        elapsed = time.perf_counter() - start
        print(file=sys.stderr)
        raise InterruptedPassError(
            f"interrupted after {bar.done:,} of {bar.total:,} tiles of {bar.label} "
            f"({100 * bar.done / max(bar.total, 1):.1f}%) in {elapsed:.1f} s",
            terminated=isinstance(exc, children.TerminatedError),
        ) from None
    sync()
    return result, time.perf_counter() - start


def _formula_seconds(inputs: tuple[Any, Any, Any], sync: Callable[[], None]) -> list[float]:
    method = METHODS["formula-torch"]
    return timed_seconds(lambda: method.backward(*inputs), sync, FORMULA_ROUNDS)


def _sampled(tiles: Any, stride: int) -> list[Tile]:
    return [t for k, t in enumerate(tiles) if k % stride == 0]


@dataclass
class HeadlineFiles:
    """The run's three files as they stand; ``save`` rewrites them together through bench.rundir.records."""

    out: Path
    meta: RunMeta
    devices: dict[str, dict[str, Any]]
    timings: list[TimingEntry] = field(default_factory=list)
    not_timed: list[NotTimed] = field(default_factory=list)
    memory: list[MemoryRecord] = field(default_factory=list)

    def save(self) -> None:
        write_run_meta(self.out, replace(self.meta, devices=self.devices))
        write_timings(self.out, Timings(tuple(self.timings), tuple(self.not_timed)))
        write_memory(self.out, self.memory)


def _peak_child(params: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: peak of the formula and of the streamed passes, as timed."""
    from bench.harness.peak import peak_of

    case = Case.from_dict(params)
    inputs = make_inputs(case)
    block, stride, full_dw = params["block_bytes"], params["stride"], params["full_dw"]
    X, W, dY = inputs

    def streamed() -> None:
        stream_jacobian("dydx", X, W, dY, block)
        plan = tile_plan("dydw", X, W, block)
        tiles = list(plan) if full_dw and case.device.startswith("cuda") else _sampled(plan, stride)
        stream_jacobian("dydw", X, W, dY, block, tiles=tiles)

    def formula() -> None:
        METHODS["formula-torch"].backward(*inputs)

    peaks = {name: peak_of(run, case.device) for name, run in (("formula", formula), ("streamed", streamed))}
    return peaks


def _measure_peaks(case: Case, block: int, full_dw: bool) -> dict[str, int]:
    from bench.sweep.memory_pass import fork_pool

    pool = fork_pool()
    try:
        params = case.params() | {"block_bytes": block, "stride": DW_SAMPLE_STRIDE, "full_dw": full_dw}
        peaks = pool.submit(_peak_child, params).result()
    except BaseException:  # Ctrl-C, SIGTERM: the peak child must not outlive the run
        children.stop_fork_server()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return peaks


def run_device(device: str, args: argparse.Namespace, files: HeadlineFiles) -> None:
    n, d, m = args.target
    case = Case("streamed-torch", "", device, args.dtype, n, d, m)
    formula_case = Case("formula-torch", "", device, args.dtype, n, d, m)
    block = args.block_bytes or default_block_bytes(device)
    files.devices[device] = {"status": "running", "block_bytes": block}
    dydx_bytes, dydw_bytes = costs.jacobian_bytes(n, d, m, args.dtype)
    plan_x = plan("dydx", n, d, m, 4, block)
    plan_w = plan("dydw", n, d, m, 4, block)
    print(
        f"{device}: dY/dX at N={n}, D={d}, M={m} ({args.dtype}) is {format_bytes(dydx_bytes)}, "
        f"dY/dW {format_bytes(dydw_bytes)}; streaming them in {format_bytes(block, False)} tiles "
        f"({len(plan_x):,} and {len(plan_w):,} tiles)",
        flush=True,
    )
    budget = args.memory_budget or budgets.default_budget(device)
    need = case.needed_bytes(block)  # with the real tile: a 1 GiB tile needs 1 GiB
    if need > budget:
        reason = f"needs {format_bytes(need)}, budget {format_bytes(budget)}"
        print(f"{device}: skipped: {reason}")
        files.devices[device] = {"status": "skipped", "reason": reason, "block_bytes": block}
        files.memory.append(MemoryRecord.of(case, "skipped", None, reason, "none", block_bytes=block))
        files.save()
        return
    sync = synchronizer(device)
    copy_gbps = local_roof("torch", device, args.dtype, "copy", budget)
    gemm_gflops = local_roof("torch", device, args.dtype, "gemm", budget)
    device_entry = files.devices[device] = {
        "status": "run",
        "memory_budget_bytes": budget,
        "block_bytes": block,
        "roof_buffer_bytes": {"local": roof_buffer_bytes(device, (args.dtype,), budget)["local"]},
        "roofs": {"gemm": {args.dtype: {"gflops": gemm_gflops}}, "copy": {"gbps": copy_gbps}},
    }
    inputs = make_inputs(case)
    X, W, dY = inputs
    formula_samples = _formula_seconds(inputs, sync)
    formula_median = statistics.median(formula_samples)
    files.timings.append(
        TimingEntry.from_samples(
            formula_case,
            formula_samples,
            {"local_gemm_roof": gemm_gflops, "max_rel_error": 0.0},
            test="headline",
        )
    )
    print(f"{device}: formula at the same size: {formula_median * 1e3:.2f} ms (median of {FORMULA_ROUNDS})")
    stream_jacobian("dydx", X, W, dY, block, tiles=list(_first(plan_x, 4)))  # warm-up: buffers, threads

    bar = Progress(f"dY/dX, {format_bytes(dydx_bytes, decimal=False)}", 0, unit="tiles")
    with bar:
        dX, dydx_seconds = _timed_pass(
            lambda: stream_jacobian("dydx", X, W, dY, block, progress=bar), sync, bar
        )
    error = dx_relative_error(dX, inputs)
    effective = 2 * dydx_bytes / dydx_seconds / 1e9
    print(
        f"{device}: dY/dX streamed in {dydx_seconds:.2f} s: {effective:.1f} GB/s effective "
        f"({effective / copy_gbps:.2f}× the copy bandwidth of {copy_gbps:.1f} GB/s), "
        f"{dydx_seconds / formula_median:,.0f}× the formula; dX relative error {error:.2e}",
        flush=True,
    )
    device_entry["dydx"] = {"seconds": dydx_seconds, "effective_gbps": effective, "max_rel_error": error}
    files.save()  # a finished dY/dX pass survives an interrupted dY/dW pass
    full_dw = device.startswith("cuda") or args.with_dw
    tiles = None if full_dw else _sampled(plan_w, DW_SAMPLE_STRIDE)
    streamed = format_bytes(dydw_bytes if full_dw else dydw_bytes // DW_SAMPLE_STRIDE, decimal=False)
    bar = Progress(
        f"dY/dW, {streamed}" if full_dw else f"dY/dW (1/{DW_SAMPLE_STRIDE} of tiles), {streamed}",
        0,
        unit="tiles",
    )
    with bar:
        _, dw_seconds = _timed_pass(
            lambda: stream_jacobian("dydw", X, W, dY, block, progress=bar, tiles=tiles), sync, bar
        )
    scale = 1 if full_dw else len(plan_w) / len(tiles)
    dydw_seconds = dw_seconds * scale
    how = (
        "measured in full"
        if full_dw
        else f"{dw_seconds:.2f} s for 1/{DW_SAMPLE_STRIDE} of its tiles, scaled ×{scale:.1f} (estimate)"
    )
    print(f"{device}: dY/dW {dydw_seconds:.1f} s ({how})", flush=True)

    peaks = _measure_peaks(case, block, full_dw)
    extra = {
        "headline": True,
        "block_bytes": block,
        "dydx_seconds": dydx_seconds,
        "dydw_seconds": dydw_seconds,
        "dydw_measured_seconds": dw_seconds,
        "dydw_fraction_measured": 1 / scale,
        "dydw_is_estimate": not full_dw,
        "effective_gbps_dydx": effective,
        "local_copy_roof": copy_gbps,
        "max_rel_error": error,
        "formula_seconds": formula_median,
    }
    files.timings.append(
        TimingEntry.from_samples(case, [dydx_seconds + dydw_seconds], extra, test="headline")
    )
    tracker = "torch.cuda" if device.startswith("cuda") else "memray"
    for c, peak in ((formula_case, peaks["formula"]), (case, peaks["streamed"])):
        files.memory.append(MemoryRecord.of(c, "ok", peak, "", tracker, block_bytes=block))
    print(
        f"{device}: peak {format_bytes(peaks['streamed'])} above the inputs "
        f"(dense dY/dX alone would need {format_bytes(dydx_bytes)})",
        flush=True,
    )
    files.save()


def _first(tiles: Any, count: int) -> list[Tile]:
    out = []
    for tile in tiles:
        out.append(tile)
        if len(out) == count:
            break
    return out


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 2 bad input, a locked directory or a run file that cannot be written,
    130 Ctrl-C, 143 SIGTERM (both leave run.json "interrupted")."""
    with children.supervised():
        try:
            args = _parse(sys.argv[1:] if argv is None else argv)
            out = prepare_run_dir(args.out, "headline")
            with run_lock(out):
                refuse_existing_run(out)
                return _run(args, out)
        except (UsageError, RunLockedError) as exc:
            print(f"headline: error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # the lock file itself could not be made
            print(f"headline: error: cannot lock {out}: {exc.strerror or exc}", file=sys.stderr)
            return 2


def _run(args: argparse.Namespace, out: Path) -> int:
    devices, skipped = choose_devices(args.device)
    for device, entry in skipped.items():
        print(f"{device}: skipped: {entry['reason']}")
    n, d, m = args.target
    meta = RunMeta(
        run_id=uuid.uuid4().hex,  # unique: directories of two machines may share a name
        run_name=out.name,
        options={
            "profile": "headline",
            "device": args.device,
            "methods": ["streamed-torch", "formula-torch"],
            "memory_budget": args.memory_budget,
            "passes": ["runtime", "memory"],
        },
        profile={
            "name": "headline",
            "target": [n, d, m],
            "dtype": args.dtype,
            "dw_sample_stride": DW_SAMPLE_STRIDE,
            "axes": {},
        },
        machine=machine_info(),
        devices={},
        status="running",
        cases=2 * len(devices),
    )
    files = HeadlineFiles(out, meta, dict(skipped))
    save = files.save

    device = devices[0]
    try:
        save()
        for device in devices:
            try:
                run_device(device, args, files)
            except (MemoryError, torch.cuda.OutOfMemoryError) as exc:  # a budget larger than the memory
                reason = f"out of memory: {str(exc).splitlines()[0]}"
                files.devices[device] = {"status": "failed", "reason": reason}
                print(f"{device}: failed: {reason}", file=sys.stderr)
                save()
    except (InterruptedPassError, KeyboardInterrupt) as exc:
        reason = str(exc) if isinstance(exc, InterruptedPassError) else f"interrupted on {device}"
        case = Case("streamed-torch", "", device, args.dtype, n, d, m)
        files.not_timed.append(NotTimed(case, "failed", reason))
        files.meta = files.meta.with_status("interrupted")
        try:
            save()
        except RunFileError as error:
            print(f"headline: error: {error}", file=sys.stderr)
        print(f"headline: {reason}; partial record saved in {out}", file=sys.stderr)
        terminated = getattr(exc, "terminated", isinstance(exc, children.TerminatedError))
        return 143 if terminated else 130
    except RunFileError as exc:
        mark_status(out, exc.status)
        print(f"headline: error: {exc}; the run stopped", file=sys.stderr)
        return 2
    files.meta = files.meta.with_status("complete")
    save()
    print(f"run directory: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
