"""``lbb gpucheck --out DIR``: the whole GPU half in one prepared call, within a budget.

Made for a bare GPU machine that is lent for minutes: a plain checkout on ``PYTHONPATH``, the
machine's own python and packages (torch, pytest-benchmark, pandas, numba…), no memray, no
nox, no network, and a few files brought back. In order, each part within what is left of
``--budget-s`` (default 6 minutes), each recorded as ran, skipped (with why) or failed:

1. say what it found: torch, the device, its memory, SM count, L2, driver and SM clock (one
   line), and the machine facts into ``DIR/gpucheck.json``;
2. **roofs** on the device: GEMM per dtype, copy bandwidth;
3. **the headline** (``python -m bench.headline --dw full``): dY/dX and dY/dW streamed in full
   at the target, in ``DIR/headline``;
4. **the dense bfloat16 dY/dX at the target** (128 GiB), allocated, filled, contracted with
   vec(dY) and checked against the float64 formula, when free device memory allows; otherwise
   skipped with the bytes it needs and the bytes there are. Timed with CUDA events, a warm-up and
   the SM clock (``bench.harness.cudatime``), with its peak and its fraction of the copy roof;
5. **a sweep** (``python -m bench``, profile ``gpu`` on CUDA): every method, runtime and memory
   (torch.cuda peaks against the cost model), in ``DIR/sweep``, with what is left of the budget;
6. one archive ``DIR/gpucheck-<time>.tar.gz`` of everything, to bring back as a single file:
   ``tar xzf`` it and give ``sweep`` and ``headline`` to ``lbb report`` beside a CPU run.

The order is by value for a machine lent once: the full-size results only a GPU can give come
first, and the sweep, which a partial run still leaves readable, takes the rest.
A part that would start with too little budget left is skipped with that reason; a child that
runs past its share gets SIGTERM, so its run directory ends "interrupted" and stays readable.
``--device cpu`` runs the same code on the CPU (the tests do, at tiny sizes); there a host
memory pass needs memray, so without it the sweep runs its runtime pass only and says so.
Exit status: 0 every part ran or was skipped with its reason, 1 a part failed, 2 bad input,
130/143 Ctrl-C/SIGTERM (the summary and the archive are still written).
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.costs import input_bytes, jacobian_bytes, output_bytes
from bench.harness.cudatime import time_rounds
from bench.harness.gpustate import sm_clock
from bench.harness.machine import gpu_info
from bench.harness.parts import PartLogError, child_part, in_process
from bench.harness.peak import no_tracker_reason
from bench.profiles import TARGET
from bench.rundir.ending import RunStoppedError, run_ending
from bench.rundir.store import RunFileError, write_json_atomic
from bench.units import format_bytes
from bench.usage import UsageError, stamp

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = "gpucheck.json"
DEFAULT_BUDGET_S = 360.0
ROOFS_SHARE = 0.2
"""The share of the budget the roofs may use (seconds on a GPU; 10 s on a 2-core CPU)."""
HEADLINE_SHARE = 0.5
"""The share of the budget left when it starts that the headline may use (on an H200 by estimate 30 s
of it is needed: start-up, roofs, 8 s of dY/dW); the sweep then has all but :data:`RESERVE_S`."""
RESERVE_S = 15.0
"""Seconds kept back from the sweep for the summary and the archive."""
DENSE_SHARE = 0.5
"""The share of what is left (less :data:`RESERVE_S`) that the dense case may use; the sweep gets the rest."""
EXIT_PART_CUT = 3
"""Exit status when every part ran or was skipped but one ran past its share and was stopped
(its partial record is in the archive)."""
DENSE_ROUNDS = 3
PARTS = ("roofs", "headline", "dense_bfloat16", "sweep")
HEADROOM_BYTES = 2**30
"""Free memory the dense case leaves untouched (the CUDA context's and the allocator's own
blocks): 128 GiB of bfloat16 dY/dX fits an H200's 139 GiB with room to spare, a 10% margin would not."""


@dataclass(frozen=True)
class CheckOptions:
    """The check's validated choices (:mod:`lbb.commands.gpucheck` parses them)."""

    out: Path
    """Absolute: the children run in the checkout, where a relative path would land."""
    device: str = "cuda"
    budget_s: float = DEFAULT_BUDGET_S
    profile: str = "gpu"
    target: tuple[int, int, int] = TARGET
    dense_target: tuple[int, int, int] = TARGET


