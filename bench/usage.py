"""What every command shares: one usage error (one line, exit 2), one parser base, run-directory names,
and the parsing of a comma-separated list of names (``--methods``, ``--passes``), for the sweep
and the gate alike.

asv has one ``Command`` base for its subcommands and pytest-benchmark one CLI; here each
``python -m`` entry point had its own copy of a ``UsageError`` and a parser class, the UTC stamp
of a new run directory was written five times and ``--target`` parsed twice. They live here,
in the lowest layer, so that bench/ and analysis/ both use them.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from bench.costs import jacobian_bytes
from bench.harness.budget import MAX_BYTES

EXIT_OK, EXIT_WORSE, EXIT_USAGE = 0, 1, 2
"""0: done or passed; 1: a regression (or a case failed); 2: bad input, or a gate that compared too little."""


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting, so every command
    reports bad input the same way: one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def split_names(text: str, known: Sequence[str] | Mapping[str, object], what: str) -> tuple[str, ...]:
    """The listed names, each once, in the order given: ``--methods a,a`` runs a's cases once;
    UsageError naming the unknown ones and what is known."""
    items = tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    unknown = [item for item in items if item not in known]
    if unknown or not items:
        raise UsageError(f"unknown {what} {', '.join(unknown) or repr(text)}; choose from {', '.join(known)}")
    return items


def stamp() -> str:
    """UTC time as a run directory's name part: ``20261129T101530Z``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def default_run_dir(kind: str) -> Path:
    """``reports/<UTC time>-<kind>``: where a run goes when ``--out`` is not given."""
    return Path("reports") / f"{stamp()}-{kind}"


def parse_target(text: str, option: str = "--target") -> tuple[int, int, int]:
    """``"64,4096,4096"`` → (64, 4096, 4096); UsageError for anything else, or an absurd size."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"{option} must be three positive integers N,D,M, got {text!r}")
    n, d, m = (int(p) for p in parts)
    largest = max(jacobian_bytes(n, d, m, "float32"))
    if largest > MAX_BYTES:  # past that, byte and FLOP counts leave numpy's and pandas' 64-bit ints
        raise UsageError(
            f"{option} {n},{d},{m} makes a Jacobian of {largest:.3g} bytes; targets beyond 1 EiB are refused"
        )
    return n, d, m
