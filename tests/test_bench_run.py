"""A tiny profile runs end to end; its files follow the schema; guard and resume hold.

These tests run the real runtime and memory passes on the ``smoke`` profile (cases of a few
KiB), so they take seconds, not minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bench.cases import Case
from bench.methods import METHODS
from bench.profiles import PROFILES, build_cases
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from lbb.commands.bench import sweep_main as main

pytestmark = pytest.mark.slow

SMOKE_CASES = build_cases(PROFILES["smoke"], METHODS, ["cpu"])
MEMORY_KEYS = {
    "case", "method", "backend", "device", "dtype", "n", "d", "m",
    "status", "peak_bytes", "predicted_bytes", "reason",
}  # fmt: skip
EXTRA_INFO_KEYS = {
    "case", "method", "variant", "backend", "device", "dtype", "n", "d", "m",
    "predicted_peak_bytes", "flops", "bytes_moved", "jacobian_dydx_bytes", "jacobian_dydw_bytes",
    "threads",
}  # fmt: skip


def _bench(*argv: str) -> int:
    return main(["--profile", "smoke", "--device", "cpu", *argv])


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke") / "run"
    assert _bench("--out", str(out)) == 0
    return out


def _load(run_dir: Path) -> tuple[dict, list, dict]:
    return tuple(json.loads((run_dir / name).read_text()) for name in (RUNTIME_FILE, MEMORY_FILE, RUN_FILE))


def test_smoke_run_times_every_case_once_in_pytest_benchmark_format(smoke_run):
    runtime, _, _ = _load(smoke_run)
    names = [b["extra_info"]["case"] for b in runtime["benchmarks"]]
    assert sorted(names) == sorted(c.name for c in SMOKE_CASES)
    for bench in runtime["benchmarks"]:
        assert bench["extra_info"].keys() >= EXTRA_INFO_KEYS
        stats = bench["stats"]
        assert stats["rounds"] >= PROFILES["smoke"].min_rounds
        assert len(stats["data"]) == stats["rounds"]  # raw samples kept
        assert 0 < stats["min"] <= stats["median"] <= stats["max"]
        assert bench["extra_info"]["max_rel_error"] <= 1e-4
    assert {"machine_info", "commit_info", "datetime", "version"} <= runtime.keys()
    assert runtime["not_measured"] == []


def test_smoke_run_records_memory_of_every_case_beside_its_prediction(smoke_run):
    _, memory, _ = _load(smoke_run)
    assert sorted(r["case"] for r in memory) == sorted(c.name for c in SMOKE_CASES)
    for record in memory:
        assert record.keys() >= MEMORY_KEYS
        assert record["status"] == "ok", record["reason"]
        assert record["reason"] == ""
        assert record["peak_bytes"] > 0
        assert record["predicted_bytes"] > 0
        assert record["tracker"] == "memray"


def test_smoke_run_json_holds_machine_versions_roofs_and_profile(smoke_run):
    _, _, run = _load(smoke_run)
    machine = run["machine"]
    for key in ("cpu_model", "cores", "ram_bytes", "python", "numpy", "torch", "blas", "torch_threads"):
        assert machine[key] not in (None, "", []), key
    assert machine["timestamp_utc"].endswith("+00:00")
    assert "id" in machine["commit"]
    roofs = run["devices"]["cpu"]["roofs"]
    assert roofs["gemm"]["float32"]["gflops"] > 0
    assert roofs["copy"]["gbps"] > 0
    assert run["profile"]["name"] == "smoke"
    assert run["status"] == "complete"
    assert run["options"]["device"] == "cpu"
    assert uuid.UUID(hex=run["run_id"]).version == 4 and run["run_id"] == uuid.UUID(run["run_id"]).hex
    assert run["run_name"] == smoke_run.name


def test_a_profile_that_pins_threads_pins_the_roofs_and_every_timed_case(tmp_path, monkeypatch):
    monkeypatch.setitem(PROFILES, "smoke", replace(PROFILES["smoke"], threads=1))
    threads_before = torch.get_num_threads()
    out = tmp_path / "run"
    assert _bench("--out", str(out), "--methods", "formula-numpy,formula-torch") == 0
    runtime, memory, run = _load(out)
    assert run["profile"]["threads"] == 1
    assert run["devices"]["cpu"]["roofs"]["threads"] == 1
    assert {b["extra_info"]["backend"] for b in runtime["benchmarks"]} == {"numpy", "torch"}
    assert {b["extra_info"]["threads"] for b in runtime["benchmarks"]} == {1}
    assert {r["status"] for r in memory} == {"ok"}
    assert {r["threads"] for r in memory} == {1}  # the memory children are pinned too
    assert torch.get_num_threads() == threads_before  # the caller's pool is given back


def test_pytest_benchmark_compare_reads_the_runtime_file(smoke_run):
    result = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(smoke_run / RUNTIME_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "formula-numpy[cpu-float32-N2-D8-M8]" in result.stdout


def test_case_over_budget_is_skipped_with_reason_and_never_allocated(tmp_path):
    """3 KiB fits the formula's few hundred bytes, not an explicit Jacobian of several KiB."""
    out = tmp_path / "run"
    assert (
        _bench("--out", str(out), "--methods", "formula-torch,explicit-torch", "--memory-budget", "3KiB") == 0
    )
    runtime, memory, run = _load(out)
    cpu = run["devices"]["cpu"]
    assert 0 < cpu["roof_buffer_bytes"]["roofs"] <= 3 * 2**10  # the roofs fit the budget too
    assert 0 < cpu["roof_buffer_bytes"]["local"] <= 3 * 2**10
    assert cpu["roofs"]["copy"]["buffer_bytes"] <= 3 * 2**10
    assert all(g["buffer_bytes"] <= 3 * 2**10 for g in cpu["roofs"]["gemm"].values())
    by_case = {r["case"]: r for r in memory}
    skipped = {e["case"]: e for e in runtime["not_measured"]}
    for case in build_cases(PROFILES["smoke"], ["formula-torch", "explicit-torch"], ["cpu"]):
        record = by_case[case.name]
        if case.family == "explicit":
            assert record["status"] == "skipped"
            assert record["peak_bytes"] is None  # no child ever ran it
            assert record["reason"].startswith("needs ") and record["reason"].endswith("budget 3.0 KiB")
            assert skipped[case.name]["status"] == "skipped"
            assert skipped[case.name]["reason"] == record["reason"]
        else:
            assert record["status"] == "ok"
    timed = {b["extra_info"]["case"] for b in runtime["benchmarks"]}
    assert timed == {c for c in by_case if c.startswith("formula-torch")}


