"""Every file the report writes (PNGs, their CSVs, index.html) goes through one atomic write.

On a full disk matplotlib used to leave a 0-byte PNG behind and the report died with a
traceback. Here each file is written to a temporary name in its own directory and renamed into
place, so a reader sees the old file or the whole new one, never a stub; a failure removes the
temporary file and says which file could not be written.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
}


class ReportWriteError(OSError):
    """A report file that could not be written; the message names it (one line, exit 2)."""


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is meant to be read and shared
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        reason = REASONS.get(exc.errno or 0, exc.strerror or str(exc))
        raise ReportWriteError(f"cannot write {path}: {reason} ({exc})") from exc
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return path
