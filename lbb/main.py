"""``lbb``: the one command line, a subcommand per job (:mod:`lbb.commands`); what the nox sessions call.

Import-light on purpose: the memory pass forks each case from a fork server, and multiprocessing
re-imports the program's main module, here the ``lbb`` script, in every child it starts. With
pandas, scipy and matplotlib imported at the top, each case took 1.5 s instead of 0.4 s (the
quick profile's memory pass 6 minutes instead of 1.5). So a command's module is imported only
once it is chosen, and this table holds each command's one-line description.

Exit status: 0 done or passed; 1 a regression (regress) or a report that could not be built;
2 bad input, a locked run directory, a run file that cannot be written, or a gate that compared
too little; 130 Ctrl-C, 143 SIGTERM and 141 a broken pipe on stdout (finished cases are kept).
"""

from __future__ import annotations

import importlib
import sys

EXIT_USAGE = 2

COMMANDS: dict[str, str] = {
    "bench": "the benchmark sweep (runtime and memory passes), then its HTML report",
    "headline": "the N=64, D=M=4096 Jacobians streamed end to end in bounded memory",
    "report": "rebuild the HTML report from run directories, measuring nothing",
    "regress": "gate time and peak memory by an A/B against a base commit measured in the same job",
    "noise": "the A/A test: the working tree gated against itself, to see the gate's false alarms",
    "baseline": "write the committed peak-memory record from a complete quick run",
    "gpucheck": "the GPU half in one call within a budget: roofs, headline, dense bfloat16, sweep",
    "trend": "the history over commits: record, push, pull, page, validate",
}
"""Each command's one line; the command itself is ``lbb.commands.<name>.main(argv)``."""


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, summary in COMMANDS.items()]
    return (
        "usage: lbb COMMAND [OPTIONS]   (lbb COMMAND --help for its options)\n\n"
        "Benchmarks of explicit-Jacobian versus matrix-formula backprop through a linear layer.\n\n"
        "commands:\n" + "\n".join(lines)
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else EXIT_USAGE
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"lbb: error: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    return importlib.import_module(f"lbb.commands.{name}").main(rest)
