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
import codecs
import os
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from bench.costs import jacobian_bytes
from bench.errors import UsageError
from bench.harness.budget import MAX_BYTES

EXIT_OK, EXIT_WORSE, EXIT_USAGE = 0, 1, 2
"""0: done or passed; 1: a regression (or a case failed); 2: bad input, or a gate that compared too little."""


ASCII_FALLBACKS = {
    "×": "x",
    "·": "*",
    "–": "-",
    "—": "-",
    "−": "-",
    "…": "...",
    "÷": "/",
    "→": "->",
    "≥": ">=",
    "≤": "<=",
    "≈": "~",
    "±": "+-",
    "⊗": "(x)",
    "µ": "u",
    "∞": "inf",
    "✔": "ok",
    "✘": "x",
    "⚠": "!",
    "α": "alpha",
    "β": "beta",
}
"""What a console that cannot show a character gets instead; anything else is decomposed to its
ASCII letters (``²`` → ``2``, ``ᵀ`` → ``T``) or shown as ``?``."""


def _ascii(char: str) -> str:
    """``char`` in ASCII: a table's rules as ``-``, ``|`` and ``+``, a bar's blocks as ``#``."""
    if char in ASCII_FALLBACKS:
        return ASCII_FALLBACKS[char]
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        across, down = "HORIZONTAL" in name, "VERTICAL" in name
        return "-" if across and not down else "|" if down and not across else "+"
    if "BLOCK" in name or "SHADE" in name:
        return "#"
    return unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "?"


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(map(_ascii, error.object[error.start : error.end])), error.end


codecs.register_error("lbb-ascii", _ascii_fallback)


def ascii_fallbacks() -> None:
    """Let stdout and stderr write ``×`` as ``x`` (and so on) where their encoding cannot hold it
    (``PYTHONIOENCODING=ascii``, a C locale), instead of raising UnicodeEncodeError mid-run."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and codecs.lookup(stream.encoding or "ascii").name != "utf-8":
            reconfigure(errors="lbb-ascii")


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting, so every command
    reports bad input the same way: one line, exit 2. Every command parses its arguments first,
    so this is also where the console gets its ASCII fallbacks (:func:`ascii_fallbacks`)."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        ascii_fallbacks()
        return super().parse_args(args, namespace)

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


REPORTS = Path(__file__).resolve().parents[1] / "reports"
"""The repository's reports/ (git ignores the runs in it), wherever the command is started from:
a relative ``reports/`` put runs started in bench/ inside the package."""


def default_run_dir(kind: str) -> Path:
    """``<repository>/reports/<UTC time>-<kind>``: where a run goes when ``--out`` is not given."""
    return REPORTS / f"{stamp()}-{kind}"


def _shorten(path: str) -> str:
    return path if len(path) <= 80 else f"{path[:50]}...{path[-24:]} ({len(path)} characters)"


def check_path_length(path: Path, option: str = "--out") -> Path:
    """``path`` when the file system can name it; UsageError naming it when a component is longer
    than NAME_MAX (255 on Linux) or the whole past PATH_MAX (4096), before anything is made there.
    Without this check the sweep said "cannot lock None" and the headline raised UnboundLocalError."""
    whole = os.path.abspath(path)
    parent = Path(whole)
    while not os.path.exists(parent) and parent != parent.parent:  # never raises, unlike Path.exists
        parent = parent.parent
    try:
        name_max, path_max = os.pathconf(parent, "PC_NAME_MAX"), os.pathconf(parent, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    longest = max(Path(whole).parts, key=len)
    if len(os.fsencode(longest)) > name_max:
        raise UsageError(
            f"{option} {_shorten(str(path))}: a name of {len(longest)} characters, over {name_max}"
        )
    if len(os.fsencode(whole)) >= path_max:
        raise UsageError(f"{option} {_shorten(str(path))}: a path past this system's {path_max} bytes")
    return path


def parse_target(text: str, option: str = "--target") -> tuple[int, int, int]:
    """``"64,4096,4096"`` → (64, 4096, 4096); UsageError for anything else, or an absurd size."""
    parts = text.split(",")
    # isascii: str.isdigit accepts "²", which int() then refuses
    if len(parts) != 3 or not all(p.strip().isascii() and p.strip().isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"{option} must be three positive integers N,D,M, got {text!r}")
    n, d, m = (int(p) for p in parts)
    largest = max(jacobian_bytes(n, d, m, "float32"))
    if largest > MAX_BYTES:  # past that, byte and FLOP counts leave numpy's and pandas' 64-bit ints
        raise UsageError(
            f"{option} {n},{d},{m} makes a Jacobian of {largest:.3g} bytes; targets beyond 1 EiB are refused"
        )
    return n, d, m
