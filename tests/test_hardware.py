"""The machine's and the container's facts (``bench.hardware``), read from fake sysfs/procfs trees
for cgroup v1 and v2; the budget and the thread pools that follow them."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import hardware
from bench.harness import budget as budgets
from bench.harness.threads import clamp_numba_threads
from bench.usage import UsageError

GiB, MiB = 2**30, 2**20
HOST = 20 * GiB
V1_MOUNT = "35 31 0:32 {root} /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
V1_CPU_MOUNT = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
V2_MOUNT = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate\n"


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setattr(budgets, "host_available_bytes", lambda: HOST)


def test_cgroup_v2_limit_less_its_working_set_halves_into_the_default_budget(tmp_path, host):
    """3 GiB memory.max, 512 MiB in use of which 256 MiB is inactive page cache: 2816 MiB free."""
    root = _files(
        tmp_path,
        {
            "proc/self/mountinfo": V2_MOUNT,
            "proc/self/cgroup": "0::/ci.slice/job\n",
            "sys/fs/cgroup/ci.slice/memory.max": "max\n",
            "sys/fs/cgroup/ci.slice/memory.current": "900000000\n",
            "sys/fs/cgroup/ci.slice/job/memory.max": f"{3 * GiB}\n",
            "sys/fs/cgroup/ci.slice/job/memory.current": f"{512 * MiB}\n",
            "sys/fs/cgroup/ci.slice/job/memory.stat": f"anon 1\ninactive_file {256 * MiB}\nactive_file 5\n",
        },
    )
    assert budgets.default_budget("cpu", root) == 1408 * MiB
    budget, source = budgets.budget_for("cpu", None, root)
    assert budget == 1408 * MiB
    assert source == (
        "half of 2.8 GiB: cgroup v2 memory.max 3.0 GiB less 256.0 MiB in use "
        f"({root}/sys/fs/cgroup/ci.slice/job)"
    )


def test_a_parents_tighter_cgroup_v2_limit_binds_its_child(tmp_path, host):
    root = _files(
        tmp_path,
        {
            "proc/self/mountinfo": V2_MOUNT,
            "proc/self/cgroup": "0::/ci.slice/job\n",
            "sys/fs/cgroup/ci.slice/memory.max": f"{2 * GiB}\n",
            "sys/fs/cgroup/ci.slice/memory.current": f"{1 * GiB}\n",
            "sys/fs/cgroup/ci.slice/job/memory.max": "max\n",
            "sys/fs/cgroup/ci.slice/job/memory.current": f"{100 * MiB}\n",
        },
    )
    bound = budgets.memory_bound("cpu", root)
    assert (bound.available_bytes, bound.path) == (1 * GiB, f"{root}/sys/fs/cgroup/ci.slice")
    assert budgets.default_budget("cpu", root) == 512 * MiB


def test_cgroup_v1_limit_less_usage_sets_the_budget_and_no_limit_leaves_the_host(tmp_path, host):
    """v1 writes "no limit" as 2**63 less a page: then the host's available memory decides."""
    files = {
        "proc/self/mountinfo": V1_MOUNT.format(root="/"),
        "proc/self/cgroup": "5:devices:/x\n4:memory:/docker/abc\n0::/\n",
        "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
        "sys/fs/cgroup/memory/memory.usage_in_bytes": f"{8 * GiB}\n",
        "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": f"{3 * GiB}\n",
        "sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes": f"{1 * GiB}\n",
        "sys/fs/cgroup/memory/docker/abc/memory.stat": f"cache 7\ntotal_inactive_file {0}\n",
    }
    root = _files(tmp_path / "limited", files)
    bound = budgets.memory_bound("cpu", root)
    assert bound.source == "cgroup v1 memory.limit_in_bytes"
    assert (bound.limit_bytes, bound.used_bytes, bound.available_bytes) == (3 * GiB, 1 * GiB, 2 * GiB)
    assert budgets.default_budget("cpu", root) == 1 * GiB

    files["sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"] = "9223372036854771712\n"
    unlimited = _files(tmp_path / "unlimited", files)
    assert budgets.memory_bound("cpu", unlimited).source == "host MemAvailable"
    assert budgets.default_budget("cpu", unlimited) == HOST // 2


