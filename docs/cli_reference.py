"""Write docs/cli.md, the command-line and exit-status reference, from the parsers themselves.

Run ``nox -s docs`` (or ``python docs/cli_reference.py`` where the project is installed) after
changing an option; ``tests/test_docs.py`` fails while the committed docs/cli.md differs from what
this script produces.

It knows nothing of how the parsers are built: it reads the ``lbb`` console script's target from
pyproject.toml, calls it in this process with ``--help`` (first alone, then after each command and
each action the help texts name), and keeps what it prints and the status it exits with. The
width is fixed (``COLUMNS``), and colour is off, so the text does not depend on the terminal.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "cli.md"
COLUMNS = "100"
"""argparse wraps help text to the terminal's width (``COLUMNS``); fixed, the text is stable."""

EXIT_STATUSES: tuple[tuple[str, str], ...] = (
    ("0", "done, or the gate passed (methods the gate calls inconclusive only warn)"),
    (
        "1",
        "a regression (`regress`), a false alarm (`noise`), a part of the GPU check that failed, the "
        "report after `lbb bench` that could not be drawn (the run is saved; `python -m bench` "
        "draws no report), or an unexpected error, shown with its traceback (a bug; the run's "
        "status says `failed: <the error>`)",
    ),
    (
        "2",
        "bad input, one line on stderr and nothing lost: an unknown command, option or value, a "
        "locked run directory, a run file that cannot be written (`failed: disk full` and the "
        "like), a run file that fails its records check; and a gate that compared too little (a "
        "method with too few pairs for an interval, a memory A/B that compared nothing) unless "
        "`--allow-partial`",
    ),
    (
        "3",
        "the GPU check only: every part ran or was skipped, but one ran past its share of the "
        "budget and was stopped (its run directory says `interrupted`)",
    ),
    ("130", "Ctrl-C: finished cases are kept, the run's status says `interrupted`"),
    ("141", "the reader of its output went away (`lbb bench | head -1`): as 130"),
    ("143", "SIGTERM: as 130"),
    (
        "other",
        "the sweep's runtime pass (a pytest child) stopped with that status; the run's status says "
        "`failed: runtime pass stopped (pytest exit N)`",
    ),
)
"""Every exit status a command returns; the one place they are described."""

ENTRY_POINT = "lbb"
INTERNAL = frozenset({"bench.abtest.worker"})
"""Modules with a ``__main__`` block that no user runs: the A/B's worker, started by the gate."""


def entry_point(root: Path = ROOT) -> Callable[[list[str]], int | None]:
    """The function the ``lbb`` console script calls, as pyproject.toml names it."""
    with open(root / "pyproject.toml", "rb") as handle:
        target = tomllib.load(handle)["project"]["scripts"][ENTRY_POINT]
    module, _, attribute = target.partition(":")
    function = importlib.import_module(module)
    for part in attribute.split("."):
        function = getattr(function, part)
    return function


