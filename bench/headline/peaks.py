"""The headline's peaks, in a fresh process (memray on the host, torch.cuda on the GPU): the
formula's, and the streamed passes' over the full dY/dX and sampled dY/dW parts. The tiles are
reused, so the peak cannot grow with the number of parts (the test suite checks this)."""

from __future__ import annotations

import traceback
from typing import Any

from bench.cases import Case
from bench.harness import children
from bench.harness.peak import no_tracker_reason
from bench.headline.plan import DW_SAMPLE_STRIDE, Plan
from bench.headline.record import HeadlineFiles
from bench.inputs import make_inputs
from bench.methods import METHODS
from bench.streamers import Streamer, sampled
from bench.units import format_bytes


def peak_child(params: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: peak of the formula and of the streamed passes, as timed."""
    from bench.harness.peak import peak_of

    case = Case.from_dict(params)
    formula_case = Case("formula-torch", "", case.device, case.dtype, case.n, case.d, case.m)
    formula_inputs = make_inputs(formula_case)
    inputs = make_inputs(case)
    block, stride = params["block_bytes"], params["stride"]

    def streamed() -> None:
        streamer = Streamer(case.method, inputs, block)  # its tiles inside the tracked window
        streamer.run("dydx")
        streamer.run("dydw", sampled(streamer.parts("dydw"), stride))

    def formula() -> None:
        METHODS["formula-torch"].backward(*formula_inputs)

    warm = Streamer(case.method, inputs, block)  # loads the compiled code before tracking starts
    warm.run("dydx", warm.parts("dydx")[:1])
    del warm
    formula()
    return {name: peak_of(run, case.device) for name, run in (("formula", formula), ("streamed", streamed))}


def measure_peaks(case: Case, block: int) -> dict[str, int]:
    """The peaks of :func:`peak_child`, in a child of the memory pass's fork server."""
    from bench.sweep.memory_pass import fork_pool

    pool = fork_pool()
    try:
        params = case.params() | {"block_bytes": block, "stride": DW_SAMPLE_STRIDE}
        peaks = pool.submit(peak_child, params).result()
    except BaseException:  # Ctrl-C, SIGTERM: the peak child must not outlive the run
        children.stop_fork_server()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return peaks


def record_peaks(plan: Plan, files: HeadlineFiles) -> None:
    """The peaks into memory.json, or why not: skipped on a bare machine (the GPU check's CPU dry
    run), failed when the peak child died or raised; never guessed."""
    device = plan.device
    status, why = ("skipped", no_tracker_reason(device))
    peaks: dict[str, int] = {}
    if why is None:
        try:
            peaks = measure_peaks(plan.case, plan.block)
        except Exception as exc:
            status, why = "failed", f"peak child failed: {traceback.format_exception_only(exc)[-1].strip()}"
    if why:
        files.add_no_peaks(plan, status, why)
        print(f"{device}: peak not measured: {why}", flush=True)
    else:
        files.add_peaks(plan, peaks, "torch.cuda" if device.startswith("cuda") else "memray")
        print(
            f"{device}: peak {format_bytes(peaks['streamed'])} above the inputs "
            f"(dense dY/dX alone would need {format_bytes(plan.dydx_bytes)})",
            flush=True,
        )
    files.save()
