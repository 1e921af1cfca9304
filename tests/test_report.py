"""The report builds from saved runs, holds the headline numbers and every plot, and says why not."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path

import matplotlib.figure
import pandas as pd
import pytest

from analysis.report.page import build_report
from analysis.report.tables import shown
from lbb.commands.report import main as report_main
from tests.conftest import DATA
from tests.synthetic import cost_law, write_run

LAW = cost_law(per_byte=1 / 20e9, per_flop=1 / 100e9, constant=5e-6)
FIRST_SCREEN = ("jacobian_structure", "where_the_bytes_go")
"""Drawn for every report: from bench (the structure, the cost model) and run.json, not from timings."""
PLOTS = (
    *FIRST_SCREEN,
    "runtime_vs_size",
    "memory_vs_size",
    "ratio_to_formula",
    "extrapolation",
    "throughput",
    "roofline",
    "time_at_target",
)
FIXTURE = DATA / "quick-cpu"


@pytest.fixture
def without_plots(monkeypatch) -> None:
    """For tests of the page's text and tables: the first screen's two figures are still drawn,
    the measured plots (7.5 of a synthetic report's 9.5 s here) are not. Tests of the plots
    themselves, and of which ones are drawn, build the real thing."""
    monkeypatch.setattr("analysis.report.page.draw_figures", lambda analysis, out, history=None: {})


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    run = write_run(root / "run", LAW)
    return build_report([run], run / "report")


def test_report_states_headline_jacobian_sizes_and_time_ratio(synthetic_report):
    page = synthetic_report.read_text()
    assert "256.0 GiB" in page
    assert "16.0 TiB" in page
    summary = re.search(r"<table class='summary'>(.*?)</table>", page, re.S).group(1)
    formula = re.search(r"<tr><td>formula</td>(.*?)</tr>", summary, re.S).group(1)
    explicit = re.search(r"<tr><td>explicit Jacobians \(dense\)</td>(.*?)</tr>", summary, re.S).group(1)
    assert "formula-torch" in formula
    assert "explicit-torch-warm" in explicit
    # time and memory ratios, then the floor (the Jacobians' bytes at the run's DRAM copy roof)
    assert re.search(
        r"<td><b>[\d,]+×</b></td><td><b>[\d,]+×</b></td>\n<td>[^<]+<br><small>Jacobian bytes ÷ copy roof"
        r" \(DRAM\) \(20.0 GB/s\)</small></td><td>\d+%</td>$",
        explicit,
    )
    # no cache copy roof in this run: the bound is named, and no claim that nothing could beat it
    assert re.search(
        r"The lowest explicit floor used here is <b>[^<]+</b> \(Jacobian bytes ÷ copy roof", page
    )
    assert "a lower floor may exist" in page and "no implementation here could beat" not in page
    assert re.search(r"If both ran at their floors, the explicit method would take <b>[\d,]+×</b>", page)
    assert "more memory than this cpu has" in page


def test_report_embeds_every_plot_and_writes_png_and_csv_beside_it(synthetic_report):
    page = synthetic_report.read_text()
    assert page.count("src='data:image/png;base64,") == len(PLOTS)
    for name in PLOTS:
        png = synthetic_report.parent / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        data = pd.read_csv(png.with_suffix(".csv"))
        assert len(data) > 0


def test_report_needs_no_network(synthetic_report):
    page = synthetic_report.read_text()
    assert "http://" not in page
    assert "https://" not in page
    assert re.findall(r"<script[^>]*>", page) == ["<script>"]  # one inline table sorter, loading nothing


def test_report_lists_skipped_cases_exponents_extrapolation_and_environment(synthetic_report):
    page = synthetic_report.read_text()
    for heading in ("Extrapolation to N=64, D=4096, M=4096", "Scaling exponents", "Performance targets",
                    "Environment", "Skipped and failed cases", "Methods", "Raw files"):  # fmt: skip
        assert heading in page
    assert "caps Jacobian methods" in page
    assert "Synthetic CPU" in page
    assert "copy 20.0 GB/s" in page
    assert "hold-out |error| time" in page
    assert "href='../runtime.json'" in page


@pytest.fixture(scope="module")
def two_run_report(tmp_path_factory) -> Path:
    """One report of two synthetic runs on two "machines" with different cost laws."""
    root = tmp_path_factory.mktemp("two-runs")
    first = write_run(root / "a", LAW, run_id="machine-a")
    second = write_run(root / "b", cost_law(1 / 10e9, 1 / 50e9, 1e-5), run_id="machine-b")
    return build_report([first, second], root / "both")


def test_report_of_two_runs_overlays_them_with_the_machine_as_a_dimension(two_run_report):
    data = pd.read_csv(two_run_report.parent / "runtime_vs_size.csv")
    assert set(data["run_id"]) == {"machine-a", "machine-b"}
    assert "machine-a" in two_run_report.read_text() and "machine-b" in two_run_report.read_text()


def test_report_cli_rebuilds_from_a_run_directory(tmp_path, capsys, without_plots):
    run = write_run(tmp_path / "run", LAW)
    assert report_main([str(run), "--target", "32,1024,1024"]) == 0
    page = run / "report" / "index.html"
    assert capsys.readouterr().out.strip() == f"report: {page}"
    assert "Extrapolation to N=32, D=1024, M=1024" in page.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/nonexistent/run"], "report: error: /nonexistent/run: not a directory"),
        (["{run}", "--target", "64,4096"], "report: error: --target must be three positive integers N,D,M"),
        (["{run}", "--target", "0,1,1"], "report: error: --target must be three positive integers"),
        (["{run}", "{run}"], "report: error: the same run was given twice"),
    ],
)
def test_report_cli_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, argv, message):
    run = write_run(tmp_path / "run", LAW)
    status = report_main([a.format(run=run) for a in argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(message)


def test_report_cli_names_the_corrupt_file(tmp_path, capsys):
    run = write_run(tmp_path / "run", LAW)
    (run / "memory.json").write_text("[{")
    assert report_main([str(run)]) == 2
    assert f"{run / 'memory.json'}: corrupt JSON" in capsys.readouterr().err


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_report_builds_from_the_committed_real_quick_run_and_leaves_it_byte_for_byte(tmp_path):
    """A real quick run on a 2-core CPU (raw samples stripped), committed under tests/data: the
    report writes only under its --out, so the committed files stay as they are."""
    before = _digest(FIXTURE)
    out = tmp_path / "out"
    page = build_report([FIXTURE], out).read_text()
    assert _digest(FIXTURE) == before
    assert len(list(out.glob("results-*.csv"))) == 1
    assert "256.0 GiB" in page
    assert "16.0 TiB" in page
    assert page.count("data:image/png;base64,") == len(PLOTS)
    assert "AMD EPYC" in page
    extrapolation = pd.read_csv(out / "extrapolation.csv")
    peaks = extrapolation[extrapolation["kind"] == "target-peak"].set_index("label")
    assert peaks.loc["explicit-torch-warm", "predicted_peak_bytes"] > 16 * 2**40  # the 16 TiB dY/dW dominates
    times = pd.read_csv(out / "time_at_target.csv").set_index("label")
    assert times.loc["explicit-torch-warm", "time_s"] > 1000 * times.loc["formula-torch", "time_s"]
    assert (times["low_s"] <= times["time_s"]).all() and (times["time_s"] <= times["high_s"]).all()


def test_report_of_a_run_where_nothing_fit_the_budget_still_builds_and_lists_reasons(tmp_path):
    run = write_run(tmp_path / "run", LAW, profile="smoke")
    runtime = json.loads((run / "runtime.json").read_text())
    memory = json.loads((run / "memory.json").read_text())
    reason = "needs 2.7 KiB, budget 1 B"
    runtime["not_measured"] = [
        {k: b["extra_info"][k] for k in ("method", "variant", "device", "dtype", "n", "d", "m")}
        | {"status": "skipped", "reason": reason}
        for b in runtime["benchmarks"]
    ]
    runtime["benchmarks"] = []
    for record in memory:
        record.update(status="skipped", peak_bytes=None, reason=reason)
    (run / "runtime.json").write_text(json.dumps(runtime))
    (run / "memory.json").write_text(json.dumps(memory))
    page = build_report([run], run / "report").read_text()
    assert "No method has enough measured points to extrapolate" in page
    assert reason in page
    assert page.count("data:image/png") == len(FIRST_SCREEN)  # no plot of measurements: there are none


def test_report_plots_trends_over_commits_when_history_exists(tmp_path):
    from analysis.gate.history import append_history
    from analysis.gate.run_metrics import metrics_of
    from analysis.load import load_run

    history = tmp_path / "history.jsonl"
    for seed in range(3):
        run = write_run(tmp_path / f"r{seed}", LAW, noise=0.02, seed=seed, run_id=f"run-{seed}")
        loaded = load_run(run)
        append_history(history, loaded, metrics_of(loaded))
    page = build_report([tmp_path / "r0"], tmp_path / "out", history=history).read_text()
    assert "Normalised time over commits" in page
    trend = pd.read_csv(tmp_path / "out" / "trend.csv")
    assert set(trend["run_id"]) == {"run-0", "run-1", "run-2"}


def test_report_trend_skips_history_lines_of_an_older_schema(tmp_path):
    """norm_time changed meaning between schemas; older lines would put a false step in the trend."""
    from analysis.gate.history import BASELINE_SCHEMA, load_history

    history = tmp_path / "history.jsonl"
    line = {"run_id": "old", "commit": "c" * 40, "date": "2026-11-01", "case": "x", "label": "formula-torch"}
    current = line | {"run_id": "new", "schema": BASELINE_SCHEMA, "metrics": {"norm_time": 1.0}}
    history.write_text(json.dumps(line | {"metrics": {"norm_time": 2.0}}) + "\n" + json.dumps(current) + "\n")
    assert load_history(history)["run_id"].tolist() == ["new"]


def test_report_names_a_corrupt_history_line(tmp_path, capsys):
    run = write_run(tmp_path / "run", LAW)
    history = tmp_path / "history.jsonl"
    history.write_text('{"ok": 1}\n{broken\n')
    assert report_main([str(run), "--history", str(history)]) == 2
    assert f"{history}: line 2 is corrupt JSON" in capsys.readouterr().err


def test_report_of_a_memory_only_run_builds_and_says_no_time_was_measured(tmp_path):
    """``--passes memory`` writes no runtime.json; the report still builds, with memory plots only."""
    run = write_run(tmp_path / "memory-only", LAW)
    (run / "runtime.json").unlink()
    page = build_report([run], run / "report")
    assert (page.parent / "memory_vs_size.png").exists()
    assert (page.parent / "extrapolation.png").exists()
    assert not (page.parent / "runtime_vs_size.png").exists()
    assert not (page.parent / "throughput.png").exists()
    assert not (page.parent / "roofline.png").exists()
    assert pd.read_csv(page.parent / "extrapolation.csv")["time_s"].isna().all()


def test_report_environment_names_the_threads_the_timed_cases_ran_on(tmp_path, without_plots):
    run = write_run(tmp_path / "pinned", LAW)
    runtime = json.loads((run / "runtime.json").read_text())
    for bench in runtime["benchmarks"]:
        bench["extra_info"]["threads"] = 1
    (run / "runtime.json").write_text(json.dumps(runtime))
    page = build_report([run], run / "report").read_text()
    assert "<th>threads the timed cases ran on</th><td>numpy on cpu: 1, torch on cpu: 1</td>" in page


def test_two_runs_of_the_same_name_in_different_directories_are_two_runs(tmp_path, capsys, without_plots):
    first = write_run(tmp_path / "a" / "r1", LAW, run_id="r1")
    second = write_run(tmp_path / "b" / "r1", LAW, run_id="r1", seed=5)
    for path, uid in ((first, "1" * 32), (second, "2" * 32)):
        meta = json.loads((path / "run.json").read_text())
        meta |= {"run_id": uid, "run_name": "r1"}
        (path / "run.json").write_text(json.dumps(meta))
    assert report_main([str(first), str(second), "--out", str(tmp_path / "both")]) == 0
    tables = sorted((tmp_path / "both").glob("results-*.csv"))
    assert [p.name for p in tables] == ["results-1-a_r1.csv", "results-2-b_r1.csv"]
    assert {pd.read_csv(p)["run_id"].iloc[0] for p in tables} == {"a/r1", "b/r1"}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_report_out_pointing_at_a_file_exits_2_with_one_line(tmp_path, capsys):
    run = write_run(tmp_path / "run", LAW)
    out = tmp_path / "a-file"
    out.write_text("keep me")
    assert report_main([str(run), "--out", str(out)]) == 2
    assert _one_line_error(capsys) == f"report: error: --out {out} is a file, not a directory for the report"
    assert out.read_text() == "keep me"


def test_report_history_pointing_at_a_directory_exits_2_with_one_line(tmp_path, capsys):
    run = write_run(tmp_path / "run", LAW)
    history = tmp_path / "history"
    history.mkdir()
    assert report_main([str(run), "--history", str(history), "--out", str(tmp_path / "out")]) == 2
    expected = f"report: error: --history {history} is a directory, not a JSON Lines file"
    assert _one_line_error(capsys) == expected
    assert not (tmp_path / "out").exists()  # refused before any work


def test_report_target_whose_jacobian_exceeds_1_eib_exits_2_with_one_line(tmp_path, capsys):
    run = write_run(tmp_path / "run", LAW)
    huge = "99999999999,99999999999,99999999999"
    assert report_main([str(run), "--target", huge, "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"report: error: --target {huge} makes a ")
    assert err.endswith("targets beyond 1 EiB are refused")


def test_report_target_just_under_1_eib_still_builds(tmp_path, without_plots):
    """4·N·D·M² bytes of dY/dW at N = D = M = 23000 is 1.12e18, just under 2**60."""
    run = write_run(tmp_path / "run", LAW)
    assert report_main([str(run), "--target", "23000,23000,23000", "--out", str(tmp_path / "out")]) == 0
    assert "Extrapolation to N=23000, D=23000, M=23000" in (tmp_path / "out" / "index.html").read_text()


def test_a_failed_png_write_leaves_no_empty_file_and_names_it(tmp_path, capsys, monkeypatch, without_plots):
    """As on a full disk: the PNG is created, nothing lands in it, and the write fails with ENOSPC.
    The PNG drawn before stays whole, and no 0-byte or temporary file is left beside it."""
    run = write_run(tmp_path / "run", LAW)
    out = tmp_path / "out"
    assert report_main([str(run), "--out", str(out)]) == 0
    before = (out / "jacobian_structure.png").read_bytes()  # the first figure the report draws
    capsys.readouterr()

    def disk_full(self, fname, *args, **kwargs):
        Path(fname).write_bytes(b"")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fname))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", disk_full)
    assert report_main([str(run), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"report: error: cannot write {out / 'jacobian_structure.png'}: disk full")
    assert (out / "jacobian_structure.png").read_bytes() == before
    assert [p.name for p in out.iterdir() if p.stat().st_size == 0] == []
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []


def test_single_run_tables_have_no_run_id_column(synthetic_report):
    page = synthetic_report.read_text()
    assert "<th>hold-out |error| time</th>" in page  # the extrapolation table is there
    assert "<th>run_id</th>" not in page


def test_tables_of_two_runs_keep_the_run_id_column(two_run_report):
    assert "<th>run_id</th>" in two_run_report.read_text()


def test_every_table_scrolls_inside_the_page_instead_of_widening_it(synthetic_report):
    page = synthetic_report.read_text()
    assert re.search(r"\.wide \{[^}]*overflow-x: auto", page)
    assert page.count("<table") == page.count("<div class='wide'><table")


def test_table_cells_show_large_numbers_with_separators_and_missing_ones_as_a_dash():
    frame = pd.DataFrame({"run_id": ["r"], "bytes": [274877906944], "time": [1234.5], "peak": [float("nan")]})
    table = shown(frame, runs=1)
    assert table.columns == ["bytes", "time", "peak"]
    assert table.rows == [["274,877,906,944", "1,234", "–"]]


def test_the_template_escapes_a_run_name_with_a_script_tag(tmp_path, without_plots):
    run = write_run(tmp_path / "run", LAW, run_id="<script>alert(1)</script>")
    page = build_report([run], tmp_path / "out").read_text()
    assert page.count("<script") == 1 and "alert(1)</script>" not in page  # the table sorter only
    assert "<p class='machine'>&lt;script&gt;alert(1)&lt;/script&gt;: " in page
    assert "<th>run</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page


def test_a_sweep_alone_has_no_measured_headline_section(synthetic_report):
    page = synthetic_report.read_text()
    assert "Headline</h2>" in page
    assert "The headline case, measured" not in page


# --- the first screen ----------------------------------------------------------------------------


def _cells(page: str, heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading``, as cell texts."""
    section = page[page.index(heading) :]
    table = re.search(r"<tbody>(.*?)</tbody>", section, re.S).group(1)
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]


