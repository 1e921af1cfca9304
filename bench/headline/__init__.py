"""``lbb headline``: the N=64, D=M=4096 explicit Jacobians measured end to end, in bounded memory.

The dense dY/dX there is 256 GiB and dY/dW 16 TiB: hopeless to store, but not to stream. Every
entry is materialised, zeros included, in a reusable tile, and contracted before the next tile
overwrites it: the dense method's work in the memory of a tile. On the CPU the compiled kernel
(``streamed-compiled``, every core with a tile of two thirds of its L1d) streams float32 and float64;
CUDA and half precision use ``streamed-torch`` (:mod:`bench.streamers`). Per device:

1. say how big the Jacobians are and how they will be streamed;
2. check the memory guard; measure the roofs (GEMM, including the target's own skinny products,
   copy bandwidth, and on the CPU the first-touch roof and the L1 and L2 copy roofs); time the formula at the
   same size cold (fresh results) and warm (``out=``);
3. time the full dY/dX pass with a progress bar, and check its dX against the float64 formula;
4. time dY/dW in full (``--dw full``, the default) and check its dW, or with ``--dw sample``
   every ``DW_SAMPLE_STRIDE``-th part of its pass (spread over the whole matrix), the time
   scaled up by the stride and labelled an estimate in every file;
5. measure the peak in a fresh process (memray on the host, torch.cuda on the GPU) over the full
   dY/dX pass and sampled dY/dW parts: the tiles are reused, so the peak cannot grow with the
   number of parts (the test suite checks this);
6. write run.json, runtime.json and memory.json in the sweep's schema.

Ctrl-C or SIGTERM at any point leaves valid files, run.json "interrupted" and a record of how
far the pass got (a finished dY/dX pass is kept in run.json's device entry); the compiled
kernel is called in chunks of about 8 GiB of Jacobian, so it answers within a fraction of a
second. The directory is locked for the whole run (``bench.rundir.lock``), the peak child dies
with the run (``bench.harness.children``), and a run file that cannot be written stops the run
with one line and exit status 2.
"""

from __future__ import annotations

import statistics
import sys
import time
import traceback
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
from bench.harness.machine import machine_info, with_clocks_after
from bench.harness.peak import no_tracker_reason
from bench.harness.progress import Progress
from bench.harness.roofs import local_roof, measure_roofs, roof_buffer_bytes, timed_seconds
from bench.harness.threads import threads_in_use
from bench.inputs import dw_relative_error, dx_relative_error, make_inputs, synchronizer
from bench.methods import METHODS, make_workspace
from bench.profiles import TARGET
from bench.rundir.directory import choose_devices
from bench.rundir.records import (
    MemoryRecord,
    NotTimed,
    Options,
    RunMeta,
    TimingEntry,
    Timings,
    write_memory,
    write_run_meta,
    write_timings,
)
from bench.streamers import COMPILED, Streamer, default_tile, kernel_for, sampled
from bench.units import format_bytes
from bench.validation import HALF_DTYPES

DTYPE = "float32"
"""The default dtype; ``--dtype`` takes any torch dtype of the suite (bfloat16: the 128 GiB case)."""
DW_SAMPLE_STRIDE = 64
"""With ``--dw sample``, every 64th part of dY/dW's pass is timed and the time scaled by 64."""
DW_CHOICES = ("full", "sample")
FORMULA_ROUNDS = 7


