"""One writer per run directory: an exclusive ``fcntl.flock`` on ``DIR/.lock``, held start to finish.

Why flock rather than a PID file: the kernel drops the lock the moment every holder of the open
file is gone, however it died, so a lock file left by a killed run is taken over without guessing
whether its PID is still alive (PIDs are reused). The PID written into the file is only there to
name the holder in the refusal. The lock file is never removed: unlinking it while another
process waits on the old inode would let two runs each hold "the" lock.

The runtime pass's pytest child inherits the locked descriptor (``pass_fds``), so a child left
running by a killed parent still holds the lock and a ``--resume`` is refused until it is gone.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"


class RunLockedError(Exception):
    """The run directory cannot be locked: held by another live process, or no lock file can be
    made there (an unwritable directory). One line, exit status 2."""

    exit_status = 2


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


@contextmanager
def run_lock(run_dir: Path) -> Iterator[int]:
    """Hold ``run_dir``'s lock for the ``with`` block; yields the locked descriptor.

    Raises RunLockedError naming the holder's PID when another process holds it, or naming the
    error when the lock file cannot be created (an unwritable directory). Only the taking of the
    lock is caught here: an error of the ``with`` block is never reported as a lock error.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise RunLockedError(f"cannot lock {run_dir}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise RunLockedError(
                f"{run_dir} is in use by another run (PID {_holder(fd)}, or a child it started); "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)


def lock_is_free(run_dir: Path) -> bool | None:
    """Whether no process holds ``run_dir``'s lock now (None: no lock file, or it cannot be read).

    Taken with a shared lock and given back at once, so a reader never blocks a writer for long
    and never creates the file: a "running" run whose lock is free has lost its writer.
    """
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        return None
    finally:
        os.close(fd)
    return True
