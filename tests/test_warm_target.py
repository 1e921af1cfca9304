"""The "warm ≤ cold (within noise)" target, on a frame whose answers are counted by hand."""

from __future__ import annotations

import pandas as pd

from analysis.targets import warm_not_slower


def _case(method: str, variant: str, n: int, seconds: float) -> dict:
    label = f"{method}-{variant}" if variant else method
    return {"run_id": "r", "method": method, "variant": variant, "label": label, "device": "cpu",
            "dtype": "float32", "n": n, "d": 64, "m": 64, "time_median_s": seconds}  # fmt: skip


def test_a_warm_variant_slower_than_cold_beyond_noise_misses_the_target_and_counts_its_cases():
    frame = pd.DataFrame(
        [_case("formula-torch", "", 4, 1.0), _case("formula-torch", "warm", 4, 1.05),  # within 10%
         _case("formula-torch", "", 8, 1.0), _case("formula-torch", "warm", 8, 2.5),  # 2.5× slower
         _case("explicit-torch", "cold", 4, 1.0), _case("explicit-torch", "warm", 4, 0.5)]
    )  # fmt: skip
    rows = {row["label"]: row for row in warm_not_slower(frame)}
    assert rows["formula-torch-warm"]["passed"] is False
    assert rows["formula-torch-warm"]["reached"].startswith("slower in 1 of 2 cases; worst 2.50× cold at N=8")
    assert rows["explicit-torch-warm"]["passed"] is True
