"""Profiles with ``headline=True`` stream the target into DIR/headline, reported beside the sweep."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from bench.profiles import PROFILES
from bench.rundir.directory import HEADLINE_DIR
from bench.rundir.records import Options
from bench.rundir.store import RUN_FILE
from bench.sweep.session import run_headline_pass
from lbb.commands.bench import write_report
from tests.synthetic import cost_law, write_run

pytestmark = pytest.mark.slow

PROFILE = replace(PROFILES["smoke"], headline=True, target=(8, 256, 256))
OPTIONS = Options("smoke", "cpu", ("formula-torch",), None, ("runtime", "memory"))


@pytest.fixture
def lock_fd(tmp_path):
    fd = os.open(tmp_path / "lock", os.O_CREAT | os.O_RDWR)
    yield fd
    os.close(fd)


def test_the_headline_pass_runs_once_and_the_report_shows_it_beside_the_sweep(tmp_path, lock_fd, capsys):
    sweep = write_run(tmp_path / "sweep", cost_law(1 / 20e9, 1 / 100e9, 5e-6))
    run_headline_pass(sweep, OPTIONS, PROFILE, lock_fd)
    meta = json.loads((sweep / HEADLINE_DIR / RUN_FILE).read_text())
    assert meta["status"] == "complete" and meta["profile"]["target"] == [8, 256, 256]
    written = (sweep / HEADLINE_DIR / RUN_FILE).stat().st_mtime_ns
    run_headline_pass(sweep, OPTIONS, PROFILE, lock_fd)  # a resumed sweep keeps the finished pass
    assert (sweep / HEADLINE_DIR / RUN_FILE).stat().st_mtime_ns == written
    assert write_report(sweep) == 0
    page = (sweep / "report" / "index.html").read_text()
    assert "The headline case, measured" in page


def test_an_interrupted_headline_pass_is_moved_aside_not_deleted_and_run_again(tmp_path, lock_fd):
    sweep = write_run(tmp_path / "sweep", cost_law(1 / 20e9, 1 / 100e9, 5e-6))
    run_headline_pass(sweep, OPTIONS, PROFILE, lock_fd)
    meta = json.loads((sweep / HEADLINE_DIR / RUN_FILE).read_text())
    (sweep / HEADLINE_DIR / RUN_FILE).write_text(json.dumps(meta | {"status": "interrupted"}))
    run_headline_pass(sweep, OPTIONS, PROFILE, lock_fd)
    aside = [p for p in sweep.iterdir() if p.name.startswith(f"{HEADLINE_DIR}-incomplete-")]
    assert len(aside) == 1 and json.loads((aside[0] / RUN_FILE).read_text())["status"] == "interrupted"
    assert json.loads((sweep / HEADLINE_DIR / RUN_FILE).read_text())["status"] == "complete"


def test_default_and_full_profiles_run_the_headline_pass_and_quick_does_not():
    assert PROFILES["default"].headline and PROFILES["full"].headline
    assert not PROFILES["quick"].headline and not PROFILES["smoke"].headline
