"""The A/B time gate: its statistics on synthetic samples, the base worktree, bad --against, one real A/B."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.gate import memory as peaks_gate
from analysis.gate import timing as stats
from bench.abtest.runner import ABError, Side, SideServer, ab_cases, peak_cases, run_ab, run_peaks
from bench.abtest.worktree import RefError, checkout, is_dirty, resolve_commit
from bench.profiles import PROFILES
from bench.rundir.gate_files import AB_SCHEMA, GateFile, Measurement, Pair, read_gate_file, write_gate_file
from lbb.main import main
from tests.conftest import ROOT


def _pairs(case: str, ratios: list[float], base: float = 1e-3) -> list[dict]:
    ok = {"status": "ok", "reason": ""}
    return [
        {"case": case, "rep": i, "base": ok | {"min_s": base, "median_s": base},
         "head": ok | {"min_s": base * r, "median_s": base * r}}
        for i, r in enumerate(ratios)
    ]  # fmt: skip


def _file(data: dict, kind: str = "ab") -> GateFile:
    """``data`` as the gate reads it: through the file's record, its header filled in."""
    side = {"commit": None, "dirty": False}
    header = {"schema": AB_SCHEMA, "kind": kind, "status": "complete", "base": side, "head": side}
    return GateFile.from_json(header | data, f"{kind}.json")


def _typed(pairs: list[dict]) -> tuple[Pair, ...]:
    return _file({"pairs": pairs}).pairs


def _side(data: dict) -> Measurement:
    figures = {k: v for k, v in data.items() if k not in ("status", "reason")}
    return Measurement(data["status"], data.get("reason"), figures)


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


def test_too_few_pairs_for_an_interval_are_not_compared_never_held_even_at_three_times_slower():
    gate = stats.gate_method(
        "m[cpu-float32]", _typed(_pairs("m[cpu-float32-N1-D1-M1]", [3.0] * 5)), 0.05, 0.95
    )
    assert math.isinf(gate.high) and gate.verdict == "not compared"
    assert "5 pairs are too few for a 95% interval (at least 6)" in gate.note


def test_six_pairs_are_the_fewest_with_a_95_percent_signed_rank_interval():
    # All 2^n sign patterns are equally likely; the interval exists once the most extreme one,
    # P(T = 0) = 2^-n, lies within alpha/2 = 0.025: 2^-5 = 0.031 does not, 2^-6 = 0.016 does.
    assert stats.min_pairs(0.95) == 6
    assert stats.min_pairs(0.90) == 5  # 2^-5 = 0.031 <= 0.05


def test_a_method_that_held_with_a_wide_spread_is_inconclusive_and_its_cases_get_more_reps():
    rng = np.random.default_rng(5)
    wide = _pairs("w[cpu-float32-N1-D1-M1]", _noisy(rng, 0.0, 8, spread=0.2))
    tight = _pairs("t[cpu-float32-N1-D1-M1]", _noisy(rng, 0.0, 16, spread=0.005))
    verdicts = {g.method: g for g in stats.gate(_file({"pairs": wide + tight}), 0.05, 0.95)}
    assert verdicts["w[cpu-float32]"].verdict == "inconclusive" and verdicts["w[cpu-float32]"].mde > 0.10
    assert verdicts["t[cpu-float32]"].verdict == "held" and verdicts["t[cpu-float32]"].mde < 0.10
    assert stats.needs_more(_file({"pairs": wide + tight}), 0.05, 0.95) == ["w[cpu-float32-N1-D1-M1]"]


def test_a_method_with_too_few_pairs_needs_more_but_one_the_base_lacks_does_not():
    few = _pairs("f[cpu-float32-N1-D1-M1]", [1.0] * 3)
    lacking = _pairs("new[cpu-float32-N1-D1-M1]", [1.0] * 3)
    for pair in lacking:
        pair["base"] = {"status": "missing", "reason": "method new is not in this tree"}
    assert stats.needs_more(_file({"pairs": few + lacking}), 0.05, 0.95) == ["f[cpu-float32-N1-D1-M1]"]


def test_a_ten_percent_slowdown_with_two_percent_noise_fails():
    rng = np.random.default_rng(1)
    pairs = _pairs("m[cpu-float32-N1-D1-M1]", _noisy(rng, 0.10, 8)) + _pairs(
        "m[cpu-float32-N2-D2-M2]", _noisy(rng, 0.10, 8)
    )
    gate = stats.gate_method("m[cpu-float32]", _typed(pairs), 0.05, 0.95)
    assert gate.verdict == "worse"
    assert gate.low > 1.05 and gate.ratio == pytest.approx(1.10, abs=0.02)
    assert gate.mde < 0.10
    assert set(gate.case_ratios) == {"m[cpu-float32-N1-D1-M1]", "m[cpu-float32-N2-D2-M2]"}


