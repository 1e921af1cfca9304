"""The memory pass reports each case's own peak, in a fresh child, close to the cost model."""

from __future__ import annotations

import pytest

from bench.cases import Case
from bench.sweep.memory_pass import run_memory_pass

pytestmark = pytest.mark.slow


def test_each_child_reports_its_own_peak_not_the_previous_cases():
    big = Case("explicit-torch", "cold", "cpu", "float32", 16, 64, 64)  # 16 MiB dY/dW
    small = Case("formula-torch", "", "cpu", "float32", 16, 64, 64)
    warm = Case("explicit-numpy", "warm", "cpu", "float32", 16, 64, 64)
    records: list[dict] = []
    run_memory_pass([big, small, warm], lambda r: records.append(r.to_json()))
    by_case = {r["case"]: r for r in records}
    assert [r["status"] for r in records] == ["ok", "ok", "ok"]
    for case in (big, warm):  # a Jacobian this size is predicted to within 1%
        record = by_case[case.name]
        assert record["peak_bytes"] == pytest.approx(record["predicted_bytes"], rel=0.01)
    # The formula child ran right after a 16 MiB case: it must see only its own few KiB.
    assert by_case[small.name]["peak_bytes"] < 256 * 1024


def test_failure_while_measuring_is_a_failed_record_with_its_reason(monkeypatch):
    from bench.sweep import memory_pass

    def explode(*args, **kwargs):
        raise RuntimeError("allocator exploded")

    monkeypatch.setattr(memory_pass, "peak_of", explode)
    record = memory_pass.measure_case(Case("formula-torch", "", "cpu", "float32", 2, 3, 4).params()).to_json()
    assert record["status"] == "failed"
    assert record["reason"] == "RuntimeError: allocator exploded"
    assert record["peak_bytes"] is None
    assert record["predicted_bytes"] > 0
