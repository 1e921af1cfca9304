"""The first screen never calls unbeatable a floor that a figure on the same screen beats."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.report.first_screen import summary
from analysis.report.study import analyse
from bench.rundir.records import read_run, write_run_meta
from tests.synthetic import cost_law, write_run

# Explicit methods stream 20 GB/s of traffic, the formula 100 GFLOP/s: a quick run's laws.
LAW = cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6)
METHODS = ("formula-torch", "explicit-torch", "streamed-compiled")
UNITS = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}


def _seconds(text: str) -> float:
    """A time as the page prints it: "842 ms", "1,876 s (31.3 min)", "4.9 h"."""
    number, unit = re.match(r"([\d,.]+) (\S+)", text).groups()
    return float(number.replace(",", "")) * UNITS[unit]


def _run_with_cache_roofs(path: Path, l1_gbps: float, copy_gbps: float) -> Path:
    """A quick run whose roofs are a fast GEMM (so bytes set the Jacobians' floors), DRAM copy
    at ``copy_gbps`` and cache copies at ``l1_gbps`` (L2 a quarter of it)."""
    run = write_run(path, LAW, profile="quick", methods=METHODS)
    meta = read_run(run)
    cpu = meta.devices["cpu"]
    roofs = cpu["roofs"] | {
        "gemm": {"float32": {"gflops": 10_000.0}},
        "copy": {"gbps": copy_gbps},
        "l1_copy": {"gbps": l1_gbps, "buffer_bytes": 16384, "threads": 2, "vector_bits": 512},
        "l2_copy": {"gbps": l1_gbps / 4, "buffer_bytes": 524288, "threads": 2, "vector_bits": 512},
    }
    write_run_meta(run, replace(meta, devices={"cpu": cpu | {"roofs": roofs}}))
    return run


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("bound")
    return {
        name: summary(analyse([_run_with_cache_roofs(root / name, *gbps)])).devices[0]
        for name, gbps in (("measured", (800.0, 20.0)), ("too_low", (10.0, 5.0)))
    }


def test_the_quick_screen_shows_the_streamed_method_as_the_fastest_explicit_one(screens):
    rows = {row.role: row for row in screens["measured"].rows}
    best = rows["explicit, fastest of the sweep"]
    assert best.method == "streamed-compiled" and best.time.source == "extrapolated"
    assert "L1 copy roof (800.0 GB/s)" in best.floor_detail
    assert "copy roof (DRAM)" in rows["explicit Jacobians (dense)"].floor_detail


def test_no_explicit_figure_shown_is_faster_than_the_floor_called_unbeatable(screens):
    device = screens["measured"]
    bound = device.bound
    assert bound.unbeatable and bound.bound.startswith("Jacobian") and "L1 copy roof" in bound.bound
    floor = _seconds(bound.floor)
    explicit = [row for row in device.rows if not row.role.startswith("formula")]
    assert len(explicit) == 2
    assert all(_seconds(row.time.value) >= floor for row in explicit)


def test_a_floor_that_a_shown_figure_beats_is_never_called_unbeatable(screens):
    bound = screens["too_low"].bound  # the explicit methods ran at 20 GB/s, the L1 roof read 10
    assert "L1 copy roof (10.0 GB/s)" in bound.bound and not bound.unbeatable
    assert "streamed-compiled" in bound.beaten_by and "explicit-torch-warm" in bound.beaten_by
