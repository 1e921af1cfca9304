"""What a gate will measure, checked before any directory is made or any minute is spent: the
profile, the committed baseline (a record), the base commit, and the rules ``--gate`` chose
from the registry (:data:`analysis.gate.rules.RULES`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.gate import rules
from analysis.gate.current import read_record
from analysis.gate.rule import GateRule, chosen
from bench.abtest.worktree import RefError, is_dirty, repo_root, resolve_commit
from bench.profiles import PROFILES, Profile
from bench.rundir.store import RUN_FILE
from bench.usage import UsageError

HEAD_TREE = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plan:
    """What a gate will measure."""

    profile: Profile
    record: tuple[dict[str, Any], Path] | None = None
    base_commit: str | None = None  # None: no A/B (``--current`` without ``--against``)
    rules: tuple[GateRule, ...] = ()
    """The A/Bs to run, in the registry's order; empty when none is wanted."""


def picked(args: argparse.Namespace) -> tuple[GateRule, ...]:
    """The rules ``--gate`` names, read from the registry when called."""
    return chosen(rules.RULES, args.gate)


def reads_baseline(args: argparse.Namespace) -> bool:
    """Whether a rule ``--gate`` chose shows the committed baseline (memory does; time does not)."""
    return any(rule.reads_baseline for rule in picked(args))


def _profile(name: str) -> Profile:
    if name not in PROFILES:  # a baseline's recorded profile this code no longer has
        raise UsageError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name]


def _base_commit(args: argparse.Namespace, baseline: dict[str, Any] | None) -> str:
    repo = repo_root(HEAD_TREE)
    if args.against is not None:
        return resolve_commit(repo, args.against)
    recorded = (baseline or {}).get("commit")
    if recorded:
        return resolve_commit(repo, recorded, what="the baseline's commit")
    if is_dirty(repo):
        raise RefError(
            "no --against given, the baseline records no commit, and the working tree has uncommitted "
            "changes: name the base with --against REF"
        )
    return resolve_commit(repo, "HEAD")


def check_out_dir(out: Path) -> None:
    """Refuse an ``--out`` inside another run's directory: its files would mix with that run's."""
    for parent in out.resolve().parents:
        if (parent / RUN_FILE).is_file():
            raise UsageError(
                f"--out {out} is inside the run directory {parent}; choose a directory of its own"
            )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")


def plan_regress(args: argparse.Namespace) -> Plan:
    ab_wanted = args.current is None or args.against is not None
    record = read_record(args) if (reads_baseline(args) or args.against is None) else None
    base_commit = _base_commit(args, record[0] if record else None) if ab_wanted else None
    profile = _profile(args.profile or (record[0].get("profile") if record else None) or "quick")
    return Plan(profile, record, base_commit, picked(args) if ab_wanted else ())


def plan_noise(args: argparse.Namespace) -> Plan:
    return Plan(_profile(args.profile or "quick"), rules=picked(args))
