"""Every chart of the report, one module each, in one registry.

A chart module names its PNG (``FILE``), its title (``TITLE``), what it shows to a reader who
cannot see it (``ALT``), whether the data can fill it (``needs``) and how it draws (``draw``,
writing the PNG and the CSV of exactly what it plots). A new chart is one module and one line
below; :mod:`analysis.report.figures` draws whatever this registry lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from analysis.report.charts import (
    at_target,
    extrapolation,
    memory,
    ratio,
    roofline,
    runtime,
    structure,
    throughput,
    trend,
    where_bytes,
)
from analysis.report.study import Analysis


@dataclass(frozen=True)
class Chart:
    file: str
    title: str
    alt: str
    needs: Callable[[Analysis, pd.DataFrame | None], bool]
    draw: Callable[[Analysis, Path, pd.DataFrame | None], Path]


def _chart(module: ModuleType) -> Chart:
    return Chart(
        module.FILE,
        module.TITLE,
        module.ALT,
        lambda analysis, _history: module.needs(analysis),
        lambda analysis, out, _history: module.draw(analysis, out),
    )


FIRST_SCREEN: tuple[Chart, ...] = (_chart(structure), _chart(where_bytes))
"""Drawn for every report: from the cost model and run.json, not from timings."""

CHARTS: tuple[Chart, ...] = (
    _chart(at_target),
    _chart(runtime),
    _chart(throughput),
    _chart(roofline),
    _chart(memory),
    _chart(ratio),
    _chart(extrapolation),
    Chart(
        trend.FILE,
        trend.TITLE,
        trend.ALT,
        lambda _analysis, history: trend.needs(history),
        lambda _analysis, out, history: trend.draw(history, out),
    ),
)
"""The measured charts, in the order the page shows them."""
