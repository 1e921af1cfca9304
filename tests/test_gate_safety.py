"""The gate leaves nothing behind and passes nothing unseen (issue 19's hostile round).

Signals during the A/B (no worktree, no server, one line, what was measured written), a locked
``--out``, an ``--out`` inside another run, paths resolved from the repository, a resume across
code versions, a report that writes only under ``--out``, an in-sweep headline that says
"interrupted", and ``lbb report DIR`` picking up ``DIR/headline``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.gate.baseline_file import DEFAULT_BASELINE
from analysis.gate.history import DEFAULT_HISTORY
from analysis.report.runs import with_headlines
from bench.harness import children
from bench.rundir.directory import HEADLINE_DIR
from bench.rundir.lock import run_lock
from bench.rundir.store import RUN_FILE, write_json_atomic
from lbb.commands.bench import sweep_main as bench_main
from lbb.main import main as gate_main
from tests.conftest import DATA, ROOT
from tests.test_run_safety import _alive, _descendants, _resumable_run, _wait_for

FIXTURE = DATA / "quick-cpu"


def _gate_worktrees() -> set[str]:
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        line.split(" ", 1)[1]
        for line in listing.splitlines()
        if line.startswith("worktree ") and "lbb-base-" in line
    }


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_ab_leaves_no_worktree_no_process_and_writes_what_was_measured(
    tmp_path, signum, status
):
    out = tmp_path / "gate"
    before = _gate_worktrees()
    options = ["--gate", "time", "--profile", "quick", "--methods", "formula-numpy", "--time-budget", "0"]
    command = [
        sys.executable,
        "-m",
        "analysis.gate.cli",
        "regress",
        *options,
        "--against",
        "HEAD",
        "--out",
        str(out),
    ]
    gate = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def measured_a_pair() -> bool:
        try:
            return bool(json.loads((out / "ab.json").read_text())["pairs"])
        except (OSError, ValueError, KeyError):
            return False

    assert _wait_for(measured_a_pair, 120), gate.communicate(timeout=60)
    ours = _gate_worktrees() - before
    processes = _descendants(gate.pid)
    assert ours and processes  # a worktree and the servers exist while it runs
    gate.send_signal(signum)
    _, err = gate.communicate(timeout=60)
    assert gate.returncode == status, err
    assert err.strip().splitlines() == [f"regress: interrupted; what was measured is in {out / 'regress.md'}"]
    assert not _gate_worktrees() & ours
    assert not any(Path(tree).exists() for tree in ours)
    assert _wait_for(lambda: not _alive(processes), 2), _alive(processes)
    assert json.loads((out / "ab.json").read_text())["status"] == "interrupted"
    assert json.loads((out / "regress.json").read_text())["state"] == "INTERRUPTED"
    assert "INTERRUPTED" in (out / "regress.md").read_text()


@pytest.mark.slow
def test_too_few_pairs_exit_2_even_for_a_slowdown(tmp_path, capsys):
    """The hostile round's repro: 2 repetitions of one point give 2 pairs, and no interval."""
    options = ["--profile", "smoke", "--methods", "formula-numpy", "--reps", "2", "--time-budget", "0"]
    code = gate_main(
        ["regress", "--gate", "time", *options, "--against", "HEAD", "--out", str(tmp_path / "g")]
    )
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert "formula-numpy[cpu-float32]" in captured.out and "too few for a 95% interval" in captured.out
    assert "INCOMPLETE: 2 of 2 methods not compared" in captured.err  # formula-numpy, cold and warm


def test_a_locked_out_directory_is_refused_with_one_line(tmp_path, capsys):
    out = tmp_path / "gate"
    out.mkdir()
    with run_lock(out):
        code = gate_main(["regress", "--current", str(FIXTURE), "--gate", "memory", "--out", str(out)])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"regress: error: {out} is in use by another run (PID {os.getpid()}")


