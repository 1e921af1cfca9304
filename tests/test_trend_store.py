"""The history's file format and its branch: checked on load, appended without loss, pushed under a race."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from analysis.trend import branch, store
from analysis.trend.branch import BranchError
from analysis.trend.store import HistoryError

ENV = os.environ | branch.IDENTITY


def _link(commit: str, parent: str = "p" * 40) -> dict:
    return store.make(
        "link", commit=commit, parent=parent, machine="m", device="cpu", date="d", time={}, memory={}
    )


def test_a_line_of_a_newer_api_version_is_refused_with_its_line_number(tmp_path):
    path = tmp_path / "history.jsonl"
    newer = _link("a" * 40) | {"api_version": store.API_VERSION + 1}
    path.write_text(json.dumps(_link("b" * 40)) + "\n" + json.dumps(newer) + "\n")
    with pytest.raises(HistoryError, match="line 2: api_version 2 is newer"):
        store.read(path)


def test_a_record_missing_a_field_of_its_kind_is_refused(tmp_path):
    path = tmp_path / "history.jsonl"
    broken = _link("a" * 40)
    del broken["parent"]
    path.write_text(json.dumps(broken) + "\n")
    with pytest.raises(HistoryError, match="link record lacks parent"):
        store.read(path)


def test_a_schema_2_line_from_before_api_version_is_read_as_a_run_record(tmp_path):
    path = tmp_path / "history.jsonl"
    old = {"schema": 2, "commit": "c", "run_id": "r", "case": "x", "label": "formula-torch", "metrics": {}}
    path.write_text(json.dumps(old) + "\n")
    (record,) = store.read(path)
    assert (record["kind"], record["api_version"]) == ("run", store.API_VERSION)


def test_appending_the_same_records_twice_adds_them_once_and_keeps_unknown_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('{"schema": 1, "case": "old"}\n')  # skipped by readers, never dropped
    records = [_link("a" * 40), _link("b" * 40)]
    assert store.append(path, records) == 2
    assert store.append(path, records) == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0] == '{"schema": 1, "case": "old"}'


def _clone(remote: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(where)], check=True, env=ENV, capture_output=True)
    return where


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    seed = tmp_path / "seed"
    seed.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "start"],
                 ["push", "-q", str(bare), "main"]):  # fmt: skip
        subprocess.run(["git", "-C", str(seed), *args], check=True, env=ENV, capture_output=True)
    return bare


def test_two_jobs_pushing_at_once_both_keep_their_lines(tmp_path, remote):
    """Job A fetches, job B pushes before A does: A's push is refused and retried on top of B's."""
    a, b = _clone(remote, tmp_path / "a"), _clone(remote, tmp_path / "b")
    raced = []

    def racing(cmd, **kwargs):
        if "push" in cmd and not raced:
            raced.append(True)
            branch.push_records(b, [_link("b" * 40)])  # the other job wins the race
        return subprocess.run(cmd, **kwargs)

    assert branch.push_records(a, [_link("a" * 40)], run=racing) == 1
    text = branch.read_remote(a)
    assert sorted(r["commit"][0] for r in store.parse(text, "remote")) == ["a", "b"]


def test_a_push_that_keeps_losing_the_race_fails_naming_the_branch(tmp_path, remote):
    a, b = _clone(remote, tmp_path / "a"), _clone(remote, tmp_path / "b")
    count = iter(range(100))

    def always_beaten(cmd, **kwargs):
        if "push" in cmd and "-C" in cmd and cmd[cmd.index("-C") + 1] == str(a):
            branch.push_records(b, [_link(f"{next(count):040d}")])
        return subprocess.run(cmd, **kwargs)

    with pytest.raises(BranchError, match="bench-history: lost the race to other pushes 2 times"):
        branch.push_records(a, [_link("a" * 40)], attempts=2, run=always_beaten)
    assert "a" * 40 not in branch.read_remote(a)


def test_pull_of_a_history_branch_that_does_not_exist_is_empty(tmp_path, remote):
    assert branch.read_remote(_clone(remote, tmp_path / "a")) == ""