def test_a_container_that_mounts_its_own_v1_cgroup_as_the_root_reads_the_mount(tmp_path, host):
    """Docker without a cgroup namespace: /proc/self/cgroup names /docker/abc, mounted at the root."""
    root = _files(
        tmp_path,
        {
            "proc/self/mountinfo": V1_MOUNT.format(root="/docker/abc"),
            "proc/self/cgroup": "4:memory:/docker/abc\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": f"{3 * GiB}\n",
            "sys/fs/cgroup/memory/memory.usage_in_bytes": f"{512 * MiB}\n",
        },
    )
    assert budgets.default_budget("cpu", root) == 1280 * MiB


def test_the_host_bounds_the_budget_when_it_has_less_than_the_cgroup(tmp_path, monkeypatch):
    monkeypatch.setattr(budgets, "host_available_bytes", lambda: 1 * GiB)
    root = _files(
        tmp_path,
        {
            "proc/self/mountinfo": V2_MOUNT,
            "proc/self/cgroup": "0::/job\n",
            "sys/fs/cgroup/job/memory.max": f"{3 * GiB}\n",
            "sys/fs/cgroup/job/memory.current": "0\n",
        },
    )
    assert budgets.budget_for("cpu", None, root) == (512 * MiB, "half of 1.0 GiB: host MemAvailable")
    assert budgets.budget_for("cpu", 5 * GiB, root) == (5 * GiB, "--memory-budget")


def test_no_cgroup_files_at_all_leave_the_host_alone(tmp_path, host):
    assert hardware.memory_bounds(HOST, tmp_path) == [hardware.MemoryBound("host MemAvailable", HOST)]
    assert budgets.default_budget("cpu", tmp_path) == HOST // 2


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        (
            {
                "proc/self/mountinfo": V2_MOUNT,
                "proc/self/cgroup": "0::/j\n",
                "sys/fs/cgroup/j/cpu.max": "200000 100000\n",
            },
            2.0,
        ),
        (
            {
                "proc/self/mountinfo": V2_MOUNT,
                "proc/self/cgroup": "0::/j\n",
                "sys/fs/cgroup/j/cpu.max": "max 100000\n",
            },
            None,
        ),
        (
            {
                "proc/self/mountinfo": V1_CPU_MOUNT,
                "proc/self/cgroup": "2:cpu,cpuacct:/j\n",
                "sys/fs/cgroup/cpu,cpuacct/j/cpu.cfs_quota_us": "150000\n",
                "sys/fs/cgroup/cpu,cpuacct/j/cpu.cfs_period_us": "100000\n",
            },
            1.5,
        ),
        (
            {
                "proc/self/mountinfo": V1_CPU_MOUNT,
                "proc/self/cgroup": "2:cpu,cpuacct:/j\n",
                "sys/fs/cgroup/cpu,cpuacct/j/cpu.cfs_quota_us": "-1\n",
                "sys/fs/cgroup/cpu,cpuacct/j/cpu.cfs_period_us": "100000\n",
            },
            None,
        ),
    ],
    ids=["v2 two CPUs", "v2 none", "v1 one and a half", "v1 none"],
)
def test_the_cgroup_cpu_quota_is_read_in_cpus(tmp_path, files, quota):
    assert hardware.cpu_quota(_files(tmp_path, files)) == quota