def prepare_out(out: Path) -> None:
    """``--out`` made, empty and writable, or UsageError (one line) before any part runs."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise UsageError(f"--out {out} is not empty; choose another")
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"cannot use --out {out}: {exc.strerror or exc}") from None


def found(device: str) -> tuple[str, dict[str, Any]]:
    """One line on what this machine is, and the facts that go into the summary."""
    facts: dict[str, Any] = {"torch": torch.__version__, "python": sys.version.split()[0], "device": device}
    if device == "cuda":
        (gpu, *_) = gpu_info()
        facts |= {"gpu": gpu, "cuda": torch.version.cuda}
        line = (
            f"{gpu['name']}, {format_bytes(gpu['memory_bytes'], False)}, {gpu['sm_count']} SMs, "
            f"L2 {format_bytes(gpu['l2_bytes'] or 0, False)}, driver {gpu['driver']}, "
            f"SM clock {_mhz(gpu['sm_clock'])} now, compute mode {gpu['compute_mode'] or '?'}"
        )
    else:
        import psutil

        facts |= {"memory_bytes": int(psutil.virtual_memory().total), "cores": os.cpu_count()}
        line = f"CPU ({os.cpu_count()} cores, {format_bytes(int(psutil.virtual_memory().total), False)})"
    return f"gpucheck: torch {torch.__version__} on {line}", facts


def _mhz(clock: dict[str, Any] | None) -> str:
    return f"{clock['sm_mhz']} of {clock['max_sm_mhz']} MHz" if clock else "? MHz"


def _child_env() -> dict[str, str]:
    return dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def _child(parts: dict[str, Any], name: str, command: list[str], allowed: float, out: Path) -> dict[str, Any]:
    """A part run as a child of the checkout (``ROOT`` first on its PYTHONPATH; every path absolute)."""
    try:
        return child_part(parts, name, command, allowed, out / f"{name}.log", env=_child_env(), cwd=ROOT)
    except PartLogError as exc:
        raise RunStoppedError(str(exc)) from None


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """The check's own file writes: an error is one line naming the file, and exit status 2."""
    try:
        yield
    except OSError as exc:
        raise RunStoppedError(f"cannot write {path}: {exc.strerror or exc}") from None


def dense_dydx(
    device: str, dtype: str, target: tuple[int, int, int], copy_gbps: float | None
) -> dict[str, Any]:
    """The dense dY/dX at ``target``: allocated, filled, contracted with vec(dY), checked, timed."""
    from bench.cases import Case
    from bench.inputs import TOLERANCE, dx_relative_error, make_inputs
    from bench.methods import fill_dydx

    n, d, m = target
    jacobian = jacobian_bytes(n, d, m, dtype)[0]
    need = jacobian + input_bytes(n, d, m, dtype) + output_bytes(n, d, m, dtype)
    if device == "cuda":
        torch.cuda.empty_cache()  # the roofs' cached blocks count as used until given back
        free = int(torch.cuda.mem_get_info()[0])
    else:
        import psutil

        free = int(psutil.virtual_memory().available)
    if need + HEADROOM_BYTES > free:
        return {
            "status": "skipped",
            "reason": f"needs {format_bytes(need)}, there are {format_bytes(free)} free",
        }
    case = Case("explicit-torch", "warm", device, dtype, n, d, m)
    X, W, dY = make_inputs(case)
    vec = dY.reshape(-1)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    buffer = torch.empty(n * m * n * d, dtype=getattr(torch, dtype), device=device)

    def run() -> torch.Tensor:
        jac = fill_dydx(W, n, buffer)  # every entry written: zeros, then the blocks of Wᵀ
        return torch.mv(jac.t(), vec)  # and read once

    timing = time_rounds(run, device, DENSE_ROUNDS, working_set_bytes=jacobian)
    dX = run().reshape(n, d)
    error = dx_relative_error(dX, (X, W, dY))
    peak = int(torch.cuda.max_memory_allocated() - before) if device == "cuda" else None
    best = min(timing["seconds"])
    effective = 2 * jacobian / best / 1e9
    result = {
        "status": "ran" if error <= TOLERANCE[dtype] else "failed",
        "case": f"dense dY/dX [{device}-{dtype}-N{n}-D{d}-M{m}]",
        "jacobian_bytes": jacobian,
        "seconds": timing["seconds"],
        "timing": {k: v for k, v in timing.items() if k != "seconds"},
        "max_rel_error": error,
        "tolerance": TOLERANCE[dtype],
        "peak_bytes": peak,
        "peak_tracker": "torch.cuda" if peak is not None else "none (no host tracker here)",
        "effective_gbps": effective,
        "copy_roof_gbps": copy_gbps,
        "of_copy_roof": effective / copy_gbps if copy_gbps else None,
    }
    if result["status"] == "failed":
        result["reason"] = f"dX relative error {error:.3g} above {TOLERANCE[dtype]:.3g}"
    return result


def archive(out: Path) -> Path:
    """One .tar.gz of everything under ``out`` (but earlier archives): a single file to bring back."""
    path = out / f"gpucheck-{stamp()}.tar.gz"
    with tarfile.open(path.with_suffix(".part"), "w:gz") as tar:
        for item in sorted(out.iterdir()):
            if not item.name.endswith((".tar.gz", ".part")):
                tar.add(item, arcname=item.name)
    path.with_suffix(".part").rename(path)
    return path


