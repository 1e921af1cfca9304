"""Interleaved A/B of two source trees on one machine, in one job: the gate's control, for time and memory.

A committed baseline measures the machine as much as the code. Times moved by ×2.4 to ×5.3 on
a second machine of the same kind; peak bytes, exact to the byte within one machine, moved by
+5% to +330% on a machine of another CPU kind (torch's MKL and oneDNN kernels pick other
workspaces there; ``../shared/runs/quick-amd-epyc-13af5f1``). So both are compared only with a
control measured here and now: the base commit, checked out in a worktree
(:mod:`bench.abtest.worktree`), against the head (the working tree).

- **Time** (:func:`run_ab`): each repetition visits every case in a fresh random order, and each
  case times both sides back to back, in a random order, each in a fresh child process forked
  from a per-side server (:mod:`bench.abtest.worker`). A slow drift of a shared machine then
  lands on both sides of a pair alike and cancels in their ratio. After the profile's
  repetitions, the cases of every method whose interval is still too wide (``more``) get further
  repetitions until they are narrow enough or the time budget is spent.
- **Memory** (:func:`run_peaks`): each case's peak once per side, each in a fresh forked child.
  Peaks are deterministic on one machine, so they need no repetitions.

One harness, the head's, measures both sides and imports only the methods from each side's
tree. The result files are rewritten atomically after every pair, so an interrupted A/B keeps
what it measured and says "interrupted". The servers run in process groups of their own that
the gate kills on any way out (:mod:`bench.harness.children`), and ask the kernel to kill them if the
gate is SIGKILLed. The verdicts live in :mod:`analysis.gate`.
"""

from __future__ import annotations

import contextlib
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
from typing import IO, Any

from bench.cases import Case, enumerate_cases
from bench.harness import children
from bench.harness.machine import machine_info
from bench.harness.threads import thread_env
from bench.inputs import TOLERANCE, seed_of
from bench.profiles import Profile
from bench.rundir.gate_files import AB_SCHEMA, write_gate_file

WORKER = Path(__file__).with_name("worker.py")
MAX_KEPT_ROUNDS = 64
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
"""glibc settings for both sides' processes. By default glibc raises its mmap threshold the first
time a large block is freed, and whether a process then keeps reusing heap pages or keeps
faulting in fresh ones depends on its allocation history: jacrev-torch at N=D=M=32 ran at
2.9–3.8 ms in 7 processes of 16 and 7.2–8.2 ms in the other 9, which gave it an MDE of about
50%. Fixed thresholds keep large blocks on the heap (the steady state of a long-running
process): 16 processes then ran at 2.6–4.0 ms. Both sides get the same settings, so only the
ratio is read. The memory A/B sets them too: both sides' peaks then come from one allocator
policy."""


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


def _cases_at(
    points: Callable[[str], tuple[tuple[int, int, int], ...]],
    profile: Profile,
    methods: Iterable[str],
    device: str,
) -> list[Case]:
    """The profile's first dtype only, at ``points(family)`` of each family."""
    return enumerate_cases(methods, [device], profile.dtypes[:1], points)


def ab_cases(profile: Profile, methods: Iterable[str], device: str) -> list[Case]:
    """The cases the time gate times: per method and variant, the profile's A/B points of its family.

    The points are few and chosen so that each call takes about a millisecond or more: an
    overhead-bound microsecond case measures the interpreter more than the method.
    """
    return _cases_at(profile.ab_points, profile, methods, device)


def peak_cases(profile: Profile, methods: Iterable[str], device: str) -> list[Case]:
    """The cases the memory gate measures: per method and variant, the profile's peak points."""
    return _cases_at(profile.peak_points, profile, methods, device)


def _request(case: Case, rep: int, profile: Profile, kind: str) -> dict[str, Any]:
    return case.params() | {
        "id": f"{case.name}#{kind}{rep}",
        "kind": kind,
        "seed": seed_of(case),
        "tolerance": TOLERANCE[case.dtype],
        "max_time": profile.ab_max_time,
        "min_rounds": profile.min_rounds,
        "max_rounds": profile.max_rounds,
    }


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


