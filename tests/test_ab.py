"""The A/B time gate: its statistics on synthetic samples, the base worktree, bad --against, one real A/B."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis import ab as stats
from analysis.regress_cli import main
from bench.ab import Side, ab_cases, run_ab
from bench.profiles import PROFILES
from bench.worktree import RefError, checkout, is_dirty, resolve_commit

ROOT = Path(__file__).resolve().parent.parent


def _pairs(case: str, ratios: list[float], base: float = 1e-3) -> list[dict]:
    ok = {"status": "ok", "reason": ""}
    return [
        {"case": case, "rep": i, "base": ok | {"min_s": base}, "head": ok | {"min_s": base * r}}
        for i, r in enumerate(ratios)
    ]


def _noisy(rng: np.random.Generator, shift: float, n: int, spread: float = 0.02) -> list[float]:
    return list(np.exp(np.log1p(shift) + spread * rng.standard_normal(n)))


def test_signed_rank_interval_uses_the_textbook_critical_value():
    # n = 10 at 95%: P(T <= 8) = 0.0244 <= 0.025 < P(T <= 9), so the interval is [W(9), W(47)].
    x = np.arange(1.0, 11.0)
    walsh = np.sort([(x[i] + x[j]) / 2 for i in range(10) for j in range(i, 10)])
    estimate, low, high = stats.hodges_lehmann(x, 0.95)
    assert (low, high) == (walsh[8], walsh[46])
    assert estimate == pytest.approx(5.5)


def test_interval_covers_the_true_shift_about_as_often_as_it_says():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        _, low, high = stats.hodges_lehmann(0.3 + rng.standard_normal(16), 0.95)
        hits += low <= 0.3 <= high
    assert 0.92 <= hits / 400 <= 0.99


def test_too_few_pairs_give_an_unbounded_interval_that_never_fails():
    gate = stats.gate_method("m[cpu-float32]", _pairs("m[cpu-float32-N1-D1-M1]", [3.0] * 5), 0.05, 0.95)
    assert math.isinf(gate.high) and gate.verdict == "held"


def test_a_ten_percent_slowdown_with_two_percent_noise_fails():
    rng = np.random.default_rng(1)
    pairs = _pairs("m[cpu-float32-N1-D1-M1]", _noisy(rng, 0.10, 8)) + _pairs(
        "m[cpu-float32-N2-D2-M2]", _noisy(rng, 0.10, 8)
    )
    gate = stats.gate_method("m[cpu-float32]", pairs, 0.05, 0.95)
    assert gate.verdict == "worse"
    assert gate.low > 1.05 and gate.ratio == pytest.approx(1.10, abs=0.02)
    assert gate.mde < 0.10
    assert set(gate.case_ratios) == {"m[cpu-float32-N1-D1-M1]", "m[cpu-float32-N2-D2-M2]"}


@pytest.mark.parametrize("seed", range(5))
def test_unchanged_code_with_noise_holds(seed):
    rng = np.random.default_rng(seed)
    gate = stats.gate_method(
        "m[cpu-float32]", _pairs("m[cpu-float32-N1-D1-M1]", _noisy(rng, 0.0, 16, 0.03)), 0.05, 0.95
    )
    assert gate.verdict == "held"
    assert gate.low < 1.0 < gate.high


def test_a_few_disturbed_pairs_do_not_fail_a_method():
    rng = np.random.default_rng(2)
    ratios = _noisy(rng, 0.0, 16)
    ratios[3], ratios[9] = 1.9, 2.4  # two pairs hit by interference on one side only
    gate = stats.gate_method("m[cpu-float32]", _pairs("m[cpu-float32-N1-D1-M1]", ratios), 0.05, 0.95)
    assert gate.verdict == "held"


def test_a_clear_speed_up_is_better_and_does_not_fail():
    rng = np.random.default_rng(3)
    gate = stats.gate_method(
        "m[cpu-float32]", _pairs("m[cpu-float32-N1-D1-M1]", _noisy(rng, -0.3, 12)), 0.05, 0.95
    )
    assert gate.verdict == "better"


def test_a_case_the_head_now_fails_is_worse_and_named():
    pairs = _pairs("m[cpu-float32-N1-D1-M1]", [1.0] * 8)
    pairs[0]["head"] = {"status": "failed", "reason": "wrong gradients: relative error 0.5"}
    gate = stats.gate_method("m[cpu-float32]", pairs, 0.05, 0.95)
    assert gate.verdict == "worse" and "wrong gradients" in gate.note


def test_a_method_the_base_does_not_have_is_not_compared_and_says_why():
    pairs = _pairs("new[cpu-float32-N1-D1-M1]", [1.0] * 4)
    for pair in pairs:
        pair["base"] = {"status": "missing", "reason": "method new is not in this tree"}
    gate = stats.gate_method("new[cpu-float32]", pairs, 0.05, 0.95)
    assert gate.verdict == "not compared" and "not in this tree" in gate.note


def test_markdown_lists_every_method_with_interval_and_mde():
    rng = np.random.default_rng(4)
    data = {
        "pairs": _pairs("a[cpu-float32-N1-D1-M1]", _noisy(rng, 0.0, 10))
        + _pairs("b[cpu-float32-N1-D1-M1]", _noisy(rng, 0.5, 10)),
        "base": {"commit": "a" * 40, "dirty": False},
        "head": {"commit": "b" * 40, "dirty": True},
        "reps": 10,
        "cases": [{}, {}],
        "profile": "quick",
        "status": "complete",
    }
    gates = stats.gate(data, 0.05, 0.95)
    text = stats.markdown(data, gates, 0.05, 0.95)
    assert "REGRESSED" in text and "(with uncommitted changes)" in text
    assert text.index("`b[cpu-float32]`") < text.index("`a[cpu-float32]`")  # worst first
    assert "| worse |" in text and "| held |" in text


def test_quick_ab_cases_cover_every_method_and_variant_once_per_point():
    cases = ab_cases(PROFILES["quick"], ["formula-torch", "explicit-torch"], "cpu")
    assert [c.name for c in cases] == [
        "formula-torch[cpu-float32-N64-D1024-M1024]",
        "formula-torch[cpu-float32-N256-D512-M512]",
        "explicit-torch-cold[cpu-float32-N16-D64-M64]",
        "explicit-torch-cold[cpu-float32-N64-D32-M32]",
        "explicit-torch-warm[cpu-float32-N16-D64-M64]",
        "explicit-torch-warm[cpu-float32-N64-D32-M32]",
    ]
    assert ab_cases(PROFILES["quick"], ["formula-numpy"], "cuda") == []


# --- the base worktree, and bad --against ------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A small git repository holding a copy of bench/ (the code under test) and a README."""
    path = tmp_path / "repo"
    shutil.copytree(ROOT / "bench", path / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    (path / "README.md").write_text("docs\n")
    _git(path.parent, "init", "-q", str(path))
    _git(path, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return path


def test_a_commit_resolves_to_its_full_hash(repo):
    assert resolve_commit(repo, "HEAD") == _git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no-such-branch", "is not a commit in this repository"),
        ("0123456789abcdef0123456789abcdef01234567", "is not a commit in this repository"),
        ("HEAD^{tree}", "names a tree, not a commit"),
        ("-rf", "is not a commit"),
    ],
)
def test_a_bad_against_is_refused_with_the_reason(repo, ref, message):
    with pytest.raises(RefError, match=message.replace("^", r"\^")):
        resolve_commit(repo, ref)


