"""A benchmark case is data: one frozen record names everything that is measured.

``Case.name`` is stable and built from the parameters, e.g.
``explicit-torch-warm[cpu-float32-N64-D256-M256]``: it sorts, greps and plots well, and it is
the key that joins the runtime and memory files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bench import costs
from bench.methods import METHODS
from bench.validation import BACKEND_DTYPES

_NAME = re.compile(
    r"(?P<label>[^\[\]]+)\[(?P<device>[^\[\]-]+)-(?P<dtype>[a-z0-9]+)-N(?P<n>\d+)-D(?P<d>\d+)-M(?P<m>\d+)\]"
)
"""The shape of :attr:`Case.name`: ``label[device-dtype-N<n>-D<d>-M<m>]``."""


def split_name(name: str) -> tuple[str, str, str, int, int, int]:
    """A case name's parts, (label, device, dtype, N, D, M), without checking that its method
    exists: the gate reads names from files that an older tree may have written. The one parser
    of :attr:`Case.name` (:meth:`Case.parse` checks the parts)."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"not a case name: {name!r} (expected label[device-dtype-N<n>-D<d>-M<m>])")
    return match["label"], match["device"], match["dtype"], int(match["n"]), int(match["d"]), int(match["m"])


def method_and_variant(label: str) -> tuple[str, str]:
    """``explicit-torch-warm`` → (``explicit-torch``, ``warm``); a registered method's name alone
    has no variant. A label of no registered method is split at its last dash."""
    if label in METHODS or "-" not in label:
        return label, ""
    method, variant = label.rsplit("-", 1)
    return method, variant


def variants_of(method: str) -> tuple[str, ...]:
    """The variants a method is measured in (``bench.methods.Method.variants``): "" for the
    method's plain way to run, "cold"/"warm" for fresh or reused memory."""
    return METHODS[method].variants


@dataclass(frozen=True, order=True)
class Case:
    """One measured point: a method (and variant) on a device, dtype and (N, D, M)."""

    method: str
    variant: str
    device: str  # "cpu" or "cuda"
    dtype: str  # one of the backend's dtypes (bench.validation.BACKEND_DTYPES)
    n: int
    d: int
    m: int

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}")
        if self.variant not in variants_of(self.method):
            raise ValueError(f"method {self.method} has no variant {self.variant!r}")
        if self.dtype not in BACKEND_DTYPES[self.backend]:
            raise ValueError(
                f"method {self.method} cannot run in {self.dtype}: "
                f"{self.backend} supports {', '.join(BACKEND_DTYPES[self.backend])}"
            )

    @property
    def label(self) -> str:
        """Method plus variant, e.g. ``explicit-torch-cold``: one line in a plot."""
        return f"{self.method}-{self.variant}" if self.variant else self.method

    @property
    def name(self) -> str:
        return f"{self.label}[{self.device}-{self.dtype}-N{self.n}-D{self.d}-M{self.m}]"

    @classmethod
    def parse(cls, name: str) -> Case:
        """The case a :attr:`name` names: its one inverse. Raises ValueError for a name that is
        not a case's, or that names an unknown method, variant or dtype."""
        label, device, dtype, n, d, m = split_name(name)
        method, variant = method_and_variant(label)
        if method not in METHODS:
            raise ValueError(f"case {name!r} names no known method ({label!r})")
        return cls(method, variant, device, dtype, n, d, m)

    @property
    def family(self) -> str:
        return METHODS[self.method].family

    @property
    def backend(self) -> str:
        return METHODS[self.method].backend

    def predicted(self, block_bytes: int | None = None) -> dict[str, int]:
        """The cost model's counts for this case: what ``extra_info`` and memory records carry.

        ``block_bytes``: the streamed method's tile, when it is not the device's default; a method
        that sizes its own tiles (:meth:`bench.methods.Method.tile_bytes`) and predicts its own
        peak (the compiled streamed method: one tile per core) says so itself.
        """
        dydx, dydw = costs.jacobian_bytes(self.n, self.d, self.m, self.dtype)
        method, shape = METHODS[self.method], (self.n, self.d, self.m)
        block = method.tile_bytes(self.device, self.dtype, block_bytes)
        peak = method.peak_bytes(*shape, self.dtype, block, self.variant)
        return {
            "predicted_peak_bytes": peak,
            "input_bytes": costs.input_bytes(self.n, self.d, self.m, self.dtype),
            "jacobian_dydx_bytes": dydx,
            "jacobian_dydw_bytes": dydw,
            "flops": costs.flops(self.family, self.n, self.d, self.m),
            "bytes_moved": costs.bytes_moved(self.family, self.n, self.d, self.m, self.dtype),
            "fresh_bytes": costs.fresh_bytes(self.family, self.variant, *shape, self.dtype, block),
        }

    def needed_bytes(self, block_bytes: int | None = None) -> int:
        """What the case needs in memory at once: its inputs plus its predicted peak."""
        peak = self.predicted(block_bytes)["predicted_peak_bytes"]
        return costs.input_bytes(self.n, self.d, self.m, self.dtype) + peak

    def params(self) -> dict[str, Any]:
        """Flat, JSON-ready description of the case (the schema's identifying columns)."""
        return {
            "case": self.name,
            "label": self.label,
            "family": self.family,
            "backend": self.backend,
        } | asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        return cls(
            method=data["method"],
            variant=data["variant"],
            device=data["device"],
            dtype=data["dtype"],
            n=int(data["n"]),
            d=int(data["d"]),
            m=int(data["m"]),
        )


Point = tuple[int, int, int]


def enumerate_cases(
    methods: Iterable[str],
    devices: Iterable[str],
    dtypes: Iterable[str],
    points_of: Callable[[str], Iterable[Point]],
) -> list[Case]:
    """Every case of the methods, in each of their variants, on the devices and dtypes at the
    (N, D, M) that ``points_of(family)`` gives: the one enumerator of the sweep and the A/B.

    numpy methods run on the CPU only, and only in the dtypes numpy supports (no half precision).
    Order: method, device, variant, dtype, point, as given.
    """
    devices, dtypes = tuple(devices), tuple(dtypes)
    cases = []
    for method in methods:
        backend, family = METHODS[method].backend, METHODS[method].family
        for device in devices:
            if backend == "numpy" and device != "cpu":
                continue
            for variant in variants_of(method):
                for dtype in (t for t in dtypes if t in BACKEND_DTYPES[backend]):
                    cases += [Case(method, variant, device, dtype, *p) for p in points_of(family)]
    return cases
