"""What a gate rule is: one record per thing ``lbb regress`` and ``lbb noise`` compare by an A/B.

A rule (``time``, ``memory``: :mod:`analysis.gate.rules`) names itself (its ``--gate`` choice),
adds its own options, measures its A/B through :mod:`bench.abtest` (the measuring primitives stay
there: bench never imports analysis), judges and renders what it measured, and says what an A/A
run of it shows. Everything else (parsing, planning, the base worktree, the report, the exit
status) loops over the registry, so a new rule is its module plus one line in
:data:`analysis.gate.rules.RULES`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from analysis.gate.report_file import Report
from bench.abtest.runner import Side
from bench.profiles import Profile
from bench.rundir.gate_files import GateFile


@dataclass(frozen=True)
class Job:
    """One rule's A/B in a gate: the parsed options, both sides, the profile, and where it writes."""

    args: argparse.Namespace
    base: Side
    head: Side
    profile: Profile
    out: Path
    record: tuple[Any, Path] | None = None
    """The committed baseline and its path, for a rule that shows the head beside it (history,
    never gated); None in an A/A run or beside ``--current``."""

    @property
    def methods(self) -> list[str]:
        """The methods ``--methods`` chose (:mod:`lbb.options` checks each name)."""
        return list(self.args.methods)

    @property
    def allow_partial(self) -> bool:
        return bool(getattr(self.args, "allow_partial", False))


@dataclass
class Judgement:
    """A rule's verdicts on its A/B, rendered: what goes into the report, the console, the status."""

    verdicts: Sequence[Any]
    sections: list[str] = field(default_factory=list)
    """Markdown sections of ``regress.md`` / ``noise.md``, in order."""
    summary: dict[str, Any] = field(default_factory=dict)
    """Keys of ``regress.json`` / ``noise.json`` (``time``, ``memory_ab``, ...)."""
    lines: list[str] = field(default_factory=list)
    """Printed on stdout."""
    status: int = 0
    """0 passed; 1 a regression; 2 compared too little (unless ``--allow-partial``)."""
    incomplete: str | None = None
    """The stderr line that says why the status is 2."""


class GateRule(Protocol):
    """One thing the gate compares, head against base, measured in the same job."""

    name: str
    """Its ``--gate`` choice and its name in the report: ``time``, ``memory``."""
    reads_baseline: bool
    """Whether it shows (and with ``--current``, gates) the committed baseline: the baseline is
    read only when a chosen rule does, or to find the base commit."""

    def add_options(self, parser: argparse.ArgumentParser, opt: ModuleType) -> None:
        """Its own options of ``lbb regress`` and ``lbb noise`` (thresholds, repetitions), with
        the ``type=`` validators of ``opt`` (:mod:`lbb.options`, passed in: analysis never
        imports the command layer)."""
        ...

    def measure(self, job: Job) -> GateFile:
        """Its A/B through :mod:`bench.abtest`, its file written in ``job.out``."""
        ...

    def judge(self, job: Job, data: GateFile) -> Judgement:
        """Its verdicts on ``data``, rendered, with its exit status."""
        ...

    def noise(self, judged: Judgement) -> tuple[dict[str, Any], str | None]:
        """In an A/A run: what goes into ``noise.json`` and the line printed (None: nothing)."""
        ...


def chosen(rules: Sequence[GateRule], gate: str) -> tuple[GateRule, ...]:
    """The rules ``--gate`` names: one by its name, or every one for ``all``."""
    return tuple(rule for rule in rules if gate in ("all", rule.name))


def run_rule(rule: GateRule, job: Job, report: Report) -> Judgement:
    """Measure, judge and record one rule's A/B: its sections, summary and status in ``report``."""
    judged = rule.judge(job, rule.measure(job))
    report.sections.extend(judged.sections)
    report.summary.update(judged.summary)
    for line in judged.lines:
        print(line)
    if judged.incomplete:
        print(judged.incomplete, file=sys.stderr)
    report.worse(judged.status)
    return judged
