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
