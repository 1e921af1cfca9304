"""Shared paths and fixtures: the repository, its committed runs, seeded inputs in either backend."""

from __future__ import annotations

import signal
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

# A job started in the background by a non-interactive shell (``nohup ... &``) inherits SIGINT
# ignored, and every process the tests start would inherit it too, so the tests that send Ctrl-C
# would find it ignored (four of them failed so in a clean clone's CI launched that way). With
# Python's own handler here, the children start with the default disposition, as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
