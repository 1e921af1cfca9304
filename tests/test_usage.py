"""What every command shares (``bench.usage``): targets, paths, the default run directory, the console."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.usage import UsageError, default_run_dir, parse_target
from lbb.commands.bench import sweep_main
from lbb.commands.headline import main as headline_main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text", ["²,1,1", "1,٣,1", "1,1,¹"])
def test_a_target_of_non_ascii_digits_is_a_usage_error(text):
    """str.isdigit accepts "²" and "٣"; int() refuses the first, so it was a traceback."""
    with pytest.raises(UsageError, match="must be three positive integers"):
        parse_target(text)


def test_a_headline_target_of_a_superscript_gives_one_line_and_exit_2(capsys, tmp_path):
    assert headline_main(["--target", "²,1,1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "headline: error: --target must be three positive integers N,D,M, got '²,1,1'"
    assert not (tmp_path / "run").exists()


def test_the_default_run_directory_is_the_repositorys_reports_wherever_it_is_started(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = default_run_dir("headline")
    assert run.parent == ROOT / "reports"
    assert run.name.endswith("-headline")


@pytest.mark.parametrize("main", [headline_main, sweep_main], ids=["headline", "sweep"])
@pytest.mark.parametrize("shape", ["long name", "long path"])
def test_an_out_the_file_system_cannot_name_gives_one_line_naming_it(capsys, tmp_path, main, shape):
    """A 256-character name (NAME_MAX is 255) said "cannot lock None" in the sweep; a path past
    PATH_MAX raised UnboundLocalError in the headline."""
    out = tmp_path / ("n" * 256) if shape == "long name" else tmp_path.joinpath(*["d" * 200] * 25)
    argv = ["--target", "2,8,8"] if main is headline_main else ["--profile", "smoke"]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.split(": error: ")[1].startswith(f"--out {str(out)[:50]}...")
    assert "None" not in err and not any(tmp_path.iterdir())


def test_a_console_that_cannot_encode_a_character_gets_its_ascii_fallback():
    """bench.usage registers the handler that every command's stdout and stderr use on such a console."""
    text = "4,125× the formula → dY/dX ≈ 2.8e-06 ━━┼━━ │ █▌ Wᵀ µs"
    assert text.encode("ascii", "lbb-ascii") == b"4,125x the formula -> dY/dX ~ 2.8e-06 --+-- | ## WT us"


@pytest.mark.slow
def test_a_headline_on_an_ascii_console_finishes_with_ascii_fallbacks(tmp_path):
    """``×`` on a stdout that is ASCII raised UnicodeEncodeError after dY/dX, run.json "running"."""
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "bench.headline", "--device", "cpu", "--target", "4,64,64", "--out", str(out)],
        cwd=ROOT,
        env=os.environ | {"PYTHONIOENCODING": "ascii"},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert done.stdout.isascii() and done.stderr.isascii()
    assert re.search(rb"; [\d,]+x the formula;", done.stdout)  # a UTF-8 console shows "509× the formula"
    assert '"complete"' in (out / "run.json").read_text()


def test_a_resume_the_file_system_cannot_name_gives_one_line_naming_it(capsys, tmp_path):
    resume = tmp_path / ("n" * 256)
    assert sweep_main(["--resume", str(resume)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"bench: error: --resume {str(resume)[:50]}...") and len(err.splitlines()) == 1