def test_the_page_starts_with_the_summary_then_the_two_figures_before_any_full_table(synthetic_report):
    page = synthetic_report.read_text()
    summary = page.index("<table class='summary'>")
    honesty = page.index("<p class='honesty'>")
    structure = page.index("<figcaption>The Jacobians&#39; structure")
    where = page.index("<figcaption>Where the bytes go")
    first_full_table = page.index("<div class='wide'><table class='sortable'>")  # every full table
    assert page.index("<table") == summary
    assert summary < honesty < structure < where < first_full_table
    assert where < page.index("<h2>Plots</h2>") < page.index("<h2>Extrapolation to N=64")


def test_structure_figure_csv_has_nonzero_fraction_1_over_n_and_1_over_m_and_the_targets_zero_bytes(
    synthetic_report,
):
    data = pd.read_csv(synthetic_report.parent / "jacobian_structure.csv")
    dydx, dydw = data[data["jacobian"] == "dY/dX"], data[data["jacobian"] == "dY/dW"]
    assert (dydx[["n", "d", "m"]].iloc[0].tolist()) == [2, 2, 3]
    assert (dydx["row"].max() + 1, dydx["col"].max() + 1) == (6, 4)  # (N·M)×(N·D)
    assert (dydw["row"].max() + 1, dydw["col"].max() + 1) == (6, 6)  # (N·M)×(D·M)
    assert dydx["nonzero"].sum() == 12 and dydw["nonzero"].sum() == 12  # N·D·M entries each
    assert dydx["nonzero_fraction"].unique().tolist() == pytest.approx([1 / 2])
    assert dydw["nonzero_fraction"].unique().tolist() == pytest.approx([1 / 3])
    assert dydx["target_bytes"].iloc[0] == 256 * 2**30
    assert dydx["target_zero_bytes"].iloc[0] == 252 * 2**30  # all but one block in 64
    assert dydw["target_zero_bytes"].iloc[0] == 16 * 2**40 - 4 * 2**30  # all but 1/4096
    assert set(dydx.loc[dydx["nonzero"], "entry"].str[0]) == {"w"}  # dY/dX copies W
    assert set(dydw.loc[dydw["nonzero"], "entry"].str[0]) == {"x"}  # dY/dW copies X


