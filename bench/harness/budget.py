"""Memory budgets: parse them, find the default, and decide whether a case fits.

The default is half of what is available. For CPU cases that is the least of: the host's
available memory (psutil's figure, MemAvailable on Linux), and for the cgroup the process is in
(and its parents) the cgroup v2 ``memory.max`` less ``memory.current``, or the cgroup v1
``memory.limit_in_bytes`` less its usage (:mod:`bench.hardware`): a container's limit is not in
MemAvailable, and a run inside a 3 GiB cgroup that trusted the host's 11 GiB was killed by the
kernel. For CUDA cases it is half of the GPU's free memory. Half, because a benchmark process
also holds the interpreter, torch, the reference check and allocator slack, and because the OS
must never be pushed into killing a case. run.json records which bound set it
(:func:`budget_source`).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from bench.hardware import ROOT, MemoryBound, cuda_free_bytes, host_available_bytes, tightest_memory_bound
from bench.units import format_bytes

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
MAX_BYTES = 2**60
"""1 EiB: no machine has more, and sizes stay far inside the 64-bit integers that torch, numpy
and the tile arithmetic use. Anything larger is a typo, refused with one line."""
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(text: str) -> int:
    """``"8GiB"`` → 8589934592; decimal (GB) and binary (GiB) units, or plain bytes."""
    match = _PATTERN.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"malformed memory size {text!r}; use e.g. 8GiB, 512MiB, 2GB or 1000000")
    value = int(Fraction(match.group(1)) * _UNITS[unit])  # exact: float() overflows at 1e309
    if value <= 0:
        raise ValueError(f"memory size must be positive, got {text!r}")
    if value > MAX_BYTES:
        shown = text if len(text) <= 24 else f"{text[:20]}... ({len(text)} characters)"
        raise ValueError(f"memory size {shown!r} is larger than 1 EiB (2**60 bytes)")
    return value


def memory_bound(device: str, root: Path = ROOT) -> MemoryBound:
    """What limits the memory ``device`` can give this process now: the GPU's free memory, or the
    tightest of the host's and the cgroups' (``root``: a fake file tree in the tests)."""
    if device == "cuda":
        return MemoryBound("CUDA free memory", cuda_free_bytes())
    return tightest_memory_bound(host_available_bytes(), root)


def default_budget(device: str, root: Path = ROOT) -> int:
    """Half of the memory available to ``device`` right now."""
    return memory_bound(device, root).available_bytes // 2


def budget_source(bound: MemoryBound) -> str:
    """One line for run.json: which bound a default budget is half of, with its figures."""
    text = f"half of {format_bytes(bound.available_bytes, decimal=False)}: {bound.source}"
    if bound.limit_bytes is not None:
        limit, used = (format_bytes(b or 0, decimal=False) for b in (bound.limit_bytes, bound.used_bytes))
        text += f" {limit} less {used} in use ({bound.path})"
    return text


def budget_for(device: str, given: int | None, root: Path = ROOT) -> tuple[int, str]:
    """The budget for ``device`` (``given`` by --memory-budget, else the default) and where it came from."""
    if given:
        return given, "--memory-budget"
    bound = memory_bound(device, root)
    return bound.available_bytes // 2, budget_source(bound)


def over_budget_reason(need: int, budget: int) -> str | None:
    """A one-line reason when ``need`` bytes (a case's predicted need) exceed ``budget``, else None.

    It takes a byte count, not a case, so that the memory guard knows nothing of cases."""
    if need <= budget:
        return None
    return f"needs {format_bytes(need)}, budget {format_bytes(budget)}"