def run(args: CheckOptions) -> int:
    """Every part within the budget; the summary's status set by ``bench.rundir.ending`` however
    the check ends, and the archive written whatever happened before it."""
    deadline = time.monotonic() + args.budget_s
    line, facts = found(args.device)
    print(line, flush=True)
    summary: dict[str, Any] = {"machine": facts, "budget_s": args.budget_s, "status": "running", "parts": {}}

    def save() -> None:
        with writing(args.out / SUMMARY):
            write_json_atomic(args.out / SUMMARY, summary)

    def mark(status: str) -> bool:
        if summary["status"] != "running":
            return False
        for name in PARTS:  # every part has a status, those never reached too
            summary["parts"].setdefault(
                name, {"status": "skipped", "reason": "not reached: the check ended first"}
            )
        summary["status"] = status
        with suppress(RunStoppedError, RunFileError):
            save()
        return True

    try:
        with run_ending("gpucheck", mark, "the summary and the archive keep what finished") as ending:
            save()
            ending.exit_status = _parts(args, summary["parts"], save, deadline)
            summary["sm_clock_after"] = sm_clock() if args.device == "cuda" else None  # beside "before"
            summary["status"] = "complete"
            save()
    finally:
        archived = _archive_or_say(args.out)
    return ending.exit_status if archived or ending.exit_status not in (0, 1, EXIT_PART_CUT) else 2


def _parts(args: CheckOptions, parts: dict[str, Any], save: Callable[[], None], deadline: float) -> int:
    """Run the parts in order, each within its share of what is left; the exit status they give."""
    in_process(parts, "roofs", lambda: _roofs(args.device), ROOFS_SHARE * _left(deadline))
    _say("roofs", parts["roofs"])
    save()
    target = ",".join(map(str, args.target))
    headline = [sys.executable, "-m", "bench.headline", "--device", args.device, "--target", target]
    headline += ["--dw", "full", "--out", str(args.out / "headline")]
    _say("headline", _child(parts, "headline", headline, HEADLINE_SHARE * _left(deadline), args.out))
    save()
    copy = parts["roofs"].get("copy", {}).get("gbps")
    dense = in_process(
        parts,
        "dense_bfloat16",
        lambda: dense_dydx(args.device, "bfloat16", args.dense_target, copy),
        DENSE_SHARE * (_left(deadline) - RESERVE_S),
    )
    print(f"gpucheck: dense bfloat16 dY/dX {dense['status']}: " + _dense_line(dense), flush=True)
    save()
    sweep = [sys.executable, "-m", "bench", "--profile", args.profile, "--device", args.device]
    sweep += ["--out", str(args.out / "sweep")]
    no_tracker = no_tracker_reason(args.device)
    if no_tracker:
        sweep += ["--passes", "runtime"]
        parts["sweep_memory"] = {"status": "skipped", "reason": no_tracker}
    _say("sweep", _child(parts, "sweep", sweep, _left(deadline) - RESERVE_S, args.out))
    statuses = {part.get("status") for part in parts.values()}
    return 1 if "failed" in statuses else EXIT_PART_CUT if "interrupted" in statuses else 0


def _archive_or_say(out: Path) -> bool:
    """Write the archive and say where it is, or say in one line why it could not be written."""
    try:
        path = archive(out)
    except (OSError, tarfile.TarError) as exc:
        print(
            f"gpucheck: error: cannot write the archive in {out}: {getattr(exc, 'strerror', None) or exc}",
            file=sys.stderr,
        )
        return False
    print(f"gpucheck: archive {path} ({format_bytes(path.stat().st_size, False)})", flush=True)
    return True


def _roofs(device: str) -> dict[str, Any]:
    """GEMM per dtype and copy bandwidth on the device (a CPU's half-precision GEMM is too slow to roof)."""
    from bench.harness.roofs import copy_roof, gemm_roof

    dtypes = ("float32", "bfloat16", "float16") if device == "cuda" else ("float32",)
    return {"gemm": {t: gemm_roof(device, t) for t in dtypes}, "copy": copy_roof(device)}


def _say(name: str, part: dict[str, Any]) -> None:
    why = f": {part['reason']}" if part.get("reason") else ""
    took = f" in {part['seconds']:.0f} s" if "seconds" in part else ""
    print(f"gpucheck: {name} {part['status']}{took}{why}", flush=True)


def _dense_line(dense: dict[str, Any]) -> str:
    if "seconds" not in dense or not isinstance(dense["seconds"], list):
        return dense["reason"]
    roof = f", {dense['of_copy_roof']:.0%} of the copy roof" if dense.get("of_copy_roof") else ""
    return (
        f"{min(dense['seconds']):.3f} s, {dense['effective_gbps']:.1f} GB/s{roof}, "
        f"dX relative error {dense['max_rel_error']:.2e}"
    )


if __name__ == "__main__":  # python -m bench.gpucheck: the command (lbb gpucheck)
    from lbb.commands.gpucheck import main

    sys.exit(main())
