"""Memory budgets: parsing, and the guard's decision for a case."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cases import Case
from bench.hardware import host_available_bytes
from bench.harness.budget import default_budget, over_budget_reason, parse_bytes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8GiB", 8 * 2**30),
        ("512MiB", 512 * 2**20),
        ("2GB", 2 * 10**9),
        ("1.5 GiB", 3 * 2**29),
        ("1000000", 1_000_000),
        ("64kib", 64 * 1024),
    ],
)
def test_parse_bytes_reads_binary_and_decimal_units(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "GiB", "8 GiBs", "-1GiB", "eight", "1e9"])
def test_parse_bytes_rejects_malformed_sizes(text):
    with pytest.raises(ValueError, match="malformed memory size"):
        parse_bytes(text)


def test_headline_explicit_case_is_over_budget_with_sizes_in_reason():
    case = Case("explicit-torch", "cold", "cpu", "float32", 64, 4096, 4096)
    reason = over_budget_reason(case.needed_bytes(), 12 * 2**30)
    assert reason is not None
    assert reason.startswith("needs 16.0 TiB")
    assert reason.endswith("budget 12.0 GiB (12.9 GB)")


def test_small_case_fits_budget():
    case = Case("formula-torch", "", "cpu", "float32", 64, 4096, 4096)
    assert over_budget_reason(case.needed_bytes(), 12 * 2**30) is None


def test_default_budget_is_half_of_the_memory_available_to_the_device(monkeypatch, tmp_path):
    monkeypatch.setattr("bench.harness.budget.host_available_bytes", lambda: 10 * 2**30 + 1)
    monkeypatch.setattr("bench.harness.budget.cuda_free_bytes", lambda: 3 * 2**30)
    assert default_budget("cpu", tmp_path) == 5 * 2**30  # half, rounded down (no cgroup under tmp_path)
    assert default_budget("cuda") == 3 * 2**29


def _mem_available() -> int:
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return int(fields["MemAvailable"].split()[0]) * 1024


def test_host_available_memory_is_what_the_kernel_reports_as_available():
    """Linux's MemAvailable (KiB in /proc/meminfo), read through psutil: between the kernel's
    readings just before and just after, within 16 MiB. Other processes move it meanwhile (the
    suite runs on every core), so one of five tries must land; a wrong reading never does."""
    slack = 16 * 2**20
    readings = []
    for _ in range(5):
        before, ours, after = _mem_available(), host_available_bytes(), _mem_available()
        if min(before, after) - slack <= ours <= max(before, after) + slack:
            return
        readings.append((before, ours, after))
    pytest.fail(f"psutil's available memory is outside the kernel's readings around it: {readings}")


def test_jacfwd_case_whose_dm_squared_basis_would_not_fit_is_over_budget_while_jacrev_fits():
    # N=1, D=M=256: each Jacobian is at most 64 MiB, but jacfwd's dY/dW basis is (D·M)² = 16 GiB.
    jacfwd = Case("jacfwd-torch", "", "cpu", "float32", 1, 256, 256)
    jacrev = Case("jacrev-torch", "", "cpu", "float32", 1, 256, 256)
    budget = 2**30
    assert over_budget_reason(jacrev.needed_bytes(), budget) is None
    reason = over_budget_reason(jacfwd.needed_bytes(), budget)
    assert reason is not None
    assert reason.startswith("needs 16.1 GiB")


def test_sweep_skips_jacfwd_with_the_guards_reason_when_only_its_basis_is_too_big():
    from bench.profiles import PROFILES
    from bench.sweep.session import skip_reasons

    full = PROFILES["full"]  # no Jacobian cap: only the memory guard decides
    cases = [Case(m, "", "cpu", "float32", 1, 256, 256) for m in ("jacfwd-torch", "jacrev-torch")]
    reasons = skip_reasons(cases, full, {"cpu": 2**30})
    assert list(reasons) == [cases[0].name]
    assert reasons[cases[0].name].startswith("needs 16.1 GiB")


def test_quick_profile_caps_jacfwd_on_its_basis_where_jacrev_still_runs():
    from bench.profiles import PROFILES

    quick = PROFILES["quick"]
    point = (16, 256, 64)  # on quick's D axis: dY/dW 64 MiB; jacfwd's (D·M)² basis 1 GiB
    assert quick.cap_reason(Case("jacrev-torch", "", "cpu", "float32", *point)) is None
    reason = quick.cap_reason(Case("jacfwd-torch", "", "cpu", "float32", *point))
    assert reason is not None
    assert reason.startswith("profile quick caps Jacobian methods at 300.0 MiB (needs 1.1 GiB")


def test_quick_profile_skips_ajacobian_past_its_backward_call_cap_with_the_count():
    from bench.profiles import PROFILES

    quick = PROFILES["quick"]
    small, base = (Case("ajacobian-torch", "", "cpu", "float32", n, 64, 64) for n in (8, 16))
    assert quick.cap_reason(small) is None  # 2·8·64 = 1,024 calls
    assert quick.cap_reason(base) == (
        "profile quick caps looped backward calls at 1,024 (this one makes 2,048); use a larger profile"
    )


USER_PROFILES = ("quick", "gpu", "default", "full")
"""The profiles a user runs; ``smoke`` (seconds, for the tests) leaves the target out."""
CHEAP_AT_TARGET = ("formula-numpy", "formula-torch", "autograd-torch")


@pytest.mark.parametrize("name", USER_PROFILES)
def test_every_user_profile_measures_the_formula_and_autograd_at_the_target_and_skips_the_rest(name):
    from bench.methods import METHODS
    from bench.profiles import PROFILES, TARGET, build_cases
    from bench.sweep.session import skip_reasons

    profile = PROFILES[name]
    at_target = [c for c in build_cases(profile, METHODS, ["cpu"]) if (c.n, c.d, c.m) == TARGET]
    assert {c.method for c in at_target} == set(METHODS)
    reasons = skip_reasons(at_target, profile, {"cpu": 8 * 2**30})
    for case in at_target:
        if case.method in CHEAP_AT_TARGET:
            assert case.name not in reasons, reasons.get(case.name)
        else:
            assert reasons[case.name].startswith(("profile ", "needs ")), reasons[case.name]


@pytest.mark.parametrize("name", USER_PROFILES)
def test_the_target_point_lies_on_no_axis_of_its_profile(name):
    from bench.profiles import PROFILES, TARGET

    profile = PROFILES[name]
    assert profile.target == TARGET
    assert TARGET in profile.points()
    assert all(TARGET not in points for points in profile.axes().values())


def test_target_case_over_the_time_cap_is_skipped_with_its_predicted_time_and_the_cap():
    from bench.profiles import PROFILES

    full = PROFILES["full"]  # no Jacobian cap: at the target only the time cap and the budget decide
    case = Case("explicit-torch", "warm", "cpu", "float32", 64, 4096, 4096)
    reason = full.cap_reason(case)
    assert reason is not None
    assert reason.startswith(f"profile full caps a call at the target point at {full.target_time_cap:g} s")
    assert "(predicted 1.88e+04 s at conservative throughputs)" in reason


def test_time_cap_applies_at_the_target_point_only():
    from dataclasses import replace

    from bench.profiles import PROFILES

    tight = replace(PROFILES["quick"], target_time_cap=1e-9)
    assert tight.cap_reason(Case("formula-torch", "", "cpu", "float32", *tight.base)) is None
    reason = tight.cap_reason(Case("formula-torch", "", "cpu", "float32", *tight.target))
    assert reason is not None and "caps a call at the target point at 1e-09 s" in reason


def test_predicted_seconds_charges_flops_bytes_and_calls_at_the_conservative_rates():
    from bench import costs

    rates = costs.CONSERVATIVE_RATES
    n, d, m = 64, 4096, 4096
    formula = costs.predicted_seconds("formula", n, d, m)
    # Counted by hand: 2 × 64·4096·4096 multiply-adds; X, W, dY read and dX, dW written once
    # (64·4096 + 4096·4096 + 64·4096 floats each way, 4 bytes each).
    assert formula == pytest.approx(4_294_967_296 / rates["flops"] + 138_412_032 / rates["bytes"])
    assert costs.predicted_seconds("formula", n, d, m, "float64") > formula
    looped = costs.predicted_seconds("ajacobian", 2, 4, 4)
    counts = (
        costs.flops("ajacobian", 2, 4, 4) / rates["flops"]
        + costs.bytes_moved("ajacobian", 2, 4, 4) / rates["bytes"]
    )
    assert looped == pytest.approx(counts + 2 * 2 * 4 * rates["call"])  # N·M calls per Jacobian


@pytest.mark.parametrize("name", USER_PROFILES)
def test_user_profiles_sweep_d_equals_m_at_the_targets_n_toward_the_target(name):
    from bench.profiles import PROFILES

    profile = PROFILES[name]
    line = profile.axes()["DM"]
    assert len(line) >= 4
    assert all(n == profile.target[0] and d == m < profile.target[1] for n, d, m in line)
    assert set(line) <= set(profile.points())
    assert profile.target not in line  # the target itself trains no fit
    assert "DM" not in PROFILES["smoke"].axes()
