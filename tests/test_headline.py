"""The headline CLI on a reduced target: files in the sweep's schema, checks, bad input."""

from __future__ import annotations

import json
import re

import pytest

from analysis.load import load_run
from analysis.report.page import build_report
from bench.headline import peaks
from bench.inputs import TOLERANCE
from bench.rundir.lock import run_lock
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from lbb.commands.headline import main
from lbb.commands.report import main as report_main
from tests.synthetic import cost_law, write_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def headline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("headline") / "run"
    assert (
        main(["--device", "cpu", "--target", "8,256,256", "--block-bytes", "256KiB", "--out", str(out)]) == 0
    )
    return out


def test_headline_streams_both_jacobians_in_full_with_the_compiled_kernel_and_checks_dx_and_dw(headline_run):
    runtime = json.loads((headline_run / RUNTIME_FILE).read_text())
    by_case = {b["extra_info"]["case"]: b for b in runtime["benchmarks"]}
    streamed = by_case["streamed-compiled[cpu-float32-N8-D256-M256]"]["extra_info"]
    assert streamed["dydx_seconds"] > 0 and streamed["dydw_measured_seconds"] > 0
    assert streamed["dydw_is_estimate"] is False and streamed["dydw_fraction_measured"] == 1
    assert streamed["dydw_seconds"] == streamed["dydw_measured_seconds"]
    assert 0 < streamed["max_rel_error_dx"] < 1e-4 and 0 < streamed["max_rel_error_dw"] < 1e-4
    assert streamed["effective_gbps_dydx"] > 0 and streamed["incache_roof_gbps"] > 0  # pattern roof
    for variant in ("", "-warm"):  # the formula cold (fresh results) and warm (out=)
        assert f"formula-torch{variant}[cpu-float32-N8-D256-M256]" in by_case
    roofs = json.loads((headline_run / RUN_FILE).read_text())["devices"]["cpu"]["roofs"]
    assert {"gemm", "copy", "first_touch", "l1_copy", "l2_copy", "jit"} <= roofs.keys()
    assert roofs["l1_copy"]["gbps"] > 0 and roofs["first_touch"]["gbps"] > 0
    each = roofs["l1_copy"]["gbps_each"]  # before the passes, after dY/dX, after dY/dW: the best kept
    assert len(each) == 3 and roofs["l1_copy"]["gbps"] == max(each) == streamed["l1_copy_roof_gbps"]
    assert streamed["frac_l1_copy_dydx"] == streamed["effective_gbps_dydx"] / streamed["l1_copy_roof_gbps"]
    kernel = json.loads((headline_run / RUN_FILE).read_text())["devices"]["cpu"]["kernel"]
    assert (
        kernel["vector_bits"] in (128, 256, 512) and streamed["kernel_vector_bits"] == kernel["vector_bits"]
    )