class InterruptedPassError(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a pass, with how far it got (``bench.rundir.ending`` says so)."""

    def __init__(self, message: str, terminated: bool) -> None:
        super().__init__(message)
        self.terminated = terminated


@dataclass(frozen=True)
class HeadlineOptions:
    """The headline's validated choices (:mod:`lbb.commands.headline` parses them)."""

    device: str = "all"
    target: tuple[int, int, int] = TARGET
    dtype: str = DTYPE
    dw: str = "full"
    kernel: str | None = None
    """The CPU's streaming kernel: ``compiled``, ``torch`` or None (the dtype's default)."""
    block_bytes: int | None = None
    memory_budget: int | None = None


def _timed_pass(run: Callable[[], Any], sync: Callable[[], None], bar: Progress) -> tuple[Any, float]:
    sync()
    start = time.perf_counter()
    try:
        result = run()
    except KeyboardInterrupt as exc:
        elapsed = time.perf_counter() - start
        print(file=sys.stderr)
        raise InterruptedPassError(
            f"interrupted after {bar.done:,} of {bar.total:,} {bar.unit} of {bar.label} "
            f"({100 * bar.done / max(bar.total, 1):.1f}%) in {elapsed:.1f} s",
            terminated=isinstance(exc, children.TerminatedError),
        ) from None
    sync()
    return result, time.perf_counter() - start


def _formula_seconds(case: Case, sync: Callable[[], None]) -> dict[str, list[float]]:
    """The formula at the target, cold (fresh results, as ``dY @ W.T`` gives them) and warm
    (written into reused results with ``out=``): the page faults of fresh results, counted."""
    method = METHODS[case.method]
    inputs = make_inputs(case)
    workspace = make_workspace(inputs[0], inputs[1], method.family)
    return {
        "": timed_seconds(lambda: method.backward(*inputs), sync, FORMULA_ROUNDS),
        "warm": timed_seconds(lambda: method.backward(*inputs, workspace=workspace), sync, FORMULA_ROUNDS),
    }


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
    formula_case = Case("formula-torch", "", case.device, case.dtype, case.n, case.d, case.m)
    formula_inputs = make_inputs(formula_case)
    inputs = make_inputs(case)
    block, stride = params["block_bytes"], params["stride"]

    def streamed() -> None:
        streamer = Streamer(case.method, inputs, block)  # its tiles inside the tracked window
        streamer.run("dydx")
        streamer.run("dydw", sampled(streamer.parts("dydw"), stride))

    def formula() -> None:
        METHODS["formula-torch"].backward(*formula_inputs)

    warm = Streamer(case.method, inputs, block)  # loads the compiled code before tracking starts
    warm.run("dydx", warm.parts("dydx")[:1])
    del warm
    formula()
    return {name: peak_of(run, case.device) for name, run in (("formula", formula), ("streamed", streamed))}


def _measure_peaks(case: Case, block: int) -> dict[str, int]:
    from bench.sweep.memory_pass import fork_pool

    pool = fork_pool()
    try:
        params = case.params() | {"block_bytes": block, "stride": DW_SAMPLE_STRIDE}
        peaks = pool.submit(_peak_child, params).result()
    except BaseException:  # Ctrl-C, SIGTERM: the peak child must not outlive the run
        children.stop_fork_server()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return peaks


def _roofs(device: str, dtype: str, budget: int) -> dict[str, Any]:
    """The device's roofs for the headline (``bench.harness.roofs.measure_roofs``: GEMM including
    the target's own products, copy, and on the CPU first-touch and the L1 and L2 copies). A CPU has no fast
    half-precision GEMM (0.3 GFLOP/s measured: ten minutes for the full roof), so there the GEMM
    roof is float32's, with the dtype's own taken on one 1024² square beside it."""
    if device.startswith("cuda") or dtype not in HALF_DTYPES:
        return measure_roofs(device, (dtype,), budget)
    roofs = measure_roofs(device, ("float32",), budget)
    roofs["gemm"][dtype] = {"gflops": local_roof("torch", device, dtype, "gemm", budget), "size": 1024}
    return roofs


def _remeasure_l1(roofs: dict[str, Any]) -> None:
    """The L1 copy roof again right after a pass, kept as the best so far (a roof is a best), so
    that roof and kernel are measured back to back in the same process.

    On the shared 2-core machines the machine's speed drifts over minutes: a roof taken once,
    before a five-minute pass, can read a third too low or high. Every figure stays in the
    record (``gbps_each``).
    """
    from bench.harness.cacheroofs import buffer_bytes, copy_gbps

    before = roofs["l1_copy"]
    again = copy_gbps(buffer_bytes(1, before["level_bytes_per_core"]), before["threads"])
    each = [*before.get("gbps_each", [before["gbps"]]), again["gbps"]]
    best = before | again if again["gbps"] > before["gbps"] else before
    roofs["l1_copy"] = best | {"gbps_each": each, "statistic": "best of the runs before and after each pass"}


def _pass_line(
    device: str, what: str, seconds: float, jacobian: int, roofs: dict[str, Any], method: str
) -> str:
    """One console line of a finished pass: its time, GB/s of Jacobian and fraction of its roof
    (the L1 copy roof for the compiled kernel, DRAM copy bandwidth otherwise)."""
    rate = jacobian / seconds / 1e9
    roof_name = "l1_copy" if method == COMPILED and "l1_copy" in roofs else "copy"
    roof = roofs.get(roof_name, {}).get("gbps")
    name = "L1 copy" if roof_name == "l1_copy" else "copy"
    of_roof = f", {2 * rate / roof:.0%} of the {name} roof ({roof:.1f} GB/s)" if roof else ""
    return f"{device}: {what} streamed in {seconds:.2f} s: {rate:.1f} GB/s of Jacobian{of_roof}"


def _kernel_record(roofs: dict[str, Any], block: int) -> dict[str, Any]:
    """The compiled kernel's diagnostics: the vector width its machine code uses and the pattern
    roof (its own fill and contraction on a tile: how well that pattern runs, never a floor)."""
    import numpy as np

    from bench import compiled
    from bench.harness import jit

    tile = compiled.tiles_for(np.float32, block)[0]
    acc = np.zeros(compiled.ROW_WIDTH, dtype=np.float32)
    src = np.zeros((2, compiled.ROW_WIDTH), dtype=np.float32)
    width = compiled.ROW_WIDTH
    args = (True, src, acc, tile, acc, width, width, 1, 2, 2, 0, 0, acc[:1])  # acc[:1]: the zero
    bits = jit.vector_bits(compiled._block, *args)
    pattern = compiled.pattern_roof(block)
    return {"vector_bits": bits, "pattern_roof": {k: v for k, v in pattern.items() if k != "seconds"}}


def run_device(device: str, args: HeadlineOptions, files: HeadlineFiles) -> None:
    n, d, m = args.target
    method = kernel_for(device, args.dtype, args.kernel if device == "cpu" else "torch")
    case = Case(method, "", device, args.dtype, n, d, m)
    formula_case = Case("formula-torch", "", device, args.dtype, n, d, m)
    block = args.block_bytes or default_tile(method, device)
    files.devices[device] = {"status": "running", "block_bytes": block, "method": method}
    dydx_bytes, dydw_bytes = costs.jacobian_bytes(n, d, m, args.dtype)
    tiling = (
        f"a tile of {format_bytes(block, False)} per core"
        if method == COMPILED
        else (f"{format_bytes(block, False)} tiles")
    )
    print(
        f"{device}: dY/dX at N={n}, D={d}, M={m} ({args.dtype}) is {format_bytes(dydx_bytes)}, "
        f"dY/dW {format_bytes(dydw_bytes)}; {method} streams them in {tiling}",
        flush=True,
    )
    budget, budget_source = budgets.budget_for(device, args.memory_budget)
    need = case.needed_bytes(block)  # with the real tile: a 1 GiB tile needs 1 GiB
    if need > budget:
        reason = f"needs {format_bytes(need)}, budget {format_bytes(budget)}"
        print(f"{device}: skipped: {reason} (budget: {budget_source})")
        files.devices[device] = {
            "status": "skipped",
            "reason": reason,
            "memory_budget_bytes": budget,
            "memory_budget_source": budget_source,
            "block_bytes": block,
            "method": method,
        }
        files.memory.append(MemoryRecord.of(case, "skipped", None, reason, "none", block_bytes=block))
        files.save()
        return
    sync = synchronizer(device)
    roofs = _roofs(device, args.dtype, budget)
    copy_gbps = roofs["copy"]["gbps"]
    device_entry = files.devices[device] = {
        "status": "run",
        "memory_budget_bytes": budget,
        "memory_budget_source": budget_source,
        "block_bytes": block,
        "method": method,
        "roof_buffer_bytes": roof_buffer_bytes(device, (args.dtype,), budget),
        "roofs": roofs,
    }
    formula = _formula_seconds(formula_case, sync)
    formula_median = statistics.median(formula[""])
    for variant, samples in formula.items():
        timed = replace(formula_case, variant=variant)
        extra = {"local_gemm_roof": roofs["gemm"][args.dtype]["gflops"], "max_rel_error": 0.0}
        files.timings.append(TimingEntry.from_samples(timed, samples, extra, test="headline"))
    print(
        f"{device}: formula at the same size: {formula_median * 1e3:.2f} ms cold (fresh results), "
        f"{statistics.median(formula['warm']) * 1e3:.2f} ms warm (out=), medians of {FORMULA_ROUNDS}",
        flush=True,
    )
    inputs = make_inputs(case)
    streamer = Streamer(method, inputs, block)
    parts_x, parts_w = streamer.parts("dydx"), streamer.parts("dydw")
    streamer.run("dydx", parts_x[:1])  # warm-up: compiled code, tiles, threads

    bar = Progress(f"dY/dX, {format_bytes(dydx_bytes, decimal=False)}", 0, unit=streamer.unit)
    with bar:
        dX, dydx_seconds = _timed_pass(lambda: streamer.run("dydx", progress=bar), sync, bar)
    error = dx_relative_error(dX, inputs)
    if "l1_copy" in roofs:
        _remeasure_l1(roofs)
    effective = 2 * dydx_bytes / dydx_seconds / 1e9
    print(
        _pass_line(device, "dY/dX", dydx_seconds, dydx_bytes, roofs, method)
        + f"; {dydx_seconds / formula_median:,.0f}× the formula; dX relative error {error:.2e}",
        flush=True,
    )
    device_entry["dydx"] = {"seconds": dydx_seconds, "effective_gbps": effective, "max_rel_error": error}
    files.save()  # a finished dY/dX pass survives an interrupted dY/dW pass
    chosen = parts_w if args.dw == "full" else sampled(parts_w, DW_SAMPLE_STRIDE)
    full_dw = len(chosen) == len(parts_w)  # a sample of every part is a measurement, checked as one
    streamed = format_bytes(dydw_bytes * len(chosen) // len(parts_w), decimal=False)
    sample = f"{len(chosen)} of {len(parts_w)} {streamer.unit}"  # what it really streams, not 1/stride
    label = f"dY/dW, {streamed}" if full_dw else f"dY/dW ({sample}), {streamed}"
    bar = Progress(label, 0, unit=streamer.unit)
    with bar:
        dW, dw_seconds = _timed_pass(lambda: streamer.run("dydw", chosen, progress=bar), sync, bar)
    scale = len(parts_w) / len(chosen)
    dydw_seconds = dw_seconds * scale
    dw_error = dw_relative_error(dW, inputs) if full_dw else None
    if "l1_copy" in roofs:
        _remeasure_l1(roofs)
    if full_dw:
        print(
            _pass_line(device, "dY/dW", dw_seconds, dydw_bytes, roofs, method)
            + f"; dW relative error {dw_error:.2e}",
            flush=True,
        )
    else:
        print(
            f"{device}: dY/dW {dydw_seconds:.1f} s (estimate: {dw_seconds:.2f} s for {sample}, "
            f"scaled ×{scale:.1f})",
            flush=True,
        )
    if full_dw:
        device_entry["dydw"] = {
            "seconds": dw_seconds,
            "effective_gbps": 2 * dydw_bytes / dw_seconds / 1e9,
            "max_rel_error": dw_error,
        }

    extra = {
        "headline": True,
        "block_bytes": block,
        "dydx_seconds": dydx_seconds,
        "dydw_seconds": dydw_seconds,
        "dydw_measured_seconds": dw_seconds,
        "dydw_fraction_measured": 1 / scale,
        "dydw_is_estimate": not full_dw,
        "effective_gbps_dydx": effective,
        "effective_gbps_dydw": 2 * dydw_bytes / dydw_seconds / 1e9,
        "local_copy_roof": copy_gbps,
        "max_rel_error": max(error, dw_error or 0.0),
        "max_rel_error_dx": error,
        "max_rel_error_dw": dw_error,
        "formula_seconds": formula_median,
        "threads": threads_in_use(case.backend) if method != COMPILED else roofs["l1_copy"]["threads"],
    }
    if method == COMPILED:
        kernel = device_entry["kernel"] = _kernel_record(roofs, block)
        extra["kernel_vector_bits"] = kernel["vector_bits"]
        extra["incache_roof_gbps"] = kernel["pattern_roof"]["gbps"]  # the pattern roof: a diagnostic
    if "l1_copy" in roofs:
        l1 = roofs["l1_copy"]["gbps"]
        extra |= {
            "l1_copy_roof_gbps": l1,
            "frac_l1_copy_dydx": extra["effective_gbps_dydx"] / l1,
            "frac_l1_copy_dydw": extra["effective_gbps_dydw"] / l1,
        }
        print(
            f"{device}: the kernel streamed dY/dX at {extra['frac_l1_copy_dydx']:.0%} and dY/dW at "
            f"{extra['frac_l1_copy_dydw']:.0%} of the L1 copy roof ({l1:.1f} GB/s, best of "
            f"{len(roofs['l1_copy'].get('gbps_each', [l1]))} measurements around the passes)",
            flush=True,
        )
    files.timings.append(
        TimingEntry.from_samples(case, [dydx_seconds + dydw_seconds], extra, test="headline")
    )
    files.save()  # the passes' figures are kept whatever the peak child does
    # Not measured is said, never guessed: skipped on a bare machine (the GPU check's CPU dry
    # run), failed when the peak child died or raised.
    status, why = ("skipped", no_tracker_reason(device))
    peaks: dict[str, int] = {}
    if why is None:
        try:
            peaks = _measure_peaks(case, block)
        except Exception as exc:
            status, why = "failed", f"peak child failed: {traceback.format_exception_only(exc)[-1].strip()}"
    tracker = "torch.cuda" if device.startswith("cuda") else "memray"
    for c, name in ((formula_case, "formula"), (case, "streamed")):
        if why:
            files.memory.append(MemoryRecord.of(c, status, None, why, "none", block_bytes=block))
        else:
            files.memory.append(MemoryRecord.of(c, "ok", peaks[name], "", tracker, block_bytes=block))
    if why:
        print(f"{device}: peak not measured: {why}", flush=True)
    else:
        print(
            f"{device}: peak {format_bytes(peaks['streamed'])} above the inputs "
            f"(dense dY/dX alone would need {format_bytes(dydx_bytes)})",
            flush=True,
        )
    files.save()


def run(args: HeadlineOptions, out: Path) -> int:
    """Every device's passes into ``out``, whose lock the caller holds; 0 when done."""
    devices, skipped = choose_devices(args.device)
    for device, entry in skipped.items():
        print(f"{device}: skipped: {entry['reason']}")
    n, d, m = args.target
    meta = RunMeta(
        run_id=uuid.uuid4().hex,  # unique: directories of two machines may share a name
        run_name=out.name,
        options=Options(
            profile="headline",
            device=args.device,
            methods=tuple(
                sorted(
                    {kernel_for(dev, args.dtype, args.kernel if dev == "cpu" else "torch") for dev in devices}
                    | {"formula-torch"}
                )
            ),
            memory_budget=args.memory_budget,
        ).to_json(),
        profile={
            "name": "headline",
            "target": [n, d, m],
            "dtype": args.dtype,
            "dw": args.dw,
            "dw_sample_stride": DW_SAMPLE_STRIDE,
            "axes": {},
        },
        machine=machine_info(),
        devices={},
        status="running",
        cases=3 * len(devices),
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
    except KeyboardInterrupt as exc:  # the record of how far it got; the status is run_ending's
        reason = str(exc) if isinstance(exc, InterruptedPassError) else f"interrupted on {device}"
        method = kernel_for(device, args.dtype, args.kernel if device == "cpu" else "torch")
        case = Case(method, "", device, args.dtype, n, d, m)
        if not any(entry.case == case for entry in files.timings):  # not when only its peak was left
            files.not_timed.append(NotTimed(case, "failed", reason))
        save()
        raise
    files.meta = replace(files.meta, machine=with_clocks_after(files.meta.machine)).with_status("complete")
    save()
    print(f"run directory: {out}")
    return 0