class SideServer:
    """A worker process for one side; ``measure`` runs one request in a fresh child of it.

    Its stderr goes to ``log`` (a side whose methods cannot be imported leaves its traceback
    there, and the gate prints one line naming the file). It runs in a process group of its
    own, adopted by :mod:`bench.harness.children`, so it dies with the gate however the gate ends.
    """

    def __init__(self, side: Side, threads: int | None, log: Path) -> None:
        self.side = side
        self.log = log
        methods = side.tree / "bench"
        if not ((methods / "methods.py").is_file() or (methods / "methods" / "__init__.py").is_file()):
            raise ABError(
                f"the {side.name} tree {side.tree}"
                f"{f' (commit {side.commit[:12]})' if side.commit else ''} has no bench.methods "
                "(bench/methods.py, or the package bench/methods/ since #29): "
                "it predates the method registry, so there is nothing to compare with; "
                "choose a later --against"
            )
        env = os.environ | thread_env(threads) | STEADY_MALLOC | {"PYTHONPATH": str(side.tree)}
        env["LBB_AB_THREADS"] = "" if threads is None else str(threads)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr: IO[str] = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-P", str(WORKER)],
            cwd=side.tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the gate, which closes its servers itself
        )
        children.adopt(self.process.pid)
        self.methods: set[str] = set()

    def wait_ready(self) -> None:
        """Wait for the server's imports; check that it loaded its own tree's methods."""
        hello = self._read()
        if hello is None:
            self.close()
            why = _last_line(self.log) or "it exited"
            raise ABError(
                f"the {self.side.name} side's bench.methods cannot be imported ({why}); "
                f"its traceback is in {self.log}"
            )
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
        """Close stdin and reap the server (killed after 10 s); its group is released."""
        if self.process.stdin:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        children.release(self.process.pid)
        self._stderr.close()
        if self.log.exists() and self.log.stat().st_size == 0:
            self.log.unlink()  # kept only when a side had something to say


def _kept(reply: dict[str, Any]) -> dict[str, Any]:
    """A timing as stored: its status, the fastest and median round, and (thinned) the rounds."""
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


def _header(kind: str, base: Side, head: Side, cases: list[Case], profile: Profile) -> dict[str, Any]:
    return {
        "schema": AB_SCHEMA,
        "kind": kind,
        "created_utc": datetime.now(UTC).isoformat(),
        "machine": machine_info(),
        "profile": profile.name,
        "threads": profile.threads,
        "base": base.describe(),
        "head": head.describe(),
        "cases": [case.params() for case in cases],
        "pairs": [],
        "status": "running",
    }


def _servers(sides: list[Side], threads: int | None, logs: Path) -> list[SideServer]:
    servers: list[SideServer] = []
    try:
        for side in sides:
            servers.append(SideServer(side, threads, logs / f"worker-{side.name}.log"))
        for server in servers:  # both import torch at once
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.close()
        raise
    return servers


def _measured(data: dict[str, Any], out: Path, body: Callable[[], None]) -> dict[str, Any]:
    """Run ``body``; ``status`` ends complete, interrupted or failed, and the file is written on any exit."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        body()
        data["status"] = "complete"
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM under bench.harness.children.supervised
        data["status"] = "interrupted"
        raise
    except BaseException as exc:
        data["status"] = f"failed: {exc}"
        raise
    finally:
        write_gate_file(out, data)
    return data


def run_peaks(
    base: Side,
    head: Side,
    cases: list[Case],
    profile: Profile,
    out: Path,
    seed: int | None = None,
    progress: Callable[[str], None] = lambda line: print(line, flush=True),
) -> dict[str, Any]:
    """Each case's peak once per side, in random order, each in a fresh child; write ``peaks.json``."""
    order = random.Random(seed)
    data = _header("peaks", base, head, cases, profile)
    servers: list[SideServer] = []

    def body() -> None:
        nonlocal servers
        start = time.monotonic()
        servers = _servers([base, head], profile.threads, out.parent)
        for case in order.sample(cases, len(cases)):
            pair: dict[str, Any] = {"case": case.name}
            sides = order.sample(servers, 2)
            pair["first"] = sides[0].side.name
            for server in sides:
                reply = server.measure(_request(case, 0, profile, "peak"))
                pair[server.side.name] = {k: v for k, v in reply.items() if k != "id"}
            data["pairs"].append(pair)
            write_gate_file(out, data)
        progress(f"memory A/B: {len(cases)} cases × 2 sides in {time.monotonic() - start:.0f} s")

    try:
        return _measured(data, out, body)
    finally:
        for server in servers:
            server.close()


