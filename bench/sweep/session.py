"""A sweep's session, start to finish: the runtime pass, then the memory pass (``lbb bench``;
its options are :mod:`lbb.commands.bench`'s, its record :class:`bench.rundir.records.Options`).

1. The arguments are checked by the command; anything wrong is one line on stderr and exit status 2.
2. Build the profile's cases; decide which are skipped (profile cap, memory budget) and why.
3. Measure the roofs (GEMM, copy) on each device and write run.json.
4. Runtime pass: pytest-benchmark in a child pytest, runtime.json rewritten after each case.
5. Memory pass: one fresh forked child per case, memory.json rewritten after each case.
6. Print the summary table and the run directory (``lbb bench`` then writes the HTML report).

Every file is written atomically, so an interrupted run keeps its finished cases; ``--resume
DIR`` runs only the cases that DIR does not have yet, with the options stored in DIR.

One run at a time per directory: the run holds ``DIR/.lock`` (``bench.rundir.lock``) from start to
finish, and its children die with it (``bench.harness.children``). Ctrl-C, SIGTERM or a broken
pipe leaves run.json "interrupted"; a run file that cannot be written (full disk) stops the run
with one line naming the file, exit status 2, and run.json "failed: disk full" when it can still
be written (``bench.rundir.ending`` sets the status, however the run ends).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import torch

from bench.cases import Case
from bench.harness import budget as budgets
from bench.harness import children
from bench.harness.machine import git_commit, machine_info, with_clocks_after
from bench.harness.progress import Progress
from bench.harness.roofs import measure_roofs, roof_buffer_bytes
from bench.harness.threads import pinned_threads, thread_env
from bench.methods import METHODS
from bench.profiles import PROFILES, TARGET, Profile, build_cases
from bench.rundir.directory import HEADLINE_DIR, choose_devices, prepare_run_dir, refuse_existing_run
from bench.rundir.ending import RunStoppedError, run_ending, run_json
from bench.rundir.lock import RunLockedError, run_lock
from bench.rundir.records import (
    MemoryRecord,
    Options,
    RecordError,
    RunMeta,
    read_memory,
    read_run,
    read_timings,
    write_memory,
    write_run_meta,
)
from bench.rundir.store import RUN_FILE, RUNTIME_FILE, RunFileError, write_json_atomic
from bench.sweep.console import summary_table
from bench.sweep.memory_pass import run_memory_pass, skipped_record
from bench.sweep.runtime_plugin import RUN_FILE_EXIT
from bench.usage import UsageError, stamp

RESUME_HINT = "use --resume {out} or another --out"


def resume_options(run_dir: Path) -> Options:
    """The stored options of a run that can be resumed; UsageError (one line) otherwise.

    Every file is checked (``bench.rundir.records``) before anything is written: a resume refused here
    leaves the run exactly as it was.
    """
    try:
        meta = read_run(run_dir)
        read_timings(run_dir)
        read_memory(run_dir)
    except RecordError as exc:
        raise UsageError(f"cannot resume {run_dir}: {exc}") from None
    where = f"--resume {run_dir}: {RUN_FILE}"
    if meta.is_headline:
        raise UsageError(f"{where} is a headline run; only a sweep can be resumed (run the headline again)")
    _check_same_code(run_dir, meta.machine)
    options = Options.from_json(meta.options, run_dir / RUN_FILE)
    _check_known(options, where)
    return options


def _check_same_code(run_dir: Path, machine: Mapping[str, Any]) -> None:
    """Refuse to finish a run with other code than it started with: its cases would be attributed
    to the commit in run.json while measuring this one. Why refuse rather than mix with a flag:
    a run is one code version, which is what its report, its baseline and the gate assume."""
    stored = (machine.get("commit") or {}).get("id")
    now = git_commit()["id"]
    if stored and now and stored != now:
        raise UsageError(
            f"cannot resume {run_dir}: it was measured at commit {stored[:12]} and this tree is at "
            f"{now[:12]}; a run holds one code version (check out {stored[:12]} to finish it, or start "
            "a new run)"
        )


def _check_known(options: Options, where: str) -> None:
    """What records cannot know: whether this code still has the stored profile and methods."""
    unknown = [m for m in options.methods if m not in METHODS]
    if options.profile not in PROFILES or unknown:
        shown = f"profile={options.profile!r}" if options.profile not in PROFILES else f"methods={unknown!r}"
        raise UsageError(f"{where}: malformed options ({shown})")


def skip_reasons(cases: list[Case], profile: Profile, budget_by_device: dict[str, int]) -> dict[str, str]:
    """Why each left-out case is left out: the profile's cap first, then the memory guard."""
    reasons = {}
    for case in cases:
        reason = profile.cap_reason(case) or budgets.over_budget_reason(
            case.needed_bytes(), budget_by_device[case.device]
        )
        if reason:
            reasons[case.name] = reason
    return reasons


