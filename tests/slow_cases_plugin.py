"""Loaded into the runtime pass's pytest child by a test (``PYTEST_ADDOPTS=-p ...``): each case
takes half a second longer, so the child is still writing when the test kills its parent."""

from __future__ import annotations

import time

import pytest


def pytest_runtest_call(item: pytest.Item) -> None:
    time.sleep(0.5)
