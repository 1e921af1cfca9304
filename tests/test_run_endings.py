"""However a run ends, its status says how: one mechanism (``bench.rundir.ending``) for the sweep,
the headline and the GPU check, and a report that tells a live "running" from a dead one."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import pytest

from analysis.load import load_run
from bench import gpucheck, headline
from bench.harness import children, parts
from bench.rundir.ending import RunStoppedError, run_ending, run_json
from bench.rundir.lock import RunLockedError, lock_is_free, run_lock
from bench.rundir.records import RunMeta, Timings, read_run, write_memory, write_run_meta, write_timings
from bench.rundir.store import RunFileError
from lbb.commands import gpucheck as gpucheck_command
from lbb.commands import headline as headline_command
from lbb.commands.report import main as report_main

MACHINE = dict(hostname="h", cpu_model="CPU", cores=2, ram_bytes=2**34, llc_bytes=2**25, gpus=[])
MACHINE |= dict(python="3.11", numpy="x", torch="x", blas=[], torch_threads=2)
MACHINE |= dict(commit={"id": "0" * 40, "dirty": False}, timestamp_utc="2026-12-06T00:00:00+00:00")


def _headline_without_cases(path: Path, status: str = "running") -> Path:
    """What a headline killed before its first case leaves: run.json, no timing, no record."""
    path.mkdir(parents=True)
    options = {"profile": "headline", "device": "cpu", "methods": ["formula-torch", "streamed-compiled"]}
    meta = RunMeta(
        run_id="killed",
        run_name=path.name,
        options=options | {"memory_budget": None, "passes": ["runtime", "memory"]},
        profile={"name": "headline", "target": [64, 4096, 4096], "dtype": "float32", "axes": {}},
        machine=MACHINE,
        devices={},
        status=status,
        cases=3,
    )
    write_run_meta(path, meta)
    write_timings(path, Timings(()))
    write_memory(path, [])
    return path


def _status(run_dir: Path) -> str:
    return read_run(run_dir).status


@pytest.mark.parametrize(
    ("raised", "status", "exit_status"),
    [
        (KeyboardInterrupt(), "interrupted", 130),
        (children.TerminatedError("signal 15"), "interrupted", 143),
        (
            headline.InterruptedPassError("interrupted after 3 of 9 tiles", terminated=True),
            "interrupted",
            143,
        ),
        (RunFileError(Path("D/memory.json"), 28), "failed: disk full", 2),
        (
            RunStoppedError("runtime pass stopped (pytest exit 3)", 3),
            "failed: runtime pass stopped (pytest exit 3)",
            3,
        ),
    ],
    ids=["ctrl-c", "sigterm", "interrupted-pass", "disk-full", "stopped"],
)
def test_every_known_ending_leaves_its_status_one_line_and_its_exit_status(
    tmp_path, capsys, raised, status, exit_status
):
    run = _headline_without_cases(tmp_path / "run")
    with run_ending("bench", run_json(run), "a hint") as ending:
        raise raised
    assert (ending.exit_status, ending.status, _status(run)) == (exit_status, status, status)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("bench: ") and err.rstrip().endswith("; a hint")


def test_a_broken_pipe_is_interrupted_with_141_never_a_lock_error(tmp_path, capsys):
    run = _headline_without_cases(tmp_path / "run")
    with run_ending("bench", run_json(run)) as ending:
        raise BrokenPipeError(32, "Broken pipe")
    assert (ending.exit_status, _status(run)) == (141, "interrupted")
    assert "lock" not in capsys.readouterr().err


def test_an_unexpected_exception_is_recorded_in_one_line_and_raised_on(tmp_path):
    run = _headline_without_cases(tmp_path / "run")
    with pytest.raises(RuntimeError), run_ending("headline", run_json(run)):
        raise RuntimeError("cannot cache function '_contract': no locator available\nsecond line")
    assert _status(run) == "failed: RuntimeError: cannot cache function '_contract': no locator available"


def test_a_run_that_returns_without_completing_is_failed_with_its_exit_status(tmp_path):
    run = _headline_without_cases(tmp_path / "run")
    with run_ending("bench", run_json(run)) as ending:
        ending.exit_status = 4
    assert _status(run) == "failed: stopped before the end (exit 4)"


def test_a_complete_run_stays_complete_whatever_ends_it_after(tmp_path):
    run = _headline_without_cases(tmp_path / "run", status="complete")
    with run_ending("bench", run_json(run)) as ending:
        raise KeyboardInterrupt
    assert (ending.exit_status, ending.status, _status(run)) == (130, "interrupted", "complete")


def test_a_running_run_whose_lock_is_free_is_reported_stale(tmp_path):
    run = _headline_without_cases(tmp_path / "run")
    assert lock_is_free(run) is None  # no lock file: nothing to tell by
    with run_lock(run):
        assert lock_is_free(run) is False
        assert not any("stale" in w for w in load_run(run).warnings)
    assert lock_is_free(run) is True
    (warning,) = [w for w in load_run(run).warnings if "stale" in w]
    assert "status running, stale: its writer is gone" in warning


def test_the_report_of_a_headline_run_without_cases_says_so_instead_of_crashing(tmp_path, capsys):
    run = _headline_without_cases(tmp_path / "run")
    assert report_main([str(run), "--out", str(tmp_path / "report")]) == 0
    assert "partial run (0 of 3 cases recorded" in (tmp_path / "report" / "index.html").read_text()


@pytest.mark.parametrize("where", ["the-run", "inside-the-run", "symlink-to-the-run"])
def test_the_report_refuses_an_out_that_is_or_resolves_into_a_run_directory(tmp_path, capsys, where):
    run = _headline_without_cases(tmp_path / "run", status="complete")
    if where == "symlink-to-the-run":
        (run / "report").symlink_to(".")
        out = run / "report"
    else:
        out = run if where == "the-run" else run / "sub" / ".."
    before = sorted(p.name for p in run.iterdir())
    argv = [str(run)] if where == "symlink-to-the-run" else [str(run), "--out", str(out)]
    assert report_main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is a run directory" in err
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written beside the run files


def test_headline_compiled_in_bfloat16_on_all_devices_is_one_line_before_any_directory(tmp_path, capsys):
    out = tmp_path / "run"
    assert headline_command.main(["--kernel", "compiled", "--dtype", "bfloat16", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "headline: error: --kernel compiled runs on the CPU in float32 and float64 only " + (
        "(asked: cpu, bfloat16)"
    )
    assert not out.exists()


# --- the GPU check's options and own files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget-s", "inf"], "--budget-s must be a finite number of seconds > 0, got inf"),
        (["--budget-s", "1e400"], "--budget-s must be a finite number of seconds > 0, got inf"),
        (["--budget-s", "nan"], "--budget-s must be a finite number of seconds > 0, got nan"),
        (["--budget-s", "-5"], "--budget-s must be a finite number of seconds > 0, got -5.0"),
        (["--profile", "bogus"], "unknown profile 'bogus'; choose from"),
        (["--target", "1,x,1"], "--target must be three positive integers"),
    ],
)
def test_the_gpu_check_validates_every_option_before_any_part(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert gpucheck_command.main(["--device", "cpu", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr()
    assert len(err.err.strip().splitlines()) == 1 and message in err.err
    assert err.out == "" and not out.exists()  # no part started, nothing made


def test_the_gpu_check_refuses_an_empty_out_it_cannot_write_in_one_line(tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):  # an empty --out on a read-only file system (root ignores chmod)
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(gpucheck.tempfile, "TemporaryFile", read_only)
    out = tmp_path / "ro"
    out.mkdir()
    assert gpucheck_command.main(["--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr()
    assert err.err.strip() == f"gpucheck: error: cannot use --out {out}: Read-only file system"
    assert err.out == "" and not any(out.iterdir())


def test_the_gpu_check_makes_a_relative_out_absolute_for_its_children(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = gpucheck_command.parse(["--device", "cpu", "--out", "rel"])
    assert args.out == tmp_path / "rel" and args.out.is_absolute()


def test_a_summary_that_cannot_be_written_is_one_line_exit_2_and_the_archive_still_made(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"

    def full_disk(path, data):
        raise RunFileError(path, 28, "No space left on device")

    monkeypatch.setattr(gpucheck, "write_json_atomic", full_disk)
    assert gpucheck_command.main(["--device", "cpu", "--out", str(out), "--budget-s", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        f"gpucheck: error: cannot write {out / gpucheck.SUMMARY}: disk full (No space left on device); "
        "the run stopped; the summary and the archive keep what finished"
    ]
    assert len(list(out.glob("gpucheck-*.tar.gz"))) == 1


def test_an_archive_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    def no_space(out):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gpucheck, "archive", no_space)
    out = tmp_path / "out"
    assert gpucheck_command.main(["--device", "cpu", "--out", str(out), "--budget-s", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"gpucheck: error: cannot write the archive in {out}: No space left on device"
    assert json.loads((out / gpucheck.SUMMARY).read_text())["status"] == "complete"


def test_a_tiny_budget_skips_every_part_roofs_and_dense_case_included(tmp_path, capsys):
    out = tmp_path / "out"
    assert gpucheck_command.main(["--device", "cpu", "--out", str(out), "--budget-s", "1"]) == 0
    summary = json.loads((out / gpucheck.SUMMARY).read_text())
    assert summary["status"] == "complete"
    assert {name: part["status"] for name, part in summary["parts"].items()} == {
        "roofs": "skipped",
        "headline": "skipped",
        "dense_bfloat16": "skipped",
        "sweep": "skipped",
    }
    assert summary["parts"]["roofs"]["reason"].endswith("under the 10 s a part needs")


def test_an_in_process_part_past_its_share_is_interrupted_by_the_timer():
    record: dict = {}

    def forever() -> dict:
        while True:
            sum(range(1000))

    part = parts.in_process(record, "roofs", forever, parts.MIN_PART_S)
    assert part["status"] == "interrupted" and record["roofs"] is part
    assert part["reason"] == "ran past its 10 s share of the budget"
    assert parts.MIN_PART_S <= part["seconds"] < parts.MIN_PART_S + 5


def test_a_child_part_past_its_share_gets_sigterm_and_is_interrupted(tmp_path):
    record: dict = {}
    sleeper = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"]
    part = parts.child_part(record, "sweep", sleeper, parts.MIN_PART_S, tmp_path / "sweep.log")
    assert part["status"] == "interrupted" and part["reason"] == "ran past its 10 s share of the budget"
    assert part["seconds"] < parts.MIN_PART_S + children.TERM_GRACE_S + 5
    assert (tmp_path / "sweep.log").read_text() == "started\n"


def test_a_gpu_check_whose_part_was_cut_exits_3(tmp_path, monkeypatch, capsys):
    def cut(parts_, name, command, allowed, out):
        parts_[name] = {"status": "interrupted", "reason": "ran past its 10 s share of the budget"}
        return parts_[name]

    monkeypatch.setattr(gpucheck, "_child", cut)
    monkeypatch.setattr(
        gpucheck,
        "in_process",
        lambda parts_, name, part, allowed: parts_.setdefault(name, {"status": "skipped", "reason": "test"}),
    )
    status = gpucheck_command.main(["--device", "cpu", "--out", str(tmp_path / "out")])
    assert status == gpucheck.EXIT_PART_CUT == 3


def test_ctrl_c_in_a_part_leaves_its_status_and_the_summary_interrupted(tmp_path, monkeypatch, capsys):
    def stopped(parts_, name, part, allowed):
        parts_[name] = {"status": "interrupted", "reason": "the check was stopped (SIGTERM)"}
        raise children.TerminatedError("signal 15")

    monkeypatch.setattr(gpucheck, "in_process", stopped)
    out = tmp_path / "out"
    assert gpucheck_command.main(["--device", "cpu", "--out", str(out)]) == 143
    summary = json.loads((out / gpucheck.SUMMARY).read_text())
    assert summary["status"] == "interrupted"
    never = {"status": "skipped", "reason": "not reached: the check ended first"}
    assert summary["parts"] == {
        "roofs": {"status": "interrupted", "reason": "the check was stopped (SIGTERM)"},
        "headline": never,
        "dense_bfloat16": never,
        "sweep": never,
    }
    assert len(list(out.glob("gpucheck-*.tar.gz"))) == 1


def test_a_child_stopped_by_ctrl_c_is_recorded_before_the_interrupt_goes_on(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(children, "run_in_own_group", interrupted)
    record: dict = {}
    with pytest.raises(KeyboardInterrupt):
        parts.child_part(record, "headline", ["true"], 60.0, tmp_path / "headline.log")
    assert record["headline"]["status"] == "interrupted"
    assert record["headline"]["reason"] == "the check was stopped (Ctrl-C)"


def test_a_lock_file_that_cannot_be_made_is_a_lock_error_only_when_taking_the_lock(tmp_path):
    refused = pytest.raises(RunLockedError, match=r"cannot lock .*/missing: No such file or directory")
    with refused, run_lock(tmp_path / "missing"):
        pass
    with pytest.raises(BrokenPipeError), run_lock(tmp_path):  # the block's own errors pass through
        raise BrokenPipeError(32, "Broken pipe")


def test_a_part_log_that_cannot_be_written_stops_the_check_in_one_line(tmp_path):
    record: dict = {}
    with pytest.raises(
        RunStoppedError, match=r"^cannot write .*/missing/sweep\.log: No such file or directory$"
    ):
        gpucheck._child(record, "sweep", ["true"], 60.0, tmp_path / "missing")
    assert record == {}  # no child was started
