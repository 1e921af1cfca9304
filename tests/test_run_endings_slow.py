"""The hostile endings as processes: a reader that goes away, SIGTERM and SIGKILL to the GPU check,
and a ``--dw sample`` that covers every part."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bench.rundir.store import RUN_FILE, RUNTIME_FILE
from lbb.commands.headline import main as headline_main
from tests.test_run_safety import SMALL_ROOFS, SMOKE, _alive, _descendants, _wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

REPO = Path(__file__).resolve().parent.parent
ENV = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
HEADLINE = ["-m", "bench.headline", "--device", "cpu", "--target", "2,64,64", "--block-bytes", "256KiB"]


@pytest.mark.parametrize(
    ("command", "prog"),
    [
        (["-m", "bench", *SMOKE, *SMALL_ROOFS, "--methods", "formula-torch"], "bench"),
        (HEADLINE, "headline"),
    ],
    ids=["sweep", "headline"],
)
def test_a_reader_that_goes_away_leaves_the_run_interrupted_with_141_not_a_lock_error(
    tmp_path, command, prog
):
    """``lbb bench ... | head -1``: the pipe is closed after the first line."""
    out = tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, *command, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert run.stdout.readline()
        run.stdout.close()  # what head -1 does once it has its line
        err = run.stderr.read()
        run.wait(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 141, err
    assert "lock" not in err and "Traceback" not in err and "Exception ignored" not in err
    assert err.strip().splitlines()[-1].startswith(f"{prog}: broken pipe: the reader of its output went away")
    assert json.loads((out / RUN_FILE).read_text())["status"] == "interrupted"


def test_a_dw_sample_that_covers_every_part_is_a_checked_measurement(tmp_path, capsys):
    """At 8×256×256 the compiled kernel's dY/dW is one chunk: its "1/64 sample" is all of it."""
    out = tmp_path / "run"
    argv = ["--device", "cpu", "--target", "8,256,256", "--block-bytes", "256KiB", "--dw", "sample"]
    assert headline_main([*argv, "--out", str(out)]) == 0
    runtime = json.loads((out / RUNTIME_FILE).read_text())
    (streamed,) = [b["extra_info"] for b in runtime["benchmarks"] if b["extra_info"].get("headline")]
    assert streamed["dydw_is_estimate"] is False and streamed["dydw_fraction_measured"] == 1
    assert 0 < streamed["max_rel_error_dw"] < 1e-4  # dW checked, as a full pass is
    assert json.loads((out / RUN_FILE).read_text())["devices"]["cpu"]["dydw"]["max_rel_error"] > 0
    said = capsys.readouterr().out
    assert "dY/dW streamed in" in said and "estimate" not in said and "1/64" not in said


def _gpucheck(out: str, cwd: Path, *extra: str) -> subprocess.Popen:
    argv = ["--device", "cpu", "--out", out, "--budget-s", "240", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "bench.gpucheck", *argv],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


LONG_HEADLINE = ["--target", "64,2048,2048", "--dense-target", "4,32,32"]
"""The issue's repro: a headline that is still streaming when the signal comes."""


def test_sigterm_to_the_gpu_check_gives_each_part_a_status_and_leaves_no_running_run(tmp_path):
    out = tmp_path / "g"
    check = _gpucheck("g", tmp_path, *LONG_HEADLINE)  # a relative --out, from another directory
    try:
        assert _wait_for(lambda: (out / "headline" / RUNTIME_FILE).exists(), 120), "no headline started"
        children = _descendants(check.pid)
        check.send_signal(signal.SIGTERM)
        said, _ = check.communicate(timeout=60)
    finally:
        if check.poll() is None:
            check.kill()
            check.wait()
    assert check.returncode == 143, said
    assert not _alive(children)
    summary = json.loads((out / "gpucheck.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["parts"]["headline"]["status"] == "interrupted"
    assert summary["parts"]["headline"]["reason"] == "the check was stopped (SIGTERM)"
    (archive,) = out.glob("gpucheck-*.tar.gz")
    with tarfile.open(archive) as tar:
        headline = json.load(tar.extractfile("headline/run.json"))
    assert headline["status"] == "interrupted"  # the child had SIGTERM first, and said so


def test_sigkill_of_the_gpu_check_leaves_no_process_behind(tmp_path):
    out = tmp_path / "g"
    check = _gpucheck(str(out), tmp_path, *LONG_HEADLINE)
    children: set[int] = set()
    try:
        assert _wait_for(lambda: (out / "headline" / RUNTIME_FILE).exists(), 120), "no headline started"
        children = _descendants(check.pid)
        assert children, "the headline child is not running"
        check.kill()
        check.wait(timeout=30)
        gone = _wait_for(lambda: not _alive(children), 2.0)
    finally:
        for pid in _alive(_descendants(check.pid)) | _alive(children):
            os.kill(pid, signal.SIGKILL)
    assert gone, f"still alive 2 s after SIGKILL of the GPU check: {_alive(children)}"
