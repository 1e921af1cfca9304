"""Run directories → one tidy pandas DataFrame, one row per case.

Reads ``run.json``, ``runtime.json`` (pytest-benchmark format) and ``memory.json`` through
``bench.rundir.records``, which checks every field. A missing, corrupt or invalid file is one clear
error naming the file (and the field); a partial run (one pass missing, or cases missing from a
pass) loads what it has and says what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.rundir.lock import lock_is_free
from bench.rundir.records import (
    CASE_FIELDS,
    COUNT_FIELDS,
    MemoryRecord,
    RecordError,
    RunMeta,
    TimingEntry,
    Timings,
    read_memory,
    read_run,
    read_timings,
)
from bench.rundir.store import MEMORY_FILE, RUNTIME_FILE

NOISY_IQR = 0.10
"""IQR/median above which a timing is flagged noisy (torch.utils.benchmark's threshold)."""
BIMODAL = 1.5
"""Median ÷ fastest round above which a timing is flagged noisy too: rounds in two modes (the quick
run's formula-torch-warm at N=64, D=M=512: median 2.34 ms, fastest 1.10 ms) keep a small IQR when
most rounds sit in the slow mode, so the IQR rule alone misses them."""

HEADLINE_FIELDS = (
    "dydx_seconds",
    "dydw_seconds",
    "dydw_measured_seconds",
    "dydw_fraction_measured",
    "dydw_is_estimate",
    "effective_gbps_dydx",
    "effective_gbps_dydw",
    "incache_roof_gbps",
    "l1_copy_roof_gbps",
    "frac_l1_copy_dydx",
    "frac_l1_copy_dydw",
    "kernel_vector_bits",
    "formula_seconds",
    "block_bytes",
)
"""Extra timings that a headline run records for its streamed case."""


UID = re.compile(r"[0-9a-f]{32}")
"""A run id written at creation (uuid4 hex); older runs stored their directory name there."""


def run_name(meta: dict[str, Any], path: Path) -> str:
    """``run_name`` from run.json, an older run's ``run_id`` that is a name, or the directory's name."""
    legacy = str(meta.get("run_id", ""))
    return str(meta.get("run_name") or (legacy if legacy and not UID.fullmatch(legacy) else path.name))


@dataclass
class Run:
    """One loaded run: its metadata, its tidy cases, and what was missing from it."""

    path: Path
    meta: dict[str, Any]
    """run.json as written (``record.to_json()``), for readers that index it by key."""
    cases: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    record: RunMeta | None = None
    timings: dict[str, TimingEntry] = field(default_factory=dict)
    """Each timed case's pytest-benchmark entry, raw rounds included, by case name."""

    @property
    def run_id(self) -> str:
        """The run's label in tables and plots: its name (the directory it was created as)."""
        return run_name(self.meta, self.path)

    @property
    def uid(self) -> str:
        """What makes two runs the same run: the id written into run.json, else the resolved path."""
        value = str(self.meta.get("run_id", ""))
        return value if UID.fullmatch(value) else str(self.path.resolve())

    @property
    def machine_label(self) -> str:
        machine = self.meta.get("machine", {})
        gpus = machine.get("gpus") or []
        gpu = f" + {gpus[0]['name']}" if gpus else ""
        return f"{machine.get('hostname', '?')} ({machine.get('cpu_model', '?')}{gpu})"


def _runtime_rows(timings: Timings) -> dict[str, dict[str, Any]]:
    rows = {}
    for entry in timings.entries:
        info, stats = entry.extra_info, entry.stats
        row = entry.case.params() | entry.case.predicted()
        row |= {
            "time_status": "ok",
            "time_reason": "",
            "time_median_s": entry.median,
            "time_iqr_s": entry.iqr,
            "time_min_s": stats.get("min"),
            "time_rounds": stats.get("rounds"),
            "max_rel_error": info.get("max_rel_error"),
            "local_copy_roof_gbps": info.get("local_copy_roof"),
            "local_gemm_roof_gflops": info.get("local_gemm_roof"),
            "threads": info.get("threads"),
            # On CUDA: the rounds' CUDA events are the times above (bench.rundir.records.TimingEntry)
            "timer": info.get("timer", "perf_counter"),
            "l2_flushed": info.get("l2_flushed"),
            "throttled": info.get("throttled"),
        }
        if info.get("headline"):  # a run of `nox -s headline`: the streamed case at full size
            row |= {f"headline_{key}": info.get(key) for key in HEADLINE_FIELDS}
        rows[row["case"]] = row
    for skipped in timings.not_timed:
        row = skipped.case.params() | skipped.case.predicted()
        row |= {"time_status": skipped.status, "time_reason": skipped.reason}
        rows.setdefault(row["case"], row)
    return rows


def _memory_rows(memory: list[MemoryRecord]) -> dict[str, dict[str, Any]]:
    rows = {}
    for record in memory:
        row = record.case.params() | record.case.predicted()
        row |= {
            "memory_status": record.status,
            "memory_reason": record.reason,
            "peak_bytes": record.peak_bytes,
            "tracker": record.tracker,
        }
        rows[row["case"]] = row
    return rows


def _roof(meta: dict[str, Any], device: str, dtype: str, kind: str) -> float | None:
    roofs = meta.get("devices", {}).get(device, {}).get("roofs")
    if not roofs:
        return None
    if kind == "gemm":
        return roofs.get("gemm", {}).get(dtype, {}).get("gflops")
    return roofs.get("copy", {}).get("gbps")


STATUSES = ("time_status", "memory_status")


def _combine(timed: dict, memory: dict, meta: dict[str, Any], run_id: str) -> pd.DataFrame:
    rows = []
    for name in sorted(timed.keys() | memory.keys()):
        row = {**memory.get(name, {}), **timed.get(name, {})}
        row.setdefault("time_status", "missing")
        row.setdefault("memory_status", "missing")
        rows.append(row)
    # A run with no case yet (a headline killed before its first) still has the case columns.
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*CASE_FIELDS, *COUNT_FIELDS, *STATUSES])
    for column in ("time_median_s", "time_iqr_s", "time_min_s", "time_rounds", "peak_bytes", "max_rel_error"):
        if column not in frame:
            frame[column] = pd.NA
    for column in ("time_reason", "memory_reason", "tracker"):
        frame[column] = frame.get(column, pd.Series("", index=frame.index)).fillna("")
    frame["run_id"] = run_id
    statuses = frame[["time_status", "memory_status"]]
    frame["status"] = "ok"
    frame.loc[(statuses == "skipped").any(axis=1), "status"] = "skipped"
    frame.loc[(statuses == "failed").any(axis=1), "status"] = "failed"
    frame.loc[(statuses == "missing").all(axis=1), "status"] = "missing"
    frame["reason"] = [
        "; ".join(dict.fromkeys(r for r in (t, m) if r))
        for t, m in zip(frame["time_reason"], frame["memory_reason"], strict=True)
    ]
    median = pd.to_numeric(frame["time_median_s"], errors="coerce")
    frame["time_median_s"] = median
    frame["time_iqr_s"] = pd.to_numeric(frame["time_iqr_s"], errors="coerce")
    frame["peak_bytes"] = pd.to_numeric(frame["peak_bytes"], errors="coerce")
    fastest = pd.to_numeric(frame["time_min_s"], errors="coerce")
    frame["bimodal"] = median / fastest > BIMODAL
    frame["noisy"] = (frame["time_iqr_s"] / median > NOISY_IQR) | frame["bimodal"]
    frame["gflops"] = frame["flops"] / median / 1e9
    frame["gbps"] = frame["bytes_moved"] / median / 1e9
    # Each case's own roof, measured seconds before it, where the run has one; else the run's.
    for kind, column, local in (
        ("gemm", "gemm_roof_gflops", "local_gemm_roof_gflops"),
        ("copy", "copy_roof_gbps", "local_copy_roof_gbps"),
    ):
        run_roof = [_roof(meta, d, t, kind) for d, t in zip(frame["device"], frame["dtype"], strict=True)]
        own = pd.to_numeric(frame[local], errors="coerce") if local in frame else np.nan
        frame[column] = pd.Series(own, index=frame.index, dtype=float).fillna(
            pd.Series(run_roof, index=frame.index, dtype=float)
        )
    frame["frac_gemm_roof"] = frame["gflops"] / pd.to_numeric(frame["gemm_roof_gflops"], errors="coerce")
    frame["frac_copy_roof"] = frame["gbps"] / pd.to_numeric(frame["copy_roof_gbps"], errors="coerce")
    frame["peak_over_predicted"] = frame["peak_bytes"] / frame["predicted_peak_bytes"]
    return frame


