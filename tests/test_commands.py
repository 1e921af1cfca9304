"""``lbb``: one command with a subcommand per job; measure-then-report is composed here, not in bench/."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from lbb.main import COMMANDS, main
from tests.conftest import ROOT


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    names = ("bench", "headline", "report", "baseline", "regress", "noise", "gpucheck", "trend")
    for name in names:
        assert re.search(rf"^  {name} +\S", out, re.M), name
    assert set(COMMANDS) == set(names)
    assert re.search(r"^  regress +.*A/B against a base commit measured in the same job", out, re.M)


@pytest.mark.parametrize(
    ("argv", "message"), [([], "usage: lbb COMMAND"), (["measure"], "unknown command 'measure'")]
)
def test_no_or_an_unknown_command_exits_2(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.out + captured.err


def test_every_subcommand_reports_bad_input_the_same_way(capsys):
    for argv in (["bench", "--profile", "nope"], ["report", "/nonexistent"], ["regress", "--reps", "0"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and ": error: " in err, err


def test_bench_never_imports_analysis():
    for path in sorted((ROOT / "bench").glob("*.py")):
        imports = [
            line for line in path.read_text().splitlines() if re.match(r"\s*(from|import) analysis\b", line)
        ]
        assert not imports, f"{path.name}: {imports}"


@pytest.mark.slow
def test_lbb_bench_measures_then_writes_the_report(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lbb",
            "bench",
            "--profile",
            "smoke",
            "--device",
            "cpu",
            "--methods",
            "formula-torch",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "report" / "index.html").exists()
    assert f"report: {out / 'report' / 'index.html'}" in done.stdout


def test_the_lbb_script_imports_nothing_heavy_so_memory_pass_children_start_fast():
    """multiprocessing re-imports the ``lbb`` script in every fork-server child of the memory pass:
    its module must not pull pandas, scipy or matplotlib (1.5 s a case instead of 0.4 s)."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module, _, function = pyproject["project"]["scripts"]["lbb"].partition(":")
    probe = (
        f"import sys; from {module} import {function}; "
        "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'lbb.commands') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_renders_its_help(capsys, name):
    """argparse formats help strings with %: a literal % in one crashed ``lbb regress --help``."""
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith(f"usage: lbb {name}") and "--help" in out
    assert not any(markup in out for markup in ("``", ":mod:", ":func:", "nox -s")), out


def test_a_python_m_shim_runs_the_same_command_as_lbb():
    """``python -m bench`` and ``lbb bench`` check their options alike: one definition, one wording."""
    done = [
        subprocess.run(
            [sys.executable, "-m", *entry, "--device", "tpu"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        for entry in (["bench"], ["lbb", "bench"], ["bench.headline"], ["lbb", "headline"])
    ]
    assert [d.returncode for d in done] == [2, 2, 2, 2]
    errors = {d.stderr.strip().partition(": error: ")[2] for d in done}
    assert errors == {"unknown device 'tpu'; choose from cpu, cuda, all"}
