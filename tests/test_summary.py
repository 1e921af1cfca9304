"""The end-of-run summary table: a pure function of the saved files."""

from __future__ import annotations

import re

from bench.rundir.records import read_memory, read_run, read_timings
from bench.sweep.console import summary_table
from tests.synthetic import cost_law, write_run

LAW = cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6)


def test_summary_shows_each_method_with_time_peak_and_ratios_to_the_formula(tmp_path):
    run = write_run(tmp_path / "run", LAW, profile="smoke", methods=("formula-torch", "explicit-torch"))
    text = summary_table(read_run(run), read_timings(run), read_memory(run) or [])
    lines = text.splitlines()
    assert lines[0].startswith("Summary along axis N (ratios against the formula")
    assert re.search(
        r"^\s+4,8,8\s+formula-torch\s+cpu\s+float32\s+\S+ \S?s\s+\S+ \S?B\s+1\.0×\s+1\.0×$", text, re.M
    )
    explicit = [line for line in lines if "explicit-torch-warm" in line]
    assert explicit and all(float(line.split()[-2].rstrip("×")) > 1 for line in explicit)
    assert all(line == line.rstrip() for line in lines)


def test_summary_of_a_run_with_nothing_measured_says_so(tmp_path):
    run = write_run(tmp_path / "run", LAW, profile="smoke", methods=("formula-torch",))
    assert summary_table(read_run(run), None, []) == "no case was measured"
