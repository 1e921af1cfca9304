"""The base side of an A/B: a commit resolved with clear errors, checked out in a temporary worktree.

``git worktree add --detach`` gives the base commit its own directory that shares the
repository's objects (no clone, no network) and the head's installed dependencies: the A/B
worker imports the base's ``bench`` through ``PYTHONPATH``. The worktree is removed, and its
administrative entry pruned, however the block ends (return, exception, Ctrl-C, and SIGTERM,
which :func:`bench.harness.children.supervised` turns into an exception).

A gate that was SIGKILLed runs no cleanup, so each worktree's scratch directory holds an
``flock``ed ``.lock`` while in use: the next :func:`checkout` removes every ``lbb-base-*``
worktree whose lock nobody holds (a stale one), and leaves those of a gate still running.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RefError(ValueError):
    """A base that cannot be compared with: missing, not a commit, outside a shallow clone (exit 2)."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def repo_root(path: Path) -> Path:
    """The top of the git checkout that holds ``path``."""
    done = _git(path, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise RefError(f"{path} is not inside a git checkout; the A/B needs the project's history")
    return Path(done.stdout.strip())


def is_shallow(repo: Path) -> bool:
    return _git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def is_dirty(repo: Path) -> bool:
    """Uncommitted changes to tracked files, or untracked files git does not ignore."""
    return bool(_git(repo, "status", "--porcelain").stdout.strip())


def resolve_commit(repo: Path, ref: str, what: str = "--against") -> str:
    """The full hash of the commit ``ref`` names; RefError with the reason otherwise.

    ``what`` names where the ref came from in the message: ``--against`` or the baseline.
    """
    if not ref or ref.startswith("-"):
        raise RefError(f"{what} {ref!r} is not a commit")
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode == 0:
        return done.stdout.strip()
    kind = _git(repo, "cat-file", "-t", ref).stdout.strip()
    if kind:
        raise RefError(f"{what} {ref} names a {kind}, not a commit")
    if is_shallow(repo):
        raise RefError(
            f"{what} {ref} is not in this shallow clone; fetch the history first "
            "(git fetch --unshallow) or fetch that commit"
        )
    raise RefError(f"{what} {ref} is not a commit in this repository")


def head_commit(repo: Path) -> str | None:
    done = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return done.stdout.strip() if done.returncode == 0 else None


PREFIX = "lbb-base-"
LOCK = ".lock"


def _try_lock(path: Path) -> int | None:
    """A descriptor holding ``path``'s exclusive flock, or None when another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _gate_worktrees(repo: Path) -> list[Path]:
    """The worktrees of ``repo`` that a gate made (``…/lbb-base-*/tree``)."""
    listing = _git(repo, "worktree", "list", "--porcelain").stdout.splitlines()
    paths = [Path(line.removeprefix("worktree ")) for line in listing if line.startswith("worktree ")]
    return [p for p in paths if p.name == "tree" and p.parent.name.startswith(PREFIX)]


def prune_stale(repo: Path) -> list[Path]:
    """Remove the gate worktrees whose lock nobody holds (left by a killed gate); the removed ones."""
    removed = []
    for tree in _gate_worktrees(repo):
        fd = _try_lock(tree.parent / LOCK) if tree.parent.exists() else -1
        if fd is None:
            continue  # a gate that is still running
        _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(tree.parent, ignore_errors=True)
        if fd >= 0:
            os.close(fd)
        removed.append(tree)
    _git(repo, "worktree", "prune")
    return removed


@contextmanager
def checkout(repo: Path, commit: str) -> Iterator[Path]:
    """The tree of ``commit`` in a temporary worktree, removed when the block ends.

    Stale gate worktrees (from a gate that was killed) are removed first.
    """
    prune_stale(repo)
    scratch = Path(tempfile.mkdtemp(prefix=PREFIX))
    fd = _try_lock(scratch / LOCK)
    tree = scratch / "tree"
    try:
        done = _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
            raise RefError(f"cannot check out {commit[:12]} into a worktree: {last}")
        yield tree
    finally:
        _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(scratch, ignore_errors=True)
        _git(repo, "worktree", "prune")
        if fd is not None:
            os.close(fd)
