"""Every family in the registry is drawn in a colour of its own: the eight Okabe and Ito name keep
theirs, and a family added to ``bench.costs.FAMILIES`` gets a free one without an edit in
``analysis/``."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from analysis.report import style
from analysis.report.charts.common import families, series_legend
from bench import costs
from bench.methods import METHODS

GREY = "#7f7f7f"


def _plant(monkeypatch, names: list[str]) -> dict:
    """Families ``names`` added to the cost model's registry, each with one torch method."""
    template, method = costs.FAMILIES["explicit"], METHODS["explicit-torch"]
    planted = dict(costs.FAMILIES) | {name: replace(template, name=name) for name in names}
    methods = dict(METHODS) | {f"{n}-torch": replace(method, name=f"{n}-torch", family=n) for n in names}
    monkeypatch.setattr(costs, "FAMILIES", planted)
    monkeypatch.setattr(style, "METHODS", methods)
    return methods


def _legend_colours(methods: dict) -> dict[str, set[str]]:
    """Each family's colours among the legend entries a chart of every method variant draws."""
    frame = pd.DataFrame(
        [
            {"run_id": "r", "label": f"{name}-{v}" if v else name, "method": name, "variant": v}
            for name, method in methods.items()
            for v in method.variants
        ]
    )
    fig = plt.figure()
    series_legend(fig, frame, {"r": 0})
    legend = fig.legends[0]
    colours: dict[str, set[str]] = {}
    for entry, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        family = methods[style.split_label(text.get_text())[0]].family
        colours.setdefault(family, set()).add(to_hex(entry.get_color()))
    plt.close(fig)
    return colours


def test_the_families_okabe_and_ito_name_keep_their_colours():
    colours = style.family_colours()
    assert colours["formula"] == "#000000" and colours["autograd"] == "#0072B2"
    assert colours["explicit"] == "#D55E00" and colours["streamed"] == "#009E73"
    assert colours["jacfwd"] == "#B8A000"  # their yellow, darkened to read on white


def test_a_planted_family_is_drawn_in_a_colour_no_other_family_has_and_not_grey(monkeypatch):
    methods = _plant(monkeypatch, ["tiled"])
    colours = _legend_colours(methods)
    assert "tiled" in colours
    assert all(len(shades) == 1 for shades in colours.values())  # one colour per family
    shown = [next(iter(shades)) for shades in colours.values()]
    assert len(set(shown)) == len(shown) == len({m.family for m in methods.values()})
    assert GREY not in shown


def test_more_planted_families_than_spare_palette_colours_still_get_distinct_ones(monkeypatch):
    names = [f"new{k}" for k in range(len(style.MORE_FAMILIES) + 4)]
    _plant(monkeypatch, names)
    colours = style.family_colours()
    assert set(names) <= set(colours)
    hexes = [c.lower() for c in colours.values()]
    assert len(set(hexes)) == len(hexes) and GREY not in hexes


def test_a_family_added_after_another_leaves_its_colour_and_place_unchanged(monkeypatch):
    _plant(monkeypatch, ["first"])
    before, order = style.family_colours()["first"], style.family_order()
    _plant(monkeypatch, ["first", "second"])
    assert style.family_colours()["first"] == before
    assert style.family_order()[: len(order)] == order
    assert families(pd.DataFrame({"family": ["second", "formula", "first"]})) == [
        "formula",
        "first",
        "second",
    ]


def test_a_series_of_a_family_no_registry_knows_is_grey():
    assert style.series_style("retired-torch", "").color == GREY


@pytest.mark.parametrize("family", ["formula", "explicit", "jacrev"])
def test_the_style_of_an_existing_method_reads_its_family_colour(family):
    method = next(name for name, m in METHODS.items() if m.family == family)
    assert style.series_style(method, "").color == style.OKABE_ITO[family]
