"""The tracking history (JSON Lines): the one module that reads, checks, appends and merges it.

Every line is one record with ``api_version`` and ``kind``, checked on load in the manner of
asv's ``Results`` (an unknown kind, a missing field or a newer ``api_version`` is an error naming
the line, never a silently empty trend):

- ``run``: one case of one sweep on one machine (normalised time, peak): per-machine history,
  written by ``regress --current`` (:mod:`analysis.gate.history`).
- ``link``: the A/B of a commit against its first parent, measured in one job on one runner:
  every method's time ratio with its interval, every case's peak on both sides. Chained along
  first-parent history these give a trend no change of runner can fake (:mod:`analysis.trend.chain`).
- ``aa``: a scheduled A/A run (the same commit on both sides): the gate's false alarms and MDEs.

Lines written before ``api_version`` existed (the regress history of schema 2, one per case)
are read as ``run`` records (the upgrade path); older schemas are skipped, as before, because
their ``norm_time`` meant something else. The file is append-only: :func:`merge` takes the union
of two versions, in order, without duplicates, so that concurrent writers lose no line.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analysis.report.output import write_atomically

API_VERSION = 1
RUN_SCHEMA = 2
"""What ``norm_time`` means in a run record: time ÷ the run's median roof (the baseline's schema 2)."""
REQUIRED: dict[str, tuple[str, ...]] = {
    "run": ("commit", "run_id", "case", "label", "metrics"),
    "link": ("commit", "parent", "machine", "device", "time", "memory"),
    "aa": ("commit", "machine", "device", "date", "time", "memory", "status"),
}


class HistoryError(ValueError):
    """A history that cannot be read: a corrupt line, an unknown kind, a missing field, a newer version."""


def _not_a_directory(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"history {path} is a directory, not a JSON Lines file")


def _upgrade(entry: dict[str, Any]) -> dict[str, Any] | None:
    """A line of the regress history before api_version (schema 2) as a run record; older: None."""
    if "api_version" in entry:
        return entry
    if entry.get("schema") != RUN_SCHEMA:
        return None
    return entry | {"api_version": API_VERSION, "kind": "run"}


def check(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """The record itself, or HistoryError naming ``where`` and what is wrong with it."""
    version = entry.get("api_version")
    if not isinstance(version, int) or version > API_VERSION:
        raise HistoryError(f"{where}: api_version {version!r} is newer than this code's {API_VERSION}")
    kind = entry.get("kind")
    if kind not in REQUIRED:
        raise HistoryError(f"{where}: unknown kind {kind!r}; one of {', '.join(REQUIRED)}")
    missing = [name for name in REQUIRED[kind] if name not in entry]
    if missing:
        raise HistoryError(f"{where}: {kind} record lacks {', '.join(missing)}")
    return entry


def parse(text: str, source: str) -> list[dict[str, Any]]:
    """Every record of a history's text, checked and upgraded, in file order."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{source}: line {number} is corrupt JSON ({exc.msg})") from None
        upgraded = _upgrade(entry) if isinstance(entry, dict) else None
        if upgraded is not None:
            records.append(check(upgraded, f"{source}: line {number}"))
    return records


def read(path: Path | None, kind: str | None = None) -> list[dict[str, Any]]:
    """The records of ``path`` (of one ``kind`` if given); a missing file is an empty history."""
    if path is None or not path.exists():
        return []
    _not_a_directory(path)
    records = parse(path.read_text(), str(path))
    return [r for r in records if kind is None or r["kind"] == kind]


def make(kind: str, **fields: Any) -> dict[str, Any]:
    """A new record of ``kind`` with an ``id`` of its own, checked as a reader would check it."""
    new = {"api_version": API_VERSION, "kind": kind, "id": uuid.uuid4().hex} | fields
    return check(new, f"new {kind} record")


def key(record: dict[str, Any]) -> str:
    """What identifies a record: its ``id``; a line from before ids, its whole content."""
    return str(record.get("id") or json.dumps(record, sort_keys=True))


def merge(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` then every record of ``new`` that ``old`` lacks, in order: an append that loses nothing."""
    merged = list(old)
    seen = {key(r) for r in merged}
    for record in new:
        if key(record) not in seen:
            seen.add(key(record))
            merged.append(record)
    return merged


def dumps(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)


def append(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Append the records ``path`` lacks (by :func:`key`), rewriting it atomically; returns how
    many were added. A retried push therefore adds nothing twice. Lines of an older schema that
    the reader skips are kept as they were, never dropped.
    """
    _not_a_directory(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else ""
    existing = parse(text, str(path))
    added = merge(existing, [check(r, f"new {r.get('kind')} record") for r in records])[len(existing) :]
    if text and not text.endswith("\n"):
        text += "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text + dumps(added)))
    return len(added)
