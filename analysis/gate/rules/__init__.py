"""The gate's rules, one module each, and their one registry: what ``--gate`` offers, what
``lbb regress`` and ``lbb noise`` plan, run and judge, in this order (:mod:`analysis.gate.rule`)."""

from __future__ import annotations

from analysis.gate.rule import GateRule
from analysis.gate.rules import memory_ab, time_ab

RULES: tuple[GateRule, ...] = (memory_ab.RULE, time_ab.RULE)
"""Run in this order: the memory A/B (one pass) before the time A/B (repetitions)."""

__all__ = ["RULES", "GateRule"]
