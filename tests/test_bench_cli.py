"""Bad command-line input: one line on stderr, exit status 2, and nothing overwritten."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from bench.rundir.store import RUN_FILE, write_json_atomic
from lbb.commands.bench import sweep_main as main


def _run(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    err = capsys.readouterr().err
    return status, err


def _assert_one_line_error(status: int, err: str, fragment: str) -> None:
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bench: error: ")
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--profile", "huge"], "unknown profile 'huge'; choose from smoke, quick, gpu, default, full"),
        (["--methods", "formula-torch,magic"], "unknown method magic; choose from formula-numpy"),
        (["--methods", ","], "unknown method ','"),
        (["--device", "tpu"], "unknown device 'tpu'; choose from cpu, cuda, all"),
        (["--memory-budget", "lots"], "--memory-budget: malformed memory size 'lots'"),
        (["--memory-budget", "8 parsecs"], "malformed memory size '8 parsecs'"),
        (["--memory-budget", "0GiB"], "memory size must be positive"),
        (["--passes", "timing"], "unknown pass timing; choose from runtime, memory"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_option_gives_one_line_error_and_exit_2(capsys, tmp_path, argv, fragment):
    status, err = _run(capsys, *argv, "--out", str(tmp_path / "run"))
    _assert_one_line_error(status, err, fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_for_without_cuda_gives_one_line_error(capsys, tmp_path):
    status, err = _run(capsys, "--device", "cuda", "--out", str(tmp_path / "run"))
    _assert_one_line_error(status, err, "--device cuda asked for, but CUDA is not available")


def test_unwritable_out_gives_one_line_error(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    status, err = _run(capsys, "--profile", "smoke", "--out", str(blocker / "run"))
    _assert_one_line_error(status, err, f"--out {blocker / 'run'} is not writable")


def test_existing_run_is_never_overwritten(capsys, tmp_path):
    run_file = tmp_path / RUN_FILE
    write_json_atomic(run_file, {"options": "precious"})
    status, err = _run(capsys, "--profile", "smoke", "--out", str(tmp_path))
    _assert_one_line_error(status, err, f"already holds a run (run.json); use --resume {tmp_path}")
    assert run_file.read_text().strip().endswith("}")
    assert "precious" in run_file.read_text()


def test_resume_of_a_directory_without_a_run_gives_one_line_error(capsys, tmp_path):
    status, err = _run(capsys, "--resume", str(tmp_path))
    _assert_one_line_error(status, err, f"{tmp_path / RUN_FILE} does not exist")


def test_resume_with_corrupt_run_file_gives_one_line_error(capsys, tmp_path):
    (tmp_path / RUN_FILE).write_text("{ not json")
    status, err = _run(capsys, "--resume", str(tmp_path))
    _assert_one_line_error(status, err, f"{tmp_path / RUN_FILE}: corrupt JSON")


def test_resume_combined_with_out_gives_one_line_error(capsys, tmp_path):
    status, err = _run(capsys, "--resume", str(tmp_path), "--out", str(tmp_path / "x"))
    _assert_one_line_error(status, err, "cannot be combined with --out")


@pytest.mark.slow  # a fresh interpreter
def test_module_entry_point_exits_2_on_bad_profile(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--profile", "huge", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bench: error: unknown profile 'huge'; choose from smoke, quick, gpu, default, full"
    )
