"""Memory gate on saved runs against a committed baseline; times from other runs shown, never gated."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from analysis.gate.baseline_file import make_baseline
from analysis.gate.history import BASELINE_SCHEMA
from analysis.load import load_run
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from lbb.main import main
from tests.conftest import DATA
from tests.synthetic import cost_law, write_run

LAW = cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6)
VICTIM = "explicit-torch-warm[cpu-float32-N16-D64-M64]"


@pytest.fixture
def baseline_file(tmp_path) -> Path:
    run = write_run(tmp_path / "base", LAW, noise=0.02, seed=1)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(make_baseline(load_run(run))))
    return path


def _current(tmp_path: Path, seed: int = 2, **kwargs) -> Path:
    return write_run(tmp_path / f"current-{seed}", LAW, noise=0.02, seed=seed, **kwargs)


def _regress(tmp_path: Path, baseline: Path, current: Path, *extra: str) -> int:
    history = tmp_path / "history.jsonl"
    return main(
        ["regress", "--current", str(current), "--baseline", str(baseline), "--history", str(history), *extra]
    )


def _edit(path: Path, name: str, change) -> None:
    data = json.loads((path / name).read_text())
    change(data)
    (path / name).write_text(json.dumps(data))


def _set_victim_peak(factor: float):
    def change(records: list) -> None:
        for record in records:
            if record["case"] == VICTIM:
                record["peak_bytes"] = int(record["peak_bytes"] * factor)

    return change


def test_unchanged_run_passes_and_says_how_many_cases_it_compared(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    assert _regress(tmp_path, baseline_file, current) == 0
    out = capsys.readouterr().out
    compared = len(
        [c for c, e in json.loads(baseline_file.read_text())["cases"].items() if "peak_bytes" in e]
    )
    assert f"peak memory against the baseline: {compared} of {compared} cases gated" in out
    assert "gates this run (same CPU model, BLAS kernels and library versions)" in out
    assert "every one to the byte" in out
    assert "regress: passed" in out
    assert "### Memory against the committed baseline: passed" in (current / "regress.md").read_text()


def test_twenty_percent_more_peak_memory_fails_and_names_the_case(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    _edit(current, MEMORY_FILE, _set_victim_peak(1.2))
    assert _regress(tmp_path, baseline_file, current) == 1
    out = capsys.readouterr().out
    assert f"worse: {VICTIM}" in out and "+20.0%" in out
    summary = json.loads((current / "regress.json").read_text())
    assert summary["exit_status"] == 1
    assert [r["case"] for r in summary["memory"]["results"] if r["verdict"] == "worse"] == [VICTIM]
    assert VICTIM in (current / "regress.md").read_text()


def test_twice_slower_times_from_another_run_are_shown_and_never_gated(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)

    def slow_down(runtime: dict) -> None:
        for bench in runtime["benchmarks"]:
            bench["stats"]["data"] = [t * 2 for t in bench["stats"]["data"]]

    _edit(current, RUNTIME_FILE, slow_down)
    assert _regress(tmp_path, baseline_file, current) == 0
    results = json.loads((current / "regress.json").read_text())["memory"]["results"]
    raw = [r for r in results if r["metric"] == "raw_time"]
    assert raw and {r["verdict"] for r in raw} == {"not gated"}
    assert all(r["change"] == pytest.approx(1.0, abs=0.1) for r in raw)
    assert "history, never gated" in (current / "regress.md").read_text()


def test_a_run_without_memory_records_is_incomplete_and_exits_2(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    (current / MEMORY_FILE).unlink()
    assert _regress(tmp_path, baseline_file, current) == 2
    captured = capsys.readouterr()
    assert "peak memory against the baseline: 0 of" in captured.out
    assert "INCOMPLETE" in captured.err and "baseline comparisons missing" in captured.err


def test_a_partial_run_is_incomplete_unless_allow_partial_says_so(tmp_path, baseline_file, capsys):
    current = _current(tmp_path, methods=("formula-torch", "explicit-torch"))
    assert _regress(tmp_path, baseline_file, current) == 2
    assert _regress(tmp_path, baseline_file, current, "--allow-partial") == 0
    assert "missing (allowed: --allow-partial)" in capsys.readouterr().out


def test_a_method_subset_compares_only_that_methods_cases(tmp_path, baseline_file, capsys):
    current = _current(tmp_path, methods=("formula-torch", "explicit-torch"))
    assert _regress(tmp_path, baseline_file, current, "--methods", "formula-torch,explicit-torch") == 0
    assert "missing" not in capsys.readouterr().out


def test_a_case_that_now_fails_its_memory_measurement_is_worse(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)

    def fail(records: list) -> None:
        for record in records:
            if record["case"] == VICTIM:
                record |= {"status": "failed", "peak_bytes": None, "reason": "memory worker died"}

    _edit(current, MEMORY_FILE, fail)
    assert _regress(tmp_path, baseline_file, current) == 1
    assert "now fails: memory worker died" in capsys.readouterr().out


def test_history_gets_one_line_per_case_and_gab_export_is_smaller_is_better(tmp_path, baseline_file):
    current = _current(tmp_path)
    assert _regress(tmp_path, baseline_file, current) == 0
    assert _regress(tmp_path, baseline_file, current) == 0
    lines = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    cases = {line["case"] for line in lines}
    assert len(lines) == 2 * len(cases)
    assert {"commit", "date", "machine", "case", "metrics"} <= lines[0].keys()
    gab = {entry["name"]: entry for entry in json.loads((current / "gab.json").read_text())}
    memory = {r["case"]: r for r in json.loads((current / MEMORY_FILE).read_text())}
    victim = gab[f"{VICTIM} peak memory"]
    assert victim == {"name": f"{VICTIM} peak memory", "unit": "bytes", "value": memory[VICTIM]["peak_bytes"]}
    assert gab[f"{VICTIM} normalised time"]["unit"] == "× roof time"
    assert gab[f"{VICTIM} normalised time"]["value"] > 0


def _baseline_with(case_change) -> str:
    def build(tmp_path: Path) -> str:
        data = make_baseline(load_run(write_run(tmp_path / "b", LAW, seed=1)))
        case_change(data["cases"][VICTIM])
        return json.dumps(data)

    return build


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist; create one with: nox -s baseline"),
        ("{ not json", ": corrupt JSON"),
        (
            json.dumps({"schema": BASELINE_SCHEMA - 1, "cases": {}}),
            f"this suite reads schema {BASELINE_SCHEMA}",
        ),
        (json.dumps({"schema": 999, "cases": {}}), "has schema 999"),
        (json.dumps(["not", "a", "baseline"]), "holds no cases"),
        (json.dumps({"schema": BASELINE_SCHEMA, "cases": ["a"]}), "cases must be a non-empty object"),
        (json.dumps({"schema": BASELINE_SCHEMA, "cases": "a"}), "cases must be a non-empty object"),
        (_baseline_with(lambda e: e.update(peak_bytes=0)), f"cases.{VICTIM}.peak_bytes is 0"),
        (_baseline_with(lambda e: e.update(peak_bytes=-5)), f"cases.{VICTIM}.peak_bytes is -5"),
        (_baseline_with(lambda e: e.update(peak_bytes="16 MB")), f"cases.{VICTIM}.peak_bytes is '16 MB'"),
        (_baseline_with(lambda e: e.update(status="exploded")), f"cases.{VICTIM}.status is 'exploded'"),
        (_baseline_with(lambda e: e.update(raw_time=[])), f"cases.{VICTIM}.raw_time must be a non-empty"),
        (_baseline_with(lambda e: e.update(raw_time=[-1.0])), f"cases.{VICTIM}.raw_time must be a non-empty"),
    ],
)
def test_bad_baseline_exits_2_with_one_line_naming_the_field(tmp_path, capsys, content, message):
    path = tmp_path / "baseline.json"
    if callable(content):
        content = content(tmp_path)
    if content is not None:
        path.write_text(content)
    assert _regress(tmp_path, path, _current(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("regress: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("threads", None, "this run of profile quick on all cores"),
        ("name", "default", "this run of profile default on 1 thread"),
    ],
)
def test_a_baseline_of_another_profile_or_thread_count_is_a_record_that_cannot_fail(
    tmp_path, baseline_file, capsys, field, value, named
):
    current = _current(tmp_path)
    _edit(current, RUN_FILE, lambda run: run["profile"].__setitem__(field, value))
    _edit(current, MEMORY_FILE, _set_victim_peak(3.0))  # would fail if it gated
    assert _regress(tmp_path, baseline_file, current) == 0
    out = capsys.readouterr().out
    assert "a record only, not gated: it is of profile quick on 1 thread" in out and named in out
    assert json.loads((current / "regress.json").read_text())["memory"]["gated"] is False


def _fingerprint_of(path: Path, **changes) -> None:
    def change(run: dict) -> None:
        run["machine"] |= changes

    _edit(path, RUN_FILE, change)


def test_a_baseline_from_another_cpu_kind_is_a_record_and_names_both_machines(
    tmp_path, baseline_file, capsys
):
    current = _current(tmp_path)
    _fingerprint_of(current, cpu_model="AMD EPYC", blas=[{"architecture": "Haswell"}])
    _edit(current, MEMORY_FILE, _set_victim_peak(3.0))
    assert _regress(tmp_path, baseline_file, current) == 0
    out = capsys.readouterr().out
    assert "baseline from Synthetic CPU" in out
    assert "this run is on AMD EPYC (BLAS Haswell" in out and "cpu model, blas kernels differ" in out
    text = (current / "regress.md").read_text()
    assert "a record, not gated" in text and VICTIM in text  # the move is shown as history


def test_a_baseline_on_the_same_fingerprint_still_gates(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    _edit(current, MEMORY_FILE, _set_victim_peak(3.0))
    assert _regress(tmp_path, baseline_file, current) == 1
    assert f"worse: {VICTIM}" in capsys.readouterr().out


AMD_RUN = DATA / "quick-amd-epyc"
"""A quick run of commit 13af5f1 on a 2-core AMD EPYC (OpenBLAS Haswell), from shared/runs/."""
INTEL_BASELINE = DATA / "baseline-intel-xeon-4f058c6.json"
"""The baseline committed until 2026-12-02, made on a 2-core Intel Xeon (OpenBLAS SkylakeX) at
4f058c6: against it the AMD run above had 18 cases "worse" when a baseline gated any machine."""


def test_unchanged_code_on_another_cpu_kind_passes_against_a_baseline_from_an_intel_xeon(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["regress", "--current", str(AMD_RUN), "--gate", "memory", "--out", str(out), "--history",
                 str(tmp_path / "h.jsonl"), "--baseline", str(INTEL_BASELINE)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "baseline from Intel(R) Xeon(R) Processor (BLAS SkylakeX, torch 2.13.0+cpu)" in printed
    assert "a record only, not gated: this run is on AMD EPYC (BLAS Haswell" in printed
    assert "cpu model, blas kernels" in printed
    summary = json.loads((out / "regress.json").read_text())["memory"]
    assert summary["gated"] is False and summary["worse"] == 0
    moved = [r for r in summary["results"] if r["note"].startswith("worse if it gated")]
    assert len(moved) >= 10  # the machine differences are still shown, as history


@pytest.mark.parametrize(
    ("option", "value"),
    [("--memory-threshold", "-0.1"), ("--memory-threshold", "nan"), ("--confidence", "1")],
)
def test_absurd_thresholds_exit_2_before_anything_is_written(tmp_path, baseline_file, capsys, option, value):
    current = _current(tmp_path)
    assert _regress(tmp_path, baseline_file, current, option, value) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (current / "regress.json").exists()


def test_unreadable_current_run_exits_2(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    (current / RUN_FILE).write_text("[")
    assert _regress(tmp_path, baseline_file, current) == 2
    assert "corrupt JSON" in capsys.readouterr().err


def test_history_that_is_a_directory_exits_2(tmp_path, baseline_file, capsys):
    history = tmp_path / "dir"
    history.mkdir()
    current = _current(tmp_path)
    code = main(
        ["regress", "--current", str(current), "--baseline", str(baseline_file), "--history", str(history)]
    )
    assert code == 2
    assert "is a directory" in capsys.readouterr().err


def test_baseline_command_writes_a_baseline_from_a_complete_run(tmp_path, capsys):
    run = _current(tmp_path)
    out = tmp_path / "b" / "quick-cpu.json"
    assert main(["baseline", "--current", str(run), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["schema"] == BASELINE_SCHEMA
    assert data["commit"] == "0" * 40
    assert VICTIM in data["cases"]
    assert len(data["cases"][VICTIM]["norm_time"]) == 11


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda run: run.update(status="interrupted"), "a baseline needs a complete run"),
        (lambda run: run["options"].update(passes=["runtime"]), "has no memory pass"),
    ],
)
def test_baseline_command_refuses_an_incomplete_or_runtime_only_run(tmp_path, capsys, change, message):
    run = _current(tmp_path)
    _edit(run, RUN_FILE, change)
    out = tmp_path / "b.json"
    assert main(["baseline", "--current", str(run), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_baseline_on_a_full_disk_names_the_file_and_exits_2(tmp_path, capsys, monkeypatch):
    run = _current(tmp_path)
    out = tmp_path / "b.json"

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    assert main(["baseline", "--current", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"baseline: error: cannot write {out}: disk full")


def test_current_against_a_record_only_ends_recorded_not_gated_with_why(tmp_path, baseline_file, capsys):
    """On another CPU kind --current gates nothing by design; its last line said "passed"."""
    current = _current(tmp_path)
    _fingerprint_of(current, cpu_model="AMD EPYC", blas=[{"architecture": "Haswell"}])
    assert _regress(tmp_path, baseline_file, current) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("regress: recorded, not gated: this run is on AMD EPYC (BLAS Haswell")
    assert "passed" not in last
    assert "recorded, not gated" in (current / "regress.md").read_text().splitlines()[0]


def test_current_without_any_peak_is_incomplete_even_against_a_record(tmp_path, baseline_file, capsys):
    """memory.json removed, on another CPU kind: "0 of 342 cases shown ... regress: passed", exit 0."""
    current = _current(tmp_path)
    _fingerprint_of(current, cpu_model="AMD EPYC", blas=[{"architecture": "Haswell"}])
    (current / MEMORY_FILE).unlink()
    assert _regress(tmp_path, baseline_file, current) == 2
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("regress: INCOMPLETE")
    assert "### Memory against the committed baseline: INCOMPLETE" in (current / "regress.md").read_text()


def test_current_with_no_baseline_at_all_ends_recorded_not_gated(tmp_path, monkeypatch, capsys):
    from analysis.gate import current as cli

    monkeypatch.setattr(cli, "DEFAULT_BASELINE", tmp_path / "none.json")
    current = _current(tmp_path)
    history = tmp_path / "history.jsonl"
    assert main(["regress", "--current", str(current), "--history", str(history)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"regress: recorded, not gated: no baseline at {tmp_path / 'none.json'}")


def test_current_against_a_baseline_that_gates_still_ends_passed(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    assert _regress(tmp_path, baseline_file, current) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("regress: passed;")
