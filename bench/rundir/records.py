"""The run directory's formats, owned in one place: typed records, each read and written here.

Why one owner (asv's ``Results`` is the model): a format known only through string keys spread
over writers and readers drifts, and a value nobody checks turns into silently wrong output (a
median of -1 reported as a time, a memory status "exploded" shown as ok). So every record has
one ``to_json`` and one ``from_json``, and ``from_json`` checks every field it reads: types,
ranges (times positive and finite, peaks positive whole numbers when measured, counts >= 0),
known statuses, and the run's schema version. Anything wrong raises ``RecordError`` with one
line naming the file and the field, e.g.
``runs/x/memory.json: record 3 (explicit-torch-warm[cpu-float32-N16-D64-M64]): status 'exploded'
is not one of ok, skipped, failed``.

Files: ``run.json`` (``RunMeta``: ``read_run`` and ``write_run_meta`` are its only reader and
writer), ``memory.json`` (a list of ``MemoryRecord``), and ``runtime.json``, which stays
pytest-benchmark's own format so that ``pytest-benchmark compare`` reads it: ``TimingEntry`` is
one of its benchmark entries, kept whole, with the fields this project reads checked. The
runtime pass's pytest child writes that file through pytest-benchmark's own hook
(``bench.sweep.runtime_plugin``); the headline and the synthetic test runs write it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_benchmark
from pytest_benchmark.stats import Stats

from bench.cases import Case
from bench.harness.budget import MAX_BYTES
from bench.rundir.fields import RecordError, Where, load_json, shown
from bench.rundir.store import (
    MEMORY_FILE,
    RUN_FILE,
    RUNTIME_FILE,
    SCHEMA_VERSION,
    RunFileError,
    write_json_atomic,
)

MEMORY_STATUSES = ("ok", "skipped", "failed")
NOT_TIMED_STATUSES = ("skipped", "failed")
RUN_STATUSES = ("running", "complete", "interrupted")
"""Plus "failed: <reason>" (e.g. "failed: disk full") when a run file could not be written."""
DEVICE_STATUSES = ("run", "running", "skipped", "failed")
TRACKERS = ("memray", "torch.cuda", "none")
COUNT_FIELDS = (
    "predicted_peak_bytes",
    "input_bytes",
    "jacobian_dydx_bytes",
    "jacobian_dydw_bytes",
    "flops",
    "bytes_moved",
    "fresh_bytes",
)
"""The cost model's counts that a memory record and a timing's extra_info carry (``Case.predicted``)."""
CASE_FIELDS = ("case", "label", "family", "backend", "method", "variant", "device", "dtype", "n", "d", "m")


def _counts(data: Mapping[str, Any], where: Where) -> dict[str, int]:
    return {k: where.whole(data[k], k, 0) for k in COUNT_FIELDS if k in data}  # type: ignore[misc]


# --- run.json ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunMeta:
    """run.json: who ran what, where, with which options, and how far it got."""

    run_id: str
    options: Mapping[str, Any]
    profile: Mapping[str, Any]
    machine: Mapping[str, Any]
    devices: Mapping[str, Mapping[str, Any]]
    status: str
    cases: int | None = None
    run_name: str | None = None
    finished_utc: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other keys a writer added (e.g. ``runtime_env``), kept as written."""
    schema: int = SCHEMA_VERSION

    @property
    def is_headline(self) -> bool:
        return self.profile.get("name") == "headline" or self.options.get("profile") == "headline"

    def with_status(self, status: str) -> RunMeta:
        finished = datetime.now(UTC).isoformat() if status == "complete" else self.finished_utc
        return replace(self, status=status, finished_utc=finished)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": self.schema, "run_id": self.run_id}
        if self.run_name is not None:
            data["run_name"] = self.run_name
        data |= {
            "options": dict(self.options),
            "profile": dict(self.profile),
            "machine": dict(self.machine),
            "devices": {name: dict(entry) for name, entry in self.devices.items()},
        }
        data |= dict(self.extra)
        data["status"] = self.status
        if self.cases is not None:
            data["cases"] = self.cases
        if self.finished_utc is not None:
            data["finished_utc"] = self.finished_utc
        return data

    @classmethod
    def from_json(cls, data: Any, path: Path | str = RUN_FILE) -> RunMeta:
        where = Where(path)
        data = where.obj(data, "the file")
        schema = data.get("schema")
        if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= SCHEMA_VERSION:
            where.fail("schema", f"is {shown(schema)}; this suite reads schema {SCHEMA_VERSION} and older")
        known = {"schema", "run_id", "run_name", "options", "profile", "machine", "devices", "status"}
        known |= {"cases", "finished_utc"}
        return cls(
            schema=schema,
            run_id=where.text(data.get("run_id"), "run_id"),  # type: ignore[arg-type]
            run_name=where.text(data.get("run_name"), "run_name", optional=True),
            options=_options(data.get("options"), where),
            profile=_profile(data.get("profile"), where),
            machine=_machine(data.get("machine"), where),
            devices=_devices(data.get("devices"), where),
            status=_run_status(data.get("status"), where),
            cases=where.whole(data.get("cases"), "cases", 0, optional=True),
            finished_utc=where.text(data.get("finished_utc"), "finished_utc", optional=True),
            extra={k: v for k, v in data.items() if k not in known},
        )


DEVICES = ("cpu", "cuda", "all")
PASSES = ("runtime", "memory")
"""The values ``options.device`` and ``options.passes`` may take: the format's own vocabulary."""


