"""bench.rundir.records owns the run-directory formats: what it writes it reads back unchanged, and a
value that would turn into silently wrong output is refused on load with one line naming the
file and the field (issue 13, defect 5), by the report, the regression gate and --resume alike."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.cases import Case
from bench.rundir.records import (
    MemoryRecord,
    NotTimed,
    RecordError,
    RunMeta,
    TimingEntry,
    Timings,
    read_memory,
    read_run,
    read_timings,
    write_memory,
    write_run_meta,
    write_timings,
)
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from lbb.commands.bench import sweep_main as bench_main
from tests.conftest import DATA, ROOT
from tests.synthetic import power_law, write_run

FIXTURE = DATA / "quick-cpu"
CASE = Case("explicit-torch", "warm", "cpu", "float32", 16, 64, 64)
OPTIONS = {
    "profile": "quick",
    "device": "cpu",
    "methods": ["explicit-torch"],
    "memory_budget": None,
    "passes": ["runtime", "memory"],
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A small synthetic run in the real schema: two methods, every file present."""
    return write_run(tmp_path / "r", power_law(1, 1, 1), methods=("formula-torch", "explicit-torch"))


def _edit(run: Path, name: str, change: Callable[[Any], None]) -> None:
    data = json.loads((run / name).read_text())
    change(data)
    (run / name).write_text(json.dumps(data))  # json.dumps writes NaN and Infinity as given


# --- round trips ---------------------------------------------------------------------------------


def test_run_meta_written_is_read_back_equal(tmp_path):
    meta = RunMeta(
        run_id="0" * 32,
        run_name="r",
        options=OPTIONS,
        profile={"name": "quick", "axes": {"n": [[4, 64, 64], [8, 64, 64]]}, "threads": 1},
        machine={"hostname": "h", "cores": 2, "gpus": []},
        devices={"cpu": {"status": "run", "memory_budget_bytes": 2**30, "roofs": {"copy": {"gbps": 20.0}}}},
        status="failed: disk full",
        cases=3,
        extra={"runtime_env": {"numpy": {"OPENBLAS_NUM_THREADS": "1"}}},
    )
    write_run_meta(tmp_path, meta)
    assert read_run(tmp_path) == meta


def test_memory_records_written_are_read_back_equal(tmp_path):
    records = [
        MemoryRecord.of(CASE, "ok", 123_456, "", "memray", threads=1),
        MemoryRecord.of(CASE, "skipped", None, "needs 1 GiB", "none"),
        MemoryRecord.of(CASE, "failed", None, "CUDA out of memory", "torch.cuda", block_bytes=2**20),
    ]
    write_memory(tmp_path, records)
    assert read_memory(tmp_path) == records


def test_timings_written_are_read_back_equal_with_every_round(tmp_path):
    samples = [3e-3, 1e-3, 2e-3, 5e-3]
    entry = TimingEntry.from_samples(CASE, samples, {"max_rel_error": 1e-7, "threads": 1})
    timings = Timings((entry,), (NotTimed(CASE, "skipped", "too big"),))
    write_timings(tmp_path, timings)
    back = read_timings(tmp_path)
    assert back is not None
    assert back.entries == (entry,)
    assert back.not_timed == timings.not_timed
    assert back.entries[0].samples == samples
    assert back.entries[0].median == pytest.approx(2.5e-3)


def test_built_timing_entry_uses_pytest_benchmarks_quartiles():
    """One quartile rule for pytest-benchmark's entries and the ones built here (one "noisy" flag)."""
    entry = TimingEntry.from_samples(CASE, [1.0, 2.0, 3.0, 5.0], {})
    assert (entry.stats["q1"], entry.stats["q3"]) == (pytest.approx(1.5), pytest.approx(4.0))
    assert entry.iqr == pytest.approx(2.5)


