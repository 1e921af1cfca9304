"""Memory budgets: parse them, find the default, and decide whether a case fits.

The default is half of what is available: half of the host's available memory (psutil's figure,
MemAvailable on Linux) for CPU cases, half of the GPU's free memory for CUDA cases. Half, because
a benchmark process also holds the interpreter, torch, the reference check and allocator slack,
and because the OS must never be pushed into killing a case.
"""

from __future__ import annotations

import re
from fractions import Fraction

import psutil

from bench.cases import Case
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


def host_available_bytes() -> int:
    """Memory the host can give a new allocation without swapping: psutil's ``available``
    (MemAvailable from /proc/meminfo on Linux; free plus inactive pages elsewhere)."""
    return int(psutil.virtual_memory().available)


def cuda_free_bytes() -> int:
    import torch

    free, _total = torch.cuda.mem_get_info()
    return int(free)


def default_budget(device: str) -> int:
    """Half of the memory available to ``device`` right now."""
    available = cuda_free_bytes() if device == "cuda" else host_available_bytes()
    return available // 2


def over_budget_reason(case: Case, budget: int) -> str | None:
    """A one-line reason when the case's predicted need exceeds ``budget``, else None."""
    need = case.needed_bytes()
    if need <= budget:
        return None
    return f"needs {format_bytes(need)}, budget {format_bytes(budget)}"
