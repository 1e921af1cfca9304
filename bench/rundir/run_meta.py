"""``run.json``: the run's metadata (``RunMeta``); ``read_run`` and ``write_run_meta`` are its only
reader and writer, ``mark_status`` its status's one update."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness.budget import MAX_BYTES
from bench.rundir.fields import RecordError, Where, load_json, shown
from bench.rundir.store import (
    RUN_FILE,
    SCHEMA_VERSION,
    RunFileError,
    write_json_atomic,
)

RUN_STATUSES = ("running", "complete", "interrupted")
"""Plus "failed: <reason>" (e.g. "failed: disk full") when a run file could not be written."""
DEVICE_STATUSES = ("run", "running", "skipped", "failed")


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
        for kind in ("first_touch", "incache", "l1_copy", "l2_copy"):  # CPU runs since the compiled kernel
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
