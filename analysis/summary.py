"""The headline's figures: what the report says first, computed from the analysis.

Only numbers and labels, already formatted; the sentences around them live in the template
(``templates/report.html.j2``), so the wording can change without touching the arithmetic and
every value reaching the page is escaped there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.formatting import format_size, format_time
from analysis.study import Analysis
from bench.costs import format_bytes, jacobian_bytes


@dataclass(frozen=True)
class FormulaLine:
    label: str
    peak: str
    time: str


@dataclass(frozen=True)
class ExplicitLine:
    label: str
    time: str
    time_low: str
    time_high: str
    ratio: str
    ratio_low: str
    ratio_high: str
    over_by: str | None
    """How many times the device's memory the explicit method needs; None when it fits."""
    device_memory: str


@dataclass(frozen=True)
class DeviceLine:
    device: str
    formula: FormulaLine | None
    explicit: ExplicitLine | None
    """Only given beside the formula: the ratio needs both."""


@dataclass(frozen=True)
class Headline:
    target: tuple[int, int, int]
    dydx: str
    dydw: str
    devices: list[DeviceLine]
    """Empty when no method has enough measured points to extrapolate."""


def _pick(predictions: pd.DataFrame, family: str, device: str) -> pd.Series | None:
    """The method that speaks for a family: torch before numpy, warm before cold."""
    rows = predictions[(predictions["family"] == family) & (predictions["device"] == device)]
    rows = rows[np.isfinite(rows["time_value"].astype(float))]
    if rows.empty:
        return None
    torch_rows = rows[rows["label"].str.contains("torch")]
    preferred = torch_rows if not torch_rows.empty else rows
    warm = preferred[preferred["label"].str.endswith("warm")]
    return (warm if not warm.empty else preferred).iloc[0]


def _explicit_line(explicit: pd.Series, formula: pd.Series) -> ExplicitLine:
    memory = explicit["device_memory_bytes"]
    over = bool(memory) and not explicit["fits_device"]
    return ExplicitLine(
        label=str(explicit["label"]),
        time=format_time(explicit["time_value"]),
        time_low=format_time(explicit["time_low"]),
        time_high=format_time(explicit["time_high"]),
        ratio=f"{explicit['time_value'] / formula['time_value']:,.0f}×",
        ratio_low=f"{explicit['time_low'] / formula['time_high']:,.0f}",
        ratio_high=f"{explicit['time_high'] / formula['time_low']:,.0f}",
        over_by=f"{explicit['over_by']:,.0f}" if over else None,
        device_memory=format_size(memory) if memory else "–",
    )


def headline(analysis: Analysis) -> Headline:
    """The Jacobians' sizes at the target, and per device the formula's and the explicit method's
    predicted cost there, with the ratio and how far the explicit method overflows memory."""
    n, d, m = analysis.target
    dydx, dydw = jacobian_bytes(n, d, m, "float32")
    preds = analysis.predictions
    if not preds.empty:
        preds = preds[np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])]
    devices = []
    for device in sorted(preds["device"].unique()) if not preds.empty else []:
        explicit, formula = _pick(preds, "explicit", device), _pick(preds, "formula", device)
        devices.append(
            DeviceLine(
                device=str(device),
                formula=FormulaLine(
                    label=str(formula["label"]),
                    peak=format_size(formula["peak_value"]),
                    time=format_time(formula["time_value"]),
                )
                if formula is not None
                else None,
                explicit=_explicit_line(explicit, formula)
                if explicit is not None and formula is not None
                else None,
            )
        )
    return Headline(target=analysis.target, dydx=format_bytes(dydx), dydw=format_bytes(dydw), devices=devices)
