"""pytest plugin for the runtime pass: cases from a file, results saved after every case.

``python -m bench`` runs ``pytest -p bench.sweep.runtime_plugin bench/sweep/bench_runtime.py`` with
``--lbb-cases FILE`` (the cases and the skip reasons decided by the memory guard) and
``--lbb-out FILE`` (runtime.json). After each case the plugin asks pytest-benchmark's own hook
for its JSON, merges the entries of earlier (resumed) runs and the cases that were not
measured, and writes the file atomically, so an interrupted run keeps every finished case and
``pytest-benchmark compare`` reads the file as its own.

The child dies with the run that started it (``--lbb-parent``, see ``bench.harness.children``), and a
runtime.json that cannot be written (full disk, I/O error) ends the whole session with
a ``RUN_FILE_EXIT`` status: pytest would otherwise count the teardown error against the case and go on,
losing every later case the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.cases import Case
from bench.harness.children import die_with_parent
from bench.harness.progress import Progress
from bench.rundir.fields import load_json
from bench.rundir.store import FATAL_ERRNOS, SCHEMA_VERSION, RunFileError, write_json_atomic

RUN_FILE_EXIT = {error: 80 + k for k, error in enumerate(FATAL_ERRNOS)}
"""pytest's exit status when runtime.json cannot be written: one per cause (disk full, I/O
error, ...), so that the parent can say which in run.json."""


@dataclass
class RuntimeSettings:
    """What the orchestrator hands the benchmark body, read from the cases file."""

    cases: list[Case]
    skip_reasons: dict[str, str]
    max_time: float
    min_rounds: int
    max_rounds: int
    out: Path
    memory_budgets: dict[str, int] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)
    not_measured: dict[str, dict[str, Any]] = field(default_factory=dict)
    machine_info: dict[str, Any] | None = None
    commit_info: dict[str, Any] | None = None

    @property
    def by_name(self) -> dict[str, Case]:
        return {case.name: case for case in self.cases}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("linear-backprop-bench")
    group.addoption("--lbb-cases", help="JSON file with the cases to time")
    group.addoption("--lbb-out", help="runtime.json to write after every case")
    group.addoption("--lbb-parent", type=int, help="PID of the run: this process dies with it")
    group.addoption("--lbb-progress", help="label of a progress bar on stderr, one step per case")


_SETTINGS = pytest.StashKey[RuntimeSettings]()
_PROGRESS = pytest.StashKey[Progress]()


def pytest_configure(config: pytest.Config) -> None:
    cases_file = config.getoption("--lbb-cases")
    if not cases_file:
        return
    parent = config.getoption("--lbb-parent")
    if parent is not None:
        die_with_parent(parent)
    spec = load_json(Path(cases_file), required=True)
    out = Path(config.getoption("--lbb-out"))
    settings = RuntimeSettings(
        cases=[Case.from_dict(c) for c in spec["cases"]],
        skip_reasons=spec["skip_reasons"],
        memory_budgets=spec.get("memory_budgets", {}),
        out=out,
        previous=load_json(out, required=False) or {},
        **spec["timing"],
    )
    settings.not_measured = {
        entry["case"]: entry for entry in settings.previous.get("not_measured", []) if "case" in entry
    }
    config.stash[_SETTINGS] = settings
    label = config.getoption("--lbb-progress")
    if label:
        config.stash[_PROGRESS] = Progress(label, len(settings.cases), unit="cases")


def pytest_unconfigure(config: pytest.Config) -> None:
    progress = config.stash.get(_PROGRESS, None)
    if progress is not None:
        progress.close()


@pytest.fixture
def runtime_settings(request: pytest.FixtureRequest) -> RuntimeSettings:
    return request.config.stash[_SETTINGS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise by case name: pytest-benchmark stores params in its JSON, so they stay strings."""
    if "case_name" in metafunc.fixturenames:
        names = [c.name for c in metafunc.config.stash[_SETTINGS].cases]
        metafunc.parametrize("case_name", names, ids=names)


@pytest.fixture
def case(case_name: str, runtime_settings: RuntimeSettings) -> Case:
    return runtime_settings.by_name[case_name]


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    settings = item.config.stash.get(_SETTINGS, None)
    if callspec is None or settings is None:
        return None
    return settings.by_name.get(callspec.params.get("case_name", ""))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    case = _case_of(item)
    settings = item.config.stash.get(_SETTINGS, None)
    if case is None or settings is None or report.passed:
        return report
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        status = "skipped"
    else:
        status = "failed"
        reason = call.excinfo.exconly().splitlines()[0] if call.excinfo else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ").removeprefix("Failed: ")
    settings.not_measured[case.name] = case.params() | {"status": status, "reason": reason}
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Rewrite runtime.json after each case, so that nothing finished is lost."""
    settings = item.config.stash.get(_SETTINGS, None)
    case = _case_of(item)
    if settings is None or case is None:
        return
    save(item.config, settings)
    progress = item.config.stash.get(_PROGRESS, None)
    if progress is not None:
        progress.advance(case.name)


def save(config: pytest.Config, settings: RuntimeSettings) -> None:
    """Write pytest-benchmark's JSON for this run plus earlier entries, atomically."""
    session = config._benchmarksession  # pytest-benchmark's session object
    if settings.machine_info is None:
        settings.machine_info = session.get_machine_info()
        settings.commit_info = config.hook.pytest_benchmark_generate_commit_info(config=config)
    benchmarks = [b for b in session.benchmarks if b]
    output = config.hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=benchmarks,
        include_data=True,
        machine_info=settings.machine_info,
        commit_info=settings.commit_info,
    )
    measured = {b["extra_info"]["case"] for b in output["benchmarks"]}
    earlier = [
        b
        for b in settings.previous.get("benchmarks", [])
        if b.get("extra_info", {}).get("case") not in measured
    ]
    output["benchmarks"] = earlier + output["benchmarks"]
    done = measured | {b["extra_info"]["case"] for b in earlier}
    output["not_measured"] = [v for k, v in sorted(settings.not_measured.items()) if k not in done]
    output["linear_backprop_bench_schema"] = SCHEMA_VERSION
    try:
        write_json_atomic(settings.out, output)
    except RunFileError as exc:
        pytest.exit(str(exc), returncode=RUN_FILE_EXIT[exc.errno])