def test_cuda_event_seconds_are_the_times_read_and_the_host_clock_stays_in_the_entry(tmp_path):
    host = [2.0e-3, 2.1e-3, 2.2e-3]  # pytest-benchmark's perf_counter: the launch and the sync in it
    entry = TimingEntry.from_samples(CASE, host, {"cuda_event_seconds": [1.0e-3, 1.2e-3, 1.1e-3]})
    write_timings(tmp_path, Timings((entry,), rest={}))
    (back,) = read_timings(tmp_path).entries
    assert back.median == pytest.approx(1.1e-3) and back.stats["min"] == pytest.approx(1.0e-3)
    assert back.samples == [1.0e-3, 1.2e-3, 1.1e-3]
    assert back.entry["stats"]["data"] == host


@pytest.mark.parametrize(
    ("name", "read"),
    [(RUN_FILE, read_run), (RUNTIME_FILE, read_timings), (MEMORY_FILE, read_memory)],
)
def test_committed_fixture_loads_and_writes_back_to_equal_json(name, read):
    """Parsed equality (the fixture was written by an older json.dump, so its bytes may differ)."""
    loaded = read(FIXTURE)
    written = json.loads((FIXTURE / name).read_text())
    if name == RUN_FILE:
        assert loaded.to_json() == written
    elif name == RUNTIME_FILE:
        assert [e.to_json() for e in loaded.entries] == written["benchmarks"]
        assert [e.to_json() for e in loaded.not_timed] == written["not_measured"]
    else:
        assert [r.to_json() for r in loaded] == written


def test_a_run_without_memory_or_runtime_file_reads_as_none(run_dir):
    (run_dir / MEMORY_FILE).unlink()
    (run_dir / RUNTIME_FILE).unlink()
    assert read_memory(run_dir) is None
    assert read_timings(run_dir) is None


# --- refusals ------------------------------------------------------------------------------------


def _bench0(change: Callable[[dict], None]) -> Callable[[Any], None]:
    return lambda data: change(data["benchmarks"][0])


def _ok_record(change: Callable[[dict], None]) -> Callable[[Any], None]:
    def edit(data: list[dict]) -> None:
        change(next(r for r in data if r["status"] == "ok"))

    return edit


def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda d: d.__setitem__(key, value)


def _stats(key: str, value: Any) -> Callable[[dict], None]:
    return lambda b: b["stats"].__setitem__(key, value)


DEFECTS = {
    "median -1": (RUNTIME_FILE, _bench0(_stats("median", -1)), "stats.median is -1"),
    "median NaN": (RUNTIME_FILE, _bench0(_stats("median", math.nan)), "stats.median is nan"),
    "median inf": (RUNTIME_FILE, _bench0(_stats("median", math.inf)), "stats.median is inf"),
    "median a string": (RUNTIME_FILE, _bench0(_stats("median", "0.001")), "stats.median is '0.001'"),
    "a round NaN": (
        RUNTIME_FILE,
        _bench0(lambda b: b["stats"]["data"].__setitem__(3, math.nan)),
        "stats.data[3] is nan",
    ),
    "a CUDA event round negative": (
        RUNTIME_FILE,
        _bench0(lambda b: b["extra_info"].__setitem__("cuda_event_seconds", [1e-3, -1e-3])),
        "extra_info.cuda_event_seconds[1] is -0.001",
    ),
    "memory status exploded": (
        MEMORY_FILE,
        _ok_record(_set("status", "exploded")),
        "status 'exploded' is not one of ok, skipped, failed",
    ),
    "ok without peak_bytes": (
        MEMORY_FILE,
        _ok_record(lambda r: r.pop("peak_bytes")),
        "peak_bytes is None, not a whole number >= 1",
    ),
    "ok with peak 0": (MEMORY_FILE, _ok_record(_set("peak_bytes", 0)), "peak_bytes is 0"),
    "negative count": (MEMORY_FILE, _ok_record(_set("flops", -5)), "flops is -5"),
    "schema 999": (RUN_FILE, _set("schema", 999), "schema is 999"),
    "profile a string": (RUN_FILE, _set("profile", "quick"), "profile is 'quick', not an object"),
    "machine a string": (RUN_FILE, _set("machine", "vm"), "machine is 'vm', not an object"),
    "devices an empty list": (RUN_FILE, _set("devices", []), "devices is [], not an object"),
    "run status unknown": (RUN_FILE, _set("status", "exploded"), "status 'exploded' is not one of"),
    "a roof of zero": (
        RUN_FILE,
        lambda d: d["devices"]["cpu"]["roofs"]["copy"].__setitem__("gbps", 0),
        "devices.cpu.roofs.copy.gbps is 0",
    ),
}
READERS = {RUN_FILE: read_run, RUNTIME_FILE: read_timings, MEMORY_FILE: read_memory}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_value_that_would_be_silently_wrong_is_refused_naming_file_and_field(run_dir, defect):
    name, change, fragment = DEFECTS[defect]
    _edit(run_dir, name, change)
    with pytest.raises(RecordError) as refused:
        READERS[name](run_dir)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{run_dir / name}: ")
    assert fragment in message


