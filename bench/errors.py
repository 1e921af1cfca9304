"""Errors every layer may raise, in a leaf so that the harness can raise them without importing
the command-line layer. Each carries the exit status a command ends with when it stops on it."""

from __future__ import annotations


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit status 2."""

    exit_status = 2
