"""A gate rule is one module plus its registration: a toy rule planted in the registry is offered
by ``--gate``, adds its own option, is planned, run and judged by ``lbb noise`` and ``lbb regress``
with no other edit, and the rules that ``--gate`` did not choose do not run."""

from __future__ import annotations

import argparse
import json
from types import ModuleType
from typing import Any

import pytest

from analysis.gate import rules
from analysis.gate.plan import plan_noise
from analysis.gate.rule import Job, Judgement
from bench.rundir.gate_files import AB_SCHEMA, GateFile, read_gate_file, write_gate_file
from lbb.commands.noise import parser as noise_parser
from lbb.main import main

TOY_FILE = "toy.json"


class ToyRule:
    """Grows the head's "peak" by ``--toy-growth`` bytes and fails on any growth."""

    name = "toy"
    reads_baseline = False

    def add_options(self, parser: argparse.ArgumentParser, opt: ModuleType) -> None:
        parser.add_argument("--toy-growth", type=opt.count("--toy-growth", 0, 100), default=0)

    def measure(self, job: Job) -> GateFile:
        side = {"status": "ok", "reason": ""}
        pair = {
            "case": "toy[cpu-float32-N1-D1-M1]",
            "base": side | {"peak_bytes": 100},
            "head": side | {"peak_bytes": 100 + job.args.toy_growth},
        }
        data = {"schema": AB_SCHEMA, "kind": "peaks", "status": "complete", "pairs": [pair]}
        write_gate_file(job.out / TOY_FILE, data | {"base": job.base.describe(), "head": job.head.describe()})
        return read_gate_file(job.out / TOY_FILE)

    def judge(self, job: Job, data: GateFile) -> Judgement:
        growth = [p.head.peak_bytes - p.base.peak_bytes for p in data.pairs]
        grew = any(g > 0 for g in growth)
        return Judgement(
            growth,
            sections=[f"### Toy: {'REGRESSED' if grew else 'passed'}\n"],
            summary={"toy": {"growth": growth}},
            lines=[f"toy: grew by {growth}"],
            status=1 if grew else 0,
        )

    def noise(self, judged: Judgement) -> tuple[dict[str, Any], str | None]:
        return {"toy_largest": max(judged.verdicts)}, f"noise: toy moved by {max(judged.verdicts)}"


@pytest.fixture
def toy(monkeypatch):
    rule = ToyRule()
    monkeypatch.setattr(rules, "RULES", (*rules.RULES, rule))
    return rule


def test_a_planted_rule_is_offered_by_gate_with_its_own_option(toy):
    text = noise_parser().format_help()
    assert "all, memory, time or toy: what is compared" in text and "--toy-growth" in text
    assert noise_parser().parse_args(["--gate", "toy", "--toy-growth", "3"]).toy_growth == 3


def test_a_planted_rule_is_planned_alone_when_gate_names_it_and_with_the_others_for_all(toy):
    assert plan_noise(noise_parser().parse_args(["--gate", "toy"])).rules == (toy,)
    assert [r.name for r in plan_noise(noise_parser().parse_args([])).rules] == ["memory", "time", "toy"]


def test_a_planted_rule_is_run_and_judged_by_noise_and_only_it(toy, tmp_path, capsys):
    out = tmp_path / "quiet"
    assert main(["noise", "--gate", "toy", "--out", str(out)]) == 0
    assert "noise: toy moved by 0" in capsys.readouterr().out
    summary = json.loads((out / "noise.json").read_text())
    assert summary["toy"] == {"growth": [0]} and summary["toy_largest"] == 0
    assert summary["state"] == "no false alarm"
    assert "### Toy: passed" in (out / "noise.md").read_text()
    assert (out / TOY_FILE).is_file() and not (out / "peaks.json").exists() and not (out / "ab.json").exists()


def test_a_planted_rule_that_finds_a_change_sets_the_exit_status(toy, tmp_path, capsys):
    out = tmp_path / "alarm"
    assert main(["noise", "--gate", "toy", "--toy-growth", "5", "--out", str(out)]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("noise: FALSE ALARM")
    assert "### Toy: REGRESSED" in (out / "noise.md").read_text()


def test_a_planted_rules_bad_option_is_one_line_and_exit_2(toy, tmp_path, capsys):
    assert main(["noise", "--gate", "toy", "--toy-growth", "-1", "--out", str(tmp_path / "o")]) == 2
    assert "--toy-growth must be a whole number from 0 to 100, got -1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_planted_rule_is_run_by_regress_against_a_base_commit(toy, tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["regress", "--gate", "toy", "--against", "HEAD", "--toy-growth", "1", "--out", str(out)])
    assert code == 1
    summary = json.loads((out / "regress.json").read_text())
    assert summary["toy"] == {"growth": [1]} and summary["state"] == "REGRESSED"
    toy_file = read_gate_file(out / TOY_FILE)
    assert toy_file.base["name"] == "base" and toy_file.head["name"] == "head"
    assert "toy: grew by [1]" in capsys.readouterr().out


def test_without_a_planted_rule_gate_refuses_its_name(tmp_path, capsys):
    assert main(["noise", "--gate", "toy", "--out", str(tmp_path / "o")]) == 2
    assert (
        capsys.readouterr().err.strip() == "noise: error: unknown --gate 'toy'; choose from all, memory, time"
    )


def test_the_gate_rule_row_of_the_architecture_page_names_files_that_exist_and_each_rule_is_a_module():
    import re

    from tests.conftest import ROOT

    text = (ROOT / "docs" / "architecture.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| a new **gate rule** |"))
    paths = set(re.findall(r"`((?:analysis|bench)/[\w/]+\.py|analysis/gate/rules/)`", row))
    assert "analysis/gate/rules/__init__.py" in paths
    assert [p for p in paths if not (ROOT / p).exists()] == []
    modules = {type(rule).__module__ for rule in rules.RULES}
    assert all(m.startswith("analysis.gate.rules.") for m in modules) and len(modules) == len(rules.RULES)
    assert "memory_ab.py" in row  # the instance the row was counted by