@contextlib.contextmanager
def _stable_terminal() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "LINES", "NO_COLOR", "PYTHON_COLORS")}
    os.environ.update(COLUMNS=COLUMNS, LINES="50", NO_COLOR="1", PYTHON_COLORS="0")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(main: Callable[[list[str]], int | None], argv: list[str]) -> tuple[int, str]:
    """What ``lbb *argv`` prints on stdout and stderr together, and its exit status."""
    out = io.StringIO()
    with _stable_terminal(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            status = main(list(argv))
        except SystemExit as stop:
            status = stop.code
    code = status if isinstance(status, int) else 0 if status is None else 1
    return code, out.getvalue()


_CHOICES = re.compile(r"\{([a-z][a-z0-9_-]*(?:,[a-z][a-z0-9_-]*)+)\}")
_LISTED = re.compile(r"^ {2,4}([a-z][a-z0-9_-]*)(?: {2,}\S.*)?$")


def commands(text: str) -> list[str]:
    """The commands (or actions) a help text names: an argparse ``{a,b,c}`` group of positional
    choices, else the first word of each indented line under a heading that says "command"."""
    usage = text.split("\n\n")[0]
    for grouped in _CHOICES.finditer(usage):
        before = usage[: grouped.start()].split()
        option = before[-1].lstrip("[").startswith("-") and not before[-1].endswith("]")
        if not option:  # a positional's choices, not those of an option such as --device
            return list(dict.fromkeys(grouped.group(1).split(",")))
    found: list[str] = []
    under = False
    for line in text.splitlines():
        if line and not line.startswith(" "):
            under = "command" in line.lower() and line.rstrip().endswith(":")
        elif under and (match := _LISTED.match(line)):
            found.append(match.group(1))
    return list(dict.fromkeys(found))


def helps(main: Callable[[list[str]], int | None]) -> list[tuple[list[str], int, str]]:
    """``lbb --help``, then ``lbb COMMAND --help`` for every command it names, and one level of
    actions below a command that names its own (``lbb trend record --help``)."""
    status, text = run(main, ["--help"])
    pages = [([], status, text)]
    for command in commands(text):
        status, text = run(main, [command, "--help"])
        pages.append(([command], status, text))
        for action in commands(text):
            pages.append(([command, action], *run(main, [command, action, "--help"])))
    return pages


def module_entries(root: Path = ROOT) -> list[str]:
    """The modules ``python -m`` runs: each package's ``__main__`` and each module with a
    ``__main__`` block, in the project's packages (tests and docs aside)."""
    names = []
    for package in sorted(p.parent for p in root.glob("*/__init__.py")):
        if package.name in ("tests", "docs"):
            continue
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__main__":
                names.append(".".join(parts[:-1]))
            elif parts[-1] != "__init__" and 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
                names.append(".".join(parts))
    return [name for name in names if name not in INTERNAL]


def render(main: Callable[[list[str]], int | None] | None = None) -> str:
    """docs/cli.md's text."""
    pages = helps(main or entry_point())
    names = [" ".join(["lbb", *argv]) for argv, _, _ in pages]
    lines = [
        "# Command-line reference",
        "",
        "Generated from the parsers by `nox -s docs` (`docs/cli_reference.py`): do not edit by hand.",
        "`tests/test_docs.py` fails while this file differs from what the parsers print.",
        "Every nox session runs one of these commands (`nox -s bench -- --profile quick` is",
        "`lbb bench --profile quick`); inside a session's virtualenv (`.nox/<session>/bin/lbb`) or",
        "after `pip install -e .`, call `lbb` directly; `python -m lbb COMMAND` is the same command.",
        "Bad input is one line, `COMMAND: error: ...`, on stderr, worded the same in every command",
        "(`unknown device 'tpu'; choose from cpu, cuda, all`): each option is defined once.",
        "",
        "## Exit status",
        "",
        "Every command exits with the statuses below, and so does every `python -m` entry ("
        + ", ".join(f"`python -m {name}`" for name in module_entries())
        + "), each running a command of `lbb` with the same options and errors:",
        "",
        "| status | when |",
        "| --- | --- |",
        *(f"| {status} | {meaning} |" for status, meaning in EXIT_STATUSES),
        "",
        "Through nox every non-zero status becomes 1 (nox's own rule): call `lbb` for the distinction.",
        "",
        "## Commands",
        "",
        *(f"- [`{name}`](#{name.replace(' ', '-')})" for name in names),
    ]
    for name, (_, status, text) in zip(names, pages, strict=True):
        lines += ["", f"## {name}", ""]
        if status != 0:
            lines += [f"`{name} --help` exited {status}:", ""]
        lines += ["```", text.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/cli.md; with ``--check``, only say whether it is current (exit 1 if not)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        current = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
        print(f"{OUTPUT.relative_to(ROOT)} is {'current' if current else 'stale: run nox -s docs'}")
        return 0 if current else 1
    if args:
        print("usage: python docs/cli_reference.py [--check]", file=sys.stderr)
        return 2
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
