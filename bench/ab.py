"""Interleaved A/B timing of two source trees on one machine, in one job: the time gate's control.

A committed time baseline measures the machine as much as the code: on a second machine of the
same kind (same hostname, machine-id and CPU string, half the roofs) unchanged code moved by
×2.4 to ×5.3 in raw time and +34% to +174% in roof-normalised time. So time is only ever
compared with a control measured here and now: the base commit, checked out in a worktree, and
the head (the working tree), timed **interleaved**. Each repetition visits every case in a fresh
random order, and each case times both sides back to back, in a random order, each in a fresh
child process (forked from a per-side server, :mod:`bench.ab_worker`). A slow drift of a shared
machine (copy bandwidth here moves between 22 and 51 GB/s within minutes) then lands on both
sides of a pair alike, and cancels in their ratio.

One harness, the head's, measures both sides: :mod:`bench.ab_worker` builds the inputs, warms
up, checks the gradients and times the rounds, and imports only the methods from each side's
tree. ``ab.json`` is rewritten atomically after every pair, so an interrupted A/B keeps what it
measured. The statistics live in :mod:`analysis.ab`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cases import Case, variants_of
from bench.inputs import TOLERANCE, seed_of
from bench.machine import machine_info
from bench.methods import METHODS
from bench.profiles import Profile
from bench.store import write_json_atomic
from bench.threads import thread_env

WORKER = Path(__file__).with_name("ab_worker.py")
AB_FILE = "ab.json"
AB_SCHEMA = 1
MAX_KEPT_ROUNDS = 64
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
"""glibc settings for both sides' processes. By default glibc raises its mmap threshold the first
time a large block is freed, and whether a process then keeps reusing heap pages or keeps
faulting in fresh ones depends on its allocation history: jacrev-torch at N=D=M=32 ran at
2.9–3.8 ms in 7 processes of 16 and 7.2–8.2 ms in the other 9, which gave it an MDE of about
50%. Fixed thresholds keep large blocks on the heap (the steady state of a long-running
process): 16 processes then ran at 2.6–4.0 ms. Both sides get the same settings, so only the
ratio is read."""


class ABError(RuntimeError):
    """A side that cannot be measured at all (its tree has no usable ``bench.methods``): exit 2."""


@dataclass(frozen=True)
class Side:
    """One source tree under test: ``base`` (a worktree of a commit) or ``head`` (the working tree)."""

    name: str
    tree: Path
    commit: str | None
    dirty: bool = False

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "tree": str(self.tree), "commit": self.commit, "dirty": self.dirty}


def ab_cases(profile: Profile, methods: Iterable[str], device: str) -> list[Case]:
    """The cases the gate times: per method and variant, the profile's A/B points of its family.

    The points are few and chosen so that each call takes about a millisecond or more: an
    overhead-bound microsecond case measures the interpreter more than the method.
    """
    cases = []
    for method in methods:
        if METHODS[method].backend == "numpy" and device != "cpu":
            continue
        points = profile.ab_points.get(METHODS[method].family, (profile.base,))
        for variant in variants_of(method):
            cases += [Case(method, variant, device, profile.dtypes[0], *point) for point in points]
    return cases


def _request(case: Case, rep: int, profile: Profile) -> dict[str, Any]:
    return case.params() | {
        "id": f"{case.name}#{rep}",
        "seed": seed_of(case),
        "tolerance": TOLERANCE[case.dtype],
        "max_time": profile.ab_max_time,
        "min_rounds": profile.min_rounds,
        "max_rounds": profile.max_rounds,
    }


class SideServer:
    """A worker process for one side; ``measure`` runs one request in a fresh child of it."""

    def __init__(self, side: Side, threads: int | None) -> None:
        self.side = side
        env = os.environ | thread_env(threads) | STEADY_MALLOC | {"PYTHONPATH": str(side.tree)}
        env["LBB_AB_THREADS"] = "" if threads is None else str(threads)
        self.process = subprocess.Popen(
            [sys.executable, "-P", str(WORKER)],
            cwd=side.tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the gate, which closes its servers itself
        )
        self.methods: set[str] = set()

    def wait_ready(self) -> None:
        """Wait for the server's imports; check that it loaded its own tree's methods."""
        hello = self._read()
        if hello is None:
            raise ABError(f"the {self.side.name} tree {self.side.tree} has no usable bench.methods")
        where = Path(hello["methods_file"]).resolve()
        if not where.is_relative_to(self.side.tree.resolve()):
            raise ABError(f"the {self.side.name} side imported {where}, not its own tree {self.side.tree}")
        self.methods = set(hello["methods"])

    def _read(self) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("AB "):
                return json.loads(line[3:])
        return None

    def measure(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self._read()
        if reply is None:
            raise ABError(f"the {self.side.name} worker exited while measuring {request['case']}")
        return reply

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _kept(reply: dict[str, Any]) -> dict[str, Any]:
    """A measurement as stored: its status, the fastest and median round, and (thinned) the rounds."""
    out = {"status": reply["status"], "reason": reply.get("reason", "")}
    times = reply.get("times") or []
    if reply["status"] == "ok" and times:
        step = max(1, len(times) // MAX_KEPT_ROUNDS)
        out |= {
            "min_s": min(times),
            "median_s": statistics.median(times),
            "rounds": len(times),
            "times": times[::step],
            "threads": reply.get("threads"),
            "max_rel_error": reply.get("max_rel_error"),
        }
    return out


def run_ab(
    base: Side,
    head: Side,
    cases: list[Case],
    profile: Profile,
    reps: int,
    out: Path,
    seed: int | None = None,
    progress: Callable[[str], None] = lambda line: print(line, flush=True),
) -> dict[str, Any]:
    """Time every case ``reps`` times on both sides, interleaved; write and return ``ab.json``'s data."""
    order = random.Random(seed)
    data: dict[str, Any] = {
        "schema": AB_SCHEMA,
        "kind": "ab",
        "created_utc": datetime.now(UTC).isoformat(),
        "machine": machine_info(),
        "profile": profile.name,
        "threads": profile.threads,
        "reps": reps,
        "max_time_s": profile.ab_max_time,
        "base": base.describe(),
        "head": head.describe(),
        "cases": [case.params() for case in cases],
        "pairs": [],
        "status": "running",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    servers: list[SideServer] = []
    try:
        start = time.monotonic()
        for rep in range(reps):
            # Fresh servers every repetition: children inherit their server's address-space
            # layout, so one server per side for the whole run would give each side one fixed
            # layout, a bias of a few percent that no number of repetitions averages out.
            servers = [SideServer(side, profile.threads) for side in order.sample([base, head], 2)]
            for server in servers:  # both import torch at once
                server.wait_ready()
            for case in order.sample(cases, len(cases)):
                pair: dict[str, Any] = {"case": case.name, "rep": rep}
                sides = order.sample(servers, 2)
                pair["first"] = sides[0].side.name
                for server in sides:
                    pair[server.side.name] = _kept(server.measure(_request(case, rep, profile)))
                data["pairs"].append(pair)
                write_json_atomic(out, data)
            for server in servers:
                server.close()
            servers = []
            elapsed = time.monotonic() - start
            eta = elapsed / (rep + 1) * (reps - rep - 1)
            progress(
                f"A/B: repetition {rep + 1}/{reps} of {len(cases)} cases, {elapsed:.0f} s, ETA {eta:.0f} s"
            )
        data["status"] = "complete"
    except KeyboardInterrupt:
        data["status"] = "interrupted"
        raise
    finally:
        for server in servers:
            server.close()
        write_json_atomic(out, data)
    return data
