"""One way out, one status: however a run ends, its status says how.

pytest writes a session's outcome in one hook (``pytest_sessionfinish``) whatever ended the
session; :func:`run_ending` is that for a run directory. The sweep, the headline and the GPU check
each wrap their whole run in it once the directory is theirs, and it turns every way out into
one status and one exit status:

- the block returns: the run has written "complete" itself, with its figures; a status still
  "running" then means it stopped early, and it becomes ``failed: stopped before the end (exit N)``;
- Ctrl-C: "interrupted", exit 130; SIGTERM: "interrupted", 143; a broken pipe (the reader of
  its output went away, ``lbb bench | head -1``): "interrupted", 141, the shell's status for
  SIGPIPE, and stdout is pointed at /dev/null so that nothing else fails on it;
- a run file that cannot be written: ``failed: disk full`` and the like, exit 2;
- :class:`RunStoppedError` (a part stopped the run, with its reason): ``failed: <reason>``, its exit status;
- anything else: ``failed: <the exception in one line>``, and the exception goes on (a
  traceback and exit 1: it is a bug).

Only a status that still says "running" is changed (a run already "complete" stays so), and it is
written with SIGINT and SIGTERM blocked, so a second Ctrl-C cannot stop it half-way. "running" is
then seen only while its writer lives, or after a SIGKILL, which no process can catch; a reader
tells those apart by the run's lock (:func:`bench.rundir.lock.lock_is_free`).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.harness.children import TerminatedError
from bench.rundir.records import mark_status
from bench.rundir.store import RunFileError

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for a writer whose reader went away."""
EXIT_FAILED = 2


class RunStoppedError(Exception):
    """A part of the run stopped it, with a reason for its status and an exit status."""

    def __init__(self, reason: str, exit_status: int = EXIT_FAILED) -> None:
        super().__init__(reason)
        self.exit_status = exit_status


@dataclass
class Ending:
    """How the run ended: the block sets ``exit_status`` when it returns; the rest is set here."""

    exit_status: int = 0
    status: str | None = None
    """The status written on the way out; None when the run had written its own."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and first line of message, at most 200 characters."""
    text = traceback.format_exception_only(exc)[-1].strip().splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."


def outcome(exc: BaseException) -> tuple[str, int, str] | None:
    """(status, exit status, console line) for an exception that ends a run; None for a bug."""
    if isinstance(exc, KeyboardInterrupt):  # the headline's InterruptedPassError says how far it got
        terminated = getattr(exc, "terminated", isinstance(exc, TerminatedError))
        detail = str(exc) if type(exc) not in (KeyboardInterrupt, TerminatedError) else ""
        said = detail or ("terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)")
        return "interrupted", EXIT_TERMINATED if terminated else EXIT_INTERRUPTED, said
    if isinstance(exc, BrokenPipeError):
        return "interrupted", EXIT_BROKEN_PIPE, "broken pipe: the reader of its output went away"
    if isinstance(exc, RunFileError):
        return exc.status, EXIT_FAILED, f"error: {exc}; the run stopped"
    if isinstance(exc, RunStoppedError):
        return f"failed: {exc}", exc.exit_status, f"error: {exc}"
    return None


def run_json(run_dir: Path) -> Callable[[str], object]:
    """The mark for a run directory: its run.json's status, if it still says "running"."""
    return lambda status: mark_status(run_dir, status)


@contextmanager
def run_ending(prog: str, mark: Callable[[str], object], hint: str = "") -> Iterator[Ending]:
    """Run the ``with`` block as a run whose status ``mark`` sets (only over "running").

    A known ending (interrupt, broken pipe, a run file that cannot be written, :class:`RunStoppedError`)
    is printed as one line, ``<prog>: <what>; <hint>``, and not raised further: its exit status is
    in the yielded :class:`Ending`. Any other exception is recorded and raised again.
    """
    ending = Ending()
    try:
        yield ending
    except BaseException as exc:
        known = outcome(exc)
        ending.status = known[0] if known else f"failed: {one_line(exc)}"
        _mark(mark, ending.status)
        if known is None:
            raise
        ending.exit_status = known[1]
        if isinstance(exc, BrokenPipeError):
            _silence_stdout()
        with suppress(OSError):
            print(f"{prog}: {known[2]}" + (f"; {hint}" if hint else ""), file=sys.stderr, flush=True)
    else:
        ending.status = f"failed: stopped before the end (exit {ending.exit_status})"
        if not _mark(mark, ending.status):
            ending.status = None


def _mark(mark: Callable[[str], object], status: str) -> bool:
    """Set the status with SIGINT and SIGTERM held back (delivered right after)."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        return bool(mark(status))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's last flush would fail on the broken pipe."""
    with suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
