"""The committed baseline's file format, owned here: ``Baseline`` is its typed record, with one
``to_json`` and one ``from_json`` that checks every field (the schema first: a file of another
schema is refused, with the command that regenerates it). ``make_baseline`` builds one from a
finished run and ``read_baseline`` reads one; anything wrong is ``BaselineError`` (exit 2) with
one line naming the file and the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.gate.history import BASELINE_SCHEMA, TIME_METRICS, machine_id
from analysis.gate.run_metrics import metrics_of
from analysis.load import Run
from bench.rundir.fields import RecordError, load_json

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BASELINE = REPO / "reports" / "baseline" / "quick-cpu.json"
"""Resolved from the project's root, not the current directory, so ``regress`` finds it anywhere."""

STATUSES = ("ok", "skipped", "failed")


class BaselineError(ValueError):
    """A missing, corrupt or incompatible baseline: exit status 2."""


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _check_case(path: Path, case: str, entry: Any) -> None:
    """One line naming the file, case and field of the first value that cannot be gated."""
    if not isinstance(entry, dict):
        raise BaselineError(f"baseline {path}: cases.{case} is not an object")
    if entry.get("status") not in STATUSES:
        raise BaselineError(
            f"baseline {path}: cases.{case}.status is {entry.get('status')!r}, "
            f"not one of {', '.join(STATUSES)}"
        )
    if "peak_bytes" in entry and not (
        isinstance(entry["peak_bytes"], int) and _positive(entry["peak_bytes"])
    ):
        raise BaselineError(
            f"baseline {path}: cases.{case}.peak_bytes is {entry['peak_bytes']!r}, "
            "not a positive whole number"
        )
    for metric in TIME_METRICS:
        if metric not in entry:
            continue
        samples = entry[metric]
        if not isinstance(samples, list) or not samples or not all(_positive(x) for x in samples):
            raise BaselineError(
                f"baseline {path}: cases.{case}.{metric} must be a non-empty list of positive numbers"
            )


_FIELDS = (
    "schema",
    "source_run",
    "profile",
    "threads",
    "machine_id",
    "machine",
    "commit",
    "created_utc",
    "cases",
)


@dataclass(frozen=True)
class Baseline:
    """One machine's run, kept as a record: per case its status, peak and time samples."""

    cases: Mapping[str, Mapping[str, Any]]
    machine: Mapping[str, Any]
    profile: str | None = None
    threads: int | None = None
    source_run: str | None = None
    machine_id: str | None = None
    commit: str | None = None
    created_utc: str | None = None
    schema: int = BASELINE_SCHEMA
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Any other top-level field, kept as written."""

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "source_run": self.source_run,
            "profile": self.profile,
            "threads": self.threads,
            "machine_id": self.machine_id,
            "machine": dict(self.machine),
            "commit": self.commit,
            "created_utc": self.created_utc,
            "cases": {case: dict(entry) for case, entry in self.cases.items()},
        } | dict(self.extra)

    @classmethod
    def from_json(cls, data: Any, path: Path) -> Baseline:
        """The record, every field checked; BaselineError with one line naming ``path`` otherwise."""
        if not isinstance(data, dict) or "cases" not in data:
            raise BaselineError(f"baseline {path} holds no cases; is it a baseline file?")
        if data.get("schema") != BASELINE_SCHEMA:
            raise BaselineError(
                f"baseline {path} has schema {data.get('schema')}, "
                f"this suite reads schema {BASELINE_SCHEMA}; regenerate it with: nox -s baseline"
            )
        if not isinstance(data["cases"], dict) or not data["cases"]:
            raise BaselineError(f"baseline {path}: cases must be a non-empty object keyed by case name")
        for case, entry in data["cases"].items():
            _check_case(path, case, entry)
        commit = data.get("commit")
        if commit is not None and not isinstance(commit, str):
            raise BaselineError(f"baseline {path}: commit is {commit!r}, not a commit hash")
        machine = data.get("machine", {})
        if not isinstance(machine, dict):
            raise BaselineError(f"baseline {path}: machine is {type(machine).__name__}, not an object")
        return cls(
            cases=data["cases"],
            machine=machine,
            profile=data.get("profile"),
            threads=data.get("threads"),
            source_run=data.get("source_run"),
            machine_id=data.get("machine_id"),
            commit=commit,
            created_utc=data.get("created_utc"),
            extra={k: v for k, v in data.items() if k not in _FIELDS},
        )


def make_baseline(run: Run) -> dict[str, Any]:
    """A baseline from a complete run that measured memory; BaselineError for anything less.

    An interrupted run, a headline run or a runtime-only run would gate later runs against a
    handful of cases, or none, and a gate that compares nothing must not pass.
    """
    status = run.meta.get("status")
    if status != "complete":
        raise BaselineError(f"{run.path / 'run.json'}: status is {status!r}; a baseline needs a complete run")
    if run.meta.get("headline") or run.meta.get("profile", {}).get("name") == "headline":
        raise BaselineError(f"{run.path}: a headline run is no baseline; use a sweep of the quick profile")
    if "memory" not in run.meta.get("options", {}).get("passes", ["memory"]):
        raise BaselineError(f"{run.path}: the run has no memory pass, and memory is what a baseline gates")
    machine = run.meta.get("machine", {})
    cases = metrics_of(run)
    if not any("peak_bytes" in entry for entry in cases.values()):
        raise BaselineError(f"{run.path}: no case has a measured peak; nothing to gate against")
    return Baseline(
        schema=BASELINE_SCHEMA,
        source_run=run.run_id,
        profile=run.meta.get("profile", {}).get("name"),
        threads=run.meta.get("profile", {}).get("threads"),
        machine_id=machine_id(run.meta),
        machine=machine,
        commit=(machine.get("commit") or {}).get("id"),
        created_utc=machine.get("timestamp_utc"),
        cases=cases,
    ).to_json()


def load_baseline(path: Path) -> Baseline:
    """The baseline at ``path`` as its record; BaselineError (exit 2) with one line otherwise."""
    if not path.exists():
        raise BaselineError(f"baseline {path} does not exist; create one with: nox -s baseline")
    if path.is_dir():
        raise BaselineError(f"baseline {path} is a directory, not a baseline file")
    try:
        data = load_json(path, required=True)  # the one JSON reader, with its one-line errors
    except RecordError as exc:
        raise BaselineError(f"baseline {exc}") from None
    return Baseline.from_json(data, path)


def read_baseline(path: Path) -> dict[str, Any]:
    """The baseline at ``path``, every field checked (:func:`load_baseline`), as its JSON."""
    return load_baseline(path).to_json()
