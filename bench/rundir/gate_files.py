"""The gate's measurement files, owned here: ``ab.json`` (the time A/B) and ``peaks.json`` (the
memory A/B), both written by :mod:`bench.abtest.runner` and read by the gate and the trend.

As for the run directory (:mod:`bench.rundir.records`, after asv's ``Results``), one record owns
the format: ``GateFile`` with one ``to_json`` and one ``from_json`` that checks what the readers
rely on: the schema (another one is refused), the kind, the file's status, and per pair its case
name, both sides' statuses and, where a side measured, its figures (times positive and finite,
peaks whole numbers). Anything wrong is ``RecordError`` with one line naming the file and the
field, e.g. ``OUT/ab.json: pair 3 (formula-torch[cpu-float32-N16-D64-M64]): head.min_s is -1,
not a finite number > 0``. Fields the readers do not rely on (a side's rounds, its threads, the
machine's facts) are kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cases import split_name
from bench.rundir.fields import RecordError, Where, load_json, shown
from bench.rundir.store import write_json_atomic

AB_FILE = "ab.json"
PEAKS_FILE = "peaks.json"
AB_SCHEMA = 2
"""2: ``reps`` is the profile's repetitions, ``extra_reps`` the further ones per label; pairs
carry ``rep``. Memory pairs (``peaks.json``) are new in 2."""
KINDS = ("ab", "peaks")
"""``ab``: times (``ab.json``); ``peaks``: peak bytes (``peaks.json``)."""
SIDE_STATUSES = ("ok", "failed", "missing")
"""A side's measurement of a case: measured; failed (wrong gradients, a child that died: the
reason says); missing (the method is not in that side's tree)."""
FILE_STATUSES = ("running", "complete", "interrupted")
"""Plus "failed: <reason>", when the A/B stopped on an error."""
_HEADER = ("schema", "kind", "created_utc", "machine", "profile", "threads", "base", "head", "cases")


@dataclass(frozen=True)
class Measurement:
    """One side's result for one case: its status, the reason when not ok, and its figures."""

    status: str
    reason: str | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)
    """``min_s``, ``median_s``, ``rounds``, ``times``, ``threads``, ``max_rel_error`` (ab), or
    ``peak_bytes`` and ``max_rel_error`` (peaks), as written."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def min_s(self) -> float:
        """The fastest round's seconds (ab, a side that measured)."""
        return float(self.figures["min_s"])

    @property
    def peak_bytes(self) -> int:
        """The call's peak bytes (peaks, a side that measured)."""
        return int(self.figures["peak_bytes"])

    def to_json(self) -> dict[str, Any]:
        reason = {} if self.reason is None else {"reason": self.reason}
        return {"status": self.status} | reason | dict(self.figures)

    @classmethod
    def from_json(cls, data: Any, where: Where, side: str, kind: str) -> Measurement:
        data = where.obj(data, side)
        status = where.choice(data.get("status"), f"{side}.status", SIDE_STATUSES)
        reason = where.text(data.get("reason"), f"{side}.reason", optional=True)
        if status == "ok" and kind == "ab":
            where.number(data.get("min_s"), f"{side}.min_s")
            where.number(data.get("median_s"), f"{side}.median_s")
        if status == "ok" and kind == "peaks":
            where.whole(data.get("peak_bytes"), f"{side}.peak_bytes", 0)
        figures = {k: v for k, v in data.items() if k not in ("status", "reason")}
        return cls(status, reason, figures)


