"""The CPU thread count a profile pins, applied alike to the roofs, the runtime and the memory pass.

A profile with ``threads=None`` leaves every pool at its default (all cores). The quick profile
pins one thread: on a shared 2-core machine, torch's two OpenMP threads made back-to-back quick
runs of unchanged code differ by up to −48% and +90% in a method's normalised time (each
parallel region waits for its slowest thread, and a neighbour's load stalls one of the two),
while on one thread every method held within ±10% (README, "Regression tracking"). The roofs
are measured on the same threads, so fractions of the roof stay comparable.

threadpoolctl is optional: a bare GPU machine has none (README, "The GPU half"). Without it,
numpy's BLAS pool is pinned by the environment variables a child starts with
(:func:`thread_env`) but not inside a running process, and numpy's thread count reads as
unknown (None) rather than as a guess.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # a bare GPU machine: torch and numba are still pinned
    threadpool_info = threadpool_limits = None

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
"""What torch's OpenMP pool, MKL, OpenBLAS and numba's pool (the compiled kernel) read when a
child process starts."""


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment variables that pin a child process's pools; empty for the default."""
    return {} if threads is None else dict.fromkeys(THREAD_VARIABLES, str(threads))


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[None]:
    """This process's torch and BLAS pools held at ``threads`` inside the block (None: unchanged)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    numba_before = _numba_threads()
    torch.set_num_threads(threads)
    if numba_before is not None:
        _set_numba_threads(threads)
    try:
        with threadpool_limits(limits=threads) if threadpool_limits is not None else nullcontext():
            yield
    finally:
        torch.set_num_threads(before)
        if numba_before is not None:
            _set_numba_threads(numba_before)


def _numba_threads() -> int | None:
    """numba's thread count, when this process has imported numba (the compiled kernel)."""
    numba = sys.modules.get("numba")
    return int(numba.get_num_threads()) if numba is not None else None


def _set_numba_threads(threads: int) -> None:
    """At most the pool numba started with (``NUMBA_NUM_THREADS``, default every core)."""
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def threads_in_use(backend: str) -> int | None:
    """The threads a backend computes on in this process: torch's intra-op pool or numpy's BLAS.

    Pinned runs hold numba's pool (the compiled kernel, numpy arrays) at the same count."""
    if backend == "torch":
        return torch.get_num_threads()
    if threadpool_info is None:
        return None
    blas = [
        pool["num_threads"]
        for pool in threadpool_info()
        if pool["user_api"] == "blas" and "numpy" in pool["filepath"]
    ]
    return blas[0] if blas else None
