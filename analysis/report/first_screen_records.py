"""The first screen's records: the figures, rows and checks :mod:`analysis.report.first_screen`
computes and the template (``templates/report.html.j2``) writes, each value already formatted."""

from __future__ import annotations

from dataclasses import dataclass, field

MEASURED = "measured"
EXTRAPOLATED = "extrapolated"
ESTIMATED = "estimated"
"""A headline figure scaled up from a measured sample (``--dw sample``): never shown as measured."""
MODEL_FAILURE = "model failure"
"""An extrapolation below its physical floor: the cost model failed there; shown clipped to the
floor and flagged, never as a figure the machine could reach."""


@dataclass(frozen=True)
class Figure:
    """One number of the summary, and whether it was measured at the target or extrapolated."""

    value: str
    source: str
    """:data:`MEASURED` or :data:`EXTRAPOLATED` (or "cost model" for a peak nothing measured)."""
    detail: str = ""


@dataclass(frozen=True)
class SummaryRow:
    role: str
    method: str
    time: Figure
    memory: Figure
    time_ratio: str
    """This row's time ÷ the formula's ("" on the formula's own row)."""
    memory_ratio: str
    floor: str = ""
    """The least time any implementation of this kind could take here (:mod:`analysis.floors`)."""
    of_floor: str = ""
    """floor ÷ this row's time: how close to the machine's limit the figure is."""
    floor_detail: str = ""


@dataclass(frozen=True)
class DeviceSummary:
    device: str
    rows: list[SummaryRow]
    memory_note: str | None
    """How far the dense explicit method overflows the device, when it does."""
    floor_ratio: str = ""
    """The lowest explicit floor ÷ the formula's floor: only what would hold if both ran at
    their floors (the formula itself runs well above its own)."""
    measured_ratio: str = ""
    """The fastest explicit figure measured at the target ÷ the formula's, where both were measured."""
    bound: Bound | None = None
    """What no explicit implementation can beat here, against the fastest formula time."""


@dataclass(frozen=True)
class Bound:
    """The lowest explicit floor of a device over the fastest formula time shown."""

    floor: str
    """The lowest explicit floor, formatted."""
    bound: str
    """What sets it, e.g. "Jacobian bytes ÷ L1 copy roof (990.0 GB/s)"."""
    ratio: str
    """The floor ÷ the fastest formula time: what no explicit implementation can beat."""
    formula: str
    """Whether that formula time was measured or extrapolated at the target."""
    unbeatable: bool
    """Whether the page may say no implementation here could beat it: its roofs (the L1 copy)
    were measured in the runs shown and no explicit figure shown is faster than the floor."""
    beaten_by: str = ""
    """The explicit figure on the page faster than the floor, if any (its roof read too low)."""


@dataclass(frozen=True)
class Check:
    """The honesty figure of one method: extrapolated from smaller sizes against measured."""

    method: str
    device: str
    measured: str
    extrapolated: str
    interval: str
    error: str
    in_interval: bool
    error_without_fresh: str = ""
    """The same extrapolation's error without the cost model's fresh-byte term ("" where the
    term changes nothing, or for a headline run's streamed pass)."""


@dataclass(frozen=True)
class Summary:
    target: tuple[int, int, int]
    dydx: str
    dydw: str
    devices: list[DeviceSummary]
    checks: list[Check]
    coverage: str = ""
    """ "6 of 7 measurements at the target inside their 90% interval" ("" where none was measured)."""
    cache_warnings: list[str] = field(default_factory=list)
    """Bytes-bound methods whose time fit saw no case out of the last-level cache."""
