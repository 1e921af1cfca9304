"""The environment table: which machine, software, threads, roofs and budgets a run had.

A time means little without the machine it ran on; each run of the report gets this table.
"""

from __future__ import annotations

import numpy as np

from analysis.load import Run
from analysis.report.formatting import format_size


def _threads_used(run: Run) -> str:
    """Per backend and device, the CPU thread counts its timed cases recorded (a profile may pin them)."""
    cases = run.cases
    if "threads" not in cases or cases["threads"].isna().all():
        return "not recorded"
    used = cases.dropna(subset=["threads"]).groupby(["backend", "device"])["threads"].unique()
    return ", ".join(
        f"{backend} on {device}: {'/'.join(str(int(t)) for t in sorted(ts))}"
        for (backend, device), ts in used.items()
    )


def _cores(machine: dict) -> str:
    """ "2 cores", or "4 logical cores (2 physical)" where the two differ (SMT)."""
    logical, physical = machine.get("cores"), machine.get("physical_cores")
    if physical and physical != logical:
        return f"{logical} logical cores ({physical} physical)"
    return f"{logical} cores"


def _clock(clock: dict | None) -> str:
    return f"{clock['sm_mhz']}/{clock['max_sm_mhz']} MHz" if clock else "not read"


def _gpu(gpu: dict) -> str:
    """ "NVIDIA H200 (…, 132 SMs, L2 60.0 MiB, compute 9.0, driver …, SM clock 345/1980 MHz at the
    start, 1980/1980 MHz at the end)"."""
    facts = [format_size(gpu["memory_bytes"])]
    if "sm_count" in gpu:  # runs before the GPU facts were recorded have name and memory only
        facts += [
            f"{gpu['sm_count']} SMs",
            f"L2 {format_size(gpu.get('l2_bytes') or np.nan)}",
            f"compute {gpu.get('capability')}",
            f"driver {gpu.get('driver') or 'not read'}",
            f"SM clock {_clock(gpu.get('sm_clock'))} at the start, "
            f"{_clock(gpu.get('sm_clock_after'))} at the end",
        ]
    return f"{gpu['name']} ({', '.join(facts)})"


def _gpu_timing(run: Run) -> list[tuple[str, str]]:
    """How the CUDA cases were timed: events, L2 flushes, and any taken at a throttled clock."""
    cases = run.cases
    if "timer" not in cases:
        return []
    cuda = cases[cases["timer"] == "cuda events"]
    if cuda.empty:
        return []
    throttled = cuda[cuda["throttled"].fillna(False).astype(bool)]
    flushed = int(cuda["l2_flushed"].fillna(False).astype(bool).sum())
    warn = (
        f"; ⚠ {len(throttled)} throttled (a slowdown named, or the SM clock under 90% of its maximum "
        f"between rounds): {', '.join(throttled['case'])}"
        if len(throttled)
        else "; none throttled"
    )
    return [
        (
            "GPU timing",
            f"{len(cuda)} cases by CUDA events after a warm-up, "
            f"L2 flushed between rounds for {flushed}{warn}",
        )
    ]


def environment(run: Run) -> list[tuple[str, str]]:
    """The machine, versions, threads, roofs and budgets of one run, as (what, value) rows."""
    machine = run.meta.get("machine", {})
    commit = machine.get("commit") or {}
    rows = [
        ("run", run.run_id),
        ("profile", run.meta.get("profile", {}).get("name")),
        ("status", run.meta.get("status")),
        (
            "CPU",
            f"{machine.get('cpu_model')} × {_cores(machine)}, "
            f"last-level cache {format_size(machine.get('llc_bytes') or np.nan)}",
        ),
        ("RAM", format_size(machine.get("ram_bytes") or np.nan)),
        ("GPUs", ", ".join(_gpu(g) for g in machine.get("gpus", [])) or "none"),
        (
            "Python / numpy / torch",
            f"{machine.get('python')} / {machine.get('numpy')} / {machine.get('torch')}",
        ),
        (
            "BLAS",
            "; ".join(
                f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
                for b in machine.get("blas", [])
            ),
        ),
        ("torch threads (process default)", machine.get("torch_threads")),
        ("threads the timed cases ran on", _threads_used(run)),
        *_gpu_timing(run),
        (
            "commit",
            f"{commit.get('id')} (dirty: {commit.get('dirty')})",
        ),
        ("started (UTC)", machine.get("timestamp_utc")),
    ]
    for device, info in run.meta.get("devices", {}).items():
        roofs = info.get("roofs")
        if roofs:
            gemm = ", ".join(f"{k} {v['gflops']:,.0f} GFLOP/s" for k, v in roofs["gemm"].items())
            rows.append((f"{device} roofs", f"GEMM {gemm}; copy {roofs['copy']['gbps']:,.1f} GB/s"))
            budget = info.get("memory_budget_bytes") or np.nan
            rows.append((f"{device} memory budget", format_size(budget)))
        else:
            rows.append((device, f"{info.get('status')}: {info.get('reason')}"))
    return [(key, str(value)) for key, value in rows]


def _thread_counts(run: Run) -> dict[str, set[int]]:
    cases = run.cases
    if "threads" not in cases or cases["threads"].isna().all():
        return {}
    used = cases.dropna(subset=["threads"]).groupby("backend")["threads"].unique()
    return {str(backend): {int(t) for t in ts} for backend, ts in used.items()}


def header_line(run: Run) -> str:
    """One line for under the title: cores, threads per backend, RAM, caches, roofs, profile,
    commit and date, e.g. "2 cores (threads: numpy 1, torch 2) · RAM 23.6 GiB · L3 300 MiB · …"."""
    machine = run.meta.get("machine", {})
    threads = ", ".join(
        f"{backend} {'/'.join(map(str, sorted(ts)))}" for backend, ts in sorted(_thread_counts(run).items())
    )
    parts = [
        f"{machine.get('cpu_model', '?')}, {_cores(machine)}" + (f" (threads: {threads})" if threads else ""),
        f"RAM {format_size(machine.get('ram_bytes') or np.nan)}",
        f"last-level cache {format_size(machine.get('llc_bytes') or np.nan)}",
    ]
    for device, info in run.meta.get("devices", {}).items():
        roofs = info.get("roofs") or {}
        named = [f"GEMM {v['gflops']:,.0f} GFLOP/s" for v in roofs.get("gemm", {}).values()][:1]
        named += [
            f"{k} {roofs[k]['gbps']:,.1f} GB/s" for k in ("copy", "incache") if roofs.get(k, {}).get("gbps")
        ]
        if named:
            parts.append(f"{device} roofs: {', '.join(named)}")
    commit = (machine.get("commit") or {}).get("id") or "?"
    parts += [
        f"profile {run.meta.get('profile', {}).get('name')}",
        f"commit {commit[:7]}",
        str(machine.get("timestamp_utc") or "?")[:10],
    ]
    return f"{run.run_id}: " + " · ".join(parts)


def thread_warning(runs: list[Run]) -> str | None:
    """A warning when the runs, or the backends within one, timed on different thread counts:
    their times and ratios then compare one thread against several."""
    counts = {(run.run_id, backend): ts for run in runs for backend, ts in _thread_counts(run).items()}
    distinct = {t for ts in counts.values() for t in ts}
    if len(distinct) <= 1:
        return None
    listed = "; ".join(
        f"{run} {backend}: {'/'.join(map(str, sorted(ts)))}" for (run, backend), ts in counts.items()
    )
    return f"Timed on different thread counts ({listed}): a ratio between them compares unequal machines."
