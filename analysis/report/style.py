"""How a series looks in every plot, and the checks that a figure can be read.

Identity by more than colour: the method family picks a colour from Okabe and Ito's colour-blind
safe palette (a family it does not name, the next free colour of Paul Tol's, in the order of
:data:`bench.costs.FAMILIES`, so that a new family needs no edit here), the backend (or engine) a
marker, the variant (fresh memory or reused "warm") a line style; a second run on the same figure
gets the next pair of dash patterns. No two methods of the registry share all three, whatever the
run (:func:`layout_problems` checks a drawn figure).

Legends sit outside the axes (``fig.legend`` anchored beside the panels), so they never cover a
tick label or an axis title; :func:`layout_problems` checks that too, with the bounding boxes
matplotlib computes for the drawn text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, count

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axis import Axis
from matplotlib.colors import hsv_to_rgb, to_hex
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

from bench import costs
from bench.methods import METHODS

OKABE_ITO = {
    "formula": "#000000",
    "autograd": "#0072B2",
    "explicit": "#D55E00",
    "streamed": "#009E73",
    "jacrev": "#CC79A7",
    "ajacobian": "#E69F00",
    "ajacobianvec": "#56B4E9",
    "jacfwd": "#B8A000",
}
"""Okabe & Ito (2008), one colour per method family. Their yellow (#F0E442) is darkened to
#B8A000 so that it reads on white; the other seven are theirs unchanged."""
MORE_FAMILIES = ("#882255", "#332288", "#999933", "#44AA99", "#CC6677", "#117733", "#AA4499", "#88CCEE")
"""Paul Tol's colour-blind-safe "muted" scheme (its sand, too pale on white, left out), the
colours least like Okabe and Ito's first: one each for the families :data:`OKABE_ITO` does not
name, in :data:`bench.costs.FAMILIES` order; past these, hues a golden angle apart."""
UNKNOWN = "#7f7f7f"
"""A series whose family is in no registry (a method the history names that no longer exists)."""
MARKERS = {"torch": "o", "numpy": "s", "compiled": "D"}
"""By backend, or by engine where one computes it (``bench.methods.Method.engine``)."""
DASHES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
"""Pairs by run: (fresh or cold, warm) for the first run, then the next pair for the next run."""


@dataclass(frozen=True)
class SeriesStyle:
    color: str
    marker: str
    linestyle: str | tuple

    def kwargs(self) -> dict:
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


def backend_of(method: str) -> str:
    entry = METHODS.get(method)
    if entry is None:
        return "torch"
    return entry.engine or entry.backend


def _hues() -> Iterator[str]:
    """Endless colours of distinct hue, each a golden angle (0.618 of a turn) past the last."""
    for k in count():
        yield to_hex(hsv_to_rgb((k * 0.618034 % 1.0, 0.75, 0.7)))


def family_colours() -> dict[str, str]:
    """Every family's colour: Okabe and Ito's for the eight :data:`OKABE_ITO` names, then, in
    :data:`bench.costs.FAMILIES` order, the next colour no family has yet. Read from the registry
    when called, so a family added there is drawn in a colour of its own, and one added after it
    never changes its colour."""
    colours = dict(OKABE_ITO)
    spare = (
        c for c in chain(MORE_FAMILIES, _hues()) if c.lower() not in {v.lower() for v in colours.values()}
    )
    for name in costs.FAMILIES:
        if name not in colours:
            colours[name] = next(spare)
    return colours


def family_order() -> tuple[str, ...]:
    """The families in palette order: Okabe and Ito's eight, then the rest in registry order."""
    return tuple(family_colours())


def series_style(method: str, variant: str, run_index: int = 0) -> SeriesStyle:
    """The look of one method variant of one run (``run_index`` in the report's run order)."""
    family = METHODS[method].family if method in METHODS else method.split("-")[0]
    dash = DASHES[(2 * run_index + (variant == "warm")) % len(DASHES)]
    colour = family_colours().get(family, UNKNOWN)
    return SeriesStyle(colour, MARKERS.get(backend_of(method), "^"), dash)


def label_order(labels: list[str]) -> list[str]:
    """Labels grouped by family in palette order, then by name, so a legend reads by family."""
    order = family_order()

    def key(label: str) -> tuple[int, str]:
        family = label.split("-")[0]
        return (order.index(family) if family in order else len(order), label)

    return sorted(labels, key=key)


def handle(style: SeriesStyle) -> Line2D:
    """A legend entry drawn as the series is: colour, marker and line style together."""
    return Line2D([], [], lw=1.2, ms=5, **style.kwargs())


def outside_legend(fig: plt.Figure, handles: list, names: list[str], title: str | None = None) -> None:
    """One legend for the whole figure, to the right of every panel (``bbox_to_anchor`` past the
    figure's edge; ``savefig(bbox_inches="tight")`` widens the image to hold it)."""
    if not handles:
        return
    fig.legend(
        handles,
        names,
        loc="upper left",
        bbox_to_anchor=(1.0, 0.98),
        bbox_transform=fig.transFigure,
        fontsize=8,
        title=title,
        title_fontsize=8,
        frameon=False,
    )


TIME_TICKS = {
    1e-9: "1 ns", 1e-8: "10 ns", 1e-7: "100 ns", 1e-6: "1 µs", 1e-5: "10 µs", 1e-4: "100 µs",
    1e-3: "1 ms", 1e-2: "10 ms", 1e-1: "100 ms", 1.0: "1 s", 10.0: "10 s", 60.0: "1 min",
    600.0: "10 min", 3600.0: "1 h", 36000.0: "10 h", 360000.0: "100 h", 3600000.0: "1000 h",
}  # fmt: skip
"""Time ticks about every 10×, each a round figure in its own unit (10 s, then 1 min, 10 min, 1 h …)."""
RATE_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def _rate(value: float, suffix: str) -> str:
    for scale, prefix in RATE_PREFIXES:
        if value >= scale * 0.999:
            return f"{value / scale:g} {prefix}{suffix}"
    return f"{value:g} {suffix}"


def _span_a_decade(axis: Axis) -> tuple[float, float]:
    """The axis' limits, widened to the enclosing powers of ten where they hold none."""
    is_y = axis is axis.axes.yaxis
    lo, hi = axis.axes.get_ylim() if is_y else axis.axes.get_xlim()
    if lo > 0 and hi > lo and np.floor(np.log10(hi)) < np.ceil(np.log10(lo)):
        lo, hi = 10.0 ** np.floor(np.log10(lo)), 10.0 ** np.ceil(np.log10(hi))
        (axis.axes.set_ylim if is_y else axis.axes.set_xlim)(lo, hi)
    return lo, hi


def decade_axis(axis: Axis, kind: str, suffix: str = "") -> None:
    """Major ticks about every 10×, labelled in human units ("10 ms", "1 h", "100 GFLOP/s",
    "0.1×"); limits that hold no power of ten are widened to the nearest ones."""
    _span_a_decade(axis)
    axis.set_minor_formatter(NullFormatter())
    if kind == "time":
        ticks = sorted(TIME_TICKS)
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, _p: TIME_TICKS.get(float(v), "")))
        return
    axis.set_major_locator(LogLocator(base=10, numticks=30))
    axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0), numticks=30))
    if kind == "rate":
        axis.set_major_formatter(FuncFormatter(lambda v, _p: _rate(v, suffix) if v > 0 else "0"))
    else:  # plain ratios and fractions: 0.01, 0.1, 1, 10
        axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}{suffix}"))


