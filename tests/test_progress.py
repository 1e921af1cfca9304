"""Progress: short lines without a terminal, rich's live bar with one."""

from __future__ import annotations

import io

from bench.harness.progress import STEPS, Progress


def test_without_a_terminal_a_thousand_updates_print_one_line_per_tenth_and_one_at_the_end():
    stream = io.StringIO()
    with Progress("runtime pass", 1000, stream, unit="cases") as progress:
        for done in range(1, 1001):
            progress(done, item=f"case-{done}")
    lines = stream.getvalue().splitlines()
    assert len(lines) == STEPS
    assert (
        lines[0].startswith("runtime pass: 100/1000 cases, ")
        and "ETA" in lines[0]
        and "(case-100)" in lines[0]
    )
    assert lines[-1].startswith("runtime pass: 1000/1000 cases, ") and "ETA" not in lines[-1]


def test_advance_counts_one_unit_at_a_time_and_a_total_can_grow():
    stream = io.StringIO()
    progress = Progress("tiles", 4, stream)
    for _ in range(4):
        progress.advance()
    progress(5, 5)
    progress.close()
    assert progress.done == 5 and stream.getvalue().splitlines()[-1].startswith("tiles: 5/5")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_shows_count_and_current_item():
    stream = _Terminal()
    with Progress("memory pass", 3, stream) as progress:
        progress(2, item="formula-torch[cpu-float32-N4-D8-M8]")
    text = stream.getvalue()
    assert "memory pass" in text and "2/3" in text and "formula-torch[cpu-float32-N4-D8-M8]" in text
