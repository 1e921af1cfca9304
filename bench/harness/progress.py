"""Progress of long work (cases of a pass, tiles of a streamed Jacobian): rich's live bar, or short lines.

On a terminal: rich's bar with the count, the current item, the elapsed time and an ETA, on
stderr, so that stdout keeps only results. Without one (CI, a pipe, a log file): one plain line
per tenth of the work and one at the end, so that a log stays a few lines long; a live bar would
be thousands of carriage returns there.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

STEPS = 10
"""Lines a non-interactive progress prints: one per tenth of the work."""


class Progress:
    """``progress(done, total, item)`` after each unit of work; ``close()`` (or ``with``) at the end."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, unit: str = "") -> None:
        self.label, self.total, self.unit = label, max(total, 0), unit
        self.done = 0
        self.start = time.monotonic()
        self._stream = stream or sys.stderr
        console = Console(file=self._stream)
        self._live: RichProgress | None = None
        self._printed_step = 0
        self._printed_done = -1
        if console.is_terminal:
            self._live = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[item]}", style="dim"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._task = self._live.add_task(escape(label), total=self.total or None, item="")
            self._live.start()

    def __call__(self, done: int, total: int | None = None, item: str = "") -> None:
        """``done`` of ``total`` units finished; ``item`` is what is being worked on now."""
        if total is not None:
            self.total = total
        self.done = done
        if self._live is not None:
            self._live.update(self._task, completed=done, total=self.total or None, item=escape(item))
            return
        step = STEPS * done // self.total if self.total else STEPS
        finished = done >= self.total and done != self._printed_done
        if (step > self._printed_step and step < STEPS) or finished:
            self._printed_step, self._printed_done = step, done
            self._line(item)

    def advance(self, item: str = "") -> None:
        self(self.done + 1, None, item)

    def _line(self, item: str) -> None:
        elapsed = time.monotonic() - self.start
        fraction = self.done / self.total if self.total else 1.0
        eta = f", ETA {elapsed / fraction * (1 - fraction):.0f} s" if 0 < fraction < 1 else ""
        unit = f" {self.unit}" if self.unit else ""
        last = f" ({item})" if item and self.done < self.total else ""
        print(
            f"{self.label}: {self.done}/{self.total}{unit}, {elapsed:.0f} s{eta}{last}",
            file=self._stream,
            flush=True,
        )

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
