"""The report of ``lbb regress`` and ``lbb noise``: ``regress.md`` and ``regress.json`` (or
``noise.*``), written on every way out, interrupted included."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.report.output import write_atomically
from bench.rundir.store import write_json_atomic


@dataclass
class Report:
    """What regress or noise has found so far: written on every way out, interrupted included."""

    out: Path
    name: str  # "regress" or "noise"
    title: str
    sections: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    not_gated: str | None = None  # why a regress --current compared against a record only

    def worse(self, status: int) -> None:
        self.status = max(self.status, status)

    def write(self, state: str) -> None:
        self.summary["exit_status"] = self.status
        self.summary["state"] = state
        text = f"## {self.title}: {state}\n\n" + "\n".join(self.sections)
        write_json_atomic(self.out / f"{self.name}.json", self.summary)
        write_atomically(self.out / f"{self.name}.md", lambda tmp: tmp.write_text(text))
