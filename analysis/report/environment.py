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
        (
            "GPUs",
            ", ".join(f"{g['name']} ({format_size(g['memory_bytes'])})" for g in machine.get("gpus", []))
            or "none",
        ),
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