def _profile_record(profile: Profile) -> dict[str, Any]:
    return asdict(profile) | {"axes": profile.axes()}


def _runtime_done(run_dir: Path) -> set[str]:
    timings = read_timings(run_dir)
    return timings.cases if timings is not None else set()


def run_runtime_pass(run_dir: Path, cases: list[Case], reasons: dict[str, str], run: RunContext) -> int:
    """Time the cases, one child pytest per backend; returns the worst pytest exit status.

    Why one process per backend: numpy's OpenBLAS and torch's OpenMP each keep a pool of
    spinning worker threads. Once both pools exist in one process they fight over the cores
    for good; measured on a 2-core machine, explicit-torch ran 5× slower after a numpy case
    had run in the same process, and explicit-numpy 5× slower after a torch case.
    """
    statuses = [0]
    for backend in sorted({case.backend for case in cases}):
        group = [case for case in cases if case.backend == backend]
        statuses.append(_run_pytest(run_dir, group, reasons, run))
        if statuses[-1] not in (0, 1):
            break
    return max(statuses)


@dataclass(frozen=True)
class RunContext:
    """What the runtime pass needs besides its cases."""

    profile: Profile
    budgets: dict[str, int]
    lock_fd: int


RUNTIME_ENV: dict[str, dict[str, str]] = {"numpy": {"OPENBLAS_NUM_THREADS": "1"}}
"""Environment of each backend's runtime process. numpy runs with one OpenBLAS thread: with two,
about one process in five on this 2-core machine fell into a state where explicit-numpy ran 2–4×
slower for the whole run (spinning BLAS workers), while one thread was steady and as fast. The
GEMM roof each numpy case is compared with is measured in the same process, so on one thread."""


def _run_pytest(run_dir: Path, cases: list[Case], reasons: dict[str, str], run: RunContext) -> int:
    profile = run.profile
    spec = {
        "cases": [case.params() for case in cases],
        "skip_reasons": {c.name: reasons[c.name] for c in cases if c.name in reasons},
        "memory_budgets": run.budgets,
        "timing": {
            "max_time": profile.max_time,
            "min_rounds": profile.min_rounds,
            "max_rounds": profile.max_rounds,
        },
    }
    bench_file = Path(__file__).with_name("bench_runtime.py")
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="lbb-cases-") as handle:
        write_json_atomic(Path(handle.name), spec)
        command = [
            sys.executable, "-m", "pytest", str(bench_file),
            "-p", "bench.sweep.runtime_plugin",
            "-o", "python_files=bench_runtime.py",
            "-o", "python_functions=bench_*",
            "-p", "no:cacheprovider",
            "-p", "no:xdist",  # pytest-benchmark turns itself off under xdist
            "--rootdir", str(bench_file.parents[2]),
            "-v", "--no-header", "-rfE", "--tb=line",
            "--capture=no",  # stdout goes to the log below; stderr keeps the progress bar
            f"--lbb-progress=runtime pass, {cases[0].backend if cases else ''}",
            "--benchmark-columns=median,iqr,rounds",
            "--benchmark-sort=name",
            f"--lbb-cases={handle.name}",
            f"--lbb-out={run_dir / RUNTIME_FILE}",
            f"--lbb-parent={os.getpid()}",
        ]  # fmt: skip
        backend = cases[0].backend if cases else ""
        env = os.environ | thread_env(profile.threads) | RUNTIME_ENV.get(backend, {})
        # A sweep started from an xdist worker (the test suite) must not look like one itself.
        env = {k: v for k, v in env.items() if not k.startswith("PYTEST_XDIST_")}
        log = run_dir / f"pytest-{backend}.log"
        with log.open("a") as output:  # pytest's full -v output; the terminal gets the progress bar
            status = _wait_in_own_group(command, env, run.lock_fd, output)
        if status not in (0, 5):
            print(f"runtime pass ({backend}): pytest exit {status}; its output is in {log}", flush=True)
        return status


