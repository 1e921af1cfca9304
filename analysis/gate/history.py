"""The regress history (JSON Lines): the one module that writes and reads it.

``regress`` appends one line per case after each gate; the report reads the lines back to plot
normalised time over commits. Writer and reader live together so that a field renamed on one
side cannot silently empty the trend on the other. The metrics' schema, the machine identity
and the thread wording are shared with the baseline (:mod:`analysis.gate.baseline` imports them
from here), because a history line and a baseline entry describe the same per-case medians.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.load import Run

BASELINE_SCHEMA = 2
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


def _not_a_directory(path: Path) -> None:
    """An IsADirectoryError (an OSError, so every CLI already turns it into one line) in words."""
    if path.is_dir():
        raise IsADirectoryError(f"history {path} is a directory, not a JSON Lines file")


def append_history(path: Path, run: Run, current: dict[str, dict[str, Any]]) -> None:
    """One JSON line per case: commit, date, machine, and the medians of each metric."""
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
    _not_a_directory(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        for case, entry in sorted(current.items()):
            values = {k: statistics.median(entry[k]) for k in TIME_METRICS if k in entry}
            if "peak_bytes" in entry:
                values["peak_bytes"] = entry["peak_bytes"]
            if values:
                handle.write(
                    json.dumps(common | {"case": case, "label": entry["label"], "metrics": values}) + "\n"
                )


def load_history(path: Path | None) -> pd.DataFrame:
    """The regress history as rows of run, commit, date, case, label, norm_time.

    Only lines of the current baseline schema count (what ``norm_time`` means changed between
    schemas), and the label names the profile and threads when the history mixes several.
    A missing file is an empty history (no gate has run yet); a directory is an error.
    """
    if path is None or not path.exists():
        return pd.DataFrame()
    _not_a_directory(path)
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {number} is corrupt JSON ({exc.msg})") from None
        if entry.get("schema") != BASELINE_SCHEMA:
            continue
        metrics = entry.get("metrics", {})
        rows.append(
            {k: entry.get(k) for k in ("run_id", "commit", "date", "case", "label")}
            | {"norm_time": metrics.get("norm_time")}
            | {"setting": f"{entry.get('profile')}, {describe_threads(entry.get('threads'))}"}
        )
    history = pd.DataFrame(rows)
    if not history.empty and history["setting"].nunique() > 1:
        history["label"] = history["label"] + " (" + history["setting"] + ")"
    return history
