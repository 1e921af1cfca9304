"""Memory budgets: parsing, and the guard's decision for a case."""

from __future__ import annotations

import pytest

from bench.budget import default_budget, host_available_bytes, over_budget_reason, parse_bytes
from bench.cases import Case


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
    reason = over_budget_reason(case, 12 * 2**30)
    assert reason is not None
    assert reason.startswith("needs 16.0 TiB")
    assert reason.endswith("budget 12.0 GiB (12.9 GB)")


def test_small_case_fits_budget():
    case = Case("formula-torch", "", "cpu", "float32", 64, 4096, 4096)
    assert over_budget_reason(case, 12 * 2**30) is None


def test_default_cpu_budget_is_half_of_available_memory():
    assert abs(default_budget("cpu") - host_available_bytes() // 2) < 256 * 2**20  # memory moves a little


def test_meminfo_is_parsed_in_kib(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  100 kB\nMemAvailable:    2048 kB\n")
    assert host_available_bytes(meminfo) == 2048 * 1024


def test_jacfwd_case_whose_dm_squared_basis_would_not_fit_is_over_budget_while_jacrev_fits():
    # N=1, D=M=256: each Jacobian is at most 64 MiB, but jacfwd's dY/dW basis is (D·M)² = 16 GiB.
    jacfwd = Case("jacfwd-torch", "", "cpu", "float32", 1, 256, 256)
    jacrev = Case("jacrev-torch", "", "cpu", "float32", 1, 256, 256)
    budget = 2**30
    assert over_budget_reason(jacrev, budget) is None
    reason = over_budget_reason(jacfwd, budget)
    assert reason is not None
    assert reason.startswith("needs 16.1 GiB")


def test_sweep_skips_jacfwd_with_the_guards_reason_when_only_its_basis_is_too_big():
    from bench.cli import skip_reasons
    from bench.profiles import PROFILES

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
