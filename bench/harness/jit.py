"""How the suite's numba kernels are compiled: the widest vectors the CPU has, cached on disk when
a cache directory can be written, in memory (with one warning line) when none can.

Why the vector width is set here: LLVM tunes Intel server and client parts with AVX-512 to
prefer 256-bit vectors (the ``prefer-256-bit`` tuning feature, set since LLVM 10 because of the
clock drop of heavy 512-bit code on Skylake-SP), so a plain numba loop on an AVX-512 machine is
emitted with ymm registers. A copy or a streaming fill is limited by loads and stores per cycle,
and a 512-bit store moves twice the bytes of a 256-bit one, so the roofs and the kernel are
compiled with ``-prefer-256-bit`` added to the host's features (the switch numba's own tests use:
``NUMBA_CPU_FEATURES``). A user's own ``NUMBA_CPU_FEATURES`` is left alone. The width actually
emitted is read back from each kernel's machine code (:func:`vector_bits`) and recorded.

Why the cache fallback: ``cache=True`` makes numba raise "cannot cache function ... no locator
available" at import when neither ``NUMBA_CACHE_DIR`` nor the source tree's ``__pycache__`` nor
the user-wide cache can be written (a read-only install under an unwritable home). The kernels
then compile in memory on every process start instead, say so once on stderr, and the run
records "kernel not cached" (:func:`record`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba.core import config

WIDE_FEATURE = "-prefer-256-bit"
"""The LLVM tuning feature that, removed, lets LLVM emit 512-bit vectors on AVX-512 parts."""

_cache_failures: list[str] = []


def wide_features() -> str | None:
    """The host's LLVM features with 256-bit preference removed, where the CPU has AVX-512F;
    None where it has not (nothing wider to ask for)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features().flatten()
    return f"{features},{WIDE_FEATURE}" if "+avx512f" in features.split(",") else None


def configure() -> None:
    """Ask numba for the widest vectors, before its first compilation (the CPU target reads
    ``config.CPU_FEATURES`` when it is created, at the first compilation of the process)."""
    if "NUMBA_CPU_FEATURES" in os.environ or config.CPU_FEATURES is not None:
        return
    features = wide_features()
    if features:
        config.CPU_FEATURES = features


def kernel(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(cache=True, **options)``, or uncached (one warning line per process) where
    numba finds no cache directory it can write."""
    configure()

    def decorate(func: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, **options)(func)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            if not _cache_failures:
                print(
                    f"warning: numba cannot write a cache directory ({exc}); "
                    "compiling the kernels in memory in every process",
                    file=sys.stderr,
                    flush=True,
                )
            _cache_failures.append(func.__qualname__)
            return numba.njit(cache=False, **options)(func)

    return decorate


def cache_status() -> str:
    """ "cached", or "kernel not cached: ..." naming the kernels compiled in memory."""
    if not _cache_failures:
        return "cached"
    return f"kernel not cached: no writable numba cache directory ({', '.join(_cache_failures)})"


def vector_bits(dispatcher: Any, *args: Any) -> int:
    """The widest vector register (512 zmm, 256 ymm, 128 xmm or scalar, 0 none) in the machine
    code of ``dispatcher`` compiled for arguments like ``args``.

    ``dispatcher`` is a non-parallel kernel (a parallel one's loop body is a separate function
    that its ``inspect_asm`` does not show). Code loaded from numba's cache cannot be inspected,
    and a kernel called only from another has no signatures of its own, so its Python function
    is compiled again, uncached, with the same options, for the types of ``args``.
    """
    options = {k: v for k, v in dispatcher.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = numba.njit(**options)(dispatcher.py_func)
    signature = tuple(numba.typeof(arg) for arg in args)
    fresh.compile(signature)
    asm = fresh.inspect_asm(signature)
    for bits, register in ((512, "zmm"), (256, "ymm"), (128, "xmm")):
        if re.search(rf"%{register}\d+", asm):
            return bits
    return 0


ALIGN = 64
"""Bytes a kernel buffer is aligned to: one cache line and one 512-bit vector. numpy aligns to
16 bytes, and a buffer 16 bytes off a line splits every 64-byte load and store in two: the L1
copy roof on a 2-core AVX-512 Xeon read 405 GB/s from such a buffer and 990 GB/s aligned."""


def aligned_empty(
    shape: int | tuple[int, ...], dtype: Any, fill: float | None = None, align: int = ALIGN
) -> np.ndarray:
    """``np.empty(shape, dtype)`` starting on an ``align``-byte boundary (filled if ``fill``).

    A view into a slightly larger buffer, so a memory tracker sees ``align`` bytes more than the
    array itself at most.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    raw = np.empty(count * dtype.itemsize + align, dtype=np.uint8)
    skip = -raw.ctypes.data % align
    out = raw[skip : skip + count * dtype.itemsize].view(dtype).reshape(shape)
    if fill is not None:
        out.fill(fill)
    return out


def record() -> dict[str, Any]:
    """What run.json keeps about how the kernels were compiled."""
    return {
        "numba": numba.__version__,
        "cpu_features_set": config.CPU_FEATURES is not None,
        "prefers_256_bit": WIDE_FEATURE not in (config.CPU_FEATURES or ""),
        "cache": cache_status(),
    }