@pytest.mark.parametrize("seed", range(5))
def test_unchanged_code_with_noise_holds(seed):
    rng = np.random.default_rng(seed)
    gate = stats.gate_method(
        "m[cpu-float32]", _typed(_pairs("m[cpu-float32-N1-D1-M1]", _noisy(rng, 0.0, 16, 0.03))), 0.05, 0.95
    )
    assert gate.verdict == "held"
    assert gate.low < 1.0 < gate.high


def test_a_few_disturbed_pairs_do_not_fail_a_method():
    rng = np.random.default_rng(2)
    ratios = _noisy(rng, 0.0, 16)
    ratios[3], ratios[9] = 1.9, 2.4  # two pairs hit by interference on one side only
    gate = stats.gate_method("m[cpu-float32]", _typed(_pairs("m[cpu-float32-N1-D1-M1]", ratios)), 0.05, 0.95)
    assert gate.verdict == "held"


def test_a_clear_speed_up_is_better_and_does_not_fail():
    rng = np.random.default_rng(3)
    gate = stats.gate_method(
        "m[cpu-float32]", _typed(_pairs("m[cpu-float32-N1-D1-M1]", _noisy(rng, -0.3, 12))), 0.05, 0.95
    )
    assert gate.verdict == "better"


def test_a_case_the_head_now_fails_is_worse_and_named():
    pairs = _pairs("m[cpu-float32-N1-D1-M1]", [1.0] * 8)
    pairs[0]["head"] = {"status": "failed", "reason": "wrong gradients: relative error 0.5"}
    gate = stats.gate_method("m[cpu-float32]", _typed(pairs), 0.05, 0.95)
    assert gate.verdict == "worse" and "wrong gradients" in gate.note


def test_a_method_the_base_does_not_have_is_new_and_says_why():
    pairs = _pairs("new[cpu-float32-N1-D1-M1]", [1.0] * 4)
    for pair in pairs:
        pair["base"] = {"status": "missing", "reason": "method new is not in this tree"}
    gate = stats.gate_method("new[cpu-float32]", _typed(pairs), 0.05, 0.95)
    assert gate.verdict == "new" and "not in the base tree" in gate.note


def test_a_new_method_does_not_make_the_time_gate_incomplete(monkeypatch, tmp_path, capsys):
    """Adding a method must not turn CI red: only methods the base has can be compared too little."""
    from analysis.gate.report_file import Report
    from analysis.gate.rule import Job, run_rule
    from analysis.gate.rules import time_ab

    ok = {"status": "ok", "reason": ""}
    side = Side("base", tmp_path, "a" * 40)
    described = {"commit": "a" * 40, "dirty": False}
    data = {
        "pairs": [],
        "reps": 8,
        "extra_reps": {},
        "base": described,
        "head": described,
        "cases": [],
        "profile": "quick",
    }
    for rep in range(8):
        data["pairs"] += [
            {"case": "old[cpu-float32-N1-D1-M1]", "rep": rep, "base": ok | {"min_s": 1.0, "median_s": 1.0},
             "head": ok | {"min_s": 1.0, "median_s": 1.0}},
            {"case": "new[cpu-float32-N1-D1-M1]", "rep": rep, "head": ok | {"min_s": 1.0, "median_s": 1.0},
             "base": {"status": "missing", "reason": "method new is not in this tree"}},
        ]  # fmt: skip
    written = _file(data).to_json()
    monkeypatch.setattr(time_ab, "run_ab", lambda *args, **kwargs: write_gate_file(args[5], written))
    report = Report(tmp_path, "regress", "t")
    from lbb.commands.regress import parser

    args = parser().parse_args(["--gate", "time"])
    run_rule(time_ab.RULE, Job(args, side, side, PROFILES["quick"], tmp_path), report)
    assert report.status == 0
    assert "new[cpu-float32]" in capsys.readouterr().out


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
    gates = stats.gate(_file(data), 0.05, 0.95)
    text = stats.markdown(_file(data), gates, 0.05, 0.95)
    assert "REGRESSED" in text and "(with uncommitted changes)" in text
    assert text.index("`b[cpu-float32]`") < text.index("`a[cpu-float32]`")  # worst first
    assert "| worse |" in text and "| held |" in text


