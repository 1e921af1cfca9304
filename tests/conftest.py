"""Shared paths and fixtures: the repository, its committed runs, seeded inputs in either backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.methods import METHODS

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root (the working tree under test)."""
DATA = ROOT / "tests" / "data"
"""Committed quick runs of real machines and the Intel Xeon baseline the regression tests read."""

MakeInputs = Callable[..., tuple[Any, Any, Any]]


def _inputs(backend: str, n: int, d: int, m: int, dtype: str = "float64", seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    arrays = tuple(rng.standard_normal(s).astype(dtype) for s in ((n, d), (d, m), (n, m)))
    if backend == "torch":
        return tuple(torch.from_numpy(a) for a in arrays)
    return arrays


@pytest.fixture
def make_inputs() -> MakeInputs:
    """``make_inputs(backend, n, d, m, dtype="float64", seed=0) -> (X, W, dY)``."""
    return _inputs


ALL_METHODS = sorted(METHODS)
