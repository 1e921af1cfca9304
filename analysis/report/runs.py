"""Which runs a report shows and where it goes (``lbb report``, :mod:`lbb.commands.report`).

One run's report goes in ``RUN_DIR/report``; several runs are overlaid in
``reports/compare-<UTC time>``. A run's streamed headline pass (``DIR/headline``) is shown beside
it, and a report never writes into a run directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.rundir.directory import HEADLINE_DIR
from bench.rundir.fields import RecordError
from bench.rundir.records import read_run
from bench.rundir.store import RUN_FILE
from bench.usage import UsageError, default_run_dir


def check_paths(out: Path, history: Path | None, runs: Sequence[Path] = ()) -> None:
    """Refuse an ``--out`` that is a file, or that is (or resolves to, through ``..`` or a symlink)
    a run directory, and a ``--history`` that is a directory, before any work: a report never
    writes beside a run's files."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory for the report")
    where = out.resolve()
    if where in {run.resolve() for run in runs} or (where / RUN_FILE).exists():
        raise UsageError(f"--out {out} is a run directory ({where}); the report goes beside it, not into it")
    if history is not None and history.is_dir():
        raise UsageError(f"--history {history} is a directory, not a JSON Lines file")


def with_headlines(run_dirs: list[Path]) -> list[Path]:
    """The runs, each followed by the streamed headline pass its profile ran into ``DIR/headline``
    when that pass is complete: ``lbb report DIR`` shows what ``lbb bench`` showed."""
    runs = []
    for run_dir in run_dirs:
        runs.append(run_dir)
        streamed = run_dir / HEADLINE_DIR
        if streamed not in run_dirs and (streamed / RUN_FILE).exists():
            try:
                complete = read_run(streamed).status == "complete"
            except RecordError:
                complete = False  # an unreadable headline is left out, as lbb bench leaves it out
            if complete:
                runs.append(streamed)
    return runs


def default_out(run_dirs: list[Path]) -> Path:
    if len(run_dirs) == 1:
        return run_dirs[0] / "report"
    return default_run_dir("compare")