def test_headline_with_dw_sample_times_one_part_in_64_and_labels_it_an_estimate(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--device", "cpu", "--target", "8,256,256", "--kernel", "torch", "--block-bytes", "256KiB"]
    assert main([*argv, "--dw", "sample", "--out", str(out)]) == 0
    runtime = json.loads((out / RUNTIME_FILE).read_text())
    streamed = {b["extra_info"]["case"]: b for b in runtime["benchmarks"]}[
        "streamed-torch[cpu-float32-N8-D256-M256]"
    ]["extra_info"]
    assert streamed["dydw_is_estimate"] is True and streamed["max_rel_error_dw"] is None
    assert streamed["dydw_fraction_measured"] == pytest.approx(1 / 64, rel=0.05)
    assert streamed["dydw_seconds"] == pytest.approx(
        streamed["dydw_measured_seconds"] / streamed["dydw_fraction_measured"]
    )
    assert "(estimate: " in capsys.readouterr().out
    run = load_run(out)
    assert bool(run.cases["headline_dydw_is_estimate"].dropna().iloc[0]) is True


def test_headline_peak_is_bounded_by_the_tile_not_the_jacobian(headline_run):
    memory = {r["case"]: r for r in json.loads((headline_run / MEMORY_FILE).read_text())}
    record = memory["streamed-compiled[cpu-float32-N8-D256-M256]"]
    assert record["status"] == "ok"
    assert record["tracker"] == "memray"
    assert record["peak_bytes"] < record["jacobian_dydw_bytes"] / 4  # the 512 MiB dY/dW never exists
    # per-core tiles and the results, as the cost model predicts (plus Python's and numba's crumbs)
    assert record["predicted_bytes"] <= record["peak_bytes"] <= record["predicted_bytes"] + 64 * 2**10


def test_headline_run_loads_and_the_report_shows_it_beside_a_sweeps_extrapolation(headline_run, tmp_path):
    run = load_run(headline_run)
    assert json.loads((headline_run / RUN_FILE).read_text())["status"] == "complete"
    assert run.cases["headline_dydx_seconds"].notna().sum() == 1
    sweep = write_run(tmp_path / "sweep", cost_law(1 / 20e9, 1 / 100e9, 5e-6))
    page = build_report([sweep, headline_run], tmp_path / "report", target=(8, 256, 256)).read_text()
    assert "The headline case, measured" in page
    assert "extrapolation error" in page
    assert "dense dY/dX would need" in page


def test_a_headline_run_alone_makes_a_report(headline_run, tmp_path, capsys):
    """It sweeps no axis, so it gets no per-axis plots (they used to fail on a grid of zero rows)."""
    out = tmp_path / "report"
    assert report_main([str(headline_run), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {out / 'index.html'}"
    page = (out / "index.html").read_text()
    assert "The headline case, measured" in page
    assert "<td>extrapolated from the sweep</td><td>no sweep run given</td>" in page
    assert "No method has enough measured points to extrapolate" in page
    assert not (out / "runtime_vs_size.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "8,256"], "--target must be three positive integers"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--block-bytes", "lots"], "malformed memory size 'lots'"),
        (["--block-bytes", "1" + "0" * 400], "is larger than 1 EiB"),
        (["--memory-budget", "1" + "0" * 400], "is larger than 1 EiB"),
        (["--target", "99999999999,1,1"], "bytes; targets beyond 1 EiB are refused"),
        (["--dtype", "float8"], "unknown dtype 'float8'; choose from float32, float64, float16, bfloat16"),
        (["--dw", "half"], "unknown --dw 'half'; choose from full, sample"),
        (["--kernel", "cython"], "unknown --kernel 'cython'; choose from compiled, torch"),
        (
            ["--device", "cpu", "--kernel", "compiled", "--dtype", "bfloat16"],
            "--kernel compiled runs on the CPU in float32 and float64 only",
        ),
    ],
)
def test_headline_bad_input_gives_one_line_and_exit_2(capsys, tmp_path, argv, message):
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("headline: error: ")
    assert message in err
    assert not (tmp_path / "run").exists()  # no "running" directory left behind