def load_run(run_dir: Path | str) -> Run:
    """Load one run directory; raises RecordError (the one error class for a bad run file) naming
    the file (and field) on bad input."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RecordError(f"{path}: not a directory")
    record = read_run(path)  # RecordError, naming the file and field, for a file it cannot trust
    timings = read_timings(path)
    memory = read_memory(path)
    meta = record.to_json()
    warnings = []
    if timings is None:
        warnings.append(f"{path / RUNTIME_FILE}: missing; no timings in this run")
    if memory is None:
        warnings.append(f"{path / MEMORY_FILE}: missing; no peak memory in this run")
    if timings is None and memory is None:
        raise RecordError(f"{path}: holds neither {RUNTIME_FILE} nor {MEMORY_FILE}; nothing to analyse")
    timed = _runtime_rows(timings) if timings is not None else {}
    peaks = _memory_rows(memory) if memory is not None else {}
    expected = record.cases
    found = len(timed.keys() | peaks.keys())
    if record.status != "complete" or (expected is not None and found < expected):
        stale = record.status == "running" and lock_is_free(path)  # its writer died, e.g. SIGKILL
        status = f"{record.status}, stale: its writer is gone" if stale else record.status
        warnings.append(f"{path}: partial run ({found} of {expected} cases recorded, status {status})")
    frame = _combine(timed, peaks, meta, run_name(meta, path))
    by_case = {entry.case.name: entry for entry in timings.entries} if timings is not None else {}
    return Run(path, meta, frame, warnings, record, by_case)


def results_path(run: Run, out: Path, index: int = 0) -> Path:
    """Where the report writes the tidy table of its ``index``-th run: ``out/results-1-<run id>.csv``
    (the run id with anything but letters, digits, ``.``, ``_`` and ``-`` replaced), never into the
    run directory itself, so a committed run stays untouched however often it is reported. The
    position keeps two runs of one name apart."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run.run_id)[:80]
    return Path(out) / f"results-{index + 1}-{slug}.csv"


def write_results(run: Run, out: Path, index: int = 0) -> Path:
    """Write the tidy table of ``run`` (the ``index``-th of a report) under the report directory ``out``."""
    target = results_path(run, out, index)
    run.cases.to_csv(target, index=False)
    return target