@dataclass(frozen=True)
class Pair:
    """One case measured on both sides, back to back, ``first`` first."""

    case: str
    base: Measurement
    head: Measurement
    first: str | None = None
    rep: int | None = None
    """The repetition (ab only)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.case}
        if self.rep is not None:
            out["rep"] = self.rep
        if self.first is not None:
            out["first"] = self.first
        return out | {"base": self.base.to_json(), "head": self.head.to_json()}

    @classmethod
    def from_json(cls, data: Any, where: Where, index: int, kind: str) -> Pair:
        data = where.at(f"pair {index}").obj(data, "the pair")
        case = where.at(f"pair {index}").text(data.get("case"), "case")
        assert case is not None
        try:
            split_name(case)
        except ValueError:
            where.at(f"pair {index}").fail("case", f"{shown(case)} is not a case name")
        at = where.at(f"pair {index} ({case})")
        first = at.text(data.get("first"), "first", optional=True)
        if first is not None:
            at.choice(first, "first", ("base", "head"))
        rep = at.whole(data.get("rep"), "rep", 0, optional=True)
        base = Measurement.from_json(data.get("base"), at, "base", kind)
        head = Measurement.from_json(data.get("head"), at, "head", kind)
        return cls(case, base, head, first, rep)


@dataclass(frozen=True)
class GateFile:
    """An A/B's file: its header (machine, profile, both sides), its pairs and its status."""

    kind: str
    pairs: tuple[Pair, ...]
    status: str
    base: Mapping[str, Any]
    head: Mapping[str, Any]
    machine: Mapping[str, Any] = field(default_factory=dict)
    profile: str | None = None
    threads: int | None = None
    created_utc: str | None = None
    cases: tuple[Mapping[str, Any], ...] = ()
    schema: int = AB_SCHEMA
    extra: Mapping[str, Any] = field(default_factory=dict)
    """The time A/B's ``reps``, ``extra_reps``, ``budget_s``, ``max_time_s``, ``stopped``, and any
    other field, as written."""

    @property
    def reps(self) -> int:
        """The profile's repetitions (ab)."""
        return int(self.extra.get("reps", 0))

    @property
    def extra_reps(self) -> Mapping[str, int]:
        """Further repetitions per label, for methods still undecided (ab)."""
        return self.extra.get("extra_reps") or {}

    @property
    def stopped(self) -> str | None:
        """Why the repetitions ended (ab)."""
        return self.extra.get("stopped")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "kind": self.kind,
            "created_utc": self.created_utc,
            "machine": dict(self.machine),
            "profile": self.profile,
            "threads": self.threads,
            "base": dict(self.base),
            "head": dict(self.head),
            "cases": [dict(case) for case in self.cases],
            "pairs": [pair.to_json() for pair in self.pairs],
            "status": self.status,
        } | dict(self.extra)

    @classmethod
    def from_json(cls, data: Any, path: Path | str) -> GateFile:
        where = Where(path)
        data = where.obj(data, "the file")
        if data.get("schema") != AB_SCHEMA:
            where.fail("schema", f"is {shown(data.get('schema'))}; this suite reads schema {AB_SCHEMA}")
        kind = where.choice(data.get("kind"), "kind", KINDS)
        status = where.text(data.get("status"), "status")
        assert status is not None
        if status not in FILE_STATUSES and not status.startswith("failed: "):
            known = ", ".join((*FILE_STATUSES, "failed: <reason>"))
            where.fail("status", f"{shown(status)} is not one of {known}")
        for side in ("base", "head"):
            where.obj(data.get(side), side)
        machine = where.obj(data.get("machine", {}), "machine")
        cases = data.get("cases", [])
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            where.fail("cases", f"is {shown(cases)}, not a list of case parameters")
        pairs = data.get("pairs")
        if not isinstance(pairs, list):
            where.fail("pairs", f"is {shown(pairs)}, not a list")
        return cls(
            kind=kind,
            pairs=tuple(Pair.from_json(p, where, i, kind) for i, p in enumerate(pairs)),
            status=status,
            base=data["base"],
            head=data["head"],
            machine=machine,
            profile=where.text(data.get("profile"), "profile", optional=True),
            threads=where.whole(data.get("threads"), "threads", 1, optional=True),
            created_utc=where.text(data.get("created_utc"), "created_utc", optional=True),
            cases=tuple(cases),
            extra={k: v for k, v in data.items() if k not in (*_HEADER, "pairs", "status")},
        )


def read_gate_file(path: Path) -> GateFile:
    """``ab.json`` or ``peaks.json``, every field the gate reads checked; RecordError otherwise."""
    return GateFile.from_json(load_json(path, required=True), path)


def write_gate_file(path: Path, data: Mapping[str, Any]) -> GateFile:
    """Check ``data`` as the file's record, then write it atomically; the record is returned."""
    record = GateFile.from_json(dict(data), path)
    write_json_atomic(path, record.to_json())
    return record


__all__ = ["AB_FILE", "AB_SCHEMA", "PEAKS_FILE", "GateFile", "Measurement", "Pair", "RecordError"]
