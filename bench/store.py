"""Result files on disk, written atomically: a reader sees the old file or the new one, whole.

Each write goes to a temporary file in the same directory, is flushed and fsynced, then
``os.replace``d over the target, so a run killed mid-write keeps every finished case.
"""

from __future__ import annotations

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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (no rounding: floats keep full precision)."""
    path = Path(path)
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


def read_json(path: Path, default: Any = None) -> Any:
    """Parsed JSON from ``path``, or ``default`` when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return default
    with path.open() as handle:
        return json.load(handle)
