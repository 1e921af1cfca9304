"""Children die with the run that started them: no writer outlives its parent.

A pytest child left running by a killed parent once went on writing runtime.json (35 → 58 cases
in 25 s) while a ``--resume`` started a second writer on the same file. So:

- each child family runs in its own process group (the runtime pass's pytest child, and the
  memory pass's fork server with every case it forks), and every live group is SIGKILLed when
  the parent leaves: on return or exception (``supervised``), at interpreter exit (atexit), and
  on SIGTERM, which is turned into an exception so that the same cleanup and "interrupted"
  record run;
- on Linux every child also asks the kernel for ``PR_SET_PDEATHSIG`` = SIGKILL, because a
  SIGKILLed parent runs no cleanup at all.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from multiprocessing import forkserver
from types import FrameType
from typing import IO

PR_SET_PDEATHSIG = 1
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
"""libc's prctl, resolved once at import: a child between fork and exec (``run_in_own_group``'s
``preexec_fn``) then makes one C call and never takes the dynamic loader's lock, which another
thread of the parent may have held at the fork."""

_GROUPS: set[int] = set()


class TerminatedError(KeyboardInterrupt):
    """SIGTERM, raised where the run is, so that it is handled like Ctrl-C."""


def die_with_parent(parent_pid: int | None = None) -> None:
    """Have Linux SIGKILL this process when its parent dies (a no-op elsewhere).

    ``parent_pid`` closes the race where the parent died before the request was made: then this
    process has been re-parented already and kills itself at once.
    """
    if _PRCTL is None or _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


PARENT_ENV = "LBB_FORK_SERVER_PARENT"
"""Set by the run before it starts the fork server, and by the server for the cases it forks:
the pid each of them must outlive. A process that starts while its parent is being killed may
already have been re-parented when it asks for PR_SET_PDEATHSIG; comparing with this pid tells."""


def die_with_parent_here() -> None:
    """``die_with_parent`` checked against the pid in ``PARENT_ENV`` (fork server and its cases)."""
    expected = os.environ.get(PARENT_ENV, "")
    die_with_parent(int(expected) if expected.isdigit() else os.getppid())


def expect_to_be_parent() -> None:
    """Children started from here on (through the environment they inherit) die with this process."""
    os.environ[PARENT_ENV] = str(os.getpid())


def adopt(pgid: int) -> None:
    """Kill process group ``pgid`` if the parent leaves before ``release(pgid)``."""
    _GROUPS.add(pgid)


def release(pgid: int) -> None:
    """The group's leader has been reaped: forget it, so that a reused id is never killed."""
    _GROUPS.discard(pgid)


def kill_adopted() -> None:
    """SIGKILL every adopted group."""
    for pgid in list(_GROUPS):
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _GROUPS.discard(pgid)


def kill_groups() -> None:
    """SIGKILL every adopted group, and the memory pass's fork server with its children."""
    kill_adopted()
    stop_fork_server()


def stop_fork_server() -> None:
    """Kill multiprocessing's fork server and the children it forked, and reset it.

    The server puts itself in its own group (``bench.harness.forkserver_group``), so its pid is the
    group id. ``_stop`` (private) reaps it and clears its state, so the next pool starts a fresh
    server instead of connecting to a dead one.
    """
    server = forkserver._forkserver
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        break
    try:
        server._stop()
    except (ChildProcessError, OSError):
        server._forkserver_pid = None


TERM_GRACE_S = 5.0
"""How long a child group gets after SIGTERM to record that it was interrupted, before SIGKILL."""


def run_in_own_group(
    command: Sequence[str],
    env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    stdout: IO[str] | None = None,
    *,
    stderr: IO[str] | int | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
) -> int:
    """Run ``command`` in a process group of its own that cannot outlive this process; its exit status.

    The group is adopted (killed on any way out of :func:`supervised`), the child asks Linux to
    SIGKILL it when this process dies, and when this process leaves early (Ctrl-C, SIGTERM, an
    exception, or ``timeout`` seconds gone, which raises ``subprocess.TimeoutExpired``) the group
    first gets SIGTERM, so that a child which records its own status (the headline pass, a sweep)
    ends "interrupted" rather than "running", then SIGKILL after :data:`TERM_GRACE_S`.
    """
    parent = os.getpid()
    with subprocess.Popen(
        list(command),
        env=env,
        cwd=cwd,
        process_group=0,
        pass_fds=tuple(pass_fds),
        stdout=stdout,
        stderr=stderr,
        preexec_fn=lambda: die_with_parent(parent),
    ) as child:
        adopt(child.pid)
        try:
            return child.wait(timeout=timeout)
        finally:
            if child.poll() is None:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGTERM)
                with suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=TERM_GRACE_S)
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            release(child.pid)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise TerminatedError(f"signal {signum}")


_ATEXIT = False


@contextmanager
def supervised() -> Iterator[None]:
    """Run a command so that its children cannot outlive it; SIGTERM raises TerminatedError."""
    global _ATEXIT
    if not _ATEXIT:
        atexit.register(kill_groups)
        _ATEXIT = True
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main else None
    clean = False
    try:
        yield
        clean = True
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        kill_adopted()
        if not clean:
            stop_fork_server()