def run_ab(
    base: Side,
    head: Side,
    cases: list[Case],
    profile: Profile,
    reps: int,
    out: Path,
    seed: int | None = None,
    progress: Callable[[str], None] = lambda line: print(line, flush=True),
    more: Callable[[dict[str, Any]], list[str]] | None = None,
    budget_s: float = 0.0,
) -> dict[str, Any]:
    """Time every case ``reps`` times on both sides, interleaved; write and return ``ab.json``'s data.

    Then, while ``more(data)`` names cases (those of methods whose interval is still too wide)
    and another repetition of them fits in what is left of ``budget_s`` (seconds since the
    start), those cases get one more repetition each. ``extra_reps`` records how many each
    method got, and ``stopped`` why the repetitions ended.
    """
    order = random.Random(seed)
    data = _header("ab", base, head, cases, profile)
    data |= {"reps": reps, "extra_reps": {}, "budget_s": budget_s, "max_time_s": profile.ab_max_time}
    by_name = {case.name: case for case in cases}
    servers: list[SideServer] = []

    def repetition(rep: int, todo: list[Case]) -> None:
        nonlocal servers
        # Fresh servers every repetition: children inherit their server's address-space
        # layout, so one server per side for the whole run would give each side one fixed
        # layout, a bias of a few percent that no number of repetitions averages out.
        servers = _servers(order.sample([base, head], 2), profile.threads, out.parent)
        for case in order.sample(todo, len(todo)):
            pair: dict[str, Any] = {"case": case.name, "rep": rep}
            sides = order.sample(servers, 2)
            pair["first"] = sides[0].side.name
            for server in sides:
                pair[server.side.name] = _kept(server.measure(_request(case, rep, profile, "time")))
            data["pairs"].append(pair)
            write_gate_file(out, data)
        for server in servers:
            server.close()
        servers = []

    def body() -> None:
        start = time.monotonic()
        for rep in range(reps):
            repetition(rep, cases)
            elapsed = time.monotonic() - start
            eta = elapsed / (rep + 1) * (reps - rep - 1)
            progress(
                f"A/B: repetition {rep + 1}/{reps} of {len(cases)} cases, {elapsed:.0f} s, ETA {eta:.0f} s"
            )
        per_case = (time.monotonic() - start) / max(1, reps * len(cases))
        rep = reps
        data["stopped"] = "every method's interval was narrow enough"
        while more is not None:
            todo = [by_name[name] for name in more(data) if name in by_name]
            if not todo:
                break
            elapsed = time.monotonic() - start
            if elapsed + per_case * len(todo) > budget_s:
                data["stopped"] = f"time budget of {budget_s:.0f} s spent ({elapsed:.0f} s)"
                break
            repetition(rep, todo)
            rep += 1
            labels = sorted({case.label for case in todo})
            for label in labels:
                data["extra_reps"][label] = data["extra_reps"].get(label, 0) + 1
            progress(
                f"A/B: extra repetition {rep - reps} of {len(todo)} cases ({', '.join(labels)}), "
                f"{time.monotonic() - start:.0f} s"
            )

    try:
        return _measured(data, out, body)
    finally:
        for server in servers:
            server.close()
