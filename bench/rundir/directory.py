"""Where a run goes and on which devices: one helper for the sweep and the headline alike.

A run directory must be writable and hold no run yet (a run is never overwritten; the check is
repeated once the directory is locked, see :mod:`bench.rundir.lock`), and ``--device all`` means every
device present, with a reason recorded for each one left out.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from bench.rundir.store import RUN_FILES
from bench.usage import UsageError, default_run_dir

HEADLINE_DIR = "headline"
"""Where a profile with ``headline=True`` streams the full target Jacobians: a headline run of
its own (its own run.json, lock and files) inside the sweep's directory."""
CUDA_MISSING = "CUDA is not available on this machine (torch.cuda.is_available() is False)"


def refuse_existing_run(out: Path, hint: str = "choose another --out") -> None:
    """UsageError when ``out`` already holds a run: a run is never overwritten (``hint`` may name {out})."""
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held:
        raise UsageError(f"{out} already holds a run ({', '.join(held)}); {hint.format(out=out)}")


def prepare_run_dir(out: Path | None, kind: str, hint: str = "choose another --out") -> Path:
    """A writable run directory that holds no run yet: ``out``, or ``reports/<UTC time>-<kind>``."""
    if out is None:
        out = default_run_dir(kind)
    refuse_existing_run(out, hint)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"--out {out} is not writable: {exc.strerror or exc}") from None
    return out


def choose_devices(option: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Devices to run for ``--device cpu|cuda|all``, and a record for each one left out, with why."""
    if option in ("cpu", "cuda"):
        return [option], {}
    if torch.cuda.is_available():
        return ["cpu", "cuda"], {}
    return ["cpu"], {"cuda": {"status": "skipped", "reason": CUDA_MISSING}}