def test_cache_sizes_come_from_sysfs_by_level_ignoring_the_instruction_cache(tmp_path):
    cache = "sys/devices/system/cpu/cpu0/cache"
    root = _files(
        tmp_path,
        {
            f"{cache}/index0/level": "1\n",
            f"{cache}/index0/type": "Data\n",
            f"{cache}/index0/size": "48K\n",
            f"{cache}/index1/level": "1\n",
            f"{cache}/index1/type": "Instruction\n",
            f"{cache}/index1/size": "64K\n",
            f"{cache}/index2/level": "2\n",
            f"{cache}/index2/type": "Unified\n",
            f"{cache}/index2/size": "2048K\n",
            f"{cache}/index3/level": "3\n",
            f"{cache}/index3/type": "Unified\n",
            f"{cache}/index3/size": "480M\n",
        },
    )
    assert hardware.cache_bytes(1, root) == 48 * 2**10
    assert hardware.cache_bytes(2, root) == 2 * MiB
    assert hardware.cache_bytes(None, root) == 480 * MiB
    assert hardware.cache_bytes(2, tmp_path / "nothing") is None


def test_the_hardware_module_imports_nothing_from_the_project():
    """A leaf: the kernels, the budget and run.json's machine facts all read it."""
    tree = ast.parse(Path(hardware.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in ("bench", "analysis", "tests")}


def test_run_json_machine_facts_record_the_affinity_and_each_memory_bound():
    from bench.harness.machine import machine_info

    machine = machine_info()
    assert machine["cpu_affinity"] == sorted(os.sched_getaffinity(0))
    assert machine["memory_bounds"][0]["source"] == "host MemAvailable"
    assert "cpu_quota" in machine


@pytest.mark.parametrize("text", ["0", "-2", "two", "", "²"])
def test_numba_threads_of_zero_or_garbage_is_a_usage_error(text):
    with pytest.raises(
        UsageError, match=r"^NUMBA_NUM_THREADS=.*: must be a whole number of threads, 1 or more$"
    ):
        clamp_numba_threads({"NUMBA_NUM_THREADS": text})


def test_numba_threads_are_clamped_to_the_cpus_the_process_may_use():
    usable = len(os.sched_getaffinity(0))
    environ = {"NUMBA_NUM_THREADS": str(usable + 6)}
    assert clamp_numba_threads(environ) == usable
    assert environ == {"NUMBA_NUM_THREADS": str(usable)}
    assert clamp_numba_threads({"NUMBA_NUM_THREADS": "1"}) == 1
    assert clamp_numba_threads({}) is None


def test_headline_with_numba_threads_zero_gives_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    from lbb.commands.headline import main

    monkeypatch.setenv("NUMBA_NUM_THREADS", "0")
    assert main(["--device", "cpu", "--target", "2,8,8", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "headline: error: NUMBA_NUM_THREADS='0': must be a whole number of threads, 1 or more"
    assert not (tmp_path / "run").exists()


ROOT = Path(__file__).resolve().parent.parent


def _cgroup_parent() -> tuple[str, Path] | str:
    """Where this process may make a child memory cgroup: (version, directory), else why not."""
    dirs = hardware.cgroup_dirs("memory")
    if dirs.get("v2"):
        try:
            delegated = "memory" in (dirs["v2"][0] / "cgroup.subtree_control").read_text().split()
        except OSError:
            delegated = False
        if delegated:
            return "v2", dirs["v2"][0]
    if dirs.get("v1"):
        return "v1", dirs["v1"][0]
    return "no cgroup v1 memory controller, and this cgroup v2 does not delegate memory to children"


@pytest.fixture
def memory_cgroup_3gib(tmp_path):
    """A child of this process's memory cgroup limited to 3 GiB, and a command prefix that starts a
    process inside it; skipped with the reason where this machine does not let the test make one."""
    found = _cgroup_parent()
    if isinstance(found, str):
        pytest.skip(found)
    version, parent = found
    child = parent / f"lbb-test-{os.getpid()}-{tmp_path.name[-12:]}"
    try:
        child.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup under {parent}: {exc.strerror or exc}")
    try:
        enter = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(child / "cgroup.procs")]
        try:
            (child / ("memory.max" if version == "v2" else "memory.limit_in_bytes")).write_text(str(3 * GiB))
            probe = subprocess.run([*enter, "true"], capture_output=True, text=True, timeout=30)
        except OSError as exc:
            pytest.skip(f"cannot limit the memory cgroup {child}: {exc.strerror or exc}")
        if probe.returncode != 0:
            pytest.skip(f"cannot move a process into {child}: {probe.stderr.strip()}")
        yield enter
    finally:
        for _ in range(50):  # the last task may take a moment to leave
            try:
                child.rmdir()
                break
            except OSError:
                time.sleep(0.1)


@pytest.mark.slow
def test_in_a_3gib_memory_cgroup_the_default_budget_is_at_most_1_5gib(memory_cgroup_3gib):
    """The host's 11.3 GiB was the budget inside a 3 GiB cgroup, and the kernel killed the run."""

    code = "from bench.harness.budget import budget_for; b, s = budget_for('cpu', None); print(b); print(s)"
    done = subprocess.run(
        [*memory_cgroup_3gib, sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    budget, source = done.stdout.strip().splitlines()
    assert int(budget) <= 3 * GiB // 2
    assert "memory.limit_in_bytes 3.0 GiB less" in source or "memory.max 3.0 GiB less" in source


@pytest.mark.slow
def test_in_a_3gib_memory_cgroup_the_headline_that_was_oom_killed_is_skipped_by_the_guard(
    memory_cgroup_3gib, tmp_path
):
    """``--target 64,20000,20000 --dw sample`` needs 3.0 GiB: it was OOM-killed (exit 137)."""

    out = tmp_path / "run"
    argv = ["--device", "cpu", "--target", "64,20000,20000", "--dw", "sample", "--out", str(out)]
    done = subprocess.run(
        [*memory_cgroup_3gib, sys.executable, "-m", "lbb", "headline", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    cpu = run["devices"]["cpu"]
    assert cpu["status"] == "skipped" and cpu["memory_budget_bytes"] <= 3 * GiB // 2
    assert "3.0 GiB less" in cpu["memory_budget_source"]
    (record,) = json.loads((out / "memory.json").read_text())
    assert record["status"] == "skipped" and record["reason"].startswith("needs 3.0 GiB (3.2 GB), budget ")
    assert run["status"] == "complete"


@pytest.mark.slow
def test_numba_threads_above_the_cpus_give_one_thread_and_one_tile_per_usable_cpu(tmp_path):
    """``NUMBA_NUM_THREADS=8`` on 2 CPUs ran 8 threads with 8 tiles."""

    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "bench.headline", "--device", "cpu", "--target", "4,64,64", "--out", str(out)],
        cwd=ROOT,
        env=os.environ | {"NUMBA_NUM_THREADS": str(len(os.sched_getaffinity(0)) + 6)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["devices"]["cpu"]["roofs"]["l1_copy"]["threads"] == len(os.sched_getaffinity(0))
    assert run["machine"]["cpu_affinity"] == sorted(os.sched_getaffinity(0))


@pytest.mark.slow
def test_a_sweep_in_a_3gib_memory_cgroup_records_the_cgroups_budget(memory_cgroup_3gib, tmp_path):
    """A smoke sweep in such a cgroup completed, but recorded the host's budget of 11.6 GiB."""
    out = tmp_path / "run"
    argv = ["--profile", "smoke", "--device", "cpu", "--methods", "formula-torch", "--passes", "memory"]
    done = subprocess.run(
        [*memory_cgroup_3gib, sys.executable, "-m", "bench", *argv, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    cpu = json.loads((out / "run.json").read_text())["devices"]["cpu"]
    assert cpu["memory_budget_bytes"] <= 3 * GiB // 2
    assert "3.0 GiB less" in cpu["memory_budget_source"]