def _wait_in_own_group(command: list[str], env: dict[str, str], lock_fd: int, output: IO[str] | None) -> int:
    """Run a child (the runtime pass's pytest, the headline pass) in its own process group,
    holding the run's lock too; its exit status.

    Its own group: the parent ends the group on any way out, SIGTERM first so that a headline
    child records "interrupted" (and Ctrl-C at a terminal reaches the parent alone, which then
    saves the run). The lock: while the child lives, no --resume can start a second writer.
    """
    return children.run_in_own_group(command, env=env, pass_fds=(lock_fd,), stdout=output)


def run_memory(run_dir: Path, cases: list[Case], reasons: dict[str, str], threads: int | None = None) -> None:
    records = read_memory(run_dir) or []
    done = {r.case.name for r in records}
    todo = [c for c in cases if c.name not in done]
    for case in todo:
        if case.name in reasons:
            records.append(skipped_record(case, reasons[case.name]))
    write_memory(run_dir, records)
    measured = [c for c in todo if c.name not in reasons]
    failed: list[str] = []

    def keep(record: MemoryRecord) -> None:
        records.append(record)
        write_memory(run_dir, records)
        if record.status != "ok":
            failed.append(f"  {record.case.name}: {record.status}: {record.reason}")
        progress.advance(record.case.name)

    with Progress("memory pass, each case in a fresh process", len(measured), unit="cases") as progress:
        run_memory_pass(measured, keep, threads)
    if failed:
        print(f"memory pass: {len(failed)} cases not measured:", *failed[:20], sep="\n", flush=True)


def run_headline_pass(run_dir: Path, options: Options, profile: Profile, lock_fd: int) -> None:
    """The streamed pass at the target (full dY/dX, dY/dW sampled on CPU and full on CUDA).

    A complete one from an earlier try is kept; an interrupted one is moved aside, never
    deleted, and the pass runs again. It runs as a child (``python -m bench.headline``) in its
    own process group, so it has its own lock, signals and files, and dies with this run.
    """
    out = run_dir / HEADLINE_DIR
    if (out / RUN_FILE).exists():
        try:
            if read_run(out).status == "complete":
                return
        except RecordError:
            pass
        out.rename(run_dir / f"{HEADLINE_DIR}-incomplete-{stamp()}")
    target = ",".join(map(str, profile.target or TARGET))
    command = [sys.executable, "-m", "bench.headline", "--device", options.device, "--target", target]
    command += ["--out", str(out)]
    if options.memory_budget:
        command += ["--memory-budget", str(options.memory_budget)]
    print("headline pass: the full Jacobians at the target, streamed tile by tile", flush=True)
    status = _wait_in_own_group(command, dict(os.environ), lock_fd, None)
    if status in (130, 143):
        raise KeyboardInterrupt
    if status != 0:
        print(f"headline pass ended with status {status}; the sweep is kept without it", file=sys.stderr)


