"""The headline CLI on a reduced target: files in the sweep's schema, checks, bad input."""

from __future__ import annotations

import json

import pytest

from analysis.load import load_run
from analysis.report import build_report
from bench.headline import main
from bench.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from tests.synthetic import cost_law, write_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def headline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("headline") / "run"
    assert (
        main(["--device", "cpu", "--target", "8,256,256", "--block-bytes", "256KiB", "--out", str(out)]) == 0
    )
    return out


def test_headline_records_dx_time_sampled_dw_and_formula_in_pytest_benchmark_layout(headline_run):
    runtime = json.loads((headline_run / RUNTIME_FILE).read_text())
    by_case = {b["extra_info"]["case"]: b for b in runtime["benchmarks"]}
    streamed = by_case["streamed-torch[cpu-float32-N8-D256-M256]"]["extra_info"]
    assert streamed["dydx_seconds"] > 0
    assert streamed["dydw_is_estimate"] is True  # CPU without --with-dw samples dY/dW
    assert streamed["dydw_fraction_measured"] == pytest.approx(1 / 64, rel=0.05)
    assert streamed["dydw_seconds"] == pytest.approx(
        streamed["dydw_measured_seconds"] / streamed["dydw_fraction_measured"]
    )
    assert streamed["max_rel_error"] < 1e-4  # dX checked against the formula
    assert streamed["effective_gbps_dydx"] > 0
    assert "formula-torch[cpu-float32-N8-D256-M256]" in by_case


def test_headline_peak_is_bounded_by_the_tile_not_the_jacobian(headline_run):
    memory = {r["case"]: r for r in json.loads((headline_run / MEMORY_FILE).read_text())}
    record = memory["streamed-torch[cpu-float32-N8-D256-M256]"]
    assert record["status"] == "ok"
    assert record["tracker"] == "memray"
    assert record["peak_bytes"] < record["jacobian_dydw_bytes"] / 4  # the 512 MiB dY/dW never exists
    assert record["peak_bytes"] < 256 * 2**10 + 2 * record["predicted_bytes"]


def test_headline_run_loads_and_the_report_shows_it_beside_a_sweeps_extrapolation(headline_run, tmp_path):
    run = load_run(headline_run)
    assert json.loads((headline_run / RUN_FILE).read_text())["status"] == "complete"
    assert run.cases["headline_dydx_seconds"].notna().sum() == 1
    sweep = write_run(tmp_path / "sweep", cost_law(1 / 20e9, 1 / 100e9, 5e-6))
    page = build_report([sweep, headline_run], tmp_path / "report", target=(8, 256, 256)).read_text()
    assert "The headline case, measured" in page
    assert "extrapolation error" in page
    assert "dense dY/dX would need" in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "8,256"], "--target must be three positive integers"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--block-bytes", "lots"], "malformed memory size 'lots'"),
    ],
)
def test_headline_bad_input_gives_one_line_and_exit_2(capsys, tmp_path, argv, message):
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("headline: error: ")
    assert message in err


def test_headline_never_overwrites_a_run(capsys, headline_run):
    assert main(["--device", "cpu", "--target", "2,8,8", "--out", str(headline_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
