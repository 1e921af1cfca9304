"""One run per directory, no orphan writers, fatal and named I/O errors, honest run states.

Issue 13: two runs on one directory mixed their files; a SIGKILLed parent left its pytest child
writing runtime.json; a full disk was counted as failed cases; an interrupted sweep stayed
"running"; a refused --resume had already rewritten run.json.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.harness import roofs
from bench.rundir.lock import LOCK_FILE, RunLockedError, run_lock
from bench.rundir.records import RunMeta, mark_status, write_run_meta
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE, RunFileError, write_json_atomic
from bench.sweep import session
from lbb.commands.bench import parse as parse_options
from lbb.commands.bench import sweep_main as main
from tests.conftest import ROOT as REPO

SMOKE = ["--profile", "smoke", "--device", "cpu"]
SMALL_ROOFS = ["--memory-budget", "64MiB"]  # small roof buffers: the roofs take a fraction of a second


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _resumable_run(run_dir: Path, **changes: object) -> bytes:
    """A run.json that --resume accepts unless ``changes`` spoil it; returns its bytes."""
    options = {
        "profile": "smoke",
        "device": "cpu",
        "methods": ["formula-torch"],
        "memory_budget": None,
        "passes": ["runtime"],
    }
    run = {"schema": 1, "run_id": "r", "options": options | changes, "devices": {}, "status": "complete"}
    write_json_atomic(run_dir / RUN_FILE, run | {"profile": {"name": "smoke", "axes": {}}, "machine": {}})
    return (run_dir / RUN_FILE).read_bytes()


# --- locks -------------------------------------------------------------------------------------


def test_a_held_lock_refuses_a_second_holder_naming_the_first_pid(tmp_path):
    refused = pytest.raises(RunLockedError, match=rf"\(PID {os.getpid()}, or a child")
    with run_lock(tmp_path), refused, run_lock(tmp_path):
        pass


def test_a_stale_lock_file_from_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text("999999999\n")  # written by a run that died: nobody holds it
    with run_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_resume_of_a_locked_directory_exits_2_and_leaves_run_json_alone(tmp_path, capsys):
    before = _resumable_run(tmp_path)
    with run_lock(tmp_path):
        assert main(["--resume", str(tmp_path)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{tmp_path} is in use by another run (PID {os.getpid()}" in line
    assert (tmp_path / RUN_FILE).read_bytes() == before


@pytest.mark.slow
def test_resume_is_refused_while_a_child_of_the_old_run_still_holds_the_lock(tmp_path, capsys):
    """The runtime pass hands its locked descriptor to the pytest child: an orphaned writer keeps
    the directory locked after its parent is gone."""
    _resumable_run(tmp_path)
    with run_lock(tmp_path) as fd:
        writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(fd,))
    try:
        assert main(["--resume", str(tmp_path)]) == 2
        assert "is in use by another run" in _one_error_line(capsys.readouterr().err)
    finally:
        writer.kill()
        writer.wait()
    with run_lock(tmp_path):  # the writer is gone, and so is the lock
        pass


@pytest.mark.slow
def test_two_concurrent_runs_on_one_directory_exactly_one_exits_2(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "bench", *SMOKE, *SMALL_ROOFS, "--passes", "runtime", "--out", str(out)]
    first = subprocess.Popen([*command, "--methods", "formula-torch"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    second = subprocess.Popen([*command, "--methods", "formula-numpy"], stderr=subprocess.PIPE, text=True)
    errors = {p.pid: p.communicate(timeout=300)[1] for p in (first, second)}
    codes = {p.pid: p.returncode for p in (first, second)}
    assert sorted(codes.values()) == [0, 2], errors
    loser = next(pid for pid, code in codes.items() if code == 2)
    winner = next(pid for pid in codes if pid != loser)
    line = _one_error_line(errors[loser])
    assert f"is in use by another run (PID {winner}" in line
    runtime = json.loads((out / RUNTIME_FILE).read_text())
    run = json.loads((out / RUN_FILE).read_text())
    assert {b["extra_info"]["method"] for b in runtime["benchmarks"]} == set(run["options"]["methods"])


# --- children die with their parent ------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    """Every live (not zombie) process below ``root``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z":
            alive.add(pid)
    return alive


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("passes", "started", "processes"),
    [
        ("runtime", RUNTIME_FILE, 1),  # the pytest child, mid-pass
        ("memory", MEMORY_FILE, 3),  # resource tracker, fork server and a case it forked
    ],
)
def test_sigkill_of_the_parent_leaves_no_process_of_the_run_within_2_s(tmp_path, passes, started, processes):
    out = tmp_path / "run"
    env = os.environ | {
        "PYTEST_ADDOPTS": "-p tests.slow_cases_plugin",  # the pytest child outlives the 2 s by far
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    parent = subprocess.Popen(
        [sys.executable, "-m", "bench", *SMOKE, *SMALL_ROOFS, "--passes", passes, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    ready = _wait_for(lambda: (out / started).exists() and len(_descendants(parent.pid)) >= processes, 120)
    children, gone, seconds = _sigkill_and_wait(parent, ready)
    print(f"{passes} pass: {len(children)} children gone {seconds:.2f} s after SIGKILL of the parent")
    assert gone, f"still alive 2 s after SIGKILL: {_alive(children)}"


def _sigkill_and_wait(parent: subprocess.Popen, ready: bool) -> tuple[list[int], bool, float]:
    """SIGKILL ``parent``; its descendants, whether all were gone within 2 s, and how long it took."""
    try:
        assert ready, "the run did not reach the point to kill it at"
        children = _descendants(parent.pid)
        parent.kill()
        parent.wait()
        killed = time.monotonic()
        gone = _wait_for(lambda: not _alive(children), 2.0)
        return children, gone, time.monotonic() - killed
    finally:
        for pid in _alive(_descendants(parent.pid)):
            os.kill(pid, signal.SIGKILL)


MID_CASE = """
import time
from bench.sweep.memory_pass import fork_pool
pool = fork_pool()
pool.submit(time.sleep, 60).result()  # a case that is still measuring when its run is killed
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_parent_mid_case_kills_the_fork_server_and_the_case_within_2_s():
    """A smoke case ends before the fork server would notice a dead parent; a long case does not."""
    parent = subprocess.Popen([sys.executable, "-c", MID_CASE], env=os.environ | {"PYTHONPATH": str(REPO)})
    ready = _wait_for(lambda: len(_descendants(parent.pid)) >= 3, 60)  # tracker, server, case
    time.sleep(0.5)  # the case's initialiser has run
    children, gone, seconds = _sigkill_and_wait(parent, ready)
    print(f"mid-case: {len(children)} children gone {seconds:.2f} s after SIGKILL of the parent")
    assert gone, f"still alive 2 s after SIGKILL: {_alive(children)}"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_the_runtime_pass_saves_the_run_as_interrupted_and_kills_the_child(tmp_path):
    out = tmp_path / "run"
    parent = subprocess.Popen(
        [sys.executable, "-m", "bench", *SMOKE, *SMALL_ROOFS, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _wait_for(lambda: (out / RUNTIME_FILE).exists(), 120)
    children = _descendants(parent.pid)
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=30)
    assert parent.returncode == 130, err
    assert json.loads((out / RUN_FILE).read_text())["status"] == "interrupted"
    assert not _alive(children)
    assert json.loads((out / RUNTIME_FILE).read_text())["benchmarks"]  # what finished is kept


# --- interrupted state, in process -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_memory_pass_leaves_run_json_interrupted(tmp_path, monkeypatch, signum, status):
    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the signal arrives first
        raise AssertionError("the signal did not stop the run")

    monkeypatch.setattr(session, "run_memory", signalled)
    out = tmp_path / "run"
    assert main([*SMOKE, *SMALL_ROOFS, "--passes", "memory", "--out", str(out)]) == status
    assert json.loads((out / RUN_FILE).read_text())["status"] == "interrupted"


def test_only_a_running_run_is_marked_interrupted_or_failed(tmp_path):
    """Ctrl-C while a finished run draws its report must not turn "complete" into "interrupted"."""
    options = {"profile": "smoke", "device": "cpu", "methods": ["formula-torch"], "passes": ["runtime"]}
    meta = RunMeta("r", options, {"name": "smoke"}, {}, {}, status="complete")
    write_run_meta(tmp_path, meta)
    assert mark_status(tmp_path, "interrupted") is False
    assert json.loads((tmp_path / RUN_FILE).read_text())["status"] == "complete"
    write_run_meta(tmp_path, meta.with_status("running"))
    assert mark_status(tmp_path, "interrupted") is True
    assert json.loads((tmp_path / RUN_FILE).read_text())["status"] == "interrupted"


# --- resume refuses before it writes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("spoil", "fragment"),
    [
        ({"profile": "headline"}, "is a headline run; only a sweep can be resumed"),
        ({"methods": "formula-torch"}, "run.json: options.methods is 'formula-torch', not a non-empty list"),
        ({"methods": ["no-such-method"]}, "malformed options (methods="),
        ({"memory_budget": -1}, "run.json: options.memory_budget is -1, not a whole number >= 1"),
        ({"device": None}, "run.json: options.device is None, not a string"),
        ({"device": "gpu"}, "run.json: options.device is 'gpu', not one of cpu, cuda, all"),
        ({"passes": ["warmup"]}, "run.json: options.passes is ['warmup'], not a list of runtime and memory"),
        ({"memory_budget": 2**61}, "run.json: options.memory_budget is 2305843009213693952, above the 1 EiB"),
        ({"profile": "huge"}, "malformed options (profile='huge')"),
    ],
)
def test_resume_of_a_malformed_or_headline_run_exits_2_without_rewriting_run_json(
    tmp_path, capsys, spoil, fragment
):
    before = _resumable_run(tmp_path, **spoil)
    assert main(["--resume", str(tmp_path)]) == 2
    assert fragment in _one_error_line(capsys.readouterr().err)
    assert (tmp_path / RUN_FILE).read_bytes() == before


def test_resume_of_run_json_that_is_not_an_object_exits_2(tmp_path, capsys):
    write_json_atomic(tmp_path / RUN_FILE, ["not", "a", "run"])
    assert main(["--resume", str(tmp_path)]) == 2
    assert "run.json: the file is ['not', 'a', 'run'], not an object" in _one_error_line(
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (MEMORY_FILE, "[{"),
        (MEMORY_FILE, '{"case": "x"}'),
        (MEMORY_FILE, '[{"status": "ok"}]'),
        (RUNTIME_FILE, '{"benchmarks": [{"extra_info": {}}]}'),
        (RUNTIME_FILE, "[]"),
    ],
)
def test_resume_with_a_corrupt_result_file_exits_2_and_leaves_run_json_complete(
    tmp_path, capsys, name, content
):
    before = _resumable_run(tmp_path)
    (tmp_path / name).write_text(content)
    assert main(["--resume", str(tmp_path)]) == 2
    assert name in _one_error_line(capsys.readouterr().err)
    assert (tmp_path / RUN_FILE).read_bytes() == before  # still "complete"


# --- I/O errors ----------------------------------------------------------------------------------


def _full_disk_for(name: str, monkeypatch) -> None:
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_full_disk_raises_run_file_error_naming_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    _full_disk_for("memory.json", monkeypatch)
    with pytest.raises(RunFileError, match=rf"cannot write {tmp_path / 'memory.json'}: disk full") as info:
        write_json_atomic(tmp_path / "memory.json", [1])
    assert info.value.status == "failed: disk full"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_full_disk_in_the_memory_pass_stops_the_run_with_one_line_and_run_json_failed(
    tmp_path, monkeypatch, capsys
):
    _full_disk_for(MEMORY_FILE, monkeypatch)
    out = tmp_path / "run"
    assert (
        main([*SMOKE, *SMALL_ROOFS, "--methods", "formula-torch", "--passes", "memory", "--out", str(out)])
        == 2
    )
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"bench: error: cannot write {out / MEMORY_FILE}: disk full")
    assert json.loads((out / RUN_FILE).read_text())["status"] == "failed: disk full"
    assert not (out / MEMORY_FILE).exists()


@pytest.mark.slow
def test_a_full_disk_in_the_pytest_child_aborts_the_pass_instead_of_failing_cases(
    tmp_path, monkeypatch, capsys
):
    """pytest used to count the teardown's ENOSPC against the case and time the next one."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p tests.enospc_plugin")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "run"
    assert main([*SMOKE, *SMALL_ROOFS, "--methods", "formula-torch", "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"bench: error: cannot write {out / RUNTIME_FILE}: disk full")
    assert json.loads((out / RUN_FILE).read_text())["status"] == "failed: disk full"
    assert not (out / RUNTIME_FILE).exists()  # no case was recorded, failed or otherwise
    assert not (out / MEMORY_FILE).exists()  # and the run went no further


# --- parsing and budgets -----------------------------------------------------------------------


def test_duplicate_methods_are_run_once_in_the_order_given(tmp_path):
    options, _, _ = parse_options(["--methods", "formula-torch,formula-numpy,formula-torch"])
    assert options.methods == ("formula-torch", "formula-numpy")


@pytest.mark.parametrize("option", ["--memory-budget"])
def test_a_400_digit_size_gives_one_line_and_exit_2(tmp_path, capsys, option):
    assert main([*SMOKE, option, "1" + "0" * 400, "--out", str(tmp_path / "run")]) == 2
    assert "is larger than 1 EiB" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("budget", [3 * 2**10, 256 * 2**20, 2**40])
def test_roof_buffers_fit_the_memory_budget(budget):
    held = roofs.roof_buffer_bytes("cpu", ("float32", "float64"), budget)
    assert 0 < held["roofs"] <= budget
    assert 0 < held["local"] <= budget


def test_roof_buffers_keep_their_full_size_when_the_budget_allows():
    held = roofs.roof_buffer_bytes("cpu", ("float32",), 2**40)
    assert held["roofs"] == 2 * roofs.COPY_BYTES["cpu"]


def test_measured_roofs_record_buffers_within_a_small_budget():
    budget = 3 * 2**20
    measured = roofs.measure_roofs("cpu", ("float32", "float64"), budget)
    assert measured["copy"]["buffer_bytes"] <= budget
    assert all(g["buffer_bytes"] <= budget for g in measured["gemm"].values())
    assert measured["copy"]["gbps"] > 0


def test_local_roofs_allocate_within_their_share_of_the_budget(monkeypatch):
    sizes = []
    real = roofs._roof_buffers.__wrapped__  # without the per-process cache

    def buffers(backend, device, dtype, numel):
        sizes.append(numel * (4 if dtype == "float32" else 8))
        return real(backend, device, dtype, numel)

    monkeypatch.setattr(roofs, "_roof_buffers", buffers)
    budget = 2**20
    roofs.local_roof("torch", "cpu", "float32", "copy", budget)
    roofs.local_roof("numpy", "cpu", "float64", "gemm", budget)
    copy, gemm = sizes
    assert 2 * copy <= budget * roofs.LOCAL_SHARE["copy"]
    assert 3 * gemm <= budget * roofs.LOCAL_SHARE["gemm"]
