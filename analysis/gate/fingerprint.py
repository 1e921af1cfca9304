"""Which machine a baseline came from, and whether it may gate this run: only a run of its own
profile and threads, on a machine of the same fingerprint (CPU model, BLAS kernels, torch's CPU
capability, library versions), since peaks depend on the CPU's kernels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.gate.history import describe_threads


def fingerprint(machine: dict[str, Any]) -> dict[str, Any]:
    """What decides which kernels, and so which workspaces, a CPU run uses: CPU model, BLAS
    kernels, torch's CPU capability, library versions. Two runs with equal fingerprints allocate
    alike; two without may not."""
    blas = sorted({str(b.get("architecture")) for b in machine.get("blas") or [] if b.get("architecture")})
    return {
        "cpu_model": machine.get("cpu_model"),
        "blas_kernels": blas,
        "cpu_capability": machine.get("cpu_capability"),
        "torch": machine.get("torch"),
        "numpy": machine.get("numpy"),
    }


def describe_machine(machine: dict[str, Any]) -> str:
    """``AMD EPYC (BLAS Haswell, torch 2.13.0+cpu)``."""
    facts = fingerprint(machine)
    kernels = "/".join(facts["blas_kernels"]) or "?"
    capability = f", {facts['cpu_capability']}" if facts["cpu_capability"] else ""
    return f"{facts['cpu_model']} (BLAS {kernels}{capability}, torch {facts['torch']})"


@dataclass(frozen=True)
class Soundness:
    """Whether a baseline may gate a run, and one line that says so and why."""

    gates: bool
    line: str
    source: str = ""  # "baseline from <machine>, commit <id>, <date>"
    why: str = ""  # when it does not gate: what differs


def soundness(baseline: dict[str, Any], meta: dict[str, Any]) -> Soundness:
    """A baseline gates a run only of its own profile and threads, on a machine of its fingerprint.

    Every other comparison is history across machines: shown, never gated. The line names the
    baseline's machine and commit, and what differs when it does not gate.
    """
    machine = meta.get("machine", {})
    where = (
        f"baseline from {describe_machine(baseline.get('machine', {}))}, commit "
        f"{str(baseline.get('commit') or '?')[:12]}, {str(baseline.get('created_utc') or '?')[:10]}"
    )
    profile = meta.get("profile", {})
    ours = (profile.get("name"), profile.get("threads"))
    theirs = (baseline.get("profile"), baseline.get("threads"))
    if ours != theirs:
        why = (
            f"it is of profile {theirs[0]} on {describe_threads(theirs[1])}, "
            f"this run of profile {ours[0]} on {describe_threads(ours[1])}"
        )
        return Soundness(False, f"{where}: a record only, not gated: {why}", where, why)
    mine, its = fingerprint(machine), fingerprint(baseline.get("machine", {}))
    differ = [key for key in mine if mine[key] != its[key]]
    if differ:
        why = (
            f"this run is on {describe_machine(machine)} "
            f"({', '.join(k.replace('_', ' ') for k in differ)} differ), and peaks depend on the "
            "CPU's kernels; the same-job A/B is the gate"
        )
        return Soundness(False, f"{where}: a record only, not gated: {why}", where, why)
    return Soundness(
        True, f"{where}: gates this run (same CPU model, BLAS kernels and library versions)", where
    )
