"""Regression gate on saved runs: catches real regressions, passes noise and improvements."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis.load import load_run
from analysis.regress import BASELINE_SCHEMA, make_baseline
from analysis.regress_cli import main
from bench.cases import variants_of
from bench.costs import TIME_DRIVER
from bench.methods import METHODS
from bench.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from tests.synthetic import cost_law, write_run

LAW = cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6)
VICTIM = "explicit-torch-warm[cpu-float32-N16-D64-M64]"
METHOD_LABELS = [f"{m}-{v}" if v else m for m in METHODS for v in variants_of(m)]


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


def _inflate_victim_peak(records: list) -> None:
    for record in records:
        if record["case"] == VICTIM:
            record["peak_bytes"] = int(record["peak_bytes"] * 1.2)


def test_unchanged_run_with_noise_passes(tmp_path, baseline_file, capsys):
    assert _regress(tmp_path, baseline_file, _current(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "regress: 0 worse" in out
    assert "same machine" in out
    assert "held (time, per method):" in out
    assert "  explicit-torch-warm[cpu-float32] " in out  # each method's aggregate is listed
    assert "peak memory: " in out and "cases held" in out
    summary = (Path(out.split("regress: markdown: ")[1].split()[0])).read_text()
    assert "### Held" in summary and "| `formula-torch[cpu-float32]` | norm_time |" in summary


def test_twenty_percent_more_peak_memory_fails_and_names_the_case(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    _edit(current, MEMORY_FILE, _inflate_victim_peak)
    assert _regress(tmp_path, baseline_file, current) == 1
    out = capsys.readouterr().out
    assert "1 worse" in out
    assert VICTIM in out and "peak_bytes" in out
    summary = json.loads((current / "regress.json").read_text())
    assert summary["exit_status"] == 1
    assert [r["case"] for r in summary["results"] if r["verdict"] == "worse"] == [VICTIM]
    assert VICTIM in (current / "regress.md").read_text()


def test_one_method_fifty_percent_slower_with_stable_rounds_fails_and_names_it(
    tmp_path, baseline_file, capsys
):
    current = _current(tmp_path)

    def slow_down(runtime: dict) -> None:
        for bench in runtime["benchmarks"]:
            if bench["extra_info"]["label"] == "explicit-torch-warm":
                bench["stats"]["data"] = [t * 1.5 for t in bench["stats"]["data"]]
                bench["stats"]["median"] *= 1.5

    _edit(current, RUNTIME_FILE, slow_down)
    assert _regress(tmp_path, baseline_file, current) == 1
    out = capsys.readouterr().out
    block = out.split("worse:\n", 1)[1].splitlines()
    worse = block[: next(i for i, line in enumerate(block) if not line.startswith("  "))]
    assert worse
    assert all(line.split()[0] == "explicit-torch-warm[cpu-float32]" for line in worse)
    norm = [line for line in worse if " norm_time " in line]
    assert len(norm) == 1
    assert 0.45 < float(re.search(r"\(\+([\d.]+)%", norm[0]).group(1)) / 100 < 0.55
    assert "most moved: explicit-torch-warm[cpu-float32-N" in out  # the case is named too


def test_one_slow_case_among_many_is_shown_but_does_not_fail_the_method(tmp_path, baseline_file):
    """A single case moving is what noise on a shared machine looks like; it is shown, not gated."""
    current = _current(tmp_path)

    def slow_down(runtime: dict) -> None:
        for bench in runtime["benchmarks"]:
            if bench["extra_info"]["case"] == VICTIM:
                bench["stats"]["data"] = [t * 1.5 for t in bench["stats"]["data"]]

    _edit(current, RUNTIME_FILE, slow_down)
    assert _regress(tmp_path, baseline_file, current) == 0
    results = json.loads((current / "regress.json").read_text())["results"]
    shown = [r for r in results if r["case"] == VICTIM and r["metric"] == "norm_time"]
    assert shown[0]["change"] == pytest.approx(0.5, abs=0.05)
    assert shown[0]["verdict"] == "not gated"


def test_a_shift_in_a_minority_of_a_methods_cases_is_shown_but_does_not_fail_it(tmp_path, baseline_file):
    """A stretch of interference slows the cases that ran during it: the median case holds."""
    current = _current(tmp_path)
    method = "explicit-torch-warm"

    def slow_down(runtime: dict) -> None:
        cases = sorted(
            b["extra_info"]["case"] for b in runtime["benchmarks"] if b["extra_info"]["label"] == method
        )
        hit = set(cases[: int(0.4 * len(cases))])
        for bench in runtime["benchmarks"]:
            if bench["extra_info"]["case"] in hit:
                bench["stats"]["data"] = [t * 2 for t in bench["stats"]["data"]]

    _edit(current, RUNTIME_FILE, slow_down)
    assert _regress(tmp_path, baseline_file, current) == 0
    results = json.loads((current / "regress.json").read_text())["results"]
    method_level = [
        r for r in results if r["case"] == f"{method}[cpu-float32]" and r["metric"] == "norm_time"
    ]
    assert method_level[0]["change"] > 0.25  # the geometric mean alone would have failed it
    assert method_level[0]["verdict"] == "held"
    assert "median case +" in method_level[0]["note"]


def test_normalised_time_divides_by_the_runs_median_roof_not_one_cases(tmp_path, baseline_file):
    """The roofs measured before the cases count, not the run's start-up roofs nor one case's own.

    As in a real run, each case records only the roof its family is compared with; the run's
    start-up roofs are far off, and one case's roof came out low (a neighbour's burst).
    """
    current = _current(tmp_path)

    def roofs(runtime: dict) -> None:
        for bench in runtime["benchmarks"]:
            info = bench["extra_info"]
            if TIME_DRIVER[info["family"]] == "bytes_moved":
                info["local_copy_roof"] = 10.0 if info["case"] == VICTIM else 20.0
            else:
                info["local_gemm_roof"] = 100.0

    def start_up(run: dict) -> None:
        run["devices"]["cpu"]["roofs"] = {"gemm": {"float32": {"gflops": 10.0}}, "copy": {"gbps": 5.0}}

    _edit(current, RUNTIME_FILE, roofs)
    _edit(current, RUN_FILE, start_up)
    assert _regress(tmp_path, baseline_file, current) == 0
    results = json.loads((current / "regress.json").read_text())["results"]
    victim = next(r for r in results if r["case"] == VICTIM and r["metric"] == "norm_time")
    assert victim["change"] == pytest.approx(0.0, abs=0.06)
    methods = [r for r in results if r["scope"] == "method" and r["metric"] == "norm_time"]
    assert len(methods) == len(METHOD_LABELS)
    assert all(abs(r["change"]) < 0.06 for r in methods), [(r["case"], r["change"]) for r in methods]


def test_faster_run_is_reported_better_and_passes(tmp_path, baseline_file, capsys):
    current = write_run(tmp_path / "fast", cost_law(1 / 40e9, 1 / 200e9, 2.5e-6), noise=0.02, seed=3)
    assert _regress(tmp_path, baseline_file, current) == 0
    out = capsys.readouterr().out
    assert "0 worse" in out
    assert "better:" in out


def test_raw_time_gates_only_on_the_same_machine(tmp_path, baseline_file, capsys):
    baseline = json.loads(baseline_file.read_text())
    baseline["machine_id"] = "another|machine|64|"
    baseline_file.write_text(json.dumps(baseline))
    current = _current(tmp_path)
    assert _regress(tmp_path, baseline_file, current) == 0
    assert "other machine: raw times not gated" in capsys.readouterr().out
    results = json.loads((current / "regress.json").read_text())["results"]
    assert {r["verdict"] for r in results if r["metric"] == "raw_time"} == {"not gated"}


def test_gate_memory_shows_time_metrics_without_gating_them(tmp_path, baseline_file):
    current = _current(tmp_path)

    def slow_down(runtime: dict) -> None:  # every raw time slower, so only raw_time would catch it
        for bench in runtime["benchmarks"]:
            bench["stats"]["data"] = [t * 2 for t in bench["stats"]["data"]]
            bench["extra_info"]["local_copy_roof"] = 10.0  # the machine got slower: normalised time held
            bench["extra_info"]["local_gemm_roof"] = 50.0

    _edit(current, RUNTIME_FILE, slow_down)
    assert _regress(tmp_path, baseline_file, current) == 1
    assert _regress(tmp_path, baseline_file, current, "--gate", "memory") == 0


def test_gate_memory_still_fails_on_memory(tmp_path, baseline_file):
    current = _current(tmp_path)
    _edit(current, MEMORY_FILE, _inflate_victim_peak)
    assert _regress(tmp_path, baseline_file, current, "--gate", "memory") == 1


def test_history_gets_one_line_per_case_and_gab_export_is_smaller_is_better(tmp_path, baseline_file):
    current = _current(tmp_path)
    assert _regress(tmp_path, baseline_file, current) == 0
    assert _regress(tmp_path, baseline_file, current) == 0
    lines = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    cases = {line["case"] for line in lines}
    assert len(lines) == 2 * len(cases)
    assert {"commit", "date", "machine", "case", "metrics"} <= lines[0].keys()
    gab = json.loads((current / "gab.json").read_text())
    assert {"name", "unit", "value"} <= gab[0].keys()
    assert any(entry["unit"] == "bytes" for entry in gab)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist; create one with: nox -s baseline"),
        ("{ not json", "is corrupt JSON"),
        (
            json.dumps({"schema": BASELINE_SCHEMA - 1, "cases": {}}),
            f"this suite reads schema {BASELINE_SCHEMA}",
        ),
        (json.dumps(["not", "a", "baseline"]), "holds no cases"),
    ],
)
def test_bad_baseline_exits_2_with_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "baseline.json"
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
        ("threads", None, "of profile quick on all cores"),
        ("name", "default", "of profile default on 1 thread"),
    ],
)
def test_baseline_of_another_profile_or_thread_count_exits_2(
    tmp_path, baseline_file, capsys, field, value, named
):
    current = _current(tmp_path)

    def change(run: dict) -> None:
        run["profile"][field] = value

    _edit(current, RUN_FILE, change)
    assert _regress(tmp_path, baseline_file, current) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "is of profile quick on 1 thread" in err and named in err


def test_unreadable_current_run_exits_2(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    (current / RUN_FILE).write_text("[")
    assert _regress(tmp_path, baseline_file, current) == 2
    assert "corrupt JSON" in capsys.readouterr().err


def test_baseline_command_writes_a_baseline_from_a_run(tmp_path, capsys):
    run = _current(tmp_path)
    out = tmp_path / "b" / "quick-cpu.json"
    assert main(["baseline", "--current", str(run), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["schema"] == BASELINE_SCHEMA
    assert VICTIM in data["cases"]
    assert len(data["cases"][VICTIM]["norm_time"]) == 11


def test_noise_of_steady_runs_reports_every_method_and_raises_no_alarm(tmp_path, capsys):
    runs = [_current(tmp_path, seed=seed) for seed in (10, 11, 12, 13)]
    out = tmp_path / "noise"
    assert main(["noise", "--current", *map(str, runs), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "No alarm" in text
    assert "| `explicit-torch-warm[cpu-float32]` | norm_time |" in text
    data = json.loads((out / "noise.json").read_text())
    assert data["runs"] == ["current-11", "current-12", "current-13"]
    assert all(len(row["changes"]) == 3 for row in data["method_moves"])
    assert data["case_moves"]["peak_bytes"]["max"] == 0.0
    assert data["case_moves"]["norm_time"]["max"] < 0.25
    assert data["alarms"] == []


def test_noise_names_the_run_and_method_that_would_have_failed(tmp_path, capsys):
    runs = [_current(tmp_path, seed=seed) for seed in (10, 11, 12)]

    def slow_down(runtime: dict) -> None:
        for bench in runtime["benchmarks"]:
            if bench["extra_info"]["label"] == "jacrev-torch":
                bench["stats"]["data"] = [t * 1.6 for t in bench["stats"]["data"]]

    _edit(runs[2], RUNTIME_FILE, slow_down)
    assert main(["noise", "--current", *map(str, runs), "--out", str(tmp_path / "noise")]) == 1
    text = capsys.readouterr().out
    assert "the gate would fail unchanged code on this machine" in text
    assert "- `current-12`: `jacrev-torch[cpu-float32]` norm_time +" in text


def test_noise_needs_two_runs(tmp_path, capsys):
    assert main(["noise", "--current", str(_current(tmp_path))]) == 2
    assert "noise: error: noise needs at least two runs" in capsys.readouterr().err


def test_memory_only_run_says_its_time_metrics_were_not_compared(tmp_path, baseline_file, capsys):
    current = _current(tmp_path)
    (current / RUNTIME_FILE).unlink()
    assert _regress(tmp_path, baseline_file, current) == 0
    out = capsys.readouterr().out
    assert re.search(r"time: \d+ metrics of the baseline were not measured in the current run", out)
    assert "not measured in the current run" in (current / "regress.md").read_text()