def test_bytes_figure_csv_holds_the_targets_jacobian_bytes_from_the_cost_model_and_the_machines_ram(
    synthetic_report,
):
    from bench.costs import jacobian_bytes

    data = pd.read_csv(synthetic_report.parent / "where_the_bytes_go.csv").set_index("quantity")["bytes"]
    dydx, dydw = jacobian_bytes(64, 4096, 4096, "float32")
    assert data["dY/dX, dense"] == dydx
    assert data["dY/dW, dense"] == dydw
    assert data["this machine's RAM"] == 24 * 2**30  # write_run's ram_bytes
    assert not data.index.str.startswith("GPU").any()  # the synthetic machine has none


def test_bytes_figure_adds_the_gpu_memory_a_run_recorded(tmp_path):
    from analysis.load import load_run
    from analysis.report.anatomy import bytes_data

    run = load_run(write_run(tmp_path / "run", LAW))
    run.meta["machine"]["gpus"] = [{"name": "NVIDIA H200", "memory_bytes": 150 * 10**9}]
    data = bytes_data([run], (64, 4096, 4096)).set_index("quantity")["bytes"]
    assert data["GPU memory, NVIDIA H200"] == 150 * 10**9


def test_extrapolation_table_and_summary_show_the_error_against_a_time_measured_at_the_target(
    tmp_path, without_plots
):
    """formula-torch measured twice as slow at the target as its cost law: the extrapolation from
    the smaller sizes (which follow the law exactly) is off by -50%, outside its interval."""

    def slow_at_target(case):
        at_target = (case.n, case.d, case.m) == (64, 4096, 4096) and case.method == "formula-torch"
        return LAW(case) * (2 if at_target else 1)

    run = write_run(tmp_path / "run", slow_at_target)
    page = build_report([run], tmp_path / "out").read_text()
    heading = "<h2>Extrapolation to N=64"
    header = re.findall(r"<th>(.*?)</th>", page[page.index(heading) :].split("</thead>")[0])
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in _cells(page, heading)}
    assert rows["formula-torch"]["error time"] == "-50% (outside interval)"
    assert rows["formula-numpy"]["error time"] == "0% (in interval)"
    assert rows["explicit-torch-warm"]["measured at target"].startswith(
        "not measured: skipped (profile quick caps Jacobian methods"
    )
    honesty = re.search(r"<p class='honesty'>(.*?)</p>", page, re.S).group(1)
    assert "<b>formula-torch</b> on cpu <b>-50%</b>" in honesty
    summary = re.search(r"<tr><td>formula</td>(.*?)</tr>", page, re.S).group(1)
    assert "<span class='measured'>measured</span>" in summary