def test_a_memory_refusal_names_the_record_and_its_case(run_dir):
    records = json.loads((run_dir / MEMORY_FILE).read_text())
    index = next(k for k, r in enumerate(records) if r["status"] == "ok")
    _edit(run_dir, MEMORY_FILE, _ok_record(_set("status", "exploded")))
    with pytest.raises(RecordError, match=re.escape(f"record {index} ({records[index]['case']}): status")):
        read_memory(run_dir)


def test_a_run_that_failed_writing_its_files_is_read(run_dir):
    _edit(run_dir, RUN_FILE, _set("status", "failed: disk full"))
    assert read_run(run_dir).status == "failed: disk full"


# --- one line and exit 2 at every entry point ----------------------------------------------------


def _schema_999(run_dir: Path) -> bytes:
    _edit(run_dir, RUN_FILE, _set("schema", 999))
    return (run_dir / RUN_FILE).read_bytes()


@pytest.mark.slow  # a fresh interpreter per entry point
@pytest.mark.parametrize(
    "command",
    [
        ["analysis"],
        [
            "analysis.gate.cli",
            "regress",
            "--gate",
            "memory",
            "--baseline",
            "reports/baseline/quick-cpu.json",
        ],
    ],
    ids=["report", "regress"],
)
def test_report_and_regress_refuse_a_schema_999_run_with_one_line_naming_run_json(run_dir, command):
    _schema_999(run_dir)
    args = [*command, str(run_dir)] if command == ["analysis"] else [*command, "--current", str(run_dir)]
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{run_dir / RUN_FILE}: schema is 999" in lines[0]
    assert not (run_dir / "report").exists()


def test_resume_refuses_a_schema_999_run_with_one_line_and_leaves_it_as_it_was(run_dir, capsys):
    before = _schema_999(run_dir)
    assert bench_main(["--resume", str(run_dir)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert f"{run_dir / RUN_FILE}: schema is 999" in lines[0]
    assert (run_dir / RUN_FILE).read_bytes() == before


def test_resume_refuses_a_memory_record_of_unknown_status(run_dir, capsys):
    before = (run_dir / RUN_FILE).read_bytes()
    _edit(run_dir, MEMORY_FILE, _ok_record(_set("status", "exploded")))
    assert bench_main(["--resume", str(run_dir)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{run_dir / MEMORY_FILE}: record" in line and "status 'exploded'" in line
    assert (run_dir / RUN_FILE).read_bytes() == before


def test_options_round_trip_through_run_json_and_refuse_an_unknown_device(tmp_path):
    from bench.rundir.records import Options

    options = Options("smoke", "cpu", ("formula-torch", "explicit-torch"), 2**30, ("memory",))
    assert Options.from_json(json.loads(json.dumps(options.to_json()))) == options
    with pytest.raises(RecordError, match=r"options\.device"):
        Options.from_json(options.to_json() | {"device": "tpu"}, tmp_path / "run.json")