def test_quick_ab_cases_cover_every_method_and_variant_once_per_point():
    cases = ab_cases(PROFILES["quick"], ["formula-torch", "explicit-torch"], "cpu")
    assert [c.name for c in cases] == [
        "formula-torch[cpu-float32-N64-D1024-M1024]",
        "formula-torch[cpu-float32-N256-D512-M512]",
        "formula-torch-warm[cpu-float32-N64-D1024-M1024]",
        "formula-torch-warm[cpu-float32-N256-D512-M512]",
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
    with pytest.raises(RefError, match=r"^the baseline's commit [0-9a-f]{40} is not in this shallow clone"):
        resolve_commit(shallow, parent, what="the baseline's commit")  # no --against given: not named


def test_the_base_worktree_holds_the_commit_and_is_removed_afterwards(repo):
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "bench" / "methods" / "__init__.py").write_text("# changed in the working tree\n")
    assert is_dirty(repo)
    with checkout(repo, commit) as tree:
        assert (tree / "bench" / "methods" / "__init__.py").read_text() != "# changed in the working tree\n"
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
    import analysis.gate.plan as plan

    baseline = json.loads((ROOT / "reports" / "baseline" / "quick-cpu.json").read_text())
    baseline["commit"] = None
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline))
    monkeypatch.setattr(plan, "is_dirty", lambda repo: True)
    assert main(["regress", "--gate", "time", "--baseline", str(path), "--out", str(tmp_path / "o")]) == 2
    assert (
        "the working tree has uncommitted changes: name the base with --against REF"
        in capsys.readouterr().err
    )


@pytest.mark.slow
def test_a_changed_method_shows_up_in_the_ab_and_an_unchanged_one_does_not(repo, tmp_path):
    """A real interleaved A/B: the head's formula-torch sleeps 3 ms; formula-numpy and docs change nothing."""
    commit = _git(repo, "rev-parse", "HEAD")
    methods = repo / "bench" / "methods" / "__init__.py"  # the registry
    text = methods.read_text()
    slow = text.replace(
        '"dX = dY·Wᵀ, dW = Xᵀ·dY with torch matmul",\n        _formula,',
        '"slower",\n        lambda *a: (__import__("time").sleep(0.003), _formula(*a))[1],',
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
    assert read_gate_file(tmp_path / "ab.json").to_json() == saved  # the real file, through its record
    verdicts = {g.method: g for g in stats.gate(read_gate_file(tmp_path / "ab.json"), 0.05, 0.95)}
    assert verdicts["formula-torch[cpu-float32]"].verdict == "worse"
    assert verdicts["formula-torch[cpu-float32]"].ratio > 5
    unchanged = verdicts["formula-numpy[cpu-float32]"]
    assert unchanged.verdict in ("held", "inconclusive")  # 6 pairs: an interval, but a wide one
    assert 0.5 < unchanged.ratio < 2
    first = {pair["first"] for pair in data["pairs"]}
    assert first == {"base", "head"}  # the order within pairs is random


PRE_PACKAGE = "be0b3255a4a313b0bdbd953dca63279e06ae49dc"
"""main before #29 made ``bench/methods.py`` the package ``bench/methods/``."""


@pytest.mark.slow
def test_the_gate_compares_with_a_commit_whose_methods_are_one_module(tmp_path):
    """The A/B worker imports the base's ``bench.methods``: a base from before the package still serves."""
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{PRE_PACKAGE}^{{commit}}"]).returncode:
        pytest.skip(f"commit {PRE_PACKAGE[:12]} is not in this clone (a shallow clone?)")
    base = tmp_path / "base"
    base.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PRE_PACKAGE, "bench"], capture_output=True, check=True, timeout=60
    )
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True, timeout=60)
    assert (base / "bench" / "methods.py").is_file() and not (base / "bench" / "methods").exists()
    profile = PROFILES["smoke"]
    cases = ab_cases(profile, ["formula-numpy", "explicit-torch"], "cpu")
    data = run_ab(
        Side("base", base, PRE_PACKAGE), Side("head", ROOT, None, True), cases, profile, 2,
        tmp_path / "ab.json", seed=0, progress=lambda _: None,
    )  # fmt: skip
    assert data["status"] == "complete" and len(data["pairs"]) == 2 * len(cases)
    for pair in data["pairs"]:
        assert pair["base"]["status"] == pair["head"]["status"] == "ok", pair