def test_a_shallow_clone_without_the_base_says_to_fetch_it(repo, tmp_path):
    parent = _git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("more docs\n")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "docs")
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    with pytest.raises(RefError, match="not in this shallow clone; fetch the history first"):
        resolve_commit(shallow, parent)


def test_the_base_worktree_holds_the_commit_and_is_removed_afterwards(repo):
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "bench" / "methods.py").write_text("# changed in the working tree\n")
    assert is_dirty(repo)
    with checkout(repo, commit) as tree:
        assert (tree / "bench" / "methods.py").read_text() != "# changed in the working tree\n"
        assert len(_git(repo, "worktree", "list").splitlines()) == 2
    assert not tree.exists()
    assert len(_git(repo, "worktree", "list").splitlines()) == 1


def test_regress_with_a_bad_against_exits_2_before_measuring(tmp_path, capsys):
    code = main(
        ["regress", "--gate", "time", "--against", "no-such-ref-anywhere", "--out", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == "regress: error: --against no-such-ref-anywhere is not a commit in this repository"
    assert not (tmp_path / "o").exists()


def test_no_against_no_baseline_commit_and_a_dirty_tree_exits_2(tmp_path, capsys, monkeypatch):
    import analysis.regress_cli as cli

    baseline = json.loads((ROOT / "reports" / "baseline" / "quick-cpu.json").read_text())
    baseline["commit"] = None
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline))
    monkeypatch.setattr(cli, "is_dirty", lambda repo: True)
    assert main(["regress", "--gate", "time", "--baseline", str(path), "--out", str(tmp_path / "o")]) == 2
    assert (
        "the working tree has uncommitted changes: name the base with --against REF"
        in capsys.readouterr().err
    )


@pytest.mark.slow
def test_a_changed_method_shows_up_in_the_ab_and_an_unchanged_one_does_not(repo, tmp_path):
    """A real interleaved A/B: the head's formula-torch sleeps 3 ms; formula-numpy and docs change nothing."""
    commit = _git(repo, "rev-parse", "HEAD")
    methods = repo / "bench" / "methods.py"
    text = methods.read_text()
    slow = text.replace(
        'Method("formula-torch", "formula", "torch", "dX = dY·Wᵀ, dW = Xᵀ·dY with torch matmul", _formula)',
        'Method("formula-torch", "formula", "torch", "slower", '
        'lambda *a: (__import__("time").sleep(0.003), _formula(*a))[1])',
    )
    assert slow != text
    methods.write_text(slow)
    (repo / "README.md").write_text("docs changed too\n")
    profile = PROFILES["smoke"]
    cases = ab_cases(profile, ["formula-torch", "formula-numpy"], "cpu")
    with checkout(repo, commit) as tree:
        data = run_ab(
            Side("base", tree, commit),
            Side("head", repo, commit, True),
            cases,
            profile,
            6,
            tmp_path / "ab.json",
            seed=0,
            progress=lambda _: None,
        )
    assert data["status"] == "complete" and len(data["pairs"]) == 6 * len(cases)
    saved = json.loads((tmp_path / "ab.json").read_text())
    assert saved["pairs"] == data["pairs"]
    verdicts = {g.method: g for g in stats.gate(data, 0.05, 0.95)}
    assert verdicts["formula-torch[cpu-float32]"].verdict == "worse"
    assert verdicts["formula-torch[cpu-float32]"].ratio > 5
    assert verdicts["formula-numpy[cpu-float32]"].verdict == "held"
    first = {pair["first"] for pair in data["pairs"]}
    assert first == {"base", "head"}  # the order within pairs is random


def test_every_method_family_has_its_own_ab_points():
    from bench.costs import FAMILIES
    from bench.profiles import AB_POINTS

    assert set(AB_POINTS) == set(FAMILIES)
