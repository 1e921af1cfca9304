"""``memory.json``: a list of ``MemoryRecord``, one per case, read and written here only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cases import Case
from bench.rundir.counts import counts as _counts
from bench.rundir.fields import RecordError, Where, load_json, shown
from bench.rundir.store import (
    MEMORY_FILE,
    write_json_atomic,
)

MEMORY_STATUSES = ("ok", "skipped", "failed")
TRACKERS = ("memray", "torch.cuda", "none")


@dataclass(frozen=True)
class MemoryRecord:
    """One case's peak memory (or why it has none), beside the cost model's prediction."""

    case: Case
    status: str
    peak_bytes: int | None
    predicted_bytes: int
    reason: str
    tracker: str
    counts: Mapping[str, int]
    threads: int | None = None

    @classmethod
    def of(
        cls,
        case: Case,
        status: str,
        peak: int | None,
        reason: str,
        tracker: str,
        *,
        block_bytes: int | None = None,
        threads: int | None = None,
    ) -> MemoryRecord:
        """A new record with the cost model's counts (``block_bytes``: the streamed tile, if not default)."""
        counts = case.predicted(block_bytes)
        return cls(case, status, peak, counts["predicted_peak_bytes"], reason, tracker, counts, threads)

    def to_json(self) -> dict[str, Any]:
        data = self.case.params() | dict(self.counts)
        data |= {
            "status": self.status,
            "peak_bytes": self.peak_bytes,
            "predicted_bytes": self.predicted_bytes,
        }
        data |= {"reason": self.reason, "tracker": self.tracker}
        return data | ({"threads": self.threads} if self.threads is not None else {})

    @classmethod
    def from_json(cls, data: Any, index: int, path: Path | str = MEMORY_FILE) -> MemoryRecord:
        case, where = Where(path).case(data, index, "record")
        status = where.choice(data.get("status"), "status", MEMORY_STATUSES)
        peak = data.get("peak_bytes")
        if status == "ok":
            where.whole(peak, "peak_bytes", 1)
        elif peak is not None:
            where.fail("peak_bytes", f"is {shown(peak)}, but a {status} case has no measured peak")
        return cls(
            case=case,
            status=status,
            peak_bytes=peak,
            predicted_bytes=where.whole(data.get("predicted_bytes"), "predicted_bytes", 0),  # type: ignore[arg-type]
            reason=where.text(data.get("reason", ""), "reason"),  # type: ignore[arg-type]
            tracker=where.choice(data.get("tracker"), "tracker", TRACKERS),
            counts=_counts(data, where),
            threads=where.whole(data.get("threads"), "threads", 1, optional=True),
        )


def read_memory(run_dir: Path) -> list[MemoryRecord] | None:
    """memory.json's records, every field checked; None when the run has no memory.json."""
    path = Path(run_dir) / MEMORY_FILE
    data = load_json(path, required=False)
    if data is None:
        return None
    if not isinstance(data, list):
        raise RecordError(f"{path}: expected a list of records, not {type(data).__name__}")
    return [MemoryRecord.from_json(record, index, path) for index, record in enumerate(data)]


def write_memory(run_dir: Path, records: Iterable[MemoryRecord]) -> None:
    write_json_atomic(Path(run_dir) / MEMORY_FILE, [record.to_json() for record in records])


# --- runtime.json (pytest-benchmark's format) --------------------------------------------------------
