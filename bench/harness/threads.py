"""The CPU thread count a profile pins, applied alike to the roofs, the runtime and the memory pass.

A profile with ``threads=None`` leaves every pool at its default (all cores). The quick profile
pins one thread: on a shared 2-core machine, torch's two OpenMP threads made back-to-back quick
runs of unchanged code differ by up to −48% and +90% in a method's normalised time (each
parallel region waits for its slowest thread, and a neighbour's load stalls one of the two),
while on one thread every method held within ±10% (docs/gate.md). The roofs
are measured on the same threads, so fractions of the roof stay comparable.

threadpoolctl is optional: a bare GPU machine has none (docs/gpu.md). Without it,
numpy's BLAS pool is pinned by the environment variables a child starts with
(:func:`thread_env`) but not inside a running process, and numpy's thread count reads as
unknown (None) rather than as a guess.

Every pool follows the CPUs the process may use (its affinity, ``os.sched_getaffinity``), not
the machine's count: :func:`clamp_numba_threads` holds ``NUMBA_NUM_THREADS`` to them, since
numba starts that many threads, and the compiled kernel a tile per thread, whatever the affinity
(``NUMBA_NUM_THREADS=8`` on 2 CPUs gave 8 threads and 8 tiles).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, nullcontext

import torch

from bench.errors import UsageError
from bench.hardware import usable_cpus

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # a bare GPU machine: torch and numba are still pinned
    threadpool_info = threadpool_limits = None

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
"""What torch's OpenMP pool, MKL, OpenBLAS and numba's pool (the compiled kernel) read when a
child process starts."""


NUMBA_VARIABLE = "NUMBA_NUM_THREADS"


def clamp_numba_threads(environ: MutableMapping[str, str] = os.environ) -> int | None:
    """``NUMBA_NUM_THREADS`` checked and held to the CPUs this process may use, in ``environ``
    (inherited by every child) and in numba if it is already loaded; the count, or None when unset.

    UsageError (one line, exit 2) for 0 or anything but a whole number: numba raises a traceback
    for 0 and silently ignores garbage. Called by each measuring command as it parses its options,
    before numba is imported."""
    text = environ.get(NUMBA_VARIABLE)
    if text is None:
        return None
    if not (text.strip().isascii() and text.strip().isdigit() and int(text) > 0):
        raise UsageError(f"{NUMBA_VARIABLE}={text!r}: must be a whole number of threads, 1 or more")
    threads = min(int(text), len(usable_cpus()))
    environ[NUMBA_VARIABLE] = str(threads)
    numba = sys.modules.get("numba")
    if numba is not None and numba.get_num_threads() > threads:
        numba.set_num_threads(threads)
    return threads


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
