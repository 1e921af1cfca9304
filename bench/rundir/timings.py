"""``runtime.json``, which stays pytest-benchmark's own format (``pytest-benchmark compare`` reads
it): ``TimingEntry`` is one of its entries, kept whole, ``Timings`` the file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_benchmark
from pytest_benchmark.stats import Stats

from bench.cases import Case
from bench.rundir.counts import counts as _counts
from bench.rundir.fields import RecordError, Where, load_json, shown
from bench.rundir.store import (
    RUNTIME_FILE,
    SCHEMA_VERSION,
    write_json_atomic,
)

NOT_TIMED_STATUSES = ("skipped", "failed")


@dataclass(frozen=True)
class TimingEntry:
    """One pytest-benchmark benchmark entry: its case (from ``extra_info``) and its rounds.

    ``entry`` is the whole entry as written, so that reading and writing back loses nothing
    pytest-benchmark put there; the properties are what this project reads from it. On CUDA
    the rounds were also timed with CUDA events (``extra_info.cuda_event_seconds``): those are
    the statistics read, since the GPU's own clock has no host round trip in it; the host
    clock's statistics stay in the entry as pytest-benchmark wrote them.
    """

    case: Case
    entry: Mapping[str, Any]

    @property
    def extra_info(self) -> Mapping[str, Any]:
        return self.entry["extra_info"]

    @property
    def stats(self) -> Mapping[str, Any]:
        events = self.extra_info.get("cuda_event_seconds")
        return _stats_of(events) if events else self.entry["stats"]

    @property
    def median(self) -> float:
        return float(self.stats["median"])

    @property
    def iqr(self) -> float | None:
        q1, q3 = self.stats.get("q1"), self.stats.get("q3")
        return q3 - q1 if q1 is not None and q3 is not None else self.stats.get("iqr")

    @property
    def samples(self) -> list[float]:
        """Every round's time, or the median alone where the rounds were not kept."""
        return list(self.stats.get("data") or [self.median])

    @classmethod
    def from_samples(
        cls, case: Case, samples: Sequence[float], extra: Mapping[str, Any], *, test: str = "bench_backward"
    ) -> TimingEntry:
        """An entry as pytest-benchmark writes it, with its statistics (quartiles included).

        pytest-benchmark's own ``Stats`` computes them, so that one quartile rule, and so one
        "noisy" flag, holds for entries it times and entries built here (headline, tests).
        """
        entry = {
            "group": None,
            "name": f"{test}[{case.name}]",
            "fullname": f"{test}[{case.name}]",
            "params": {"case_name": case.name},
            "param": case.name,
            "extra_info": case.params() | case.predicted() | dict(extra),
            "options": {"timer": "perf_counter", "rounds": len(samples)},
            "stats": _stats_of(samples),
        }
        return cls.from_json(entry, 0)

    def to_json(self) -> dict[str, Any]:
        return dict(self.entry)

    @classmethod
    def from_json(cls, data: Any, index: int, path: Path | str = RUNTIME_FILE) -> TimingEntry:
        entry = Where(path).at(f"benchmark {index}").obj(data, "the entry")
        info = Where(path).at(f"benchmark {index}").obj(entry.get("extra_info"), "extra_info")
        case, where = Where(path).case(info, index, "benchmark")
        stats = where.obj(entry.get("stats"), "stats")
        where.number(stats.get("median"), "stats.median")
        for name in ("min", "max", "mean", "q1", "q3"):
            where.number(stats.get(name), f"stats.{name}", optional=name not in stats)
        for name in ("iqr", "stddev"):
            where.number(stats.get(name), f"stats.{name}", positive=False, optional=name not in stats)
        where.whole(stats.get("rounds"), "stats.rounds", 1, optional="rounds" not in stats)
        _times(where, stats.get("data"), "stats.data")
        _times(where, info.get("cuda_event_seconds"), "extra_info.cuda_event_seconds")
        _counts(info, where)
        where.number(info.get("max_rel_error"), "extra_info.max_rel_error", positive=False, optional=True)
        for name in ("local_copy_roof", "local_gemm_roof"):
            where.number(info.get(name), f"extra_info.{name}", optional=True)
        where.whole(info.get("threads"), "extra_info.threads", 1, optional=True)
        return cls(case, entry)


