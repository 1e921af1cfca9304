"""Load, fits, extrapolation and hold-out on synthetic runs whose answers are known.

No benchmark runs here: every run directory is written by ``tests.synthetic`` from a law.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.extrapolate import (
    BASIS_SLOW,
    HEADLINE,
    MEASURED_VS_EXTRAPOLATED_COLUMNS,
    MIN_FIT_SECONDS,
    NOT_IN_RUN,
    extrapolate,
    holdout,
    measured_vs_extrapolated,
)
from analysis.fits import exponents
from analysis.load import load_run, write_results
from bench.rundir.fields import RecordError
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE
from tests.conftest import DATA
from tests.synthetic import cost_law, power_law, write_run

LAW = cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6)


def test_load_gives_one_row_per_case_with_time_memory_and_roofs(tmp_path):
    run = load_run(write_run(tmp_path / "r", LAW))
    frame = run.cases
    assert frame["case"].is_unique
    assert run.warnings == []
    ok = frame[frame["status"] == "ok"]
    assert ok["time_median_s"].notna().all()
    assert (ok["peak_bytes"] == ok["predicted_peak_bytes"]).all()
    assert (ok["gemm_roof_gflops"] == 100.0).all()
    assert (ok["copy_roof_gbps"] == 20.0).all()
    formula = ok[ok["family"] == "formula"].iloc[0]
    assert formula["frac_gemm_roof"] == pytest.approx(formula["flops"] / formula["time_median_s"] / 1e9 / 100)
    skipped = frame[frame["status"] == "skipped"]
    assert len(skipped) > 0
    assert (
        skipped["reason"]
        .str.contains("caps Jacobian methods|caps streamed Jacobians|caps looped backward calls")
        .all()
    )


def test_results_csv_is_written_under_the_report_directory_not_into_the_run(tmp_path):
    run_dir = write_run(tmp_path / "r", LAW)
    before = sorted(p.name for p in run_dir.iterdir())
    run = load_run(run_dir)
    (tmp_path / "out").mkdir()
    path = write_results(run, tmp_path / "out")
    assert path == tmp_path / "out" / f"results-1-{run.run_id}.csv"
    assert sorted(p.name for p in run_dir.iterdir()) == before
    header = path.read_text().splitlines()[0].split(",")
    for column in ("method", "backend", "device", "dtype", "n", "d", "m", "status", "time_median_s",
                   "time_iqr_s", "time_rounds", "peak_bytes", "predicted_peak_bytes", "jacobian_dydx_bytes",
                   "flops", "frac_gemm_roof", "frac_copy_roof"):  # fmt: skip
        assert column in header


@pytest.mark.parametrize(
    ("alpha", "beta", "gamma"),
    [(1.0, 1.0, 1.0), (2.0, 1.0, 1.5), (0.5, 2.0, 1.0)],
)
def test_fits_recover_known_exponents_within_tolerance(tmp_path, alpha, beta, gamma):
    run = load_run(write_run(tmp_path / "r", power_law(alpha, beta, gamma), noise=0.02, seed=3))
    fits = exponents(run.cases, run.meta["profile"]["axes"])
    time = fits[fits["metric"] == "time"]
    want = {"N": alpha, "D": beta, "M": gamma, "diag": alpha + beta + gamma, "DM": beta + gamma}
    covered = 0
    for _, row in time.iterrows():
        assert row["exponent"] == pytest.approx(want[row["axis"]], abs=0.05), row.to_dict()
        assert row["ci_low"] < row["exponent"] < row["ci_high"]
        covered += row["ci_low"] <= want[row["axis"]] <= row["ci_high"]
    assert covered >= 0.8 * len(time)  # 95% intervals: most must hold the true exponent


def test_expected_exponent_of_explicit_memory_is_the_cost_models_slope(tmp_path):
    run = load_run(write_run(tmp_path / "r", LAW))
    fits = exponents(run.cases, run.meta["profile"]["axes"])
    memory = fits[(fits["metric"] == "memory") & (fits["label"] == "explicit-torch-warm")]
    assert len(memory) >= 3
    for _, row in memory.iterrows():  # peaks equal the model exactly, so fit and expectation agree
        assert row["exponent"] == pytest.approx(row["expected"], abs=1e-6)


def test_extrapolation_of_exact_cost_law_hits_the_headline_exactly(tmp_path):
    run = load_run(write_run(tmp_path / "r", LAW))
    limits = {(run.run_id, "cpu"): 24 * 2**30}
    preds = extrapolate(run.cases, limits, {run.run_id: 32 * 2**20})
    row = preds[preds["label"] == "explicit-torch-warm"].iloc[0]
    want = LAW(_headline_case("explicit-torch", "warm"))
    assert row["time_value"] == pytest.approx(want, rel=1e-3)
    assert row["time_low"] <= row["time_value"] <= row["time_high"]
    assert row["jacobian_dydx_bytes"] == 274_877_906_944
    assert row["jacobian_dydw_bytes"] == 17_592_186_044_416
    assert row["peak_value"] == pytest.approx(row["predicted_peak_bytes"], rel=1e-6)
    assert not row["fits_device"]
    assert row["over_by"] == pytest.approx(row["peak_value"] / (24 * 2**30))
    formula = preds[preds["label"] == "formula-torch"].iloc[0]
    assert formula["fits_device"]
    assert formula["time_value"] == pytest.approx(LAW(_headline_case("formula-torch", "")), rel=1e-3)


def _headline_case(method: str, variant: str):
    from bench.cases import Case

    return Case(method, variant, "cpu", "float32", *HEADLINE)


def test_holdout_errors_are_tiny_when_the_law_is_the_model(tmp_path):
    run = load_run(write_run(tmp_path / "r", LAW))
    hold = holdout(run.cases, run.meta["profile"]["axes"], {run.run_id: 32 * 2**20})
    assert set(hold["axis"]) == {"N", "D", "M", "diag", "DM"}
    assert set(hold["metric"]) == {"time", "memory"}
    assert hold["error"].abs().max() < 0.01


def test_holdout_catches_a_law_the_model_cannot_express(tmp_path):
    """A cubic-in-N time is not linear in bytes and FLOPs: hold-out must show a large error."""
    run = load_run(write_run(tmp_path / "r", power_law(3.0, 1.0, 1.0), methods=("formula-torch",)))
    hold = holdout(run.cases, run.meta["profile"]["axes"], {run.run_id: None})
    assert hold[(hold["metric"] == "time") & (hold["axis"] == "N")]["error"].abs().max() > 0.25


def test_missing_run_file_is_an_error_naming_it(tmp_path):
    path = write_run(tmp_path / "r", LAW)
    (path / RUN_FILE).unlink()
    with pytest.raises(RecordError, match=rf"{path / RUN_FILE}: missing"):
        load_run(path)


@pytest.mark.parametrize("name", [RUN_FILE, RUNTIME_FILE, MEMORY_FILE])
def test_corrupt_file_is_an_error_naming_it(tmp_path, name):
    path = write_run(tmp_path / "r", LAW)
    (path / name).write_text('{"benchmarks": [')
    with pytest.raises(RecordError, match=rf"{path / name}: corrupt JSON"):
        load_run(path)


def test_memory_file_of_wrong_shape_is_an_error_naming_it(tmp_path):
    path = write_run(tmp_path / "r", LAW)
    (path / MEMORY_FILE).write_text('{"not": "a list"}')
    with pytest.raises(RecordError, match=rf"{path / MEMORY_FILE}: expected a list"):
        load_run(path)


def test_runtime_entry_without_case_fields_is_an_error_naming_the_entry(tmp_path):
    path = write_run(tmp_path / "r", LAW)
    runtime = json.loads((path / RUNTIME_FILE).read_text())
    del runtime["benchmarks"][2]["extra_info"]["n"]
    (path / RUNTIME_FILE).write_text(json.dumps(runtime))
    with pytest.raises(RecordError, match=rf"{path / RUNTIME_FILE}: entry 2 is not a valid case"):
        load_run(path)


def test_run_without_memory_file_loads_timings_and_warns(tmp_path):
    path = write_run(tmp_path / "r", LAW)
    (path / MEMORY_FILE).unlink()
    run = load_run(path)
    assert run.cases["time_median_s"].notna().any()
    assert run.cases["peak_bytes"].isna().all()
    assert any("memory.json: missing" in w for w in run.warnings)


def test_interrupted_run_loads_what_it_has_and_says_it_is_partial(tmp_path):
    path = write_run(tmp_path / "r", LAW)
    runtime = json.loads((path / RUNTIME_FILE).read_text())
    runtime["benchmarks"] = runtime["benchmarks"][:10]
    (path / RUNTIME_FILE).write_text(json.dumps(runtime))
    (path / MEMORY_FILE).write_text("[]")
    meta = json.loads((path / RUN_FILE).read_text())
    meta["status"] = "running"
    (path / RUN_FILE).write_text(json.dumps(meta))
    run = load_run(path)
    assert len(run.cases) == 10
    assert any("partial run (10 of" in w for w in run.warnings)


def test_run_with_neither_result_file_is_an_error(tmp_path):
    path = write_run(tmp_path / "r", LAW)
    (path / MEMORY_FILE).unlink()
    (path / RUNTIME_FILE).unlink()
    with pytest.raises(RecordError, match="nothing to analyse"):
        load_run(path)


def test_noisy_timings_are_flagged(tmp_path):
    run = load_run(write_run(tmp_path / "r", LAW, noise=0.3, seed=1))
    assert run.cases["noisy"].any()
    quiet = load_run(write_run(tmp_path / "q", LAW))
    assert not quiet.cases["noisy"].any()
    assert np.isfinite(quiet.cases["time_median_s"].dropna()).all()


def _target_rows(frame):
    from bench.profiles import TARGET

    return (frame["n"] == TARGET[0]) & (frame["d"] == TARGET[1]) & (frame["m"] == TARGET[2])


def test_target_point_trains_no_fit_no_exponent_and_no_holdout(tmp_path):
    """Times at the target 100× off the law change nothing that is fitted from the axes."""
    run = load_run(write_run(tmp_path / "r", LAW))
    axes, cache = run.meta["profile"]["axes"], {run.run_id: 32 * 2**20}
    at_target = _target_rows(run.cases) & run.cases["time_median_s"].notna()
    assert set(run.cases[at_target]["method"]) >= {"formula-torch", "formula-numpy", "autograd-torch"}
    skewed = run.cases.copy()
    skewed.loc[at_target, "time_median_s"] *= 100
    skewed.loc[at_target, "peak_bytes"] *= 100
    for function in (
        lambda f: extrapolate(f, {}, cache),
        lambda f: holdout(f, axes, cache),
        lambda f: exponents(f, axes),
    ):
        before, after = function(run.cases), function(skewed)
        numeric = before.select_dtypes("number").columns
        assert np.allclose(before[numeric].to_numpy(float), after[numeric].to_numpy(float), equal_nan=True)


def test_measured_vs_extrapolated_error_is_zero_when_the_law_is_the_model(tmp_path):
    run = load_run(write_run(tmp_path / "r", LAW))
    table = measured_vs_extrapolated(run.cases, {run.run_id: 32 * 2**20})
    assert list(table.columns) == list(MEASURED_VS_EXTRAPOLATED_COLUMNS)
    rows = table.set_index("label")
    for label in ("formula-torch", "formula-numpy", "autograd-torch"):
        row = rows.loc[label]
        assert row["measured_status"] == "ok" and row["measured_reason"] == ""
        assert row["measured_time_s"] == pytest.approx(LAW(_headline_case(label, "")))
        assert abs(row["time_error"]) < 1e-3
        assert abs(row["peak_error"]) < 1e-3
    explicit = rows.loc["explicit-torch-warm"]
    assert explicit["measured_status"] == "skipped"
    assert explicit["measured_reason"].startswith("profile quick caps Jacobian methods")
    assert np.isnan(explicit["measured_time_s"]) and np.isnan(explicit["time_error"])
    assert explicit["time_value"] == pytest.approx(LAW(_headline_case("explicit-torch", "warm")), rel=1e-3)


def test_measured_vs_extrapolated_on_a_run_without_the_target_says_so(tmp_path):
    run = load_run(DATA / "quick-cpu")  # committed before the target point joined the profiles
    table = measured_vs_extrapolated(run.cases, {run.run_id: run.meta["machine"].get("llc_bytes")})
    assert not table.empty
    assert (table["measured_status"] == NOT_IN_RUN).all()
    assert table["measured_reason"].str.startswith("the run has no case at N=64, D=4096, M=4096").all()
    assert table["time_error"].isna().all()
    assert np.isfinite(table[table["label"] == "formula-torch"]["time_value"]).all()


def _overhead_bound_formula(case) -> float:
    """20 µs a call, and a BLAS below its 100 GFLOP/s peak until 2·10⁸ FLOPs (2 ms)."""
    flops = case.predicted()["flops"]
    return 20e-6 + flops / (100e9 * min(1.0, (flops / 2e8) ** 0.5))


def test_holdout_of_formula_with_a_per_call_overhead_is_within_25_percent_from_cases_over_1_ms(
    tmp_path, monkeypatch
):
    import analysis.extrapolate

    run = load_run(
        write_run(tmp_path / "r", _overhead_bound_formula, profile="default", methods=("formula-torch",))
    )
    axes, cache = run.meta["profile"]["axes"], {run.run_id: 32 * 2**20}
    time = holdout(run.cases, axes, cache).query("metric == 'time'")
    assert set(time["axis"]) == {"N", "D", "M", "diag", "DM"}
    assert (time["basis"] == BASIS_SLOW).all()
    assert time["error"].abs().max() <= 0.25
    monkeypatch.setattr(analysis.extrapolate, "MIN_FIT_SECONDS", 0.0)  # the overhead regime trains too
    assert holdout(run.cases, axes, cache).query("metric == 'time'")["error"].abs().max() > 0.25


def test_holdout_never_checks_a_fit_to_cases_over_1_ms_on_a_case_under_1_ms(tmp_path):
    """quick's N, D and M axes end under a millisecond: predicting them from a fit to the cases
    over 1 ms would test the fit below its regime, so those axes give no hold-out row."""
    run = load_run(
        write_run(tmp_path / "r", _overhead_bound_formula, profile="quick", methods=("formula-torch",))
    )
    time = holdout(run.cases, run.meta["profile"]["axes"], {run.run_id: 32 * 2**20}).query("metric == 'time'")
    slow = time[time["basis"] == BASIS_SLOW]
    assert not slow.empty
    assert (slow["measured"] >= MIN_FIT_SECONDS).all()
    assert not {"N", "D", "M"} & set(slow["axis"])


def _streamed_row(label: str, point: tuple[int, int, int], seconds: float, **extra: object) -> dict:
    from bench.costs import jacobian_bytes

    jx, jw = jacobian_bytes(*point)
    row = {"run_id": "r", "label": label, "family": "streamed", "device": "cpu", "dtype": "float32"}
    row |= dict(zip("ndm", point, strict=True)) | {"time_median_s": seconds}
    counts = {"jacobian_dydx_bytes": jx, "jacobian_dydw_bytes": jw, "flops": 1, "frac_copy_roof": np.nan}
    return row | counts | {"variant": "", "peak_bytes": np.nan, "predicted_peak_bytes": 1} | extra


def test_compiled_kernel_targets_compare_it_with_its_incache_roof_and_with_streamed_torch():
    from analysis.targets import check_targets

    big, small = (64, 1024, 1024), (4, 16, 16)  # 16 GiB + 256 GiB of Jacobian; far under 1 GiB
    headline = {
        "headline_incache_roof_gbps": 150.0,
        "headline_dydx_seconds": 1.0,
        "headline_effective_gbps_dydx": 120.0,  # 80%
        "headline_effective_gbps_dydw": 90.0,  # 60%: below the 70% target
        "headline_dydw_is_estimate": False,
    }
    frame = pd.DataFrame(
        [
            _streamed_row("streamed-compiled", big, 1.0, **headline),
            _streamed_row("streamed-torch", big, 3.5),
            _streamed_row("streamed-compiled", small, 1.0),
            _streamed_row("streamed-torch", small, 1.0),  # under 1 GiB: not judged
        ]
    )
    targets = check_targets(frame).set_index("target")
    roof = targets.loc["streamed ≥ 70% of the in-cache roof (headline, in full)"]
    assert roof["reached"] == "dY/dX 80%, dY/dW 60%" and not roof["passed"]
    speed = targets.loc["≥ 3× streamed-torch (cases ≥ 1 GiB of Jacobian)"]
    assert speed["reached"] == "3.5× worst, 3.5× best, 1 cases" and speed["passed"]