def test_every_method_family_has_its_own_ab_points():
    from bench.costs import FAMILIES

    quick = PROFILES["quick"]
    for name, family in FAMILIES.items():
        assert quick.ab_points(name) == family.ab_points and family.ab_points, name
        assert quick.peak_points(name) == family.peak_points and family.peak_points, name
    assert PROFILES["smoke"].ab_points("jacrev") == (PROFILES["smoke"].base,)  # smoke: the base only


# --- the memory A/B --------------------------------------------------------------------------------


def _inject(repo: Path, old: str, new: str, module: str = "__init__") -> None:
    methods = repo / "bench" / "methods" / f"{module}.py"
    text = methods.read_text()
    assert old in text
    methods.write_text(text.replace(old, new))


@pytest.mark.slow
def test_the_memory_ab_names_an_extra_dw_copy_and_both_jacobians_held_at_once(repo, tmp_path):
    """formula-torch keeping a copy of dW grows by |dW|; explicit-torch-cold holding dY/dX while it
    builds dY/dW grows by the smaller Jacobian; formula-numpy is untouched and holds to the jitter."""
    commit = _git(repo, "rev-parse", "HEAD")
    _inject(
        repo,
        '"dX = dY·Wᵀ, dW = Xᵀ·dY with torch matmul",\n        _formula,',
        '"copies dW",\n        lambda X, W, dY, workspace: '
        "(lambda g: (g[0], g[1], g[1].clone())[:2])(_formula(X, W, dY, workspace)),",
    )
    _inject(repo, "    del jac  # freed before dY/dW exists", "    # (not freed)", "impls")
    profile = PROFILES["quick"]
    cases = peak_cases(profile, ["formula-torch", "formula-numpy", "explicit-torch"], "cpu")
    with checkout(repo, commit) as tree:
        data = run_peaks(
            Side("base", tree, commit), Side("head", repo, commit, True), cases, profile,
            tmp_path / "peaks.json", seed=0, progress=lambda _: None,
        )  # fmt: skip
    assert data["status"] == "complete"
    assert read_gate_file(tmp_path / "peaks.json").to_json() == json.loads(
        (tmp_path / "peaks.json").read_text()
    )
    verdicts = {v.case: v for v in peaks_gate.gate(read_gate_file(tmp_path / "peaks.json"))}
    dw = verdicts["formula-torch[cpu-float32-N64-D1024-M1024]"]
    assert dw.verdict == "worse" and dw.growth >= 1024 * 1024 * 4  # one float32 dW
    both = verdicts["explicit-torch-cold[cpu-float32-N16-D64-M64]"]
    dydx = (16 * 64) ** 2 * 4  # (N·M)×(N·D) floats, held while dY/dW is built
    assert both.verdict == "worse" and 0.99 * dydx <= both.growth <= dydx
    assert verdicts["explicit-torch-warm[cpu-float32-N16-D64-M64]"].verdict == "held"  # one workspace
    assert all(v.verdict == "held" for c, v in verdicts.items() if c.startswith("formula-numpy"))
    worst = peaks_gate.worst_by_label(list(verdicts.values()))
    assert worst["formula-torch"].case == "formula-torch[cpu-float32-N64-D1024-M1024]"


def test_a_peak_within_the_jitter_holds_and_one_beyond_it_is_worse():
    ok = {"status": "ok"}
    base = ok | {"peak_bytes": 10 * 2**20}
    assert (
        peaks_gate.verdict_of("c", _side(base), _side(ok | {"peak_bytes": 10 * 2**20 + 4096})).verdict
        == "held"
    )
    assert (
        peaks_gate.verdict_of("c", _side(base), _side(ok | {"peak_bytes": 10 * 2**20 + 20_000})).verdict
        == "worse"
    )
    small = ok | {"peak_bytes": 100_000}
    assert (
        peaks_gate.verdict_of("c", _side(small), _side(ok | {"peak_bytes": 104_096})).verdict == "held"
    )  # one page
    assert peaks_gate.verdict_of("c", _side(small), _side(ok | {"peak_bytes": 104_097})).verdict == "worse"
    assert peaks_gate.verdict_of("c", _side(small), _side(ok | {"peak_bytes": 90_000})).verdict == "better"


