"""The per-machine half of the tracking history: ``run`` records in, rows of normalised time out.

``regress --current`` appends one ``run`` record per case after each gate; the report and the
trend page read them back to plot normalised time over commits. The file format (JSON Lines with
``api_version``, checked on load) is owned by :mod:`analysis.trend.store`; this module makes and
flattens its ``run`` records. The metrics' schema, the machine identity
and the thread wording are shared with the baseline (:mod:`analysis.gate.baseline_file` imports them
from here), because a history line and a baseline entry describe the same per-case medians.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.load import Run
from analysis.trend import store

BASELINE_SCHEMA = store.RUN_SCHEMA
"""2: normalised time against the run's median roof, and the profile's thread count recorded.
Times in a baseline are history: shown beside a run, never gated. History lines carry it too."""
DEFAULT_HISTORY = Path(__file__).resolve().parents[2] / "reports" / "history.jsonl"
"""Resolved from the project's root, not the current directory."""
TIME_METRICS = ("norm_time", "ratio", "raw_time")


def machine_id(meta: dict[str, Any]) -> str:
    machine = meta.get("machine", {})
    gpus = ",".join(g.get("name", "?") for g in machine.get("gpus") or [])
    host = f"{machine.get('hostname')}#{machine.get('system_id')}"  # "vm" alone names many machines
    return f"{host}|{machine.get('cpu_model')}|{machine.get('cores')}|{gpus}"


def describe_threads(threads: int | None) -> str:
    """A profile's thread setting in words: "1 thread", "4 threads" or "all cores"."""
    return "all cores" if threads is None else f"{threads} thread{'s' * (threads != 1)}"


def append_history(path: Path, run: Run, current: dict[str, dict[str, Any]]) -> None:
    """One ``run`` record per case (:mod:`analysis.trend.store`): commit, date, machine, and the
    medians of each metric."""
    machine = run.meta.get("machine", {})
    common = {
        "commit": (machine.get("commit") or {}).get("id"),
        "date": machine.get("timestamp_utc"),
        "machine": machine_id(run.meta),
        "run_id": run.run_id,
        "schema": BASELINE_SCHEMA,  # what norm_time means
        "profile": run.meta.get("profile", {}).get("name"),
        "threads": run.meta.get("profile", {}).get("threads"),
    }
    records = []
    for case, entry in sorted(current.items()):
        values = {k: statistics.median(entry[k]) for k in TIME_METRICS if k in entry}
        if "peak_bytes" in entry:
            values["peak_bytes"] = entry["peak_bytes"]
        if values:
            records.append(store.make("run", **common, case=case, label=entry["label"], metrics=values))
    store.append(path, records)


def load_history(path: Path | None) -> pd.DataFrame:
    """The regress history as rows of run, commit, date, case, label, norm_time.

    Only lines of the current baseline schema count (what ``norm_time`` means changed between
    schemas), and the label names the profile and threads when the history mixes several.
    A missing file is an empty history (no gate has run yet); a directory is an error.
    """
    rows = []
    for entry in store.read(path, "run"):
        if entry.get("schema") != BASELINE_SCHEMA:
            continue
        metrics = entry.get("metrics", {})
        rows.append(
            {k: entry.get(k) for k in ("run_id", "commit", "date", "case", "label", "machine")}
            | {"norm_time": metrics.get("norm_time"), "peak_bytes": metrics.get("peak_bytes")}
            | {"setting": f"{entry.get('profile')}, {describe_threads(entry.get('threads'))}"}
        )
    history = pd.DataFrame(rows)
    if not history.empty and history["setting"].nunique() > 1:
        history["label"] = history["label"] + " (" + history["setting"] + ")"
    return history
