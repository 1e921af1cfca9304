"""One side of an A/B: a server that forks a fresh child per measurement, of time or of peak bytes.

Started by :mod:`bench.abtest.runner` as ``python -P bench/abtest/worker.py`` with ``PYTHONPATH``
set to the side's source tree (the working tree, or a ``git worktree`` of the base commit), so
that ``import bench.methods`` loads *that side's* methods, while this file (the harness: inputs,
warm-up, timing loop, correctness check, peak tracking) is always the head's. That is the
decision behind the gate: one harness measures both sides, so a change to the harness cannot
pose as a change of the code under test, and a change to ``bench/methods/`` (or anything it
imports) shows up.

The worker therefore imports nothing from ``bench`` but the methods' public API, which has
been stable since the first commit: ``METHODS[name].backward(X, W, dY, workspace=...)``,
``METHODS[name].prepare(...)`` where it exists, and ``make_workspace(X, W, family)``. The peak is taken
by the head's :func:`bench.harness.peak.peak_of`, loaded from this file's own tree by path, so the gate
and the memory pass measure a peak the same way.

Protocol: one JSON request per line on stdin, one JSON line back on stdout, prefixed ``AB ``
(anything else a library prints there is ignored). A request's ``kind`` is ``time`` (rounds of
the prepared call, each round's seconds) or ``peak`` (one tracked call, its peak bytes). The
server imports torch and the side's methods once and does no computing itself; each request is
measured in a child forked from it, so no measurement inherits another's allocator state,
caches or lazy initialisation, at a fraction of a fresh interpreter's start-up cost. Server and
children ask the kernel to kill them when their parent dies (``PR_SET_PDEATHSIG``), so a killed
gate leaves no process behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

PREFIX = "AB "
HEAD_PEAK = Path(__file__).resolve().parents[1] / "harness" / "peak.py"
WARM_UP_GEMM = 256
"""Edge of the square GEMM a peak child runs before tracking, as the memory pass does: the BLAS
allocates its process-lifetime buffers (OpenBLAS takes ~32 MiB on first use) outside the window."""


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent exits (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _reply(data: dict[str, Any]) -> None:
    sys.stdout.write(PREFIX + json.dumps(data) + "\n")
    sys.stdout.flush()


_PEAK: list[Any] = []


def _head_peak() -> Any:
    """The head's ``bench.harness.peak`` module, loaded by path (``bench`` on the path is the side's
    tree), once per server, before the first peak child is forked."""
    if _PEAK:
        return _PEAK[0]
    spec = importlib.util.spec_from_file_location("lbb_head_peak", HEAD_PEAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _PEAK.append(module)
    return module


def _inputs(request: dict[str, Any], n: int, d: int, m: int) -> tuple[Any, Any, Any]:
    """Seeded standard-normal X, W, dY: the same for both sides of a pair."""
    import numpy as np
    import torch

    rng = np.random.default_rng(request["seed"])
    wide = np.float64 if request["dtype"] == "float64" else np.float32
    arrays = [rng.standard_normal(shape, dtype=wide) for shape in ((n, d), (d, m), (n, m))]
    if request["backend"] == "numpy":
        return tuple(arrays)  # type: ignore[return-value]
    dtype = getattr(torch, request["dtype"])
    return tuple(torch.from_numpy(a).to(device=request["device"], dtype=dtype) for a in arrays)  # type: ignore[return-value]


def _relative_error(got: tuple[Any, Any], inputs: tuple[Any, Any, Any]) -> float:
    """Largest error of (dX, dW) against the float64 formula, relative to the largest entry."""
    import numpy as np
    import torch

    def wide(a: Any) -> Any:
        return a.detach().double() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float64)

    X, W, dY = (wide(a) for a in inputs)
    errors = []
    for value, want in ((got[0], dY @ W.T), (got[1], X.T @ dY)):
        scale = max(float(abs(want).max()), 1e-300)
        errors.append(float(abs(wide(value) - want).max()) / scale)
    return max(errors)


def _method(request: dict[str, Any]) -> Any:
    """The side's method, or None where the side lacks it or the variant asked for (a tree from
    before the method had ``variants`` had "cold" and "warm" exactly where it took a workspace)."""
    from bench.methods import METHODS  # the side's code under test

    method = METHODS.get(request["method"])
    if method is None:
        return None
    older = ("cold", "warm") if getattr(method, "uses_workspace", False) else ("",)
    return method if request["variant"] in getattr(method, "variants", older) else None


def _label(request: dict[str, Any]) -> str:
    variant = f"-{request['variant']}" if request["variant"] else ""
    return f"method {request['method']}{variant}"


def _workspace(request: dict[str, Any], inputs: tuple[Any, Any, Any]) -> Any:
    from bench.methods import METHODS, make_workspace

    if request["variant"] != "warm":
        return None
    try:  # a side from before the workspace knew its family (explicit was then the only one)
        return make_workspace(inputs[0], inputs[1], METHODS[request["method"]].family)
    except TypeError:
        return make_workspace(inputs[0], inputs[1])


def measure_time(request: dict[str, Any]) -> dict[str, Any]:
    """Check the side's result, warm up once, then time rounds; each round's seconds."""
    import torch

    method = _method(request)
    if method is None:
        return {"status": "missing", "reason": f"{_label(request)} is not in this tree"}
    inputs = _inputs(request, request["n"], request["d"], request["m"])
    workspace = _workspace(request, inputs)
    error = _relative_error(method.backward(*inputs, workspace=workspace), inputs)
    if not error <= request["tolerance"]:
        return {"status": "failed", "reason": f"wrong gradients: relative error {error:.3g}"}
    cuda = request["device"].startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if hasattr(method, "prepare"):
        prepared = method.prepare(*inputs, workspace=workspace)
        run, reset = prepared.run, prepared.reset
    else:  # an older tree: the whole call is timed

        def run() -> object:
            return method.backward(*inputs, workspace=workspace)

        def reset() -> None:
            return None

    reset()
    sync()
    run()  # warm-up: lazy initialisation and first-touch of reused memory are not timed
    sync()
    times: list[float] = []
    while len(times) < request["max_rounds"] and (
        len(times) < request["min_rounds"] or sum(times) < request["max_time"]
    ):
        reset()  # .grad = None for autograd; outside the timed region
        sync()
        start = time.perf_counter()
        run()
        sync()  # CUDA work is finished when the clock stops
        times.append(time.perf_counter() - start)
    return {"status": "ok", "times": times, "max_rel_error": error, "threads": torch.get_num_threads()}


def measure_peak(request: dict[str, Any]) -> dict[str, Any]:
    """One tracked call's peak bytes, after the memory pass's warm-up (a GEMM and a tiny call).

    The workspace of the warm variant is allocated inside the tracked window: it is the method's
    memory. The gradients are checked after the window, so a wrong answer is no peak.
    """
    method = _method(request)
    if method is None:
        return {"status": "missing", "reason": f"{_label(request)} is not in this tree"}
    a, b, _ = _inputs(request, WARM_UP_GEMM, WARM_UP_GEMM, WARM_UP_GEMM)
    _ = a @ b
    tiny = _inputs(request, 2, 3, 4)
    method.backward(*tiny, workspace=_workspace(request, tiny))
    inputs = _inputs(request, request["n"], request["d"], request["m"])
    result: list[Any] = []

    def run() -> None:
        result.append(method.backward(*inputs, workspace=_workspace(request, inputs)))

    peak = _head_peak().peak_of(run, request["device"])
    error = _relative_error(result[0], inputs)
    if not error <= request["tolerance"]:
        return {"status": "failed", "reason": f"wrong gradients: relative error {error:.3g}"}
    return {"status": "ok", "peak_bytes": peak, "max_rel_error": error}


MEASURES = {"time": measure_time, "peak": measure_peak}


def _in_child(request: dict[str, Any]) -> dict[str, Any]:
    """Run the request's measurement in a forked child; its result (or failure) comes back through a pipe."""
    if request.get("kind") == "peak":
        _head_peak()
        if not request["device"].startswith("cuda"):
            import memray  # noqa: F401  (once in the server, not in every child; never for CUDA)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        _die_with_parent()
        try:
            result = MEASURES[request.get("kind", "time")](request)
        except BaseException as exc:  # a failure is data with a reason
            result = {"status": "failed", "reason": traceback.format_exception_only(exc)[-1].strip()}
        with os.fdopen(write, "w") as handle:
            json.dump(result, handle)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as handle:
        text = handle.read()
    _, status = os.waitpid(pid, 0)
    if not text:
        return {"status": "failed", "reason": f"measuring child died (wait status {status})"}
    return json.loads(text)


def main() -> int:
    _die_with_parent()
    import torch

    import bench.methods

    threads = os.environ.get("LBB_AB_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    _reply({"ready": True, "methods_file": bench.methods.__file__, "methods": list(bench.methods.METHODS)})
    for line in sys.stdin:
        if line.strip():
            request = json.loads(line)
            _reply({"id": request["id"]} | _in_child(request))
    return 0


if __name__ == "__main__":
    sys.exit(main())
