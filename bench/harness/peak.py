"""Peak bytes of one call: memray on the host, torch.cuda statistics on a GPU. The one definition.

The memory pass (:mod:`bench.sweep.memory_pass`) and the memory A/B's worker (:mod:`bench.abtest.worker`)
both measure with this function, so a peak in a run and a peak in the gate mean the same thing.
The worker runs with the *side's* tree on ``PYTHONPATH`` and loads this file by path from the
head's tree, so it imports nothing from ``bench``; memray and torch are imported where they are
used, so that a process that never measures memory never loads memray.

memray counts Python objects one by one (``trace_python_allocators=True``): by default it sees
only pymalloc's 1 MiB arenas, so a case's peak jumped by 1 MiB whenever the object heap needed a
new arena inside the window (jacrev at N=2, D=M=8: 33 KiB in four runs of six, 1.0 MiB in the
other two); counted one by one, repeated runs agree within a few hundred bytes.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path


def no_tracker_reason(device: str) -> str | None:
    """Why this process cannot take a peak on ``device`` ("no memray here…"), or None when it can.

    memray is found, not imported: a bare GPU machine has none, and a process that never measures
    memory never loads it. A finder that refuses it (an import hook) counts as not there.
    """
    if device.startswith("cuda"):
        return None
    try:
        found = importlib.util.find_spec("memray") is not None
    except ImportError:
        found = False
    return None if found else "no memray here for host peaks"


def peak_of(run: Callable[[], None], device: str) -> int:
    """Peak bytes allocated while ``run()`` executes; only allocations made inside ``run`` count."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated() - before)
    import memray

    with tempfile.TemporaryDirectory(prefix="lbb-memray-") as scratch:
        path = Path(scratch) / "peak.memray"
        with memray.Tracker(path, native_traces=False, follow_fork=False, trace_python_allocators=True):
            run()
        return int(memray.FileReader(path).metadata.peak_memory)
