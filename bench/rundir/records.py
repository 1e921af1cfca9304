"""The run directory's formats, owned in one place: typed records, each read and written here.

Why one owner (asv's ``Results`` is the model): a format known only through string keys spread
over writers and readers drifts, and a value nobody checks turns into silently wrong output (a
median of -1 reported as a time, a memory status "exploded" shown as ok). So every record has
one ``to_json`` and one ``from_json``, and ``from_json`` checks every field it reads: types,
ranges (times positive and finite, peaks positive whole numbers when measured, counts >= 0),
known statuses, and the run's schema version. Anything wrong raises ``RecordError`` with one
line naming the file and the field, e.g.
``runs/x/memory.json: record 3 (explicit-torch-warm[cpu-float32-N16-D64-M64]): status 'exploded'
is not one of ok, skipped, failed``.

Files: ``run.json`` (``RunMeta``: ``read_run`` and ``write_run_meta`` are its only reader and
writer), ``memory.json`` (a list of ``MemoryRecord``), and ``runtime.json``, which stays
pytest-benchmark's own format so that ``pytest-benchmark compare`` reads it: ``TimingEntry`` is
one of its benchmark entries, kept whole, with the fields this project reads checked. The
runtime pass's pytest child writes that file through pytest-benchmark's own hook
(``bench.sweep.runtime_plugin``); the headline and the synthetic test runs write it here.

The records live in one module per file (``run_meta``, ``memory``, ``timings``; the counts they
share in ``counts``); this module exports them all, so ``from bench.rundir.records import X``
holds.
"""

from __future__ import annotations

from bench.rundir.counts import CASE_FIELDS, COUNT_FIELDS
from bench.rundir.fields import RecordError
from bench.rundir.memory import MEMORY_STATUSES, TRACKERS, MemoryRecord, read_memory, write_memory
from bench.rundir.run_meta import (
    DEVICE_STATUSES,
    DEVICES,
    PASSES,
    RUN_STATUSES,
    Options,
    RunMeta,
    mark_status,
    read_run,
    write_run_meta,
)
from bench.rundir.timings import (
    NOT_TIMED_STATUSES,
    NotTimed,
    TimingEntry,
    Timings,
    read_timings,
    write_timings,
)

__all__ = [
    "CASE_FIELDS",
    "COUNT_FIELDS",
    "DEVICES",
    "DEVICE_STATUSES",
    "MEMORY_STATUSES",
    "NOT_TIMED_STATUSES",
    "PASSES",
    "RUN_STATUSES",
    "TRACKERS",
    "MemoryRecord",
    "NotTimed",
    "Options",
    "RecordError",
    "RunMeta",
    "TimingEntry",
    "Timings",
    "mark_status",
    "read_memory",
    "read_run",
    "read_timings",
    "write_memory",
    "write_run_meta",
    "write_timings",
]
