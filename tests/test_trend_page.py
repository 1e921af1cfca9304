"""The tracking page and the validation table, from saved files; the command's bad input."""

from __future__ import annotations

import os
import re
import subprocess

from analysis.trend import branch, store, validate
from lbb.commands.trend import main as trend_main


def test_validation_rewrites_only_its_block_with_a_row_per_noise_source(tmp_path):
    doc = tmp_path / "tracking.md"
    doc.write_text(f"prose before\n{validate.BEGIN}\nold table\n{validate.END}\nprose after\n")
    assert trend_main(["validate", "--doc", str(doc), "--trials", "2", "--seed", "1"]) == 0
    text = doc.read_text()
    assert text.startswith("prose before\n") and text.endswith("prose after\n") and "old table" not in text
    rows = [
        line for line in text.splitlines() if line.startswith("| chained") or line.startswith("| per machine")
    ]
    assert len(rows) == 6 and all(line.count("|") == len(validate.SCENARIOS) + 2 for line in rows)
    assert "real A/A pairs of all 16 methods" in text  # the committed A/A run's methods


def test_validation_noise_is_the_committed_a_a_runs_own_interval_widths():
    errors = validate.measured_errors()
    assert len(errors) == 16 and errors == sorted(errors)
    assert 0.003 < errors[0] < errors[-1] < 0.2


def test_a_doc_without_the_block_is_refused_and_left_alone(tmp_path, capsys):
    doc = tmp_path / "tracking.md"
    doc.write_text("no markers\n")
    assert trend_main(["validate", "--doc", str(doc), "--trials", "1"]) == 2
    assert "no <!-- validate:begin -->" in capsys.readouterr().err
    assert doc.read_text() == "no markers\n"


def test_recording_a_directory_without_a_gate_exits_2_naming_the_file(tmp_path, capsys):
    assert trend_main(["record", str(tmp_path), "--kind", "link", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert f"{tmp_path / 'regress.json'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def _one_commit_repo(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = os.environ | branch.IDENTITY
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    return repo


def _aa(verdict: str, date: str) -> dict:
    time = {
        "formula-torch[cpu-float32]": {
            "ratio": 1.06,
            "low": 1.051,
            "high": 1.07,
            "mde": 0.08,
            "verdict": verdict,
        }
    }
    return store.make(
        "aa", commit="c" * 40, machine="m", device="cpu", date=date, time=time, memory={}, status="x"
    )


def test_the_page_gives_the_false_alarm_rate_of_the_a_a_runs_with_its_interval(tmp_path):
    history = tmp_path / "history.jsonl"
    store.append(history, [_aa("worse", "2026-12-01"), _aa("held", "2026-12-08"), _aa("held", "2026-12-15")])
    site = tmp_path / "site"
    assert (
        trend_main(["page", str(history), "--out", str(site), "--repo", str(_one_commit_repo(tmp_path))]) == 0
    )
    page = (site / "index.html").read_text()
    assert "1 of 3 A/A runs raised a false alarm (rate 33.3%, 95% interval 0.8%–90.6%" in page
    assert "<td>formula-torch[cpu-float32]</td><td>3</td><td>1</td><td>×1.060</td><td>+8.0%</td>" in page


def test_the_page_of_an_empty_history_builds_offline_and_says_nothing_is_known(tmp_path):
    history = tmp_path / "history.jsonl"
    store.append(history, [])
    site = tmp_path / "site"
    assert (
        trend_main(["page", str(history), "--out", str(site), "--repo", str(_one_commit_repo(tmp_path))]) == 0
    )
    page = (tmp_path / "site" / "index.html").read_text()
    assert "No scheduled A/A run has been recorded yet" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing loaded from elsewhere
