"""The GPU check, proven on the CPU: one call, its parts, its archive, without memray or an install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bench import gpucheck
from bench.harness.cudatime import RoundClock, time_rounds, verdict
from bench.harness.gpustate import slowdowns
from bench.harness.machine import with_clocks_after
from bench.inputs import TOLERANCE
from lbb.commands import gpucheck as gpucheck_command
from lbb.commands.report import main as report_main
from tests.bare_machine import NOT_THERE, make_bare_python
from tests.conftest import ROOT


def test_the_dense_bfloat16_case_fills_contracts_and_checks_dx_through_the_gpu_code():
    dense = gpucheck.dense_dydx("cpu", "bfloat16", (4, 32, 32), copy_gbps=10.0)
    assert dense["status"] == "ran"
    assert dense["jacobian_bytes"] == 4 * 32 * 4 * 32 * 2  # (N·M)×(N·D) entries of 2 bytes
    assert 0 < dense["max_rel_error"] <= TOLERANCE["bfloat16"]
    assert len(dense["seconds"]) == gpucheck.DENSE_ROUNDS and dense["timing"]["timer"] == "perf_counter"
    assert dense["of_copy_roof"] == pytest.approx(dense["effective_gbps"] / 10.0)


def test_a_dense_case_that_does_not_fit_is_skipped_with_what_it_needs_and_what_there_is():
    dense = gpucheck.dense_dydx("cpu", "bfloat16", (4096, 4096, 4096), copy_gbps=None)
    assert dense["status"] == "skipped"
    assert dense["reason"].startswith("needs 1.0 PiB") or dense["reason"].startswith("needs ")
    assert "free" in dense["reason"] and "there are" in dense["reason"]


def test_rounds_are_timed_after_a_warm_up_with_the_reset_outside_the_clock():
    calls: list[str] = []
    result = time_rounds(lambda: calls.append("run"), "cpu", 3, reset=lambda: calls.append("reset"))
    assert calls == ["reset", "run"] * 4  # one warm-up, then three timed rounds
    assert len(result["seconds"]) == 3 and result["l2_flushed"] is False and result["throttled"] is False


def test_the_cpu_clock_times_rounds_with_perf_counter_and_flushes_nothing():
    clock = RoundClock("cpu", working_set_bytes=1)
    clock.between()
    clock.time(lambda: sum(range(1000)))
    assert len(clock.seconds) == 1 and clock.seconds[0] > 0
    assert clock.facts() == {
        "timer": "perf_counter",
        "l2_flushed": False,
        "sm_clock_before": None,
        "sm_clock_after": None,
        "sm_mhz_lowest_between_rounds": None,
        "slowdowns": [],
        "throttled": False,
    }


FULL = {"sm_mhz": 1980, "max_sm_mhz": 1980, "slowdowns": []}


@pytest.mark.parametrize(
    ("during", "after", "lowest", "named", "throttled"),
    [
        ([], FULL, None, [], False),  # the idle reading before the rounds is never judged
        ([FULL, FULL | {"sm_mhz": 1500}], FULL, 1500, [], True),  # 76% of the maximum between rounds
        ([FULL | {"sm_mhz": 1900}], FULL, 1900, [], False),  # 96%
        ([FULL], FULL | {"slowdowns": ["power cap"]}, 1980, ["power cap"], True),
    ],
    ids=["no-readings-between", "low-clock-between", "clock-within-10pc", "slowdown-named-after"],
)
def test_a_measurement_is_throttled_by_a_named_slowdown_or_a_low_clock_between_rounds(
    during, after, lowest, named, throttled
):
    assert verdict(during, after) == {
        "sm_mhz_lowest_between_rounds": lowest,
        "slowdowns": named,
        "throttled": throttled,
    }


def test_nvml_event_reasons_name_only_the_slowdowns():
    assert slowdowns(0x1 | 0x2 | 0x10) == []  # idle, application clocks, sync boost
    assert slowdowns(0x4 | 0x20 | 0x40) == [
        "power cap",
        "thermal slowdown (software)",
        "thermal slowdown (hardware)",
    ]


def test_the_first_line_on_a_gpu_names_what_the_check_will_depend_on(monkeypatch):
    gpu = {
        "index": 0,
        "name": "NVIDIA H200",
        "memory_bytes": 143771 * 2**20,
        "sm_count": 132,
        "l2_bytes": 60 * 2**20,
        "capability": "9.0",
        "driver": "580.159.04",
        "compute_mode": "Default",
        "sm_clock": {"sm_mhz": 345, "max_sm_mhz": 1980, "slowdowns": []},
    }
    monkeypatch.setattr(gpucheck, "gpu_info", lambda: [gpu])
    line, facts = gpucheck.found("cuda")
    assert line.endswith(
        "on NVIDIA H200, 140.4 GiB, 132 SMs, L2 60.0 MiB, driver 580.159.04, "
        "SM clock 345 of 1980 MHz now, compute mode Default"
    )
    assert facts["gpu"] == gpu


def test_a_child_part_that_fails_is_recorded_with_its_last_line(tmp_path):
    fail = "import sys; print('measuring'); sys.exit('sweep: error: no CUDA device')"
    part = gpucheck._child({}, "sweep", [sys.executable, "-c", fail], 60.0, tmp_path)
    assert part["status"] == "failed"
    assert part["reason"] == "exit 1: sweep: error: no CUDA device (see sweep.log)"


def test_a_part_with_too_little_budget_left_is_skipped_saying_so(tmp_path):
    part = gpucheck._child({}, "sweep", [sys.executable, "-c", "pass"], 4.0, tmp_path)
    assert part == {
        "status": "skipped",
        "reason": "4.0 s of the budget left for it, under the 10 s a part needs",
    }
    assert not (tmp_path / "sweep.log").exists()


def test_an_in_process_part_that_raises_is_recorded_as_failed_with_its_reason():
    assert gpucheck.in_process({}, "roofs", lambda: {"x": 1 / 0}, 60.0) == {
        "status": "failed",
        "reason": "ZeroDivisionError: division by zero",
    }


def test_a_machine_without_gpus_is_unchanged_by_the_clocks_at_the_end():
    machine = {"cpu_model": "x", "gpus": []}
    assert with_clocks_after(machine) == machine


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "tpu"], "unknown device 'tpu'; choose from cuda, cpu"),
        (["--device", "cpu", "--budget-s", "0"], "--budget-s must be a finite number of seconds > 0"),
        (["--device", "cpu", "--dense-target", "1,2"], "--dense-target must be three positive integers"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert gpucheck_command.main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_non_empty_out_is_refused(tmp_path, capsys):
    (tmp_path / "something").write_text("kept")
    assert gpucheck_command.main(["--device", "cpu", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "something").read_text() == "kept"


def _checkout_copy(dest: Path) -> Path:
    """The repository's code as a plain directory: no install points at it."""
    for part in ("bench", "analysis", "lbb", "pyproject.toml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
            )
        else:
            shutil.copy(source, dest / part)
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("installed", [False, True], ids=["bare-machine-pythonpath-only", "installed"])
def test_one_call_writes_runs_a_summary_and_one_archive(tmp_path, installed):
    """Not installed: a copy of the code on PYTHONPATH alone, in a venv with only the bare GPU
    machine's packages (no memray, threadpoolctl, nox or xdist); installed: the project as nox
    installs it, memray present (host peaks then measured)."""
    env = dict(os.environ)
    python = sys.executable
    if not installed:
        checkout = _checkout_copy(tmp_path / "checkout")
        python = str(make_bare_python(tmp_path))
        env["PYTHONPATH"] = str(checkout)
        probe = "import bench, importlib.util as u; print(bench.__file__, *(u.find_spec(m) for m in %r))"
        check = subprocess.run(
            [python, "-c", probe % (NOT_THERE,)], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert check.stdout.split() == [str(checkout / "bench" / "__init__.py"), *["None"] * len(NOT_THERE)]

    out = tmp_path / "out"  # given relative to the check's own directory: its children run elsewhere
    argv = ["--device", "cpu", "--out", "out", "--budget-s", "600", "--target", "4,64,64"]
    argv += ["--dense-target", "4,32,32"]
    done = subprocess.run(
        [python, "-m", "bench.gpucheck", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith("gpucheck: torch ")
    summary = json.loads((out / gpucheck.SUMMARY).read_text())
    parts = summary["parts"]
    assert (
        parts["sweep"]["status"] == parts["headline"]["status"] == parts["dense_bfloat16"]["status"] == "ran"
    )
    if installed:
        assert "sweep_memory" not in parts  # memray here: the sweep measured host peaks too
        assert json.loads((out / "sweep" / "memory.json").read_text())
    else:
        assert parts["sweep_memory"] == {"status": "skipped", "reason": "no memray here for host peaks"}
    assert parts["roofs"]["copy"]["gbps"] > 0
    (archive,) = out.glob("gpucheck-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"gpucheck.json", "sweep/run.json", "headline/runtime.json", "headline/memory.json"} <= names
        back = tmp_path / "back"
        tar.extractall(back, filter="data")
    assert report_main([str(back / "sweep"), str(back / "headline"), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "index.html").exists()
