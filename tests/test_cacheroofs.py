"""The cache copy roofs: plain copies at sizes from sysfs, the vector width emitted, likwid-bench
beside them where installed, and numba's kernels without a writable cache directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest

from bench.harness import cacheroofs, jit

ROOT = Path(__file__).resolve().parents[1]


def _fake_caches(monkeypatch: pytest.MonkeyPatch, sizes: dict[int, int]) -> None:
    monkeypatch.setattr(cacheroofs, "cache_bytes", lambda level: sizes.get(level))


def test_each_level_copies_buffers_that_fill_its_share_of_that_level(monkeypatch):
    _fake_caches(monkeypatch, {1: 48 * 2**10, 2: 2 * 2**20})
    monkeypatch.setattr(cacheroofs, "likwid_copy", lambda nbytes, threads: {"status": "not installed"})
    roofs = cacheroofs.cache_roofs(seconds=0.01)
    assert roofs.keys() == {"l1_copy", "l2_copy"}
    l1, l2 = roofs["l1_copy"], roofs["l2_copy"]
    assert (l1["buffer_bytes"], l1["bytes_per_core"]) == (16 * 2**10, 32 * 2**10)  # 2/3 of 48 KiB
    assert (l2["buffer_bytes"], l2["bytes_per_core"]) == (512 * 2**10, 2**20)  # 1/2 of 2 MiB
    for roof in (l1, l2):
        assert roof["threads"] == numba.get_num_threads()
        assert roof["gbps"] == max(roof["gbps_every_core"], roof["threads"] * roof["gbps_one_core"]) > 0
        assert roof["likwid"] == {"status": "not installed"}


def test_a_level_sysfs_does_not_report_is_not_measured(monkeypatch):
    _fake_caches(monkeypatch, {2: 2**20})
    monkeypatch.setattr(cacheroofs, "likwid_copy", lambda nbytes, threads: {"status": "not installed"})
    assert cacheroofs.cache_roofs(seconds=0.01).keys() == {"l2_copy"}


def test_the_copy_kernel_leaves_the_destination_equal_to_the_source():
    src = np.arange(1000, dtype=np.float32)
    dst = np.zeros_like(src)
    cacheroofs._copy(src, dst, 1)
    np.testing.assert_array_equal(dst, np.arange(1000, dtype=np.float32))


def test_the_copy_is_compiled_to_the_widest_vectors_the_cpu_has():
    flags = cacheroofs._cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to say which vectors the CPU has")
    src, dst = np.ones(64, dtype=np.float32), np.zeros(64, dtype=np.float32)
    widest = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    assert jit.vector_bits(cacheroofs._copy, src, dst, 2) == widest


def test_likwid_absent_is_said_not_guessed(monkeypatch):
    monkeypatch.setattr(cacheroofs.shutil, "which", lambda name: None)
    assert cacheroofs.likwid_copy(32 * 2**10, 2) == {"status": "not installed"}


def test_likwid_output_is_read_as_gigabytes_per_second_at_the_same_sizes(monkeypatch, tmp_path):
    fake = tmp_path / "likwid-bench"
    fake.write_text('#!/bin/sh\necho "args: $*" >&2\necho "MByte/s:\t\t123456.7"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(cacheroofs.shutil, "which", lambda name: str(fake))
    result = cacheroofs.likwid_copy(32 * 2**10, 2)
    assert result["status"] == "ok" and result["gbps"] == pytest.approx(123.4567)
    assert result["command"].endswith(f"-t {cacheroofs.likwid_test()} -w N:64kB:2")


def test_a_failing_likwid_is_recorded_with_its_reason(monkeypatch, tmp_path):
    fake = tmp_path / "likwid-bench"
    fake.write_text('#!/bin/sh\necho "Cannot pin thread" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setattr(cacheroofs.shutil, "which", lambda name: str(fake))
    assert cacheroofs.likwid_copy(32 * 2**10, 2)["status"] == "failed: Cannot pin thread"


@pytest.mark.skipif(
    shutil.which("likwid-bench") is None, reason="likwid-bench is not installed (Debian: likwid)"
)
def test_installed_likwid_measures_the_l1_copy():
    result = cacheroofs.likwid_copy(32 * 2**10, 1)
    assert result["status"] == "ok" and result["gbps"] > 0


def test_aligned_buffers_start_on_a_cache_line():
    for count in (1, 17, 4096):
        buf = jit.aligned_empty(count, np.float32, fill=2.0)
        assert buf.ctypes.data % jit.ALIGN == 0 and buf.shape == (count,) and (buf == 2.0).all()


def test_without_a_writable_cache_directory_the_kernels_compile_in_memory_with_one_warning(tmp_path):
    # Only NUMBA_CACHE_DIR may be used, and it cannot be created (a path under a file): as a
    # read-only install under an unwritable home. numba then raises at import unless we fall back.
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = os.environ | {
        "NUMBA_CACHE_DIR": str(blocker / "cache"),
        "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator",
    }
    script = textwrap.dedent(
        """
        import numpy as np
        from bench import compiled
        from bench.harness import cacheroofs, jit
        X, W, dY = np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4))
        dX, dW = compiled.streamed_compiled(X, W, dY)
        assert np.allclose(dX, dY @ W.T) and np.allclose(dW, X.T @ dY)
        print(jit.record()["cache"])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("kernel not cached")
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: numba cannot write")]
    assert len(warnings) == 1