def test_interrupted_run_resumes_to_all_cases_without_duplicates(smoke_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(smoke_run, out)
    runtime, memory, run = _load(out)
    keep = 5  # what an interrupted run would have left: the first k cases of each pass
    runtime["benchmarks"] = runtime["benchmarks"][:keep]
    kept_times = {b["extra_info"]["case"]: b["stats"]["median"] for b in runtime["benchmarks"]}
    (out / RUNTIME_FILE).write_text(json.dumps(runtime))
    (out / MEMORY_FILE).write_text(json.dumps(memory[:keep]))
    run["status"] = "running"
    (out / RUN_FILE).write_text(json.dumps(run))

    assert main(["--resume", str(out)]) == 0

    runtime, memory, run = _load(out)
    names = [b["extra_info"]["case"] for b in runtime["benchmarks"]]
    assert len(names) == len(set(names)) == len(SMOKE_CASES)
    assert {b["extra_info"]["case"]: b["stats"]["median"] for b in runtime["benchmarks"][:keep]} == kept_times
    assert len(memory) == len({r["case"] for r in memory}) == len(SMOKE_CASES)
    assert run["status"] == "complete"


def test_smoke_cases_are_named_from_their_parameters():
    assert Case("explicit-torch", "warm", "cpu", "float32", 64, 256, 256).name == (
        "explicit-torch-warm[cpu-float32-N64-D256-M256]"
    )
    assert {c.label for c in SMOKE_CASES} == {
        "formula-numpy", "formula-torch", "explicit-numpy-cold", "explicit-numpy-warm",
        "explicit-torch-cold", "explicit-torch-warm", "jacrev-torch", "streamed-torch", "autograd-torch",
        "ajacobian-torch", "ajacobianvec-torch", "jacfwd-torch", "formula-numpy-warm", "formula-torch-warm",
        "autograd-torch-warm", "streamed-compiled",
    }  # fmt: skip
