"""The parts of a budgeted check (the GPU check's): each runs within its share of the budget and
is recorded with a status, whatever ends it.

- ``skipped``: less than :data:`MIN_PART_S` of its share was left, with how much;
- ``ran`` / ``failed``: it finished, or raised (in process) or exited non-zero (a child), with
  its reason: the exception, or the last line the child wrote;
- ``interrupted``: its share ran out (a child gets SIGTERM, then SIGKILL, so its run directory
  says "interrupted"; an in-process part is stopped by a timer between its operations), or the
  check itself was stopped by Ctrl-C or SIGTERM, which is then raised on.

Children run through :func:`bench.harness.children.run_in_own_group`: their own process group,
a death signal, SIGTERM before SIGKILL on any way out, so none outlives the check.
"""

from __future__ import annotations

import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.harness import children

MIN_PART_S = 10.0
"""A part with less than this left of its share is skipped, saying so: it could not finish."""


class PastShare(BaseException):
    """An in-process part's share of the budget is gone (raised by the timer, between operations).

    A BaseException, so that no ``except Exception`` of the part's own code takes it for a failure."""


def _alarm(signum: int, frame: Any) -> None:
    raise PastShare


def _skipped(allowed: float) -> dict[str, Any]:
    left = f"{max(allowed, 0):.1f} s of the budget left for it, under the {MIN_PART_S:.0f} s a part needs"
    return {"status": "skipped", "reason": left}


def _past_share(allowed: float, seconds: float) -> dict[str, Any]:
    return {
        "status": "interrupted",
        "reason": f"ran past its {allowed:.0f} s share of the budget",
        "seconds": seconds,
    }


def _stopped(exc: KeyboardInterrupt, seconds: float) -> dict[str, Any]:
    """The record of a part that Ctrl-C or SIGTERM stopped (its child, if any, had SIGTERM first)."""
    why = "SIGTERM" if isinstance(exc, children.TerminatedError) else "Ctrl-C"
    return {"status": "interrupted", "reason": f"the check was stopped ({why})", "seconds": seconds}


class PartLogError(Exception):
    """A part's log cannot be written: one line naming it (the check stops, as for its own files)."""


def child_part(
    parts: dict[str, Any],
    name: str,
    command: list[str],
    allowed: float,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """``command`` run as a child for at most ``allowed`` seconds, its output in ``log``; its
    record, also put in ``parts[name]`` (before Ctrl-C or SIGTERM is raised on)."""
    if allowed < MIN_PART_S:
        parts[name] = _skipped(allowed)
        return parts[name]
    start = time.monotonic()
    try:
        output = log.open("w")
    except OSError as exc:
        raise PartLogError(f"cannot write {log}: {exc.strerror or exc}") from None
    try:
        with output:
            status = children.run_in_own_group(
                command, env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd, timeout=allowed
            )
    except subprocess.TimeoutExpired:
        parts[name] = _past_share(allowed, time.monotonic() - start)
        return parts[name]
    except KeyboardInterrupt as exc:
        parts[name] = _stopped(exc, time.monotonic() - start)
        raise
    seconds = time.monotonic() - start
    if status != 0:
        reason = f"exit {status}: {last_line(log)} (see {log.name})"
        parts[name] = {"status": "failed", "reason": reason, "seconds": seconds}
    else:
        parts[name] = {"status": "ran", "seconds": seconds}
    return parts[name]


def last_line(log: Path) -> str:
    """The last non-empty line a child wrote: most often its error."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError as exc:
        return f"no log ({exc.strerror or exc})"
    return lines[-1][:300] if lines else "no output"


def in_process(
    parts: dict[str, Any], name: str, part: Callable[[], dict[str, Any]], allowed: float
) -> dict[str, Any]:
    """``part`` run in this process (main thread) for at most ``allowed`` seconds; its record, also
    put in ``parts[name]``. An exception becomes its "failed" record (the other parts still run),
    and its memory is given back to the device either way."""
    if allowed < MIN_PART_S:
        parts[name] = _skipped(allowed)
        return parts[name]
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, allowed)
    try:
        result = {"status": "ran"} | part()
    except PastShare:
        result = _past_share(allowed, time.monotonic() - start)
    except KeyboardInterrupt as exc:
        parts[name] = _stopped(exc, time.monotonic() - start)
        raise
    except Exception as exc:
        result = {"status": "failed", "reason": traceback.format_exception_only(exc)[-1].strip()[:300]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    parts[name] = result
    # Here the part's tensors are gone (the except block's traceback with them): give their
    # cached blocks back, or the next child (the sweep) would find the 128 GiB taken.
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result
