"""Sweep profiles by name: ``quick`` (CI), ``default`` and ``full``, plus ``smoke`` for tests.

Each profile sweeps N, D and M on their own axes around a base point, with the other two held
at the base, plus a small diagonal where all three grow together, so that the analysis can fit
a scaling exponent per axis; user profiles add the "DM" axis, D = M growing at the target's N,
the line the target itself lies on. Every method runs on every point; the Jacobian methods
(explicit, jacrev, ajacobian, ajacobianvec, jacfwd) are recorded as skipped past the profile's
``jacobian_cap``, the streamed method past its ``stream_cap`` (its memory is small, but its
time grows with the Jacobian), and ``ajacobian`` also past its ``call_cap`` (its N·M backward
calls per Jacobian cost 30-100 µs each, a time that neither bytes nor FLOPs predict), so that
``quick`` and ``default`` keep their time budgets, while the formula and autograd go far beyond.
Half-precision dtypes run on the torch methods only.

Every user profile also measures the target point (:data:`TARGET`, N=64, D=M=4096) for each
method that fits: its predicted peak must fit the memory budget (the memory guard) and its
conservatively predicted time (:func:`bench.costs.predicted_seconds`) the profile's
``target_time_cap``. The formula and autograd qualify; the Jacobian methods are skipped with
their reason. The target is on no axis, so it never enters a scaling fit: it checks the
extrapolation from the smaller sizes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.cases import Case, enumerate_cases
from bench.costs import backward_calls, family, predicted_seconds
from bench.problem import TARGET  # re-exported: the profiles measure it
from bench.units import format_bytes


def geometric(start: int, count: int, factor: int = 2) -> tuple[int, ...]:
    """``count`` sizes from ``start``, each ``factor`` times the last."""
    return tuple(start * factor**k for k in range(count))


@dataclass(frozen=True)
class Profile:
    """A named sweep: axes around a base point, dtypes, timing and a Jacobian-size cap."""

    name: str
    description: str
    base: tuple[int, int, int]  # (N, D, M) held fixed while another axis is swept
    n_sizes: tuple[int, ...]
    d_sizes: tuple[int, ...]
    m_sizes: tuple[int, ...]
    diagonal: tuple[int, ...]  # N = D = M = s
    dtypes: tuple[str, ...]
    jacobian_cap: int | None  # predicted peak bytes above which dense-Jacobian methods are skipped
    stream_cap: int | None  # |dY/dX| + |dY/dW| above which the streamed method is skipped (time)
    call_cap: int | None  # backward calls (bench.costs.backward_calls) above which ajacobian is skipped
    max_time: float  # seconds of timed rounds per case (pytest-benchmark's --benchmark-max-time)
    min_rounds: int
    max_rounds: int
    threads: int | None = None  # CPU threads for torch and the BLAS (None: all cores); bench.harness.threads
    headline: bool = False  # also stream the full target Jacobians (bench.headline) into DIR/headline
    # The gate's A/B (bench.abtest.runner): with ``family_points``, each family's own few (N, D, M)
    # (bench.costs.Family.ab_points for time, peak_points for memory); without, ``base`` for every
    # family. Then the seconds of rounds per time measurement, and the repetitions.
    family_points: bool = False
    ab_max_time: float = 0.1
    ab_reps: int = 8
    # The target point (off every axis), and the most seconds one call of a case there may be
    # predicted to take (bench.costs.predicted_seconds, at deliberately low throughputs).
    target: tuple[int, int, int] | None = TARGET
    target_time_cap: float | None = None
    # The "DM" axis, toward the target: (target N, s, s) for each s. The target's formula is two
    # skinny products (64×4096 by 4096×4096, 4096×64 by 64×4096) that run at a fraction of the
    # GEMM roof square products reach; fits that see this shape extrapolate to it (docs/sweep.md).
    toward_target: tuple[int, ...] = ()

    def ab_points(self, family_name: str) -> tuple[tuple[int, int, int], ...]:
        """The (N, D, M) the time A/B times for a family."""
        return family(family_name).ab_points if self.family_points else (self.base,)

    def peak_points(self, family_name: str) -> tuple[tuple[int, int, int], ...]:
        """The (N, D, M) whose peak the memory A/B measures once per side for a family."""
        return family(family_name).peak_points if self.family_points else (self.base,)

    def points(self) -> list[tuple[int, int, int]]:
        """Every (N, D, M) of the sweep, each once, in a stable order."""
        n0, d0, m0 = self.base
        pts = [(n, d0, m0) for n in self.n_sizes]
        pts += [(n0, d, m0) for d in self.d_sizes]
        pts += [(n0, d0, m) for m in self.m_sizes]
        pts += [(s, s, s) for s in self.diagonal]
        pts += self._toward_target()
        pts += [self.target] if self.target is not None else []
        return sorted(set(pts))

    def _toward_target(self) -> list[tuple[int, int, int]]:
        if self.target is None:
            return []
        return [(self.target[0], s, s) for s in self.toward_target]

    def axes(self) -> dict[str, list[tuple[int, int, int]]]:
        """The points on each named axis ("N", "D", "M", "diag", "DM"), for fitting."""
        n0, d0, m0 = self.base
        axes = {
            "N": [(n, d0, m0) for n in self.n_sizes],
            "D": [(n0, d, m0) for d in self.d_sizes],
            "M": [(n0, d0, m) for m in self.m_sizes],
            "diag": [(s, s, s) for s in self.diagonal],
        }
        if self.toward_target and self.target is not None:
            axes["DM"] = self._toward_target()
        return axes

    def cap_reason(self, case: Case) -> str | None:
        """Why the profile leaves this case out, or None when it runs.

        The size caps apply everywhere; at the target point the time cap applies too.
        """
        reason = self._size_cap_reason(case)
        if reason is not None or self.target_time_cap is None or (case.n, case.d, case.m) != self.target:
            return reason
        seconds = predicted_seconds(case.family, case.n, case.d, case.m, case.dtype)
        if seconds <= self.target_time_cap:
            return None
        return (
            f"profile {self.name} caps a call at the target point at {self.target_time_cap:g} s "
            f"(predicted {seconds:,.3g} s at conservative throughputs); extrapolated instead"
        )

    def _size_cap_reason(self, case: Case) -> str | None:
        if case.family == "streamed" and self.stream_cap is not None:
            counts = case.predicted()
            streamed = counts["jacobian_dydx_bytes"] + counts["jacobian_dydw_bytes"]
            if streamed > self.stream_cap:
                return (
                    f"profile {self.name} caps streamed Jacobians at {format_bytes(self.stream_cap)} "
                    f"(this one streams {format_bytes(streamed)}); use a larger profile"
                )
            return None
        calls = backward_calls(case.family, case.n, case.d, case.m)
        if self.call_cap is not None and calls > self.call_cap:
            return (
                f"profile {self.name} caps looped backward calls at {self.call_cap:,} "
                f"(this one makes {calls:,}); use a larger profile"
            )
        if self.jacobian_cap is None or not family(case.family).dense:
            return None
        peak = case.predicted()["predicted_peak_bytes"]
        if peak <= self.jacobian_cap:
            return None
        return (
            f"profile {self.name} caps Jacobian methods at {format_bytes(self.jacobian_cap)} "
            f"(needs {format_bytes(peak)}); use a larger profile"
        )


MiB = 2**20
GiB = 2**30

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="seconds; for the test suite",
            base=(4, 8, 8),
            n_sizes=(2, 4),
            d_sizes=(8,),
            m_sizes=(8,),
            diagonal=(),
            dtypes=("float32",),
            jacobian_cap=1 * MiB,
            stream_cap=1 * MiB,
            call_cap=1024,  # ajacobian's backward calls
            max_time=0.01,
            min_rounds=3,
            max_rounds=20,
            ab_max_time=0.005,
            ab_reps=3,
            target=None,  # a sweep of seconds: the target's 4 GFLOP and its float64 check would dominate
        ),
        Profile(
            name="quick",
            description="CI-sized: a few minutes on a 2-core CPU, on one CPU thread for steady times",
            base=(16, 64, 64),
            n_sizes=geometric(4, 7),  # 4 … 256
            d_sizes=geometric(16, 7),  # 16 … 1024
            m_sizes=geometric(16, 7),
            diagonal=geometric(16, 6),  # 16 … 512
            dtypes=("float32",),
            jacobian_cap=300 * MiB,
            stream_cap=4 * GiB,
            call_cap=1024,  # ajacobian's backward calls
            max_time=0.1,
            min_rounds=5,
            max_rounds=200,
            threads=1,
            family_points=True,
            # formula, autograd at the target: ~0.5 s predicted; measured on one thread 57-67 ms
            # (2026-11-29) and 0.11-0.15 s (2026-11-28) on two 2-core machines of this kind.
            target_time_cap=1.0,
            # N=64, D=M 256 … 3072: the formula and autograd only (the Jacobian methods are capped),
            # up to 30 ms on one thread, so their time fits have four cases over a millisecond.
            toward_target=(*geometric(256, 4), 3072),
        ),
        Profile(
            name="gpu",
            description="the GPU check's sweep (bench.gpucheck): every CUDA method in about 2 minutes",
            # Float32 only and four sizes an axis: each case's peak is taken in a fresh process
            # that starts CUDA again (about a second), so the case count sets the time.
            base=(16, 256, 256),
            n_sizes=geometric(4, 4),  # 4 … 256
            d_sizes=geometric(64, 4),  # 64 … 4096
            m_sizes=geometric(64, 4),
            diagonal=(),
            dtypes=("float32",),
            jacobian_cap=4 * GiB,
            stream_cap=64 * GiB,  # 16 ms at an H200's 4 TB/s
            call_cap=1024,  # ajacobian's backward calls
            max_time=0.05,
            min_rounds=5,
            max_rounds=200,
            target_time_cap=1.0,
            toward_target=(512, 1024, 2048, 3072),
        ),
        Profile(
            name="default",
            description="under 20 minutes on a 2-core CPU",
            base=(16, 128, 128),
            n_sizes=geometric(2, 11),  # 2 … 2048
            d_sizes=geometric(16, 10),  # 16 … 8192
            m_sizes=geometric(16, 10),
            diagonal=geometric(16, 7),  # 16 … 1024
            dtypes=("float32",),
            jacobian_cap=3 * GiB // 2,
            stream_cap=32 * GiB,
            call_cap=2048,  # ajacobian's backward calls
            max_time=0.5,
            min_rounds=5,
            max_rounds=1000,
            headline=True,
            family_points=True,
            target_time_cap=5.0,
            toward_target=(*geometric(128, 5), 3072),  # 128 … 2048, 3072
        ),
        Profile(
            name="full",
            description="as large as the memory budget allows, float32 and float64; bfloat16 on torch",
            base=(32, 256, 256),
            n_sizes=geometric(2, 11),  # 2 … 2048
            d_sizes=geometric(16, 11),  # 16 … 16384
            m_sizes=geometric(16, 11),
            diagonal=geometric(16, 8),  # 16 … 2048
            dtypes=("float32", "float64", "bfloat16"),
            jacobian_cap=None,
            stream_cap=512 * GiB,
            call_cap=65536,  # ajacobian's backward calls
            max_time=1.0,
            min_rounds=5,
            max_rounds=1000,
            headline=True,
            family_points=True,
            target_time_cap=30.0,  # lets bfloat16's formula (predicted 4.4 s) run
            toward_target=(*geometric(128, 5), 3072),  # 128 … 2048, 3072
        ),
    )
}


def build_cases(profile: Profile, methods: Iterable[str], devices: Iterable[str]) -> list[Case]:
    """Every case of a profile for the chosen methods and devices (:func:`bench.cases.enumerate_cases`:
    numpy methods on the CPU only, in the profile's dtypes that numpy supports)."""
    points = profile.points()
    return enumerate_cases(methods, devices, profile.dtypes, lambda family: points)
