"""The software prefetch the compiled dY/dX kernel asks for its panel rows with."""

from __future__ import annotations

import platform

import numba
import numpy as np
import pytest

from bench.harness.prefetch import prefetch_l2


@numba.njit(cache=False)
def _sum_with_prefetch(a, ahead):  # pragma: no cover - compiled
    total = 0.0
    for i in range(a.size):
        if i + ahead < a.size:
            prefetch_l2(a, i + ahead)
        total += a[i]
    return total


def test_a_prefetch_changes_no_value():
    a = np.arange(1000, dtype=np.float32)
    assert _sum_with_prefetch(a, 16) == float(a.sum(dtype=np.float64))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 machine code")
def test_a_prefetch_is_emitted_as_prefetcht1_into_l2_on_x86():
    a = np.ones(64, dtype=np.float32)
    _sum_with_prefetch(a, 16)
    asm = _sum_with_prefetch.inspect_asm(_sum_with_prefetch.signatures[0])
    assert "prefetcht1" in asm
