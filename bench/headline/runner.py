"""The headline's run: every device in turn, each through the steps the package's docstring lists,
its files saved after each step; whatever ends the run, the files say how far it got."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.headline import peaks
from bench.headline.measure import FORMULA_ROUNDS, formula_seconds, headline_roofs, kernel_record
from bench.headline.plan import HeadlineOptions, Plan, guard, plan_device, streamed_case
from bench.headline.record import HeadlineFiles, new_meta, pass_entry, streamed_extra
from bench.headline.stream import InterruptedPassError, Pass, pass_line, stream_pass
from bench.inputs import make_inputs, synchronizer
from bench.rundir.directory import choose_devices
from bench.streamers import COMPILED, Streamer


def _time_formula(plan: Plan, roofs: dict[str, Any], sync: Callable[[], None], files: HeadlineFiles) -> float:
    """The formula at the same size, cold and warm, into the timings; its cold median, seconds."""
    samples = formula_seconds(plan.formula_case, sync)
    median = statistics.median(samples[""])
    files.add_formula(plan, samples, roofs)
    print(
        f"{plan.device}: formula at the same size: {median * 1e3:.2f} ms cold (fresh results), "
        f"{statistics.median(samples['warm']) * 1e3:.2f} ms warm (out=), medians of {FORMULA_ROUNDS}",
        flush=True,
    )
    return median


def _stream_both(
    plan: Plan,
    dw_stride: int,
    sync: Callable[[], None],
    roofs: dict[str, Any],
    formula: float,
    files: HeadlineFiles,
) -> tuple[Pass, Pass]:
    """dY/dX in full, then dY/dW in full or sampled, each pass saved into the device's entry as
    it finishes: a finished dY/dX pass survives an interrupted dY/dW pass."""
    device, entry = plan.device, files.devices[plan.device]
    streamer = Streamer(plan.method, make_inputs(plan.case), plan.block)
    streamer.run("dydx", streamer.parts("dydx")[:1])  # warm-up: compiled code, tiles, threads
    dydx = stream_pass("dydx", streamer, plan.dydx_bytes, 1, sync, roofs)
    print(pass_line(device, dydx, roofs, plan.method, formula), flush=True)
    entry["dydx"] = pass_entry(dydx)
    files.save()
    dydw = stream_pass("dydw", streamer, plan.dydw_bytes, dw_stride, sync, roofs)
    print(pass_line(device, dydw, roofs, plan.method), flush=True)
    if dydw.full:  # an estimate stays out of the device's passes
        entry["dydw"] = pass_entry(dydw)
    return dydx, dydw


def run_device(device: str, options: HeadlineOptions, files: HeadlineFiles) -> None:
    """One device: the plan and its guard, the roofs, the formula, both passes, the peaks."""
    plan = plan_device(device, options)
    files.start(plan)
    print(plan.intro(), flush=True)
    verdict = guard(plan, options.memory_budget)
    if verdict.reason is not None:
        print(f"{device}: skipped: {verdict.reason} (budget: {verdict.source})")
        files.skip(plan, verdict, verdict.reason)
        return
    sync = synchronizer(device)
    roofs = headline_roofs(device, plan.case.dtype, verdict.budget)
    entry = files.begin(plan, verdict, roofs)
    formula = _time_formula(plan, roofs, sync, files)
    dydx, dydw = _stream_both(plan, options.dw_stride, sync, roofs, formula, files)
    kernel = kernel_record(plan.block) if plan.method == COMPILED else None
    if kernel is not None:
        entry["kernel"] = kernel
    extra = streamed_extra(plan, dydx, dydw, roofs, formula, kernel)
    if "l1_copy" in roofs:
        l1 = extra["l1_copy_roof_gbps"]
        print(
            f"{device}: the kernel streamed dY/dX at {extra['frac_l1_copy_dydx']:.0%} and dY/dW at "
            f"{extra['frac_l1_copy_dydw']:.0%} of the L1 copy roof ({l1:.1f} GB/s, best of "
            f"{len(roofs['l1_copy'].get('gbps_each', [l1]))} measurements around the passes)",
            flush=True,
        )
    files.add_streamed(plan, extra)
    files.save()  # the passes' figures are kept whatever the peak child does
    peaks.record_peaks(plan, files)


def run(options: HeadlineOptions, out: Path) -> int:
    """Every device's passes into ``out``, whose lock the caller holds; 0 when done."""
    devices, skipped = choose_devices(options.device)
    for device, entry in skipped.items():
        print(f"{device}: skipped: {entry['reason']}")
    files = HeadlineFiles(out, new_meta(options, out, devices), dict(skipped))
    device = devices[0]
    try:
        files.save()
        for device in devices:
            try:
                run_device(device, options, files)
            except (MemoryError, torch.cuda.OutOfMemoryError) as exc:  # a budget larger than the memory
                reason = f"out of memory: {str(exc).splitlines()[0]}"
                print(f"{device}: failed: {reason}", file=sys.stderr)
                files.fail(device, reason)
    except KeyboardInterrupt as exc:  # the record of how far it got; the status is run_ending's
        reason = str(exc) if isinstance(exc, InterruptedPassError) else f"interrupted on {device}"
        files.interrupted(streamed_case(device, options), reason)
        raise
    files.complete()
    print(f"run directory: {out}")
    return 0