def test_a_case_the_head_now_fails_is_worse_and_one_the_base_lacks_is_not_compared():
    ok = {"status": "ok", "peak_bytes": 1000}
    failed = {"status": "failed", "reason": "wrong gradients: relative error 0.5"}
    missing = {"status": "missing", "reason": "method new is not in this tree"}
    worse = peaks_gate.verdict_of("c", _side(ok), _side(failed))
    assert worse.verdict == "worse" and "wrong gradients" in worse.note
    assert peaks_gate.verdict_of("c", _side(missing), _side(ok)).verdict == "not compared"
    assert (
        peaks_gate.exit_status([peaks_gate.verdict_of("c", _side(missing), _side(ok))], allow_partial=False)
        == 2
    )
    assert (
        peaks_gate.exit_status([peaks_gate.verdict_of("c", _side(missing), _side(ok))], allow_partial=True)
        == 0
    )
    assert peaks_gate.exit_status([worse], allow_partial=True) == 1


def test_a_memory_ab_markdown_names_the_worst_case_of_each_method():
    def peak(value: int) -> dict:
        return {"status": "ok", "peak_bytes": value}

    data = {
        "base": {"commit": "a" * 40, "dirty": False},
        "head": {"commit": "b" * 40, "dirty": False},
        "pairs": [
            {"case": "f[cpu-float32-N1-D1-M1]", "base": peak(2**20), "head": peak(2**21)},
            {"case": "f[cpu-float32-N2-D2-M2]", "base": peak(2**20), "head": peak(2**20)},
        ],
    }
    text = peaks_gate.markdown(_file(data, "peaks"), peaks_gate.gate(_file(data, "peaks")))
    assert "REGRESSED" in text
    assert "| `f` | `f[cpu-float32-N1-D1-M1]` | 1.0 MiB | 2.0 MiB | +1.0 MiB (+100.0%) | worse |" in text


def test_a_tree_without_the_method_registry_is_refused_before_any_process_starts(tmp_path):
    why = r"has no bench.methods \(bench/methods.py, or the package bench/methods/ since #29\): it predates"
    with pytest.raises(ABError, match=why):
        SideServer(Side("base", tmp_path, "c" * 40), 1, tmp_path / "worker.log")


@pytest.mark.slow
def test_a_base_whose_methods_do_not_import_fails_with_one_line_and_keeps_the_traceback(repo, tmp_path):
    (repo / "bench" / "methods" / "__init__.py").write_text("def broken(:\n")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "broken")
    commit = _git(repo, "rev-parse", "HEAD")
    profile = PROFILES["smoke"]
    cases = ab_cases(profile, ["formula-numpy"], "cpu")
    with checkout(repo, commit) as tree, pytest.raises(ABError) as caught:
        run_peaks(
            Side("base", tree, commit), Side("head", ROOT, None), cases, profile, tmp_path / "peaks.json"
        )
    message = str(caught.value)
    assert "\n" not in message and "SyntaxError" in message
    assert "Traceback" in (tmp_path / "worker-base.log").read_text()
    assert json.loads((tmp_path / "peaks.json").read_text())["status"].startswith("failed")


def test_a_stale_gate_worktree_is_pruned_and_a_live_one_is_kept(repo, tmp_path):
    import fcntl
    import os

    from bench.abtest.worktree import prune_stale

    commit = _git(repo, "rev-parse", "HEAD")
    stale, live = tmp_path / "lbb-base-stale", tmp_path / "lbb-base-live"
    for scratch in (stale, live):
        scratch.mkdir()
        _git(repo, "worktree", "add", "--detach", "--quiet", str(scratch / "tree"), commit)
    holder = os.open(live / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a gate that is still running
    try:
        assert prune_stale(repo) == [stale / "tree"]
    finally:
        os.close(holder)
    listed = _git(repo, "worktree", "list")
    assert str(stale) not in listed and str(live / "tree") in listed
    assert not stale.exists()


def test_a_side_without_the_variant_asked_for_answers_missing_so_the_case_is_new(monkeypatch):
    """A base from before the formula had a warm variant must not time it with an explicit-sized
    workspace (it would fail); it says the case is not in its tree."""
    from types import SimpleNamespace

    import bench.methods
    from bench.abtest import worker

    request = {"method": "formula-torch", "variant": "warm"}
    assert worker._method(request) is bench.methods.METHODS["formula-torch"]
    older = {
        "formula-torch": SimpleNamespace(uses_workspace=False),
        "explicit-torch": SimpleNamespace(uses_workspace=True),
    }
    monkeypatch.setattr(bench.methods, "METHODS", older)
    assert worker._method(request) is None
    assert worker._method({"method": "explicit-torch", "variant": "warm"}) is older["explicit-torch"]
    assert worker._method({"method": "formula-torch", "variant": ""}) is older["formula-torch"]
    reply = worker.measure_time(request)
    assert reply == {"status": "missing", "reason": "method formula-torch-warm is not in this tree"}