def _options(value: Any, where: Where) -> dict[str, Any]:
    """The stored options, each field checked once, here (``--resume`` reuses them as they are;
    it only adds that today's code knows the profile and the methods)."""
    options = where.obj(value, "options")
    where.text(options.get("profile"), "options.profile")
    if where.text(options.get("device"), "options.device") not in DEVICES:
        where.fail("options.device", f"is {shown(options['device'])}, not one of {', '.join(DEVICES)}")
    where.names(options.get("methods"), "options.methods")
    passes = where.names(options.get("passes"), "options.passes")
    if not set(passes) <= set(PASSES):
        where.fail("options.passes", f"is {shown(passes)}, not a list of {' and '.join(PASSES)}")
    budget = where.whole(options.get("memory_budget"), "options.memory_budget", 1, optional=True)
    if budget is not None and budget > MAX_BYTES:
        where.fail("options.memory_budget", f"is {budget}, above the 1 EiB limit")
    return options


@dataclass(frozen=True)
class Options:
    """A sweep's validated choices: run.json's ``options``, which ``--resume`` repeats. The sweep,
    ``--resume``, the headline (profile ``headline``) and the synthetic test runs all write it here."""

    profile: str
    device: str
    methods: tuple[str, ...]
    memory_budget: int | None
    passes: tuple[str, ...] = PASSES

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "device": self.device,
            "methods": list(self.methods),
            "memory_budget": self.memory_budget,
            "passes": list(self.passes),
        }

    @classmethod
    def from_json(cls, data: Any, path: Path | str = RUN_FILE) -> Options:
        """The stored options, each field checked (``_options``); RecordError names a bad one."""
        options = _options(data, Where(path))
        return cls(
            profile=options["profile"],
            device=options["device"],
            methods=tuple(options["methods"]),
            memory_budget=options.get("memory_budget"),
            passes=tuple(options["passes"]),
        )


def _profile(value: Any, where: Where) -> dict[str, Any]:
    profile = where.obj(value, "profile")
    where.text(profile.get("name"), "profile.name")
    axes = where.obj(profile.get("axes", {}), "profile.axes")
    for axis, points in axes.items():
        ok = isinstance(points, list) and all(
            isinstance(p, list) and len(p) == 3 and all(isinstance(x, int) and x > 0 for x in p)
            for p in points
        )
        if not ok:
            where.fail(f"profile.axes.{axis}", "is not a list of [N, D, M] points")
    where.whole(profile.get("threads"), "profile.threads", 1, optional=True)
    return profile


def _machine(value: Any, where: Where) -> dict[str, Any]:
    machine = where.obj(value, "machine")
    for name in ("hostname", "cpu_model"):
        where.text(machine.get(name), f"machine.{name}", optional=True)
    for name in ("cores", "physical_cores", "ram_bytes", "llc_bytes"):
        where.whole(machine.get(name), f"machine.{name}", 1, optional=True)
    gpus = machine.get("gpus") or []
    if not isinstance(gpus, list) or not all(
        isinstance(g, dict) and isinstance(g.get("name"), str) for g in gpus
    ):
        where.fail("machine.gpus", f"is {shown(gpus)}, not a list of GPUs with names")
    commit = machine.get("commit")
    if commit is not None:
        where.obj(commit, "machine.commit")
    return machine


def _devices(value: Any, where: Where) -> dict[str, dict[str, Any]]:
    devices = where.obj(value, "devices")
    for name, entry in devices.items():
        entry = where.obj(entry, f"devices.{name}")
        where.choice(entry.get("status"), f"devices.{name}.status", DEVICE_STATUSES)
        where.whole(entry.get("memory_budget_bytes"), f"devices.{name}.memory_budget_bytes", 1, optional=True)
        roofs = entry.get("roofs")
        if roofs is None:
            continue
        roofs = where.obj(roofs, f"devices.{name}.roofs")
        for dtype, gemm in where.obj(roofs.get("gemm", {}), f"devices.{name}.roofs.gemm").items():
            key = f"devices.{name}.roofs.gemm.{dtype}"
            where.number(where.obj(gemm, key).get("gflops"), f"{key}.gflops")
        copy = where.obj(roofs.get("copy", {}), f"devices.{name}.roofs.copy")
        where.number(copy.get("gbps"), f"devices.{name}.roofs.copy.gbps", optional="gbps" not in copy)
        for kind in ("first_touch", "incache"):  # CPU runs since the compiled kernel
            if kind in roofs:
                roof = where.obj(roofs[kind], f"devices.{name}.roofs.{kind}")
                where.number(roof.get("gbps"), f"devices.{name}.roofs.{kind}.gbps")
    return devices


def _run_status(value: Any, where: Where) -> str:
    if isinstance(value, str) and (value in RUN_STATUSES or value.startswith("failed: ")):
        return value
    where.fail("status", f"{shown(value)} is not one of {', '.join(RUN_STATUSES)}, or 'failed: <reason>'")


def read_run(run_dir: Path) -> RunMeta:
    """The run's run.json, every field checked: the one reader of run.json."""
    path = Path(run_dir) / RUN_FILE
    return RunMeta.from_json(load_json(path, required=True), path)


def write_run_meta(run_dir: Path, meta: RunMeta) -> None:
    """Write run.json atomically: the one writer of run.json."""
    write_json_atomic(Path(run_dir) / RUN_FILE, meta.to_json())


def mark_status(run_dir: Path, status: str) -> bool:
    """Set run.json's status if it says "running" and can still be written; True if it was.

    Used on the way out of a run that was interrupted or hit a full disk: best effort, since the
    disk may be full, and never raising, since the run is already ending with its own error. A
    run already "complete" stays so (Ctrl-C while its report is drawn loses no measurement).
    """
    try:
        meta = read_run(run_dir)
        if meta.status != "running":
            return False
        write_run_meta(run_dir, meta.with_status(status))
    except (OSError, RecordError, RunFileError):
        return False
    return True


# --- memory.json ------------------------------------------------------------------------------------


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
