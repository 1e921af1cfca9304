"""The chain's arithmetic and the detector on series whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.trend import noise
from analysis.trend.chain import chain, relative
from analysis.trend.changepoint import ChainTest, TTest, change_points, energy_split


def _link(commit: str, parent: str, ratio: float, sd: float = 0.01, machine: str = "m") -> dict:
    z = 1.959963984540054
    entry = {"ratio": ratio, "low": ratio * math.exp(-z * sd), "high": ratio * math.exp(z * sd)}
    return {
        "commit": commit,
        "parent": parent,
        "machine": machine,
        "time": {"m[cpu-float32]": entry},
        "memory": {},
    }


def test_energy_split_puts_a_clean_step_at_its_place():
    assert energy_split(np.array([0.0] * 7 + [1.0] * 13))[0] == 7


def test_chained_ratios_multiply_across_runners_and_their_log_variances_add():
    line = ["a", "b", "c", "d"]
    links = [_link("b", "a", 1.1, machine="intel"), _link("c", "b", 1.2, machine="amd"), _link("d", "c", 0.5)]
    (series,) = chain(links, line)
    ratio, _, high = relative(series, "a", "d")
    assert ratio == pytest.approx(0.66)
    assert math.log(high / ratio) == pytest.approx(1.959963984540054 * 0.01 * math.sqrt(3))
    assert relative(series, "b", "c")[0] == pytest.approx(1.2)


def test_a_commit_no_link_reaches_breaks_the_chain_into_segments():
    line = ["a", "b", "c", "d"]
    (series,) = chain([_link("b", "a", 1.1), _link("d", "c", 1.3)], line)
    assert [len(s) for s in series.segments()] == [2, 2]
    with pytest.raises(ValueError, match="broken between"):
        relative(series, "a", "d")


def test_a_link_from_off_the_first_parent_line_is_not_used():
    (series,) = chain([_link("b", "a", 1.1), _link("c", "side", 9.0)], ["a", "b", "c"])
    assert [p.commit for p in series.points] == ["a", "b"]


@pytest.mark.parametrize("seed", range(10))
def test_a_chain_of_pure_noise_has_no_change_point(seed):
    """A random walk of 100 links at 1.5% each: its drift is noise the test knows about."""
    rng = np.random.default_rng(seed)
    levels = np.cumsum(np.r_[0.0, rng.normal(0, 0.015, 99)])
    variances = np.r_[0.0, np.full(99, 0.015**2)]
    assert change_points(levels, ChainTest(levels, variances), min_magnitude=0.01) == []


def test_a_ten_percent_step_on_a_chain_is_found_at_its_link():
    rng = np.random.default_rng(7)
    steps = np.r_[0.0, rng.normal(0, 0.01, 39)]
    steps[25] += math.log(1.10)
    levels = np.cumsum(steps)
    (change,) = change_points(levels, ChainTest(levels, np.r_[0.0, np.full(39, 1e-4)]))
    assert change.first <= 25 <= change.last and change.last - change.first < 3
    assert 1.06 < math.exp(change.delta) < 1.14


def test_per_machine_step_of_ten_percent_is_found_by_the_t_test_and_noise_alone_is_not():
    rng = np.random.default_rng(11)
    noise_only = rng.normal(0, 0.01, 40)
    stepped = noise_only + np.where(np.arange(40) >= 18, math.log(1.1), 0.0)
    assert change_points(noise_only, TTest(noise_only), min_magnitude=0.01) == []
    assert [c.index for c in change_points(stepped, TTest(stepped), min_magnitude=0.01)] == [18]


def test_no_false_alarm_in_ten_runs_has_an_upper_bound_of_thirty_one_percent():
    rate = noise.alarm_rate([{"time": {"m": {"verdict": "held"}}, "memory": {}}] * 10)
    assert (rate.alarms, rate.runs) == (0, 10)
    assert rate.high == pytest.approx(1 - 0.025 ** (1 / 10))  # the exact one-sided solution at k = 0