def test_headline_out_that_cannot_hold_files_gives_one_line_and_exit_2(capsys):
    assert main(["--device", "cpu", "--target", "2,8,8", "--out", "/proc/self"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("headline: error: --out /proc/self is not writable")


def test_headline_on_a_locked_directory_exits_2_naming_the_holder(capsys, tmp_path):
    with run_lock(tmp_path):
        assert main(["--device", "cpu", "--target", "2,8,8", "--out", str(tmp_path)]) == 2
    assert "is in use by another run (PID" in capsys.readouterr().err
    assert not (tmp_path / RUN_FILE).exists()


def test_headline_guard_predicts_with_the_real_tile_size(tmp_path):
    """A 1 GiB tile (here capped at dY/dW's 512 MiB) needs that much: the guard used to predict
    with the default 4 MiB tile, and let the pass run."""
    out = tmp_path / "run"
    argv = [
        "--device",
        "cpu",
        "--target",
        "8,256,256",
        "--kernel",
        "torch",
        "--block-bytes",
        "1GiB",
        "--memory-budget",
        "256MiB",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    (record,) = json.loads((out / MEMORY_FILE).read_text())
    assert record["status"] == "skipped"
    assert record["reason"] == "needs 512.5 MiB, budget 256.0 MiB"
    assert record["predicted_bytes"] >= 512 * 2**20
    assert json.loads((out / RUN_FILE).read_text())["devices"]["cpu"]["status"] == "skipped"


def test_ctrl_c_while_the_headline_measures_peaks_keeps_both_passes_and_says_interrupted(
    tmp_path, monkeypatch
):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(peaks, "measure_peaks", interrupted)
    out = tmp_path / "run"
    argv = ["--device", "cpu", "--target", "8,256,256", "--block-bytes", "256KiB", "--out", str(out)]
    assert main(argv) == 130
    run = json.loads((out / RUN_FILE).read_text())
    assert run["status"] == "interrupted"
    assert run["devices"]["cpu"]["dydx"]["seconds"] > 0 and run["devices"]["cpu"]["dydw"]["seconds"] > 0
    runtime = json.loads((out / RUNTIME_FILE).read_text())
    assert len([b for b in runtime["benchmarks"] if b["extra_info"].get("headline")]) == 1  # both passes
    assert runtime["not_measured"] == []  # only the peaks were left, and no peak is claimed
    assert json.loads((out / MEMORY_FILE).read_text()) == []


def test_a_failed_peak_child_is_recorded_as_failed_with_why_and_the_passes_kept(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: initialization error")

    monkeypatch.setattr(peaks, "measure_peaks", broken)
    out = tmp_path / "run"
    argv = ["--device", "cpu", "--target", "8,256,256", "--block-bytes", "256KiB", "--out", str(out)]
    assert main(argv) == 0
    memory = json.loads((out / MEMORY_FILE).read_text())
    assert [r["status"] for r in memory] == ["failed", "failed"]
    why = "peak child failed: RuntimeError: CUDA error: initialization error"
    assert {r["reason"] for r in memory} == {why}
    benchmarks = json.loads((out / RUNTIME_FILE).read_text())["benchmarks"]
    (entry,) = [b for b in benchmarks if b["extra_info"].get("headline")]
    assert entry["extra_info"]["dydw_seconds"] > 0


def test_headline_run_has_a_unique_id_and_keeps_its_directory_name(headline_run):
    run = json.loads((headline_run / RUN_FILE).read_text())
    assert re.fullmatch(r"[0-9a-f]{32}", run["run_id"])
    assert run["run_name"] == headline_run.name


def test_headline_never_overwrites_a_run(capsys, headline_run):
    assert main(["--device", "cpu", "--target", "2,8,8", "--out", str(headline_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_headline_in_bfloat16_streams_half_the_bytes_and_checks_dx_against_its_epsilon(tmp_path):
    out = tmp_path / "run"
    argv = ["--device", "cpu", "--target", "8,256,256", "--block-bytes", "256KiB", "--dtype", "bfloat16"]
    assert main([*argv, "--out", str(out)]) == 0
    meta = json.loads((out / RUN_FILE).read_text())
    assert meta["profile"]["dtype"] == "bfloat16"
    runtime = json.loads((out / RUNTIME_FILE).read_text())
    streamed = {b["extra_info"]["case"]: b for b in runtime["benchmarks"]}[
        "streamed-torch[cpu-bfloat16-N8-D256-M256]"
    ]
    assert streamed["extra_info"]["jacobian_dydx_bytes"] == 8 * 256 * 8 * 256 * 2  # 2 bytes an entry
    assert 0 < streamed["extra_info"]["max_rel_error"] <= TOLERANCE["bfloat16"]  # the suite's 8 epsilons


def test_the_guard_counts_the_compiled_kernels_tile_once_per_core(tmp_path):
    from bench import compiled

    out = tmp_path / "run"
    argv = [
        "--device",
        "cpu",
        "--target",
        "8,256,256",
        "--block-bytes",
        "256MiB",
        "--memory-budget",
        "200MiB",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    (record,) = json.loads((out / MEMORY_FILE).read_text())
    assert record["status"] == "skipped" and record["case"].startswith("streamed-compiled[")
    assert record["predicted_bytes"] >= compiled.threads() * 256 * 2**20
