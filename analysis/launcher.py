"""The ``lbb`` console script's entry point, import-light on purpose.

The memory pass forks each case from a fork server, and multiprocessing re-imports the parent's
``__main__``, here the ``lbb`` script, in every child it starts. Importing
:mod:`analysis.lbb` at the top of that script loaded pandas, scipy and matplotlib into each
case's process: 1.5 s a case instead of 0.4 s (the quick profile's memory pass took 6 minutes
instead of 1.5). Deferring the import to :func:`main` leaves a child only what the fork server
preloaded.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from analysis.lbb import main as run

    return run(argv)