def execute(options: Options, run_dir: Path, resuming: bool, lock_fd: int) -> int:
    """Measure the run in ``run_dir``, whose lock the caller holds on ``lock_fd``."""
    profile = PROFILES[options.profile]
    devices, left_out = choose_devices(options.device)
    for device, info in left_out.items():
        print(f"{device}: skipped: {info['reason']}")
    budget_and_source = {device: budgets.budget_for(device, options.memory_budget) for device in devices}
    budget_by_device = {device: budget for device, (budget, _) in budget_and_source.items()}
    cases = build_cases(profile, options.methods, devices)
    reasons = skip_reasons(cases, profile, budget_by_device)

    if resuming:
        meta = read_run(run_dir)
    else:
        meta = RunMeta(
            run_id=uuid.uuid4().hex,  # unique: directories of two machines may share a name
            run_name=run_dir.name,
            options=options.to_json(),
            profile=_profile_record(profile),
            machine=machine_info(),
            devices=dict(left_out),
            status="running",
            extra={"runtime_env": RUNTIME_ENV},
        )
    run_devices = {name: dict(entry) for name, entry in meta.devices.items()}
    for device in devices:
        entry = run_devices.setdefault(device, {"status": "run"})
        entry["memory_budget_bytes"] = budget_by_device[device]
        entry["memory_budget_source"] = budget_and_source[device][1]
        entry["roof_buffer_bytes"] = roof_buffer_bytes(device, profile.dtypes, budget_by_device[device])
        if "roofs" not in entry:
            print(
                f"{device}: measuring roofs (GEMM in {', '.join(profile.dtypes)}, copy bandwidth)", flush=True
            )
            with pinned_threads(profile.threads):
                entry["roofs"] = measure_roofs(device, profile.dtypes, budget_by_device[device])
            if device.startswith("cuda"):  # the roofs' cached blocks back: the cases' processes need them
                torch.cuda.empty_cache()
    meta = replace(meta, devices=run_devices, status="running", cases=len(cases))
    write_run_meta(run_dir, meta)
    print(
        f"{len(cases)} cases ({len(reasons)} skipped), profile {profile.name}; writing to {run_dir}",
        flush=True,
    )

    if "runtime" in options.passes:
        done = _runtime_done(run_dir) if resuming else set()
        todo = [c for c in cases if c.name not in done]
        context = RunContext(profile, budget_by_device, lock_fd)
        status = run_runtime_pass(run_dir, todo, reasons, context) if todo else 0
        cause = {code: error for error, code in RUN_FILE_EXIT.items()}.get(status)
        if cause is not None:
            raise RunFileError(run_dir / RUNTIME_FILE, cause, "in the runtime pass's pytest child")
        if status not in (0, 1):  # 1: some cases failed, and they are recorded as failed
            raise RunStoppedError(f"runtime pass stopped (pytest exit {status})", status)
    if "memory" in options.passes:
        run_memory(run_dir, cases, reasons, profile.threads)
    if profile.headline and "runtime" in options.passes:
        run_headline_pass(run_dir, options, profile, lock_fd)

    write_run_meta(run_dir, replace(meta, machine=with_clocks_after(meta.machine)).with_status("complete"))
    print()
    print(summary_table(meta, read_timings(run_dir), read_memory(run_dir) or []))
    print(f"\nrun directory: {run_dir}")
    return 0


def sweep(options: Options | None, out: Path | None, resume: Path | None) -> tuple[int, Path | None]:
    """Run (or, with ``resume``, finish) a sweep; its exit status and run directory (None when
    none was made). With ``resume`` the options are None: they are read from the run directory
    once it is locked (``resume_options``), so that a live writer cannot change them under the check.

    Exit status: 0 done, 2 bad input, a locked directory or a run file that cannot be written,
    130 Ctrl-C, 143 SIGTERM, 141 a broken pipe on stdout (all three leave run.json "interrupted";
    every way out goes through ``bench.rundir.ending``). The report is built one layer
    up (``lbb bench``), so that bench/ never imports analysis/.
    """
    with children.supervised():
        try:
            if resume is not None and not (resume / RUN_FILE).exists():
                raise UsageError(f"{resume / RUN_FILE} does not exist")
            kind = options.profile if options is not None else "resume"
            run_dir = resume if resume is not None else prepare_run_dir(out, kind, RESUME_HINT)
            with run_lock(run_dir) as lock_fd:
                if resume is not None:
                    options = resume_options(run_dir)
                else:
                    refuse_existing_run(run_dir, RESUME_HINT)
                hint = f"finished cases are kept; continue with --resume {run_dir}"
                with run_ending("bench", run_json(run_dir), hint) as ending:
                    ending.exit_status = execute(options, run_dir, resume is not None, lock_fd)
                return ending.exit_status, run_dir
        except (UsageError, RunLockedError) as exc:
            print(f"bench: error: {exc}", file=sys.stderr)
            return exc.exit_status, None