def test_no_performance_target_cell_reads_more_than_100_percent_of_a_roof(tmp_path, without_plots):
    """A run faster than its own roofs (formula 1.5× the GEMM roof, warm explicit 1.5× the copy
    bandwidth): the table says the roof was underestimated instead of printing 150%."""
    run = write_run(tmp_path / "run", cost_law(per_byte=1 / 30e9, per_flop=1 / 150e9, constant=0.0))
    page = build_report([run], tmp_path / "out").read_text()
    cells = [cell for row in _cells(page, "<h2>Performance targets") for cell in row]
    assert any("roof underestimated" in cell for cell in cells)
    for cell in cells:
        headline_figures = re.sub(
            r"roof underestimated \(measured \d+% of it\)|\(\d+% measured, within the \d+% noise\)", "", cell
        )
        assert all(int(p) <= 100 for p in re.findall(r"(\d+)%", headline_figures)), cell


def test_report_environment_describes_the_gpu_and_flags_cases_timed_at_a_throttled_clock(
    tmp_path, without_plots
):
    run = write_run(tmp_path / "gpu", LAW)
    meta = json.loads((run / "run.json").read_text())
    clock = {"sm_mhz": 1980, "max_sm_mhz": 1980}
    meta["machine"]["gpus"] = [
        {
            "index": 0,
            "name": "NVIDIA H200",
            "memory_bytes": 150 * 10**9,
            "sm_count": 132,
            "l2_bytes": 60 * 2**20,
            "capability": "9.0",
            "driver": "570.86",
            "sm_clock": clock,
            "sm_clock_after": {"sm_mhz": 1500, "max_sm_mhz": 1980},
        }
    ]
    (run / "run.json").write_text(json.dumps(meta))
    runtime = json.loads((run / "runtime.json").read_text())
    first, second = runtime["benchmarks"][:2]
    first["extra_info"] |= {"timer": "cuda events", "l2_flushed": True, "throttled": False}
    second["extra_info"] |= {"timer": "cuda events", "l2_flushed": False, "throttled": True}
    (run / "runtime.json").write_text(json.dumps(runtime))
    page = build_report([run], run / "report").read_text()
    assert "NVIDIA H200 (139.7 GiB (150.0 GB), 132 SMs, L2 60.0 MiB, compute 9.0, driver 570.86" in page
    assert "SM clock 1980/1980 MHz at the start, 1500/1980 MHz at the end" in page
    throttled = second["extra_info"]["case"]
    assert (
        "2 cases by CUDA events after a warm-up, L2 flushed between rounds for 1; "
        "⚠ 1 throttled (a slowdown named, or the SM clock under 90% of its maximum between rounds): "
        f"{throttled}"
    ) in page
