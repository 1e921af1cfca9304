"""Every chart of the report, drawn from committed runs, can be read: no two series look alike
and no legend covers a tick label or an axis title (matplotlib's own bounding boxes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis.load import load_run
from analysis.report.charts import trend
from analysis.report.charts.registry import CHARTS, FIRST_SCREEN
from analysis.report.study import analyse
from analysis.report.style import layout_problems, series_style
from bench.methods import METHODS

DATA = Path(__file__).parent / "data"
RUNS = [DATA / "quick-cpu", DATA / "quick-amd-epyc"]
"""Two runs on one page: every series twice, the second run in the next pair of dash patterns."""


@pytest.fixture(scope="module")
def problems(drawn) -> dict[str, list[str]]:
    """Each chart's :func:`layout_problems`, found once (each check draws the figure again)."""
    return {name: layout_problems(fig) for name, fig in drawn.items()}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> dict[str, plt.Figure]:
    """Each chart's figure as drawn and saved, kept open for the checks (chart file → figure)."""
    analysis = analyse(RUNS)
    out = tmp_path_factory.mktemp("charts")
    figures: dict[str, plt.Figure] = {}
    closing: list[plt.Figure] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plt, "close", lambda fig=None: closing.append(fig))
        for chart in (*FIRST_SCREEN, *CHARTS):
            if chart.needs(analysis, None):
                chart.draw(analysis, out, None)
                figures[chart.file] = closing.pop()
    yield figures
    for fig in figures.values():
        plt.close(fig)


def test_the_report_draws_a_roofline_and_a_time_at_target_chart(drawn):
    assert {"roofline", "time_at_target", "throughput", "runtime_vs_size"} <= set(drawn)


def test_no_two_series_of_any_chart_share_colour_marker_and_line_style(problems):
    found = {name: [p for p in found if "share" in p] for name, found in problems.items()}
    assert {name: p for name, p in found.items() if p} == {}


def test_no_legend_covers_a_tick_label_or_an_axis_title(problems):
    found = {name: [p for p in found if "overlaps" in p] for name, found in problems.items()}
    assert {name: p for name, p in found.items() if p} == {}


def test_the_checks_catch_lookalike_series_and_a_legend_on_the_tick_labels():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2], [1, 2], "o-", color="#000000", label="a")
    ax.plot([1, 2], [2, 1], "o-", color="#000000", label="b")
    ax.set_xlabel("size")
    ax.legend(loc="lower left", bbox_to_anchor=(-0.1, -0.35))
    problems = layout_problems(fig)
    plt.close(fig)
    assert any("share" in p for p in problems)
    assert any("overlaps" in p for p in problems)


def test_every_method_variant_of_two_runs_has_a_look_of_its_own():
    looks = [
        series_style(name, variant, run)
        for name, method in METHODS.items()
        for variant in method.variants
        for run in (0, 1)
    ]
    assert len(set(looks)) == len(looks)


def test_no_trend_is_drawn_from_a_single_regress_run():
    one = pd.DataFrame({"run_id": ["r1", "r1"], "norm_time": [1.0, 2.0]})
    two = pd.DataFrame({"run_id": ["r1", "r2"], "norm_time": [1.0, 2.0]})
    assert not trend.needs(one)
    assert trend.needs(two)


def test_a_timing_in_two_modes_is_noisy_though_its_iqr_is_small():
    """quick-cpu's explicit-torch-cold at N=16, D=64, M=32: median 1.66× its fastest round, IQR 7.7%."""
    cases = load_run(DATA / "quick-cpu").cases.set_index("case")
    case = cases.loc["explicit-torch-cold[cpu-float32-N16-D64-M32]"]
    assert case["time_iqr_s"] / case["time_median_s"] < 0.10
    assert bool(case["noisy"])
