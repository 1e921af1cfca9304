"""Every command's options, each defined once: its flag, help, default and validator.

An option is added with ``add_<name>(parser)``; its value is checked by an argparse ``type=``
function while the arguments are parsed, so a bad value stops the command before anything runs,
with one line worded here once (``unknown device 'tpu'; choose from cpu, cuda, all``) and the
exit status its error carries (:class:`bench.errors.UsageError`: 2). The validators raise
UsageError themselves rather than argparse's ArgumentTypeError, so the line reads the same as
every other bad input and not ``argument --device: ...``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.errors import UsageError
from bench.harness import budget as budgets
from bench.methods import METHODS
from bench.profiles import PROFILES, TARGET
from bench.rundir.lock import RunLockedError
from bench.rundir.records import DEVICES, PASSES
from bench.usage import REPORTS, Parser, check_path_length, parse_target, split_names

TARGET_TEXT = ",".join(map(str, TARGET))


def unknown(what: str, value: str, known: Sequence[str] | Mapping[str, object]) -> UsageError:
    """The one wording of a value outside its choices."""
    return UsageError(f"unknown {what} {value!r}; choose from {', '.join(known)}")


def cuda_missing() -> UsageError:
    """The one wording of ``--device cuda`` on a machine without CUDA."""
    import torch

    return UsageError(f"--device cuda asked for, but CUDA is not available (torch {torch.__version__})")


def one_of(what: str, known: Sequence[str] | Mapping[str, object]) -> Callable[[str], str]:
    """A ``type=`` validator: the value when it is one of ``known``."""

    def check(text: str) -> str:
        if text not in known:
            raise unknown(what, text, known)
        return text

    return check


def device_of(known: Sequence[str]) -> Callable[[str], str]:
    """A ``type=`` validator of ``--device``: one of ``known``, and CUDA present when it is ``cuda``."""
    choose = one_of("device", known)

    def check(text: str) -> str:
        import torch

        if choose(text) == "cuda" and not torch.cuda.is_available():
            raise cuda_missing()
        return text

    return check


def byte_size(option: str) -> Callable[[str], int]:
    """A ``type=`` validator of a memory size (``8GiB``, ``512MiB``, ``1000000``)."""

    def check(text: str) -> int:
        try:
            return budgets.parse_bytes(text)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None

    return check


def target(option: str) -> Callable[[str], tuple[int, int, int]]:
    def check(text: str) -> tuple[int, int, int]:
        return parse_target(text, option)

    return check


def path(option: str) -> Callable[[str], Path]:
    """A ``type=`` validator of a path the file system can name (``bench.usage.check_path_length``)."""

    def check(text: str) -> Path:
        return check_path_length(Path(text), option)

    return check


def seconds(option: str) -> Callable[[str], float]:
    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{option} must be a finite number of seconds > 0, got {value}")
        return value

    return check


def names(what: str, known: Sequence[str] | Mapping[str, object]) -> Callable[[str], tuple[str, ...]]:
    """A ``type=`` validator of a comma-separated list (``--methods``, ``--passes``), each name once."""

    def check(text: str) -> tuple[str, ...]:
        return split_names(text, known, what)

    return check


# --- the options -----------------------------------------------------------------------------------


def add_profile(parser: argparse.ArgumentParser, default: str | None = "default", help: str = "") -> None:
    shown = f" (default: {default})" if default else ""
    parser.add_argument(
        "--profile", type=one_of("profile", PROFILES), default=default,
        help=help or f"one of {', '.join(PROFILES)}{shown}",
    )  # fmt: skip


def add_device(
    parser: argparse.ArgumentParser, known: Sequence[str] = DEVICES, default: str = "all", help: str = ""
) -> None:
    parser.add_argument(
        "--device", type=device_of(known), default=default,
        help=help or f"{', '.join(known)} (default: {default}{' available' if default == 'all' else ''})",
    )  # fmt: skip


def add_methods(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--methods", type=names("method", METHODS), default=tuple(METHODS),
        help=f"comma-separated subset of: {', '.join(METHODS)} (default: all)",
    )  # fmt: skip


def add_passes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passes", type=names("pass", PASSES), default="runtime,memory",
        help="runtime, memory or both (default)",
    )  # fmt: skip


def add_out(parser: argparse.ArgumentParser, help: str, required: bool = False) -> None:
    parser.add_argument("--out", type=path("--out"), required=required, help=help)


def add_resume(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume", type=path("--resume"), metavar="DIR", help="finish an interrupted run in DIR"
    )


def add_memory_budget(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--memory-budget", type=byte_size("--memory-budget"), help=help)


def add_target(parser: argparse.ArgumentParser, option: str = "--target", help: str = "") -> None:
    parser.add_argument(
        option, type=target(option), default=TARGET_TEXT, help=help or f"N,D,M (default {TARGET_TEXT})"
    )


def add_dtype(parser: argparse.ArgumentParser, known: Sequence[str], default: str) -> None:
    parser.add_argument(
        "--dtype", type=one_of("dtype", known), default=default,
        help=f"one of {', '.join(known)} (default {default})",
    )  # fmt: skip


def add_budget_s(parser: argparse.ArgumentParser, default: float, help: str) -> None:
    parser.add_argument("--budget-s", type=seconds("--budget-s"), default=default, help=help)


# --- parsing and errors ------------------------------------------------------------------------------


def in_repository(path: Path) -> str:
    """A default path as help shows it: relative to the repository, so the help (and docs/cli.md,
    generated from it) reads the same in every checkout."""
    root = REPORTS.parent
    return f"{path.relative_to(root)} in the repository" if path.is_relative_to(root) else str(path)


def parser(command: str, description: str) -> Parser:
    """The parser of ``lbb COMMAND``: one-line errors (exit 2) and the ASCII console fallbacks."""
    return Parser(prog=f"lbb {command}", description=description)


ERRORS: tuple[type[Exception], ...] = (UsageError, RunLockedError)
"""What a command stops on before it runs: bad input and a locked run directory (exit 2)."""


def fail(command: str, error: Exception) -> int:
    """Say why ``command`` stopped in one line on stderr; the exit status its error carries."""
    print(f"{command}: error: {error}", file=sys.stderr)
    return getattr(error, "exit_status", 2)


def fraction(option: str, low: float = 0.0, high: float = math.inf) -> Callable[[str], float]:
    """A ``type=`` validator of a finite number in [low, high)."""

    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value < high):
            shown = f"≥ {low:g}" if high == math.inf else f"in [{low:g}, {high:g})"
            raise UsageError(f"{option} must be a finite number {shown}, got {text}")
        return value

    return check


def count(option: str, low: int, high: int) -> Callable[[str], int]:
    """A ``type=`` validator of a whole number from low to high."""

    def check(text: str) -> int:
        if not (text.strip().isascii() and text.strip().isdigit() and low <= int(text) <= high):
            raise UsageError(f"{option} must be a whole number from {low} to {high}, got {text}")
        return int(text)

    return check
