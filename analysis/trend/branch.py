"""The history's home: a branch of the repository itself (``bench-history``), and main's first-parent line.

github-action-benchmark keeps its data on ``gh-pages`` the same way. A push reads the branch's
file back, appends what it lacks (:func:`analysis.trend.store.merge`), commits that on top of the
branch with git's plumbing (no work tree is touched) and pushes; when another job pushed first the
push is refused as not a fast-forward, and it starts again from a fresh fetch, so concurrent
pushes lose no line. The workflow also serialises these jobs with a concurrency group.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analysis.trend import store

BRANCH = "bench-history"
FILE = "history.jsonl"
ATTEMPTS = 5
IDENTITY = {
    "GIT_AUTHOR_NAME": "lbb trend",
    "GIT_AUTHOR_EMAIL": "lbb-trend@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "lbb trend",
    "GIT_COMMITTER_EMAIL": "lbb-trend@users.noreply.github.com",
}

Runner = Callable[..., subprocess.CompletedProcess[str]]


class BranchError(RuntimeError):
    """A git step that failed for a reason other than a lost race."""


def _git(repo: Path, *args: str, run: Runner = subprocess.run, stdin: str | None = None) -> str:
    result = run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ | IDENTITY,
        check=False,
    )
    if result.returncode != 0:
        raise BranchError(f"git {' '.join(args[:2])} failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


def first_parent(repo: Path, ref: str = "HEAD") -> list[str]:
    """Full ids of ``ref``'s first-parent line, oldest first."""
    return _git(repo, "rev-list", "--first-parent", "--reverse", ref).split()


def _remote_tip(repo: Path, remote: str, branch: str, run: Runner) -> str | None:
    """Fetch ``branch`` and return its tip, or None when the branch does not exist yet."""
    heads = _git(repo, "ls-remote", "--heads", remote, branch, run=run).split()
    if not heads:
        return None
    _git(repo, "fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/lbb/{branch}", run=run)
    return _git(repo, "rev-parse", f"refs/lbb/{branch}", run=run).strip()


def read_remote(
    repo: Path, remote: str = "origin", branch: str = BRANCH, run: Runner = subprocess.run
) -> str:
    """The history file's text on the remote branch ("" when neither exists yet)."""
    return _text_at(repo, _remote_tip(repo, remote, branch, run), run)


def _text_at(repo: Path, tip: str | None, run: Runner) -> str:
    if tip is None or FILE not in _git(repo, "ls-tree", "--name-only", tip, run=run).split():
        return ""
    return _git(repo, "show", f"{tip}:{FILE}", run=run)


def _commit(repo: Path, tip: str | None, text: str, message: str, run: Runner) -> str:
    blob = _git(repo, "hash-object", "-w", "--stdin", stdin=text, run=run).strip()
    entries = [] if tip is None else _git(repo, "ls-tree", tip, run=run).splitlines()
    entries = [e for e in entries if not e.endswith(f"\t{FILE}")] + [f"100644 blob {blob}\t{FILE}"]
    tree = _git(repo, "mktree", stdin="\n".join(entries) + "\n", run=run).strip()
    parents = [] if tip is None else ["-p", tip]
    return _git(repo, "commit-tree", tree, *parents, "-m", message, run=run).strip()


def push_records(
    repo: Path,
    records: Sequence[dict[str, Any]],
    remote: str = "origin",
    branch: str = BRANCH,
    attempts: int = ATTEMPTS,
    run: Runner = subprocess.run,
) -> int:
    """Append ``records`` to the branch's history and push; returns how many lines were added.

    Each attempt fetches the branch's tip, so a retry after a lost race appends to what the
    other job pushed. BranchError after ``attempts`` lost races or on any other git failure.
    """
    for _ in range(attempts):
        tip = _remote_tip(repo, remote, branch, run)
        old_text = _text_at(repo, tip, run)
        old = store.parse(old_text, f"{remote}/{branch}:{FILE}")
        added = store.merge(old, records)[len(old) :]
        if not added:
            return 0
        body = old_text if not old_text or old_text.endswith("\n") else old_text + "\n"
        commit = _commit(repo, tip, body + store.dumps(added), f"history: {len(added)} records", run)
        result = run(
            ["git", "-C", str(repo), "push", "--quiet", remote, f"{commit}:refs/heads/{branch}"],
            capture_output=True,
            text=True,
            env=os.environ | IDENTITY,
            check=False,
        )
        if result.returncode == 0:
            return len(added)
        if "fetch first" not in result.stderr and "non-fast-forward" not in result.stderr:
            raise BranchError(f"git push failed: {result.stderr.strip()}")
    raise BranchError(
        f"{branch}: lost the race to other pushes {attempts} times; the records were not pushed"
    )
