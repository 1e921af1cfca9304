"""Physical floors at the target: the least time any implementation could take on the machine.

A floor is the larger of FLOPs ÷ the GEMM roof and bytes ÷ the roof that bounds the method's
traffic, each roof measured in the same run (``bench.harness.roofs``):

- the formula: its 4·N·D·M FLOPs at the best GEMM roof, against the bytes of its operands and
  results at copy bandwidth; the detail gives its two skinny products at their own measured
  GEMM figure (the roof measures the target's shapes too), which no BLAS call of that shape
  beat in the same run;
- the dense explicit method: every Jacobian byte written to memory once and read once, at copy
  bandwidth (the explicit method's traffic, ``bench.costs.bytes_moved``);
- the streamed methods: the same bytes, from a tile in cache, at the best cache copy roof the
  runs measured: the L1d copy where measured (every core copying a buffer in its own L1d,
  ``bench.harness.cacheroofs``), else L2's, else copy bandwidth (CUDA, older runs). Each
  Jacobian entry costs one store into the tile and one load from it, the store and load a copy
  does per element, so no explicit kernel moves them faster than the L1 copy does.

The lowest explicit floor (the L1 copy's) is what no explicit implementation can beat; it bounds
the explicit ÷ formula ratio only against the formula's fastest *measured* time. The ratio of
two floors says only what would hold if both ran at their floors. A floor set by a slower roof
(DRAM copy where no cache roof was measured) says so, and that a lower one may exist
(:attr:`Floor.lowest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.costs import bytes_moved, flops, jacobian_bytes
from bench.harness.roofs import formula_shapes


@dataclass(frozen=True)
class Floor:
    """The least time a method could take, and which bound sets it."""

    seconds: float
    bound: str
    """What sets it, e.g. "FLOPs ÷ GEMM roof (139 GFLOP/s)"."""
    detail: str = ""
    lowest: bool = False
    """Whether the roof behind it is the fastest level the suite measures (the L1 copy): then no
    explicit implementation on the machine can beat this floor."""


def device_roofs(run_metas: list[dict[str, Any]], device: str) -> dict[str, Any]:
    """The roofs the runs measured on ``device``, merged: a later run's roof of a kind (a headline
    run's, which measures the in-cache and first-touch roofs and the target's GEMM shapes)
    replaces an earlier one's."""
    merged: dict[str, Any] = {}
    for meta in run_metas:
        roofs = meta.get("devices", {}).get(device, {}).get("roofs") or {}
        for kind, roof in roofs.items():
            if kind == "gemm":
                merged.setdefault("gemm", {}).update(roof)
            elif isinstance(roof, dict) and roof.get("gbps"):
                merged[kind] = roof
    return merged


def _gbps(roofs: dict[str, Any], kind: str) -> float | None:
    value = roofs.get(kind, {}).get("gbps")
    return float(value) if value else None


def formula_floor(roofs: dict[str, Any], n: int, d: int, m: int, dtype: str) -> Floor | None:
    """The formula's floor: FLOPs at the best GEMM roof or bytes at copy bandwidth, the larger."""
    gemm = roofs.get("gemm", {}).get(dtype)
    copy = _gbps(roofs, "copy")
    if not gemm or not copy:
        return None
    compute = flops("formula", n, d, m) / (gemm["gflops"] * 1e9)
    traffic = bytes_moved("formula", n, d, m, dtype) / (copy * 1e9)
    own = {tuple(s["shape"]): s["gflops"] for s in gemm.get("shapes", [])}
    shapes = formula_shapes(n, d, m)
    detail = ""
    if all(shape in own for shape in shapes):
        seconds = sum(2 * r * k * c / (own[(r, k, c)] * 1e9) for r, k, c in shapes)
        rates = ", ".join(f"{own[s]:.0f}" for s in shapes)
        detail = f"its two products at their own GEMM figures ({rates} GFLOP/s): {seconds * 1e3:.1f} ms"
    if compute >= traffic:
        return Floor(compute, f"FLOPs ÷ GEMM roof ({gemm['gflops']:.0f} GFLOP/s)", detail)
    return Floor(traffic, f"bytes ÷ copy roof ({copy:.1f} GB/s)", detail)


CACHE_ROOFS = {"l1_copy": "L1 copy roof", "l2_copy": "L2 copy roof"}
"""The cache copy roofs a run may hold (``bench.harness.cacheroofs``), fastest level first."""


def best_cache_roof(roofs: dict[str, Any]) -> tuple[str, float] | None:
    """The fastest cache copy roof measured, as (kind, GB/s): L1's where it was measured."""
    measured = [(kind, gbps) for kind in CACHE_ROOFS if (gbps := _gbps(roofs, kind))]
    return max(measured, key=lambda pair: pair[1]) if measured else None


def jacobian_floor(roofs: dict[str, Any], n: int, d: int, m: int, dtype: str, in_cache: bool) -> Floor | None:
    """Both Jacobians written once and read once: from a tile in cache (``in_cache``, the streamed
    methods, at the best cache copy roof measured) or through memory (the dense method, at
    copy bandwidth); the Jacobian's FLOPs at the GEMM roof where that is slower."""
    moved = 2 * sum(jacobian_bytes(n, d, m, dtype))
    cache = best_cache_roof(roofs) if in_cache else None
    if cache:
        kind, roof = cache
        name = CACHE_ROOFS[kind]
    else:
        kind, roof, name = "copy", _gbps(roofs, "copy"), "copy roof (DRAM)"
    if not roof:
        return None
    compute = (
        flops("explicit", n, d, m) / (roofs["gemm"][dtype]["gflops"] * 1e9)
        if roofs.get("gemm", {}).get(dtype)
        else 0.0
    )
    traffic = moved / (roof * 1e9)
    if compute > traffic:
        gflops = roofs["gemm"][dtype]["gflops"]
        return Floor(compute, f"Jacobian FLOPs ÷ GEMM roof ({gflops:.0f} GFLOP/s)", lowest=kind == "l1_copy")
    return Floor(traffic, f"Jacobian bytes ÷ {name} ({roof:.1f} GB/s)", lowest=kind == "l1_copy")


def fraction(floor: Floor | None, seconds: float) -> str:
    """The share of its floor a measured or extrapolated time reaches: "45%"; a time faster than
    its floor says that the floor's roof was measured too low (``analysis.targets.roof_label``)."""
    from analysis.targets import roof_label

    if floor is None or not seconds or seconds != seconds:
        return ""
    return roof_label(floor.seconds / seconds)