def test_an_out_inside_another_run_directory_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    write_json_atomic(run / RUN_FILE, {"schema": 1})
    code = gate_main(["regress", "--current", str(FIXTURE), "--out", str(run / "gate")])
    assert code == 2
    assert "is inside the run directory" in capsys.readouterr().err
    assert not (run / "gate").exists()


def test_baseline_and_history_are_found_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_BASELINE.is_absolute() and DEFAULT_BASELINE.is_file()
    assert DEFAULT_HISTORY.is_absolute() and DEFAULT_HISTORY.parent == ROOT / "reports"
    code = gate_main(["regress", "--current", str(FIXTURE), "--gate", "memory", "--out", str(tmp_path / "g"),
                      "--history", str(tmp_path / "h.jsonl")])  # fmt: skip
    assert code in (0, 1), capsys.readouterr().err  # compared (or a record), never "does not exist"
    assert "does not exist" not in capsys.readouterr().err


def test_a_missing_default_baseline_is_a_note_and_never_a_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("analysis.gate.current.DEFAULT_BASELINE", tmp_path / "no-baseline.json")
    out = tmp_path / "g"
    code = gate_main(["regress", "--current", str(FIXTURE), "--gate", "memory", "--out", str(out),
                      "--history", str(tmp_path / "h.jsonl")])  # fmt: skip
    assert code == 0
    assert "does not exist; nothing to show the run against (not a failure)" in capsys.readouterr().out
    assert "No baseline: nothing compared." in (out / "regress.md").read_text()


def test_resume_at_another_commit_is_refused_naming_both_and_leaves_the_run(tmp_path, capsys):
    before = _resumable_run(tmp_path, passes=["runtime"])
    data = json.loads(before)
    data["machine"] = {"commit": {"id": "0" * 40, "dirty": False}}
    (tmp_path / RUN_FILE).write_text(json.dumps(data))
    before = (tmp_path / RUN_FILE).read_bytes()
    assert bench_main(["--resume", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "it was measured at commit 000000000000 and this tree is at" in line
    assert (tmp_path / RUN_FILE).read_bytes() == before


def test_report_of_a_sweep_leaves_an_unreadable_headline_out_as_lbb_bench_does(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / HEADLINE_DIR).mkdir(parents=True)
    write_json_atomic(sweep / HEADLINE_DIR / RUN_FILE, {"status": "complete"})
    assert with_headlines([sweep]) == [sweep]  # not a readable run.json: left out, as lbb bench does
    other = tmp_path / "plain"
    assert with_headlines([other]) == [other]


def test_report_of_a_sweep_with_a_real_headline_run_adds_it(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    (sweep / HEADLINE_DIR).mkdir(parents=True)
    (sweep / HEADLINE_DIR / RUN_FILE).write_text("{}")

    class Complete:
        status = "complete"

    monkeypatch.setattr("analysis.report.runs.read_run", lambda path: Complete())
    assert with_headlines([sweep]) == [sweep, sweep / HEADLINE_DIR]
    Complete.status = "interrupted"
    assert with_headlines([sweep]) == [sweep]


CHILD = """
import signal, sys, time
from pathlib import Path
def stop(signum, frame):
    Path(sys.argv[1]).write_text("interrupted")
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
Path(sys.argv[1]).write_text("running")
time.sleep(60)
"""

PARENT = """
import sys
from bench.harness import children
with children.supervised():
    try:
        children.run_in_own_group([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    except KeyboardInterrupt:
        sys.exit(130)
"""


@pytest.mark.slow
def test_a_child_in_its_own_group_is_told_to_stop_before_it_is_killed(tmp_path):
    """The in-sweep headline's stale "running": its parent now sends SIGTERM first, then SIGKILL."""
    status = tmp_path / "status"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(status)], cwd=ROOT)
    assert _wait_for(lambda: status.exists() and status.read_text() == "running", 30)
    parent.send_signal(signal.SIGINT)
    assert parent.wait(timeout=30) == 130
    assert status.read_text() == "interrupted"
    assert children.TERM_GRACE_S >= 1
