"""The base side of an A/B: a commit resolved with clear errors, checked out in a temporary worktree.

``git worktree add --detach`` gives the base commit its own directory that shares the
repository's objects (no clone, no network) and the head's installed dependencies: the A/B
worker imports the base's ``bench`` through ``PYTHONPATH``. The worktree is removed, and its
administrative entry pruned, however the block ends.
"""

from __future__ import annotations

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


def resolve_commit(repo: Path, ref: str) -> str:
    """The full hash of the commit ``ref`` names; RefError with the reason otherwise."""
    if not ref or ref.startswith("-"):
        raise RefError(f"--against {ref!r} is not a commit")
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode == 0:
        return done.stdout.strip()
    kind = _git(repo, "cat-file", "-t", ref).stdout.strip()
    if kind:
        raise RefError(f"--against {ref} names a {kind}, not a commit")
    if is_shallow(repo):
        raise RefError(
            f"--against {ref} is not in this shallow clone; fetch the history first "
            "(git fetch --unshallow) or fetch that commit"
        )
    raise RefError(f"--against {ref} is not a commit in this repository")


def head_commit(repo: Path) -> str | None:
    done = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return done.stdout.strip() if done.returncode == 0 else None


@contextmanager
def checkout(repo: Path, commit: str) -> Iterator[Path]:
    """The tree of ``commit`` in a temporary worktree, removed when the block ends."""
    scratch = Path(tempfile.mkdtemp(prefix="lbb-base-"))
    tree = scratch / "tree"
    done = _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        last = (done.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
        raise RefError(f"cannot check out {commit[:12]} into a worktree: {last}")
    try:
        yield tree
    finally:
        _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(scratch, ignore_errors=True)
        _git(repo, "worktree", "prune")
