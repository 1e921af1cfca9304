"""Physical floors at the target: the least time any implementation could take on the machine.

A floor is the larger of FLOPs ÷ the GEMM roof and bytes ÷ the roof that bounds the method's
traffic, each roof measured in the same run (``bench.harness.roofs``):

- the formula: its 4·N·D·M FLOPs at the best GEMM roof, against the bytes of its operands and
  results at copy bandwidth; the detail gives its two skinny products at their own measured
  GEMM figure (the roof measures the target's shapes too), which no BLAS call of that shape
  beat in the same run;
- the dense explicit method: every Jacobian byte written to memory once and read once, at copy
  bandwidth (the explicit method's traffic, ``bench.costs.bytes_moved``);
- the streamed methods: the same bytes, from a tile in cache, at the in-cache roof (every core
  writing, then reading, its own tile: ``bench.compiled.incache_roof``), or at copy bandwidth
  where a run has no in-cache roof (CUDA, older runs).

Each is a floor for its kind of implementation; the lowest explicit floor over the formula's is
the explicit ÷ formula ratio that would hold for any implementation on this machine.
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


def jacobian_floor(roofs: dict[str, Any], n: int, d: int, m: int, dtype: str, in_cache: bool) -> Floor | None:
    """Both Jacobians written once and read once: from a tile in cache (``in_cache``, the streamed
    methods, at the in-cache roof where the run has one) or through memory (the dense method)."""
    moved = 2 * sum(jacobian_bytes(n, d, m, dtype))
    roof_name = "incache" if in_cache and _gbps(roofs, "incache") else "copy"
    roof = _gbps(roofs, roof_name)
    if not roof:
        return None
    name = "in-cache roof" if roof_name == "incache" else "copy roof"
    compute = (
        flops("explicit", n, d, m) / (roofs["gemm"][dtype]["gflops"] * 1e9)
        if roofs.get("gemm", {}).get(dtype)
        else 0.0
    )
    traffic = moved / (roof * 1e9)
    return Floor(max(traffic, compute), f"Jacobian bytes ÷ {name} ({roof:.1f} GB/s)")


def fraction(floor: Floor | None, seconds: float) -> str:
    """The share of its floor a measured or extrapolated time reaches: "45%"; a time faster than
    its floor says that the floor's roof was measured too low (``analysis.targets.roof_label``)."""
    from analysis.targets import roof_label

    if floor is None or not seconds or seconds != seconds:
        return ""
    return roof_label(floor.seconds / seconds)
