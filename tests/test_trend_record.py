"""A link record from a real gate: ``lbb regress`` measures, ``lbb trend record`` reads what it wrote."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.trend import store
from bench.abtest.worktree import head_commit
from lbb.commands.trend import main as trend_main
from lbb.main import main as gate_main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_real_regress_directory_becomes_a_link_with_every_method_and_peak_it_measured(tmp_path):
    out, history = tmp_path / "link", tmp_path / "new.jsonl"
    argv = ["regress", "--against", "HEAD", "--methods", "formula-numpy", "--reps", "6", "--time-budget", "0"]
    assert gate_main([*argv, "--allow-partial", "--out", str(out)]) in (0, 1)  # measured either way
    assert trend_main(["record", str(out), "--kind", "link", "--out", str(history)]) == 0
    (link,) = store.read(history)
    assert link["parent"] == link["commit"] == head_commit(ROOT)  # against HEAD: the tree on both sides
    time = link["time"]["formula-numpy[cpu-float32]"]
    assert (
        time["pairs"] >= 6 and time["low"] <= time["ratio"] <= time["high"] and math.isfinite(time["ratio"])
    )
    peaks = {case: entry for case, entry in link["memory"].items() if case.startswith("formula-numpy[")}
    assert peaks and all(entry["base"] > 0 and entry["head"] > 0 for entry in peaks.values())
    assert link["machine"].count("|") == 3 and link["device"] == "cpu"
