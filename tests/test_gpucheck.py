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

from analysis.report.cli import main as report_main
from bench import gpucheck
from bench.harness.cudatime import time_rounds
from bench.inputs import TOLERANCE

ROOT = Path(__file__).resolve().parents[1]
BLOCK_MEMRAY = """
import importlib.abc, sys

class _NoMemray(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "memray" or name.startswith("memray."):
            raise ImportError("memray is not on this machine (blocked by the test)")
        return None

sys.meta_path.insert(0, _NoMemray())
"""


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "tpu"], "unknown device 'tpu'; choose from cuda, cpu"),
        (["--device", "cpu", "--budget-s", "0"], "--budget-s must be positive"),
        (["--device", "cpu", "--dense-target", "1,2"], "--dense-target must be three positive integers"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert gpucheck.main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_non_empty_out_is_refused(tmp_path, capsys):
    (tmp_path / "something").write_text("kept")
    assert gpucheck.main(["--device", "cpu", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "something").read_text() == "kept"


def _checkout_copy(dest: Path) -> Path:
    """The repository's code as a plain directory: no install points at it."""
    for part in ("bench", "analysis", "pyproject.toml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
            )
        else:
            shutil.copy(source, dest / part)
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("installed", [False, True], ids=["pythonpath-only-no-memray", "installed"])
def test_one_call_writes_runs_a_summary_and_one_archive(tmp_path, installed):
    """Not installed: a copy of the code on PYTHONPATH alone, memray blocked (a bare GPU machine);
    installed: the project as nox installs it, memray present (host peaks then measured)."""
    env = dict(os.environ)
    if not installed:
        checkout = _checkout_copy(tmp_path / "checkout")
        blocker = tmp_path / "blocker"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(BLOCK_MEMRAY)
        env["PYTHONPATH"] = f"{blocker}{os.pathsep}{checkout}"
        probe = "import bench; print(bench.__file__); import memray"
        check = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert check.stdout.strip() == str(checkout / "bench" / "__init__.py")  # the copy, not the install
        assert "memray is not on this machine" in check.stderr

    out = tmp_path / "out"
    argv = ["--device", "cpu", "--out", str(out), "--budget-s", "240", "--target", "4,64,64"]
    argv += ["--dense-target", "4,32,32"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpucheck", *argv], env=env, cwd=tmp_path, capture_output=True, text=True
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
