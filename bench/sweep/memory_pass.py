"""The memory pass: each case's peak, measured in a fresh child process, never timed.

Peaks come from :func:`bench.harness.peak.peak_of` (memray on the host, torch.cuda on a GPU) around
the backward call and the warm variant's workspace allocation, which is part of the method's
memory. Inputs are built before tracking starts, so the figure is the method's own working
memory, which the cost model predicts.

Each case runs in its own child, forked from a fork server that has already imported torch,
numpy and memray: a clean process per case at a fraction of a fresh interpreter's start-up
cost. One-off lazy initialisation (functorch's first jacrev, BLAS buffers) is paid in the child
by a tiny warm-up call before tracking, so it is not charged to the case.

The fork server and its children form one process group that dies with the run (see
``bench.harness.children``): an interrupted pass kills the case in flight instead of waiting for it.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from bench.cases import Case
from bench.harness.children import die_with_parent_here, expect_to_be_parent, stop_fork_server
from bench.harness.peak import peak_of
from bench.harness.threads import pinned_threads, threads_in_use
from bench.inputs import make_inputs
from bench.methods import METHODS, make_workspace
from bench.rundir.records import MemoryRecord


def _record(case: Case, status: str, peak: int | None, reason: str, tracker: str) -> MemoryRecord:
    return MemoryRecord.of(case, status, peak, reason, tracker)


def skipped_record(case: Case, reason: str) -> MemoryRecord:
    return _record(case, "skipped", None, reason, "none")


WARM_UP_GEMM = 256
"""Edge of a square GEMM run before tracking: big enough that the BLAS allocates its
process-lifetime work buffers (OpenBLAS takes ~32 MiB on first use) outside the measurement."""


def _warm_up(case: Case) -> None:
    """Pay one-off, process-lifetime initialisation before tracking starts."""
    gemm = Case("formula-" + case.backend, "", case.device, case.dtype, *(WARM_UP_GEMM,) * 3)
    a, b, _ = make_inputs(gemm)
    _ = a @ b
    tiny = Case(case.method, case.variant, case.device, case.dtype, 2, 3, 4)
    inputs = make_inputs(tiny)
    workspace = make_workspace(inputs[0], inputs[1], case.family) if case.variant == "warm" else None
    METHODS[case.method].backward(*inputs, workspace=workspace)


def _case_run(case: Case, inputs: tuple[Any, Any, Any]) -> Callable[[], None]:
    """The method's call, with the warm variant's workspace allocated inside it (it is the method's)."""

    def run() -> None:
        workspace = make_workspace(inputs[0], inputs[1], case.family) if case.variant == "warm" else None
        result = METHODS[case.method].backward(*inputs, workspace=workspace)
        del result, workspace

    return run


def measure_case(case_data: dict[str, Any], threads: int | None = None) -> MemoryRecord:
    """Measure one case's peak; runs in a fresh child. Failures come back as records.

    ``threads`` pins the CPU pools as the runtime pass does: per-thread BLAS buffers are part of
    a peak, so a baseline and a run compare only on the same thread count.
    """
    case = Case.from_dict(case_data)
    cuda = case.device.startswith("cuda")
    tracker = "torch.cuda" if cuda else "memray"
    try:
        with pinned_threads(threads):
            _warm_up(case)
            inputs = make_inputs(case)
            peak = peak_of(_case_run(case, inputs), case.device)
            used = threads_in_use(case.backend)
    except torch.cuda.OutOfMemoryError as exc:
        return _record(case, "failed", None, f"CUDA out of memory: {str(exc).splitlines()[0]}", tracker)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return _record(case, "failed", None, last, tracker)
    return MemoryRecord.of(case, "ok", peak, "", tracker, threads=used)


def fork_pool() -> ProcessPoolExecutor:
    """A pool whose every task runs in a fresh child forked from a server that imported torch."""
    expect_to_be_parent()  # the fork server, if this starts it, dies with this process
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.harness.forkserver_group", "bench.sweep.memory_pass", "memray"])
    return ProcessPoolExecutor(
        max_workers=1, mp_context=context, max_tasks_per_child=1, initializer=die_with_parent_here
    )


def run_memory_pass(
    cases: Iterable[Case],
    on_record: Callable[[MemoryRecord], None],
    threads: int | None = None,
) -> None:
    """Measure each case in a fresh child and hand each record to ``on_record`` as it lands."""
    pool = fork_pool()
    try:
        for case in cases:
            try:
                record = pool.submit(measure_case, case.params(), threads).result()
            except BrokenProcessPool as exc:
                tracker = "torch.cuda" if case.device.startswith("cuda") else "memray"
                record = _record(case, "failed", None, f"memory worker died: {exc}", tracker)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = fork_pool()
            on_record(record)
    except BaseException:  # Ctrl-C, SIGTERM, a full disk: the case in flight must not outlive the pass
        stop_fork_server()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
