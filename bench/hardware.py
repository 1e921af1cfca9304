"""What the machine and the container give this process: CPU caches, the CPUs it may run on, the
memory it may use. Read from sysfs, procfs and the cgroup file system.

A leaf: it imports nothing from the project (stdlib and psutil only), so the kernels, the cost
model, the budget and run.json's machine facts can all read it. The cache readers used to live in
``bench.harness.machine``, which imports the budget, and through it the cases and the methods:
``bench.compiled`` → machine → budget → cases → methods → ``bench.compiled`` was a circle.

Why the cgroup matters: a container's memory limit is not in MemAvailable. Inside a cgroup limited
to 3 GiB, the host's available memory read 11.3 GiB, the guard let a 3.0 GiB headline run, and the
kernel killed it (exit 137). Every reader takes ``root`` (default ``/``), so that the tests can
hand it a fake file tree for cgroup v1 and v2.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path("/")
CACHE_DIR = "sys/devices/system/cpu/cpu0/cache"
UNLIMITED = 2**62
"""A cgroup limit at or above this means none: cgroup v1 writes "no limit" as 2**63 less a page."""


def _size(text: str) -> int | None:
    """sysfs's ``512K`` → 524288; None for anything else."""
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    digits = text.rstrip("KMG")
    return int(digits) * scale if digits.isascii() and digits.isdigit() else None


def cache_bytes(level: int | None = None, root: Path = ROOT) -> int | None:
    """Bytes of one core's level-``level`` data or unified cache, from sysfs; the largest cache of
    any level when ``level`` is None; None where sysfs says nothing.

    Read from sysfs rather than py-cpuinfo2, whose cache fields are strings or integers in units
    that change with the platform it parsed them from."""
    sizes = []
    for entry in (root / CACHE_DIR).glob("index*"):
        try:
            if level is not None and (
                int((entry / "level").read_text()) != level
                or (entry / "type").read_text().strip() == "Instruction"
            ):
                continue
            size = _size((entry / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if size is not None:
            sizes.append(size)
    return max(sizes) if sizes else None


def last_level_cache_bytes() -> int | None:
    """Size of the largest CPU cache, which separates in-cache from DRAM-bound cases."""
    return cache_bytes()


def host_available_bytes() -> int:
    """Memory the host can give a new allocation without swapping: psutil's ``available``
    (MemAvailable from /proc/meminfo on Linux; free plus inactive pages elsewhere)."""
    return int(psutil.virtual_memory().available)


def cuda_free_bytes() -> int:
    import torch

    free, _total = torch.cuda.mem_get_info()
    return int(free)


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity: ``taskset``, a cpuset cgroup), not the
    machine's count: threads and tiles follow these."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class MemoryBound:
    """One limit on the memory this process may use, and how much of it is free now."""

    source: str  # "host MemAvailable", "cgroup v2 memory.max", "cgroup v1 memory.limit_in_bytes"
    available_bytes: int
    limit_bytes: int | None = None
    used_bytes: int | None = None
    path: str | None = None  # the cgroup directory whose limit this is

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _whole(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.lstrip("-").isdigit() else None


def _mounts(root: Path) -> list[tuple[str, Path, str, set[str]]]:
    """The cgroup mounts: (root within the hierarchy, mount point, fstype, super options)."""
    mounts = []
    for line in (_read(root / "proc/self/mountinfo") or "").splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        fstype, *rest = line.split(" - ", 1)[1].split()
        if fstype in ("cgroup", "cgroup2"):
            options = set(rest[1].split(",")) if len(rest) > 1 else set()
            mounts.append((fields[3], root / fields[4].lstrip("/"), fstype, options))
    return mounts


def cgroup_dirs(controller: str, root: Path = ROOT) -> dict[str, list[Path]]:
    """This process's cgroup directories that may limit ``controller`` ("memory" or "cpu"), from
    /proc/self/cgroup and /proc/self/mountinfo: ``{"v1": [...], "v2": [...]}``, each from the
    process's own cgroup up to the mount's root (a parent's limit binds its children too)."""
    found: dict[str, list[Path]] = {}
    mounts = _mounts(root)
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _hierarchy, controllers, path = parts
        version = "v2" if controllers == "" else "v1"
        if version == "v1" and controller not in controllers.split(","):
            continue
        for mount_root, point, fstype, options in mounts:
            if (fstype == "cgroup2") != (version == "v2") or (version == "v1" and controller not in options):
                continue
            relative = path[len(mount_root) :] if path.startswith(mount_root) else ""
            here = point / relative.strip("/")
            dirs = [here, *(p for p in here.parents if p.is_relative_to(point))]
            found[version] = [d for d in dirs if d.is_dir()]
            break
    return found


def _inactive_file(directory: Path, key: str) -> int:
    for line in (_read(directory / "memory.stat") or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.isdigit():
            return int(value)
    return 0


def _cgroup_bound(version: str, directories: list[Path]) -> MemoryBound | None:
    """The tightest memory limit among ``directories``, less what their tasks use now.

    Used is the working set (usage less the inactive page cache, which the kernel reclaims before
    it kills anything), as kubelet and cAdvisor count it."""
    limit_file, usage_file, inactive = (
        ("memory.max", "memory.current", "inactive_file")
        if version == "v2"
        else ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    )
    bounds = []
    for directory in directories:
        limit, usage = _whole(_read(directory / limit_file)), _whole(_read(directory / usage_file))
        if limit is None or limit >= UNLIMITED or usage is None:  # "max", absent, or no limit
            continue
        used = max(usage - _inactive_file(directory, inactive), 0)
        bounds.append(
            MemoryBound(f"cgroup {version} {limit_file}", max(limit - used, 0), limit, used, str(directory))
        )
    return min(bounds, key=lambda bound: bound.available_bytes, default=None)


def memory_bounds(host_available: int, root: Path = ROOT) -> list[MemoryBound]:
    """Every limit on this process's memory, the host's first: the smallest ``available_bytes``
    is what it may really use."""
    bounds = [MemoryBound("host MemAvailable", host_available)]
    for version, directories in sorted(cgroup_dirs("memory", root).items()):
        bound = _cgroup_bound(version, directories)
        if bound is not None:
            bounds.append(bound)
    return bounds


def tightest_memory_bound(host_available: int, root: Path = ROOT) -> MemoryBound:
    """The bound with the least memory free: what a default budget is half of."""
    return min(memory_bounds(host_available, root), key=lambda bound: bound.available_bytes)


def cpu_quota(root: Path = ROOT) -> float | None:
    """The cgroup's CPU quota in CPUs' worth (``cpu.max`` 200000 100000 → 2.0), the tightest of
    this process's cgroup and its parents; None where there is none."""
    quotas = []
    for version, directories in cgroup_dirs("cpu", root).items():
        for directory in directories:
            if version == "v2":
                fields = (_read(directory / "cpu.max") or "").split()
                quota, period = [*fields, "", ""][:2]
            else:
                quota = _read(directory / "cpu.cfs_quota_us") or ""
                period = _read(directory / "cpu.cfs_period_us") or ""
            q, p = _whole(quota), _whole(period)
            if q is not None and p and q > 0:
                quotas.append(q / p)
    return min(quotas, default=None)


def container_facts(root: Path = ROOT) -> dict[str, Any]:
    """What run.json records of the process's share of the machine: its CPU affinity, any cgroup
    CPU quota, and each memory bound."""
    return {
        "cpu_affinity": usable_cpus(),
        "cpu_quota": cpu_quota(root),
        "memory_bounds": [bound.to_json() for bound in memory_bounds(host_available_bytes(), root)],
    }
