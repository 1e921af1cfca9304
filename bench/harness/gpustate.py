"""What a GPU is doing now: its SM clock, why it is held down, its driver and compute mode.

Read through NVML (``pynvml``, the ``nvidia-ml-py`` package that torch's own ``clock_rate``
uses; microseconds a reading) where it imports, else through ``nvidia-smi`` (a process, tens
of milliseconds). Everything here answers None on a machine with neither, so the CPU path and
the tests call it freely.

A clock read while the GPU idles is low by design (an H200 idles near 345 MHz against 1980),
so an idle reading says nothing about throttling. A GPU held down by heat or power says so in
its clock event reasons (formerly "throttle reasons"); :data:`SLOWDOWNS` are the ones that
matter for a measurement, by their NVML bits (nvml.h, ``nvmlClocksEventReason*``).
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from typing import Any

SLOWDOWNS = {
    0x4: "power cap",
    0x8: "hardware slowdown",
    0x20: "thermal slowdown (software)",
    0x40: "thermal slowdown (hardware)",
    0x80: "power brake",
}
"""Clock event reasons that hold the SM clock below what the work asks for. The others (idle,
application clocks, sync boost, display clocks) are not a throttled measurement."""


@cache
def _nvml() -> Any:
    """The initialised ``pynvml`` module, or None where it is missing or NVML does not start."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # ImportError, or NVMLError: no driver, no library
        return None
    return pynvml


@cache
def _handle(index: int) -> Any:
    nvml = _nvml()
    if nvml is None:
        return None
    try:
        return nvml.nvmlDeviceGetHandleByIndex(index)
    except nvml.NVMLError:
        return None


def _smi(fields: str, index: int) -> list[str] | None:
    """One GPU's ``nvidia-smi --query-gpu`` values, or None without nvidia-smi or an answer."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits", "-i", str(index)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return [v.strip() for v in out.strip().splitlines()[0].split(",")]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def fast() -> bool:
    """Whether a reading costs microseconds (NVML) rather than a process (nvidia-smi)."""
    return _nvml() is not None


def slowdowns(mask: int) -> list[str]:
    """The names of the slowdown reasons set in an NVML clock-event mask."""
    return [name for bit, name in SLOWDOWNS.items() if mask & bit]


def sm_clock(index: int = 0) -> dict[str, Any] | None:
    """``{"sm_mhz", "max_sm_mhz", "slowdowns"}`` of a GPU now, or None without NVML or nvidia-smi."""
    handle = _handle(index)
    if handle is not None:
        nvml = _nvml()
        reasons = (
            getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
            or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        )
        try:
            return {
                "sm_mhz": int(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
                "max_sm_mhz": int(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)),
                "slowdowns": slowdowns(int(reasons(handle))),
            }
        except nvml.NVMLError:
            pass
    for reasons in ("clocks_event_reasons.active", "clocks_throttle_reasons.active"):  # new name, old
        values = _smi(f"clocks.sm,clocks.max.sm,{reasons}", index)
        try:
            current, maximum, mask = values or ()
            return {
                "sm_mhz": int(float(current)),
                "max_sm_mhz": int(float(maximum)),
                "slowdowns": slowdowns(int(mask, 16)),
            }
        except ValueError:
            continue
    return None


def driver_version(index: int = 0) -> str | None:
    """The NVIDIA driver's version, or None without one."""
    nvml = _nvml()
    if nvml is not None:
        try:
            version = nvml.nvmlSystemGetDriverVersion()
            return version.decode() if isinstance(version, bytes) else str(version)
        except nvml.NVMLError:
            pass
    values = _smi("driver_version", index)
    return values[0] if values and values[0] else None


def compute_mode(index: int = 0) -> str | None:
    """ "Default", "Exclusive_Process" or "Prohibited" (nvidia-smi's words), or None without one.

    The GPU check runs several processes on the GPU at once; an exclusive GPU refuses all but one.
    """
    values = _smi("compute_mode", index)
    return values[0] if values and values[0] else None
