"""Sessions: tests, slow, lint (ruff, check-jsonschema), bench, headline, report, baseline, regress,
noise, trend, gpucheck, docs (docs/cli.md from the parsers).

Every session installs the project from pyproject.toml into nox's default virtualenv backend;
pyproject pins ``torch==2.13.0`` so that pip takes the CPU wheel on local disk instead of a
multi-GB CUDA build.
"""

from __future__ import annotations

import tomllib

import nox


def _optional(extra: str) -> list[str]:
    """An extra's requirements from pyproject.toml, the one place they are listed."""
    with open("pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["optional-dependencies"][extra]


TEST_TIMEOUT_S = {"tests": 300, "slow": 900}
"""pytest-timeout's default limit per test, fixtures included, in each session (a test's own
``timeout`` marker or a later ``-- --timeout N`` overrides it). The slowest measured on a 2-core
Xeon under a load of 10 (six suites at once): 69 s in ``tests`` (a report fixture's setup), 193 s
in ``slow`` (the GPU check on a bare machine), so each limit leaves more than 4× that."""

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["tests", "slow", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The correctness tests, on every core (pytest-xdist); the end-to-end ones are ``nox -s slow``."""
    session.install("-e", ".")
    session.run(
        "pytest", "-n", "auto", "--dist", "worksteal", "-m", "not slow",
        f"--timeout={TEST_TIMEOUT_S['tests']}", "tests", *session.posargs,
    )  # fmt: skip


@nox.session
def slow(session: nox.Session) -> None:
    """The end-to-end tests (marker ``slow``): tiny sweeps, process kills, memray children, the A/B."""
    session.install("-e", ".")
    session.run(
        "pytest", "-n", "auto", "--dist", "worksteal", "-m", "slow",
        f"--timeout={TEST_TIMEOUT_S['slow']}", "tests", *session.posargs,
    )  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark sweep: runtime and memory passes, then the summary (``-- --help`` for options)."""
    session.install("-e", ".")
    session.run("lbb", "bench", *session.posargs)


@nox.session
def headline(session: nox.Session) -> None:
    """Stream the full N=64, D=M=4096 explicit Jacobian in bounded memory: ``-- --help`` for options."""
    session.install("-e", ".")
    session.run("lbb", "headline", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Rebuild the HTML report from stored runs without measuring: ``-- RUN_DIR [RUN_DIR ...]``."""
    session.install("-e", ".")
    session.run("lbb", "report", *session.posargs)


@nox.session
def baseline(session: nox.Session) -> None:
    """Run the quick profile and write the baseline record reports/baseline/quick-cpu.json (commit it)."""
    session.install("-e", ".")
    session.run("lbb", "baseline", *session.posargs)


@nox.session
def regress(session: nox.Session) -> None:
    """Gate memory and time against a base commit measured in this job (an A/B; ``-- --help``)."""
    session.install("-e", ".")
    session.run("lbb", "regress", *session.posargs)


@nox.session
def noise(session: nox.Session) -> None:
    """The A/A test: the working tree against itself, as the gate would; exit 1 on a false alarm."""
    session.install("-e", ".")
    session.run("lbb", "noise", *session.posargs)


@nox.session
def trend(session: nox.Session) -> None:
    """The history over commits: ``-- record|push|pull|page|validate`` (``lbb trend --help``)."""
    session.install("-e", ".")
    session.run("lbb", "trend", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check over the whole project; the CI workflow against GitHub's schema."""
    session.install(*_optional("lint"))  # the linters alone: neither torch nor the project is imported
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run(
        "check-jsonschema", "--builtin-schema", "vendor.github-workflows", ".github/workflows/bench.yml"
    )


@nox.session
def gpucheck(session: nox.Session) -> None:
    """The GPU half in one call within a budget: roofs, the headline, the dense bf16 dY/dX, a CUDA
    sweep, one archive (``-- --out DIR``; a bare GPU machine runs ``python -m bench.gpucheck``)."""
    session.install("-e", ".")
    session.run("python", "-m", "bench.gpucheck", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate docs/cli.md, the command-line and exit-status reference, from the parsers."""
    session.install("-e", ".")
    session.run("python", "docs/cli_reference.py", *session.posargs)