def _style_key(line: Line2D) -> tuple:
    # get_linestyle() reads "--" for every custom dash sequence; the pattern itself tells them apart
    pattern = getattr(line, "_unscaled_dash_pattern", None)
    return (to_hex(line.get_color()), line.get_marker(), line.get_linestyle(), str(pattern))


def legend_duplicates(fig: plt.Figure) -> list[str]:
    """Legend entries of one figure that share colour, marker and line style with another entry
    of a different name: two series a reader cannot tell apart."""
    problems = []
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    seen: dict[tuple, str] = {}
    for legend in legends:
        for entry, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            if not isinstance(entry, Line2D):
                continue
            key, name = _style_key(entry), text.get_text()
            if key in seen and seen[key] != name:
                problems.append(f"{seen[key]!r} and {name!r} share colour, marker and line style {key}")
            seen.setdefault(key, name)
    return problems


def legend_overlaps(fig: plt.Figure) -> list[str]:
    """Legends whose box overlaps an axes' tick labels, axis titles or panel title."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    problems = []
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            texts = [*ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label, ax.yaxis.label, ax.title]
            for text in texts:
                if not text.get_visible() or not text.get_text():
                    continue
                if box.overlaps(text.get_window_extent(renderer)):
                    problems.append(f"legend overlaps {text.get_text()!r} of panel {ax.get_title()!r}")
    return problems


def layout_problems(fig: plt.Figure) -> list[str]:
    """Everything that keeps a reader from telling series apart or reading an axis."""
    return legend_duplicates(fig) + legend_overlaps(fig)


def split_label(label: str) -> tuple[str, str]:
    """``"explicit-torch-warm"`` → ``("explicit-torch", "warm")``; without a variant, ``(label, "")``."""
    for variant in ("warm", "cold"):
        if label.endswith(f"-{variant}"):
            return label[: -len(variant) - 1], variant
    return label, ""
