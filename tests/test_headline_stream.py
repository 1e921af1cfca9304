"""The headline's one stream pass, on a target small enough to count its tiles by hand, and the
console lines it prints; and the memory guard with the real tile. No process is started."""

from __future__ import annotations

from bench.cases import Case
from bench.headline.plan import HeadlineOptions, guard, plan_device
from bench.headline.stream import Pass, pass_line, stream_pass
from bench.inputs import make_inputs
from bench.streamers import TORCH, Streamer

KiB, MiB = 2**10, 2**20
CASE = Case(TORCH, "", "cpu", "float32", 4, 64, 64)
"""dY/dX is (N·M)×(N·D) = 256×256 float32, 256 KiB; dY/dW (N·M)×(D·M) = 256×4096, 4 MiB."""


def _no_sync() -> None:
    return None


def test_a_full_pass_streams_every_tile_and_checks_its_result():
    streamer = Streamer(TORCH, make_inputs(CASE), 64 * KiB)
    done = stream_pass("dydx", streamer, 256 * KiB, 1, _no_sync, {})
    assert (done.parts, done.every, done.full) == (4, 4, True)  # 256 KiB in 64 KiB tiles
    assert done.max_rel_error is not None and done.max_rel_error < 1e-5  # dX against float64
    assert done.measured_seconds > 0 and done.seconds == done.measured_seconds


def test_a_sampled_pass_streams_one_tile_in_64_and_is_scaled_never_checked():
    streamer = Streamer(TORCH, make_inputs(CASE), 64 * KiB)
    done = stream_pass("dydw", streamer, 4 * MiB, 64, _no_sync, {})
    assert (done.parts, done.every, done.full, done.max_rel_error) == (1, 64, False, None)
    assert done.scale == 64 and done.seconds == 64 * done.measured_seconds


def test_the_same_pass_streams_dydw_in_full_and_checks_dw():
    streamer = Streamer(TORCH, make_inputs(CASE), 64 * KiB)
    done = stream_pass("dydw", streamer, 4 * MiB, 1, _no_sync, {})
    assert (done.parts, done.every, done.full) == (64, 64, True)  # 4 MiB in 64 KiB tiles
    assert done.max_rel_error is not None and done.max_rel_error < 1e-5


def test_a_full_pass_line_gives_its_rate_its_share_of_the_copy_roof_and_the_formulas_multiple():
    done = Pass("dydx", 10**9, 4, 4, "tiles", 2.0, 1e-7)  # 1 GB in 2 s: 0.5 GB/s, 1 GB/s of traffic
    line = pass_line("cpu", done, {"copy": {"gbps": 4.0}}, TORCH, formula=0.5)
    assert line == (
        "cpu: dY/dX streamed in 2.00 s: 0.5 GB/s of Jacobian, 25% of the copy roof (4.0 GB/s); "
        "4× the formula; dX relative error 1.00e-07"
    )


def test_a_sampled_pass_line_says_estimate_and_how_it_was_scaled():
    done = Pass("dydw", 4 * MiB, 1, 64, "tiles", 0.5, None)
    assert pass_line("cpu", done, {}, TORCH) == (
        "cpu: dY/dW 32.0 s (estimate: 0.50 s for 1 of 64 tiles, scaled ×64.0)"
    )


def test_the_guard_skips_with_the_real_tiles_need():
    """A 1 GiB tile on a target whose dY/dW is 512 MiB needs (about) that 512 MiB."""
    options = HeadlineOptions(
        "cpu", (8, 256, 256), kernel="torch", block_bytes=2**30, memory_budget=256 * MiB
    )
    verdict = guard(plan_device("cpu", options), options.memory_budget)
    assert verdict.source == "--memory-budget" and verdict.need > 512 * MiB
    assert verdict.reason == "needs 512.5 MiB, budget 256.0 MiB"
    assert guard(plan_device("cpu", options), 2**30).reason is None
