"""``lbb trend``: the history over commits: record, push, pull, page, validate.

Its subcommands and their parser are :mod:`analysis.trend.cli`'s (``lbb trend --help``).
"""

from __future__ import annotations

from analysis.trend.cli import main as trend_main


def main(argv: list[str] | None = None) -> int:
    return trend_main(argv)
