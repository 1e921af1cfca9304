"""Synthetic run directories in the real schema, with times and peaks from a known law.

Used to check that the analysis recovers what was put in: exponents, cost-model coefficients,
extrapolations. Nothing here measures anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench.cases import Case
from bench.methods import METHODS
from bench.profiles import PROFILES, Profile, build_cases
from bench.rundir.records import (
    MemoryRecord,
    Options,
    RunMeta,
    TimingEntry,
    Timings,
    write_memory,
    write_run_meta,
    write_timings,
)

TimeLaw = Callable[[Case], float]


def power_law(alpha: float, beta: float, gamma: float, scale: float = 1e-9) -> TimeLaw:
    """time = scale · N^alpha · D^beta · M^gamma."""
    return lambda c: scale * c.n**alpha * c.d**beta * c.m**gamma


def cost_law(per_byte: float, per_flop: float, constant: float) -> TimeLaw:
    """time = per_byte · bytes_moved + per_flop · FLOPs + constant (the analysis's own model)."""

    def law(case: Case) -> float:
        counts = case.predicted()
        return per_byte * counts["bytes_moved"] + per_flop * counts["flops"] + constant

    return law


def _record(case: Case, status: str, peak: int | None, reason: str) -> MemoryRecord:
    return MemoryRecord.of(case, status, peak, reason, "memray" if peak else "none")


def _run_meta(
    spec: Profile, methods: tuple[str, ...], run_id: str, ram: int, llc: int | None, count: int
) -> RunMeta:
    machine = dict(
        hostname="synthetic", cpu_model="Synthetic CPU", cores=2, ram_bytes=ram, llc_bytes=llc, gpus=[]
    )
    machine |= dict(python="3.11", numpy="x", torch="x", blas=[], torch_threads=2)
    machine |= dict(commit={"id": "0" * 40, "dirty": False}, timestamp_utc="2026-11-28T00:00:00+00:00")
    roofs = {"gemm": {"float32": {"gflops": 100.0}}, "copy": {"gbps": 20.0}}
    return RunMeta(
        run_id=run_id,
        options=Options(spec.name, "cpu", methods, memory_budget=None).to_json(),
        profile=asdict(spec) | {"axes": spec.axes()},
        machine=machine,
        devices={"cpu": {"status": "run", "memory_budget_bytes": ram // 2, "roofs": roofs}},
        status="complete",
        cases=count,
    )


def write_run(
    path: Path,
    time_law: TimeLaw,
    *,
    profile: str = "quick",
    methods: tuple[str, ...] = tuple(METHODS),
    noise: float = 0.0,
    seed: int = 0,
    run_id: str | None = None,
    ram_bytes: int = 24 * 2**30,
    llc_bytes: int | None = 32 * 2**20,
    peak_overhead: int = 0,
) -> Path:
    """Write run.json, runtime.json and memory.json for every case of ``profile`` under the law."""
    path.mkdir(parents=True, exist_ok=True)
    spec = PROFILES[profile]
    rng = np.random.default_rng(seed)
    cases = build_cases(spec, methods, ["cpu"])
    benchmarks, records = [], []
    for case in cases:
        reason = spec.cap_reason(case)
        if reason:
            records.append(_record(case, "skipped", None, reason))
            continue
        samples = time_law(case) * np.exp(noise * rng.standard_normal(11))  # times stay positive
        benchmarks.append(TimingEntry.from_samples(case, samples, {"max_rel_error": 1e-7}))
        records.append(_record(case, "ok", case.predicted()["predicted_peak_bytes"] + peak_overhead, ""))
    meta = _run_meta(spec, methods, run_id or path.name, ram_bytes, llc_bytes, len(cases))
    write_run_meta(path, meta)
    write_timings(path, Timings(tuple(benchmarks), rest={"datetime": "2026-11-28"}))
    write_memory(path, records)
    return path
