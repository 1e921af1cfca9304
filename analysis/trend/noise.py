"""The gate's observed false-alarm rate, from the scheduled A/A runs (``aa`` records).

An A/A run gates the same commit against itself: any method the time gate calls ``worse`` and
any case whose peak grows past the jitter is a false alarm. The rate is per run (did the gate
fail unchanged code?) with its exact Clopper–Pearson 95% interval, and per method beside its MDE,
so that the published MDEs can be read against how often the gate cries wolf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats


@dataclass(frozen=True)
class AlarmRate:
    runs: int
    alarms: int
    low: float
    high: float

    def line(self) -> str:
        if not self.runs:
            return "No scheduled A/A run has been recorded yet: the false-alarm rate is unknown."
        return (
            f"{self.alarms} of {self.runs} A/A runs raised a false alarm "
            f"(rate {self.alarms / self.runs:.1%}, "
            f"95% interval {self.low:.1%}–{self.high:.1%}, Clopper–Pearson)."
        )


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    alpha = 1 - confidence
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def is_alarm(record: dict[str, Any]) -> bool:
    """Whether the gate would have failed this A/A run (a regression, not an incomplete gate)."""
    time = any(m.get("verdict") == "worse" for m in record["time"].values())
    return time or any(c.get("verdict") == "worse" for c in record["memory"].values())


def alarm_rate(records: list[dict[str, Any]]) -> AlarmRate:
    alarms = sum(map(is_alarm, records))
    low, high = clopper_pearson(alarms, len(records)) if records else (math.nan, math.nan)
    return AlarmRate(len(records), alarms, low, high)


def per_method(aa: list[dict[str, Any]], links: list[dict[str, Any]]) -> list[list[str]]:
    """Rows: method, A/A runs, false alarms, largest A/A ratio, latest A/A MDE, latest link MDE."""
    latest_aa = max(aa, key=lambda r: r["date"])["time"] if aa else {}
    latest_link = max(links, key=lambda r: r["date"])["time"] if links else {}
    names = sorted({m for r in aa for m in r["time"]} | set(latest_link))
    rows = []
    for name in names:
        entries = [r["time"][name] for r in aa if name in r["time"]]
        ratios = [e["ratio"] for e in entries if e.get("ratio")]
        largest = max(ratios, key=lambda x: abs(math.log(x)), default=None)
        rows.append(
            [
                name,
                str(len(entries)),
                str(sum(e.get("verdict") == "worse" for e in entries)),
                "–" if largest is None else f"×{largest:.3f}",
                _pct((latest_aa.get(name) or {}).get("mde")),
                _pct((latest_link.get(name) or {}).get("mde")),
            ]
        )
    return rows


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:+.1%}"
