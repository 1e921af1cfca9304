"""What the headline writes: run.json (its devices' entries: the guard, the roofs, each finished
pass, the kernel), runtime.json (the formula cold and warm, and the streamed passes as one
case) and memory.json (the peaks, or why not), in the sweep's schema through
``bench.rundir.records``, all three rewritten together at every step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.cases import Case
from bench.harness.machine import machine_info, with_clocks_after
from bench.harness.roofs import roof_buffer_bytes
from bench.harness.threads import threads_in_use
from bench.headline.plan import DW_SAMPLE_STRIDE, Guard, HeadlineOptions, Plan, method_for
from bench.headline.stream import Pass
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
from bench.streamers import COMPILED

TEST = "headline"
"""The test name of the headline's timing entries."""


def new_meta(options: HeadlineOptions, out: Path, devices: list[str]) -> RunMeta:
    """run.json as a run starts: its options, the profile it stands for, the machine."""
    methods = {method_for(device, options) for device in devices} | {"formula-torch"}
    return RunMeta(
        run_id=uuid.uuid4().hex,  # unique: directories of two machines may share a name
        run_name=out.name,
        options=Options(
            profile="headline",
            device=options.device,
            methods=tuple(sorted(methods)),
            memory_budget=options.memory_budget,
        ).to_json(),
        profile={
            "name": "headline",
            "target": list(options.target),
            "dtype": options.dtype,
            "dw": options.dw,
            "dw_sample_stride": DW_SAMPLE_STRIDE,
            "axes": {},
        },
        machine=machine_info(),
        devices={},
        status="running",
        cases=3 * len(devices),
    )


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

    def start(self, plan: Plan) -> None:
        self.devices[plan.device] = {"status": "running", "block_bytes": plan.block, "method": plan.method}

    def skip(self, plan: Plan, guard: Guard, reason: str) -> None:
        """The guard said no: the device and its streamed case skipped, with how much it needs."""
        self.devices[plan.device] = {
            "status": "skipped",
            "reason": reason,
            "memory_budget_bytes": guard.budget,
            "memory_budget_source": guard.source,
            "block_bytes": plan.block,
            "method": plan.method,
        }
        self.memory.append(
            MemoryRecord.of(plan.case, "skipped", None, reason, "none", block_bytes=plan.block)
        )
        self.save()

    def begin(self, plan: Plan, guard: Guard, roofs: dict[str, Any]) -> dict[str, Any]:
        """The device's entry as its passes start; each finished pass and the kernel go into it."""
        entry = self.devices[plan.device] = {
            "status": "run",
            "memory_budget_bytes": guard.budget,
            "memory_budget_source": guard.source,
            "block_bytes": plan.block,
            "method": plan.method,
            "roof_buffer_bytes": roof_buffer_bytes(plan.device, (plan.case.dtype,), guard.budget),
            "roofs": roofs,
        }
        return entry

    def add_formula(self, plan: Plan, samples: dict[str, list[float]], roofs: dict[str, Any]) -> None:
        """The formula's timings, one entry per variant ("" cold, "warm")."""
        for variant, seconds in samples.items():
            timed = replace(plan.formula_case, variant=variant)
            extra = {"local_gemm_roof": roofs["gemm"][plan.case.dtype]["gflops"], "max_rel_error": 0.0}
            self.timings.append(TimingEntry.from_samples(timed, seconds, extra, test=TEST))

    def add_streamed(self, plan: Plan, extra: dict[str, Any]) -> None:
        """Both passes as one timing of the streamed case: dY/dX's seconds plus dY/dW's."""
        seconds = extra["dydx_seconds"] + extra["dydw_seconds"]
        self.timings.append(TimingEntry.from_samples(plan.case, [seconds], extra, test=TEST))

    def add_peaks(self, plan: Plan, peaks: dict[str, int], tracker: str) -> None:
        for case, name in ((plan.formula_case, "formula"), (plan.case, "streamed")):
            self.memory.append(MemoryRecord.of(case, "ok", peaks[name], "", tracker, block_bytes=plan.block))

    def add_no_peaks(self, plan: Plan, status: str, why: str) -> None:
        """Not measured is said, never guessed: ``status`` skipped or failed, and why."""
        for case in (plan.formula_case, plan.case):
            self.memory.append(MemoryRecord.of(case, status, None, why, "none", block_bytes=plan.block))

    def fail(self, device: str, reason: str) -> None:
        self.devices[device] = {"status": "failed", "reason": reason}
        self.save()

    def interrupted(self, case: Case, reason: str) -> None:
        """Ctrl-C or SIGTERM: how far it got, unless the case was timed (only its peak was left)."""
        if not any(entry.case == case for entry in self.timings):
            self.not_timed.append(NotTimed(case, "failed", reason))
        self.save()

    def complete(self) -> None:
        self.meta = replace(self.meta, machine=with_clocks_after(self.meta.machine)).with_status("complete")
        self.save()


def pass_entry(done: Pass) -> dict[str, Any]:
    """A finished pass measured in full, in its device's entry of run.json."""
    return {
        "seconds": done.measured_seconds,
        "effective_gbps": done.effective_gbps,
        "max_rel_error": done.max_rel_error,
    }


def streamed_extra(
    plan: Plan, dydx: Pass, dydw: Pass, roofs: dict[str, Any], formula: float, kernel: dict[str, Any] | None
) -> dict[str, Any]:
    """The streamed case's ``extra_info``: both passes (dY/dW scaled up and labelled an estimate
    when sampled), the roofs they are read against, and the kernel's diagnostics."""
    extra = {
        "headline": True,
        "block_bytes": plan.block,
        "dydx_seconds": dydx.seconds,
        "dydw_seconds": dydw.seconds,
        "dydw_measured_seconds": dydw.measured_seconds,
        "dydw_fraction_measured": 1 / dydw.scale,
        "dydw_is_estimate": not dydw.full,
        "effective_gbps_dydx": dydx.effective_gbps,
        "effective_gbps_dydw": dydw.effective_gbps,
        "local_copy_roof": roofs["copy"]["gbps"],
        "max_rel_error": max(dydx.max_rel_error or 0.0, dydw.max_rel_error or 0.0),
        "max_rel_error_dx": dydx.max_rel_error,
        "max_rel_error_dw": dydw.max_rel_error,
        "formula_seconds": formula,
        "threads": threads_in_use(plan.case.backend)
        if plan.method != COMPILED
        else roofs["l1_copy"]["threads"],
    }
    if kernel is not None:
        extra["kernel_vector_bits"] = kernel["vector_bits"]
        extra["incache_roof_gbps"] = kernel["pattern_roof"]["gbps"]  # the pattern roof: a diagnostic
    if "l1_copy" in roofs:
        l1 = roofs["l1_copy"]["gbps"]
        extra |= {
            "l1_copy_roof_gbps": l1,
            "frac_l1_copy_dydx": extra["effective_gbps_dydx"] / l1,
            "frac_l1_copy_dydw": extra["effective_gbps_dydw"] / l1,
        }
    return extra
