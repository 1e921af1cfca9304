"""``link`` and ``aa`` records from a finished gate's directory (``regress.json`` or ``noise.json``).

A link is what ``lbb regress --against PARENT`` measured on one runner: per method the head ÷ base
time ratio with its interval and MDE (:mod:`analysis.gate.timing`), per case both sides' peaks
(:mod:`analysis.gate.memory`). The record keeps what the chain needs and nothing of the rounds
(those stay in the gate's artifacts).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.gate.history import machine_id
from analysis.trend import store
from bench.rundir.gate_files import AB_FILE, PEAKS_FILE, RecordError, read_gate_file

TIME_FIELDS = ("ratio", "low", "high", "mde", "verdict", "pairs")


class GateDirError(ValueError):
    """A gate directory that holds no finished gate to record."""


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise GateDirError(f"{path} does not exist: the gate did not write it") from None
    except json.JSONDecodeError as exc:
        raise GateDirError(f"{path} is corrupt JSON ({exc.msg})") from None


def _machine(gate_dir: Path) -> dict[str, Any]:
    for name in (AB_FILE, PEAKS_FILE):
        if (gate_dir / name).exists():
            try:
                return dict(read_gate_file(gate_dir / name).machine)
            except RecordError as exc:
                raise GateDirError(str(exc)) from None
    raise GateDirError(f"{gate_dir} has neither {AB_FILE} nor {PEAKS_FILE}: nothing was measured")


def _time(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    methods = (summary.get("time") or {}).get("methods") or []
    return {m["method"]: {k: m.get(k) for k in TIME_FIELDS} for m in methods}


def _memory(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cases = (summary.get("memory_ab") or {}).get("cases") or []
    return {c["case"]: {"base": c["base"], "head": c["head"], "verdict": c["verdict"]} for c in cases}


def _sides(summary: dict[str, Any]) -> tuple[str | None, str | None]:
    for part in ("time", "memory_ab"):
        if summary.get(part):
            return summary[part]["base"].get("commit"), summary[part]["head"].get("commit")
    return None, None


def gate_record(gate_dir: Path, kind: str, device: str, commit: str | None = None) -> dict[str, Any]:
    """The ``link`` (from ``regress.json``) or ``aa`` (from ``noise.json``) record of ``gate_dir``.

    ``commit`` names the head when the gate measured a working tree (its ``head`` commit is then
    the checkout's HEAD, which is what the workflow measures anyway).
    """
    summary = _read(gate_dir / ("regress.json" if kind == "link" else "noise.json"))
    machine = _machine(gate_dir)
    base, head = _sides(summary)
    head = commit or head
    if head is None or (kind == "link" and base is None):
        raise GateDirError(f"{gate_dir}: the gate names no {'base and ' * (kind == 'link')}head commit")
    fields: dict[str, Any] = {
        "commit": head,
        "machine": machine_id({"machine": machine}),
        "cpu": machine.get("cpu_model"),
        "device": device,
        "date": machine.get("timestamp_utc") or datetime.now(UTC).isoformat(),
        "time": _time(summary),
        "memory": _memory(summary),
        "status": summary.get("state"),
        "confidence": (summary.get("time") or {}).get("confidence"),
    }
    if kind == "link":
        fields["parent"] = base
    return store.make(kind, **fields)
