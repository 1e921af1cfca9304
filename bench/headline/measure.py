"""The figures the streamed passes are read against, measured in the same run: the device's roofs
(the L1 copy roof again after each pass), the formula at the same size, and the compiled
kernel's diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.cases import Case
from bench.harness.roofs import local_roof, measure_roofs, timed_seconds
from bench.inputs import make_inputs
from bench.methods import METHODS, make_workspace
from bench.validation import HALF_DTYPES

FORMULA_ROUNDS = 7


def headline_roofs(device: str, dtype: str, budget: int) -> dict[str, Any]:
    """The device's roofs for the headline (``bench.harness.roofs.measure_roofs``: GEMM including
    the target's own products, copy, and on the CPU first-touch and the L1 and L2 copies). A CPU has no fast
    half-precision GEMM (0.3 GFLOP/s measured: ten minutes for the full roof), so there the GEMM
    roof is float32's, with the dtype's own taken on one 1024² square beside it."""
    if device.startswith("cuda") or dtype not in HALF_DTYPES:
        return measure_roofs(device, (dtype,), budget)
    roofs = measure_roofs(device, ("float32",), budget)
    roofs["gemm"][dtype] = {"gflops": local_roof("torch", device, dtype, "gemm", budget), "size": 1024}
    return roofs


def remeasure_l1(roofs: dict[str, Any]) -> None:
    """The L1 copy roof again right after a pass, kept as the best so far (a roof is a best), so
    that roof and kernel are measured back to back in the same process.

    On the shared 2-core machines the machine's speed drifts over minutes: a roof taken once,
    before a five-minute pass, can read a third too low or high. Every figure stays in the
    record (``gbps_each``).
    """
    from bench.harness.cacheroofs import buffer_bytes, copy_gbps

    before = roofs["l1_copy"]
    again = copy_gbps(buffer_bytes(1, before["level_bytes_per_core"]), before["threads"])
    each = [*before.get("gbps_each", [before["gbps"]]), again["gbps"]]
    best = before | again if again["gbps"] > before["gbps"] else before
    roofs["l1_copy"] = best | {"gbps_each": each, "statistic": "best of the runs before and after each pass"}


def formula_seconds(case: Case, sync: Callable[[], None]) -> dict[str, list[float]]:
    """The formula at the target, cold (fresh results, as ``dY @ W.T`` gives them) and warm
    (written into reused results with ``out=``): the page faults of fresh results, counted.
    Keyed by variant: "" cold, "warm" warm."""
    method = METHODS[case.method]
    inputs = make_inputs(case)
    workspace = make_workspace(inputs[0], inputs[1], method.family)
    return {
        "": timed_seconds(lambda: method.backward(*inputs), sync, FORMULA_ROUNDS),
        "warm": timed_seconds(lambda: method.backward(*inputs, workspace=workspace), sync, FORMULA_ROUNDS),
    }


def kernel_record(block: int) -> dict[str, Any]:
    """The compiled kernel's diagnostics: the vector width its machine code uses and the pattern
    roof (its own fill and contraction on a tile: how well that pattern runs, never a floor)."""
    from bench import compiled, patternroof

    bits = compiled.vector_bits(block)
    pattern = patternroof.pattern_roof(block)
    return {"vector_bits": bits, "pattern_roof": {k: v for k, v in pattern.items() if k != "seconds"}}
