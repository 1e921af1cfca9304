"""Result files on disk, written atomically: a reader sees the old file or the new one, whole.

Each write goes to a temporary file in the same directory, is flushed and fsynced, then
``os.replace``d over the target, so a run killed mid-write keeps every finished case.

A write that fails for lack of space or a device error raises ``RunFileError`` naming the file:
such a run stops, because every later case would be lost the same way, and nothing may count a
full disk as a failed case.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

RUNTIME_FILE = "runtime.json"
MEMORY_FILE = "memory.json"
RUN_FILE = "run.json"
RUN_FILES = (RUNTIME_FILE, MEMORY_FILE, RUN_FILE)
SCHEMA_VERSION = 1

FATAL_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "I/O error",
    errno.EROFS: "read-only file system",
}
"""Write errors that no later case can escape: they stop the run."""


class RunFileError(Exception):
    """A run file could not be written; ``status`` is what run.json should say, e.g. "failed: disk full"."""

    def __init__(self, path: Path, error: int, detail: str = "") -> None:
        self.path = Path(path)
        self.errno = error
        self.reason = FATAL_ERRNOS.get(error, os.strerror(error))
        self.status = f"failed: {self.reason}"
        super().__init__(f"cannot write {self.path}: {self.reason}" + (f" ({detail})" if detail else ""))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (no rounding: floats keep full precision)."""
    path = Path(path)
    try:
        _write(path, data)
    except OSError as exc:
        if exc.errno in FATAL_ERRNOS:
            raise RunFileError(path, exc.errno, exc.strerror or str(exc)) from exc
        raise


def _write(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be read and shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
