"""Loaded into the runtime pass's pytest child by one test (``PYTEST_ADDOPTS=-p ...``): from then
on, every write of runtime.json fails as on a full disk, as it did on a tiny tmpfs."""

from __future__ import annotations

import errno
import os
from typing import Any

_real_replace = os.replace


def _replace_on_a_full_disk(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    if str(dst).endswith("runtime.json"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
    _real_replace(src, dst, *args, **kwargs)


os.replace = _replace_on_a_full_disk
