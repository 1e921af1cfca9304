"""The runtime pass: one benchmark body for every case (method × variant × device × dtype × size).

Collected only by ``python -m bench`` (through ``bench.sweep.runtime_plugin``), never by the tests.
Per case, outside the timed region: seeded inputs are built on the device, a workspace is
allocated for the warm variant, the result is checked against the float64 formula (a timing
of a wrong answer is worthless), and the roof this case is compared with (copy bandwidth for
the Jacobian families, GEMM throughput for the others) is measured just before. Then
``benchmark.pedantic`` times ``run()`` alone, with ``reset()`` (``.grad = None`` for autograd)
and a device synchronisation in the untimed setup, and a synchronisation inside the timed call
so that CUDA work is finished when the clock stops.

On CUDA each round is also timed with CUDA events (:class:`bench.harness.cudatime.RoundClock`),
the L2 flushed in the untimed setup for a case small enough to be served from it, and the SM
clock read before and after: the events' seconds (``extra_info.cuda_event_seconds``) are the
figures read back (:class:`bench.rundir.records.TimingEntry`), the host clock's stay in the file.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import torch

from bench.cases import Case
from bench.costs import roof as roof_of
from bench.harness.cudatime import RoundClock
from bench.harness.roofs import formula_shapes, local_roof
from bench.harness.threads import threads_in_use
from bench.inputs import TOLERANCE, make_inputs, relative_error, synchronizer
from bench.methods import METHODS, make_workspace
from bench.sweep.runtime_plugin import RuntimeSettings


def _rounds(seconds_per_call: float, settings: RuntimeSettings) -> int:
    """Rounds that fill ``max_time``, within [min_rounds, max_rounds]."""
    wanted = math.ceil(settings.max_time / max(seconds_per_call, 1e-9))
    return max(settings.min_rounds, min(settings.max_rounds, wanted))


def bench_backward(case: Case, runtime_settings: RuntimeSettings, benchmark: Any) -> None:
    skip = runtime_settings.skip_reasons.get(case.name)
    if skip:
        pytest.skip(skip)
    failure = None
    try:
        _measure(case, runtime_settings, benchmark)
    except torch.cuda.OutOfMemoryError as exc:
        failure = f"CUDA out of memory: {str(exc).splitlines()[0]}"
    except MemoryError as exc:
        failure = f"out of host memory: {exc}"
    if failure:  # raised outside the except block, so the case's tensors are already freed
        if case.device == "cuda":
            torch.cuda.empty_cache()
        pytest.fail(failure, pytrace=False)


def _measure(case: Case, runtime_settings: RuntimeSettings, benchmark: Any) -> None:
    method = METHODS[case.method]
    inputs = make_inputs(case)
    workspace = make_workspace(inputs[0], inputs[1], case.family) if case.variant == "warm" else None
    sync = synchronizer(case.device)

    error = relative_error(method.backward(*inputs, workspace=workspace), inputs)
    if not error <= TOLERANCE[case.dtype]:
        pytest.fail(f"wrong gradients: relative error {error:.3g} > {TOLERANCE[case.dtype]:g}")

    roof = roof_of(case.family)
    budget = runtime_settings.memory_budgets.get(case.device)
    shapes = formula_shapes(case.n, case.d, case.m) if roof == "gemm" else None  # its own GEMMs too
    local = local_roof(case.backend, case.device, case.dtype, roof, budget, shapes)
    prepared = method.prepare(*inputs, workspace=workspace)
    predicted = case.predicted()
    clock = (
        RoundClock(case.device, predicted["input_bytes"] + predicted["predicted_peak_bytes"])
        if case.device.startswith("cuda")
        else None
    )

    def setup() -> None:
        prepared.reset()
        if clock is not None:
            clock.between()  # the L2 flushed and the queue drained, untimed

    def timed() -> None:
        if clock is not None:
            clock.time(prepared.run)  # ends with the end event synchronised
        else:
            prepared.run()
        sync()

    setup()
    start = time.perf_counter()
    timed()  # a first warm-up call also estimates the rounds needed
    first = time.perf_counter() - start
    rounds = _rounds(first, runtime_settings)
    warmup = 1 if first * rounds < 10 * runtime_settings.max_time else 0

    benchmark.extra_info.update(
        case.params()
        | predicted
        | {"max_rel_error": error, f"local_{roof}_roof": local, "threads": threads_in_use(case.backend)}
    )
    benchmark.pedantic(timed, setup=setup, rounds=rounds, warmup_rounds=warmup, iterations=1)
    if clock is not None:  # the last ``rounds`` events are the timed rounds (before: warm-ups)
        benchmark.extra_info.update({"cuda_event_seconds": clock.seconds[-rounds:]} | clock.facts())
