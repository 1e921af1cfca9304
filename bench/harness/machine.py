"""What run.json records about the machine and software, so every number can be traced."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cpuinfo
import numpy as np
import psutil
import torch

from bench.hardware import container_facts, host_available_bytes, last_level_cache_bytes
from bench.harness.cudatime import l2_bytes
from bench.harness.gpustate import compute_mode, driver_version, sm_clock


def _cpu_model() -> str:
    """The CPU's brand string, from py-cpuinfo2 (pytest-benchmark records the same in its file)."""
    brand = cpuinfo.get_cpu_info().get("brand_raw")
    return str(brand) if brand else platform.processor() or platform.machine()


def _system_id() -> str | None:
    """The OS install's identity (systemd's /etc/machine-id): hostnames like "vm" repeat."""
    try:
        return Path("/etc/machine-id").read_text().strip() or None
    except OSError:
        return None


def git_commit() -> dict[str, Any]:
    """The commit of this tree ({"id", "dirty"}; both None outside a git checkout)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return {"id": None, "dirty": None}
    return {"id": commit, "dirty": dirty}


def _blas() -> list[dict[str, Any]]:
    """numpy's and torch's BLAS and OpenMP pools (threadpoolctl); empty where it is not installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []

    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def gpu_info() -> list[dict[str, Any]]:
    """Each GPU: name, memory, SM count, L2, compute capability, driver and SM clock (now)."""
    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append(
            {
                "index": index,
                "name": props.name,
                "memory_bytes": int(props.total_memory),
                "sm_count": int(props.multi_processor_count),
                "l2_bytes": l2_bytes(f"cuda:{index}") or None,
                "capability": f"{props.major}.{props.minor}",
                "driver": driver_version(index),
                "compute_mode": compute_mode(index),
                "sm_clock": sm_clock(index),
            }
        )
    return gpus


def with_clocks_after(machine: Mapping[str, Any]) -> dict[str, Any]:
    """``machine`` with each GPU's SM clock read again now (``sm_clock_after``), for a run's end."""
    gpus = [gpu | {"sm_clock_after": sm_clock(int(gpu.get("index", 0)))} for gpu in machine.get("gpus") or []]
    return dict(machine) | ({"gpus": gpus} if gpus else {})


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, GPUs, software versions, BLAS and thread counts, commit, UTC time."""
    return {
        "hostname": platform.node(),
        "system_id": _system_id(),
        "cpu_model": _cpu_model(),
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "llc_bytes": last_level_cache_bytes(),
        "ram_bytes": int(psutil.virtual_memory().total),
        "ram_available_bytes": host_available_bytes(),
        # The process's share: CPU affinity, cgroup CPU quota, and each memory bound (host, cgroups).
        **container_facts(),
        "gpus": gpu_info(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "blas": _blas(),
        # The ISA torch's CPU kernels were dispatched for (e.g. AVX2, AVX512): with the BLAS's
        # kernels, what decides a run's workspaces (analysis.gate.fingerprint).
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "commit": git_commit(),
        "timestamp_utc": datetime.now(UTC).isoformat(),
    }
