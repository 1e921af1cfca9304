"""The gate's files have one owner each: ``ab.json`` and ``peaks.json`` (bench.rundir.gate_files)
and the committed baseline (analysis.gate.baseline_file). What they write they read back
unchanged, and a malformed file is refused with one line naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.gate.baseline_file import Baseline, BaselineError, load_baseline, make_baseline, read_baseline
from analysis.load import load_run
from bench.rundir.gate_files import AB_SCHEMA, GateFile, RecordError, read_gate_file, write_gate_file
from tests.conftest import DATA, ROOT
from tests.synthetic import cost_law, write_run

CASE = "formula-torch[cpu-float32-N16-D64-M64]"
SIDES = {
    "base": {"name": "base", "tree": "/tmp/base", "commit": "a" * 40, "dirty": False},
    "head": {"name": "head", "tree": "/tmp/head", "commit": "a" * 40, "dirty": True},
}


def _ab() -> dict:
    """A time A/B as bench.abtest.runner.run_ab writes it: a header, two pairs, its stopping line."""
    ok = {"status": "ok", "reason": "", "min_s": 1e-3, "median_s": 1.2e-3, "rounds": 3}
    ok |= {"times": [1e-3, 1.2e-3, 1.3e-3], "threads": 1, "max_rel_error": 1e-7}
    failed = {"status": "failed", "reason": "wrong gradients: relative error 0.5"}
    return {
        "schema": AB_SCHEMA, "kind": "ab", "created_utc": "2026-12-06T09:00:00+00:00",
        "machine": {"cpu_model": "some CPU"}, "profile": "smoke", "threads": 1, **SIDES,
        "cases": [{"method": "formula-torch", "variant": "", "n": 16, "d": 64, "m": 64}],
        "pairs": [
            {"case": CASE, "rep": 0, "first": "head", "base": dict(ok), "head": dict(ok)},
            {"case": CASE, "rep": 1, "first": "base", "base": dict(ok), "head": failed},
        ],
        "status": "complete", "reps": 2, "extra_reps": {}, "budget_s": 0.0, "max_time_s": 0.05,
        "stopped": "every method's interval was narrow enough",
    }  # fmt: skip


def _peaks() -> dict:
    """A memory A/B as run_peaks writes it: each side's reply as the worker gave it."""
    data = _ab()
    for key in ("reps", "extra_reps", "budget_s", "max_time_s", "stopped"):
        del data[key]
    ok = {"status": "ok", "peak_bytes": 5 * 2**20, "max_rel_error": 1e-7}
    missing = {"status": "missing", "reason": "formula-torch is not in this tree"}
    data |= {"kind": "peaks", "pairs": [{"case": CASE, "first": "base", "base": missing, "head": ok}]}
    return data


@pytest.mark.parametrize("make", [_ab, _peaks], ids=["ab", "peaks"])
def test_a_gate_file_reads_back_as_it_was_written(tmp_path, make):
    path = tmp_path / "gate.json"
    written = write_gate_file(path, make())
    assert json.loads(path.read_text()) == make()  # the file holds what the runner gave, no more
    read = read_gate_file(path)
    assert read == written
    assert read.to_json() == make()


def test_a_gate_files_pairs_are_typed():
    record = GateFile.from_json(_ab(), "ab.json")
    assert record.kind == "ab" and record.status == "complete" and record.profile == "smoke"
    assert [p.rep for p in record.pairs] == [0, 1]
    assert record.pairs[1].head.status == "failed"
    assert record.pairs[1].head.reason == "wrong gradients: relative error 0.5"
    assert record.pairs[0].base.figures["min_s"] == 1e-3
    assert record.extra["reps"] == 2


def _broken(change) -> dict:
    data = _ab()
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_broken(lambda d: d.update(schema=1)), "schema is 1; this suite reads schema 2"),
        (_broken(lambda d: d.pop("schema")), "schema is None; this suite reads schema 2"),
        (_broken(lambda d: d.update(kind="noise")), "kind 'noise' is not one of ab, peaks"),
        (_broken(lambda d: d.update(status="exploded")), "status 'exploded' is not one of running"),
        (_broken(lambda d: d.update(pairs={})), "pairs is {}, not a list"),
        (
            _broken(lambda d: d["pairs"][1].update(case="nonsense")),
            "pair 1: case 'nonsense' is not a case name",
        ),
        (
            _broken(lambda d: d["pairs"][0]["head"].update(min_s=-1)),
            f"pair 0 ({CASE}): head.min_s is -1, not a finite number > 0",
        ),
        (
            _broken(lambda d: d["pairs"][0]["base"].update(status="great")),
            f"pair 0 ({CASE}): base.status 'great' is not one of ok, failed, missing",
        ),
        (_broken(lambda d: d["pairs"][0].update(first="both")), "first 'both' is not one of base, head"),
        (_broken(lambda d: d.update(head=None)), "head is None, not an object"),
    ],
)
def test_a_malformed_gate_file_is_refused_with_one_line_naming_the_field(tmp_path, data, message):
    path = tmp_path / "ab.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError) as caught:
        read_gate_file(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    with pytest.raises(RecordError, match="^" + str(tmp_path)):  # the writer refuses it too
        write_gate_file(tmp_path / "again.json", data)
    assert not (tmp_path / "again.json").exists()


def test_a_peaks_file_with_a_peak_that_is_no_whole_number_is_refused(tmp_path):
    data = _peaks()
    data["pairs"][0]["head"]["peak_bytes"] = 1.5
    path = tmp_path / "peaks.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"head\.peak_bytes is 1\.5, not a whole number >= 0$"):
        read_gate_file(path)


def test_a_corrupt_gate_file_is_one_line(tmp_path):
    path = tmp_path / "ab.json"
    path.write_text("{ not json")
    with pytest.raises(RecordError, match=rf"^{path}: corrupt JSON"):
        read_gate_file(path)


@pytest.mark.parametrize(
    "path", [ROOT / "reports" / "baseline" / "quick-cpu.json", DATA / "baseline-intel-xeon-4f058c6.json"]
)
def test_a_committed_baseline_reads_back_unchanged_through_its_record(path):
    data = json.loads(path.read_text())
    record = load_baseline(path)
    assert record.to_json() == data
    assert record.commit == data["commit"] and record.profile == data["profile"]
    assert len(record.cases) == len(data["cases"]) > 100


def test_a_made_baseline_survives_the_real_file(tmp_path):
    run = write_run(tmp_path / "run", cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6), seed=1)
    made = make_baseline(load_run(run))
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(made))
    assert read_baseline(path) == made
    assert load_baseline(path) == Baseline.from_json(made, path)


def test_a_baseline_whose_machine_is_no_object_is_refused_with_one_line(tmp_path):
    data = json.loads((ROOT / "reports" / "baseline" / "quick-cpu.json").read_text())
    data["machine"] = ["cpu"]
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match=rf"^baseline {path}: machine is list, not an object$"):
        load_baseline(path)


def test_every_case_in_a_gate_file_keeps_its_unknown_fields(tmp_path: Path):
    data = _ab()
    data["pairs"][0]["head"]["cuda_event_seconds"] = [1e-3]
    data["note"] = "kept"
    record = write_gate_file(tmp_path / "ab.json", data)
    assert record.to_json() == data