def _times(where: Where, value: Any, name: str) -> None:
    """Absent, or a non-empty list of positive seconds (one round each)."""
    if value is None:
        return
    if not isinstance(value, list) or not value:
        where.fail(name, f"is {shown(value)}, not a non-empty list of times")
    for k, sample in enumerate(value):
        where.number(sample, f"{name}[{k}]")


def _stats_of(samples: Sequence[float]) -> dict[str, Any]:
    """Statistics of one round per sample, by pytest-benchmark's own ``Stats`` (its quartile rule)."""
    stats = Stats()
    for sample in samples:
        stats.update(float(sample))
    return stats.as_dict() | {"iterations": 1, "data": [float(s) for s in samples]}


@dataclass(frozen=True)
class NotTimed:
    """A case the runtime pass did not time, with why (``not_measured`` in runtime.json)."""

    case: Case
    status: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return self.case.params() | {"status": self.status, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any, index: int, path: Path | str = RUNTIME_FILE) -> NotTimed:
        case, where = Where(path).case(data, index, "not_measured")
        status = where.choice(data.get("status", "failed"), "status", NOT_TIMED_STATUSES)
        return cls(case, status, where.text(data.get("reason", ""), "reason"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Timings:
    """runtime.json: the timed entries, the cases not timed, and the rest of the file as written."""

    entries: tuple[TimingEntry, ...]
    not_timed: tuple[NotTimed, ...] = ()
    rest: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cases(self) -> set[str]:
        """Every case the file accounts for, timed or not: what a resume need not run again."""
        return {e.case.name for e in self.entries} | {n.case.name for n in self.not_timed}

    def to_json(self) -> dict[str, Any]:
        base = {"machine_info": {}, "commit_info": {}, "datetime": datetime.now(UTC).isoformat()}
        base |= {"version": pytest_benchmark.__version__}
        return (
            base
            | dict(self.rest)
            | {
                "benchmarks": [entry.to_json() for entry in self.entries],
                "not_measured": [entry.to_json() for entry in self.not_timed],
                "linear_backprop_bench_schema": SCHEMA_VERSION,
            }
        )

    @classmethod
    def from_json(cls, data: Any, path: Path | str = RUNTIME_FILE) -> Timings:
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            raise RecordError(f"{path}: not a pytest-benchmark file (no 'benchmarks' list)")
        schema = data.get("linear_backprop_bench_schema", SCHEMA_VERSION)
        if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= SCHEMA_VERSION:
            Where(path).fail(
                "linear_backprop_bench_schema",
                f"is {shown(schema)}; this suite reads schema {SCHEMA_VERSION} and older",
            )
        not_measured = data.get("not_measured", [])
        if not isinstance(not_measured, list):
            Where(path).fail("not_measured", f"is {shown(not_measured)}, not a list")
        return cls(
            entries=tuple(TimingEntry.from_json(e, i, path) for i, e in enumerate(data["benchmarks"])),
            not_timed=tuple(NotTimed.from_json(e, i, path) for i, e in enumerate(not_measured)),
            rest={k: v for k, v in data.items() if k not in ("benchmarks", "not_measured")},
        )


def read_timings(run_dir: Path) -> Timings | None:
    """runtime.json, every field this project reads checked; None when the run has none."""
    path = Path(run_dir) / RUNTIME_FILE
    data = load_json(path, required=False)
    return None if data is None else Timings.from_json(data, path)


def write_timings(run_dir: Path, timings: Timings) -> None:
    """Write runtime.json in pytest-benchmark's format (the headline's and the synthetic runs')."""
    write_json_atomic(Path(run_dir) / RUNTIME_FILE, timings.to_json())
