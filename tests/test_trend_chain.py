"""End to end over a real git repository: injected changes, the per-change gate, the history branch,
the chained trend and its change points, through the code the workflow calls.

Each commit carries ``speed.json`` (per method, a time factor; per case, a peak in bytes). A link's
"measurement" draws the gate's pairs from the factors at base and head with seeded noise, and
from there on everything is the real code: :func:`analysis.gate.timing.gate` decides each link,
``lbb trend record`` turns the gate directory into a record, ``lbb trend push`` appends it to the
``bench-history`` branch of a bare remote, ``lbb trend pull`` reads it back and ``lbb trend page``
chains it along the first-parent line and lists the change points.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.gate import timing
from analysis.gate.memory import as_json as peaks_as_json
from analysis.gate.memory import gate as peaks_gate
from analysis.trend import branch, store
from bench.rundir.gate_files import AB_FILE, AB_SCHEMA, GateFile
from lbb.commands.trend import main as trend_main

METHODS = ("formula-torch", "explicit-torch-warm", "autograd-torch")
PEAK_CASE = "formula-torch[cpu-float32-N64-D1024-M1024]"
BASE_PEAK = 6 * 2**20
PAIR_SD = 0.02  # per pair; 16 pairs give a link a standard error of about 0.5%
ENV = os.environ | branch.IDENTITY


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=ENV
    ).stdout


def _write_speed(repo: Path, speed: dict) -> None:
    (repo / "speed.json").write_text(json.dumps(speed, sort_keys=True))


def _commit(repo: Path, message: str, speed: dict | None = None, doc: str | None = None) -> None:
    if speed is not None:
        _write_speed(repo, speed)
    if doc is not None:
        (repo / "README.md").write_text(doc)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


def _merge(repo: Path, name: str, speed: dict) -> None:
    """A feature branch with one commit, merged into main with --no-ff: one first-parent step."""
    _git(repo, "checkout", "-q", "-b", name)
    _commit(repo, f"{name}: change", speed)
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", f"merge {name}", name)


def _new_repo(tmp_path: Path) -> tuple[Path, dict]:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    speed = {"time": dict.fromkeys(METHODS, 1.0), "peak": {PEAK_CASE: BASE_PEAK}}
    _commit(repo, "start", speed, doc="start\n")
    return repo, speed


def _speed_at(repo: Path, commit: str) -> dict:
    return json.loads(_git(repo, "show", f"{commit}:speed.json"))


def _measure_link(
    repo: Path, parent: str, commit: str, out: Path, rng: np.random.Generator, day: int
) -> list[timing.MethodGate]:
    """What ``lbb regress --against PARENT`` leaves in its --out, with pairs drawn from speed.json."""
    base, head = _speed_at(repo, parent), _speed_at(repo, commit)
    pairs = []
    for method in METHODS:
        for point in ("N16-D64-M64", "N32-D128-M128"):
            for rep in range(8):
                t = 1e-3 * math.exp(float(rng.normal(0, PAIR_SD)))
                was, now = 1e-3 * base["time"][method], t * head["time"][method]
                pairs.append(
                    {
                        "case": f"{method}[cpu-float32-{point}]",
                        "rep": rep,
                        "base": {"status": "ok", "min_s": was, "median_s": was},
                        "head": {"status": "ok", "min_s": now, "median_s": now},
                    }
                )
    sides = {"base": {"commit": parent, "dirty": False}, "head": {"commit": commit, "dirty": False}}
    data = {"pairs": pairs, **sides}
    header = {"schema": AB_SCHEMA, "status": "complete"}
    gates = timing.gate(GateFile.from_json(header | {"kind": "ab"} | data, AB_FILE), 0.05, 0.95)
    peaks = {
        "pairs": [
            {"case": case, "base": {"status": "ok", "peak_bytes": base["peak"][case]},
             "head": {"status": "ok", "peak_bytes": head["peak"][case]}}
            for case in head["peak"]
        ]
    }  # fmt: skip
    summary = {
        "state": "passed",
        "time": sides | {"confidence": 0.95, "methods": timing.as_json(gates)},
        "memory_ab": sides
        | {
            "cases": peaks_as_json(
                peaks_gate(GateFile.from_json(header | {"kind": "peaks"} | sides | peaks, "p"))
            )
        },
    }
    out.mkdir(parents=True)
    (out / "regress.json").write_text(json.dumps(summary))
    machine = {"hostname": f"runner-{commit[:6]}", "system_id": "x", "cpu_model": "AMD EPYC 7763", "cores": 4}
    machine |= {"timestamp_utc": f"2026-12-06T{day // 60:02d}:{day % 60:02d}:00Z"}
    (out / AB_FILE).write_text(
        json.dumps({"schema": AB_SCHEMA, "kind": "ab", "status": "complete", "machine": machine} | data)
    )
    return gates


def _run_records(repo: Path, commit: str, day: int, slower: float, rng: np.random.Generator) -> list[dict]:
    """What ``regress --current`` appends for a quick run at ``commit``: normalised time per case,
    on a runner of one kind (Intel Xeon, 4 cores) whose speed is ``slower`` times the usual."""
    speed = _speed_at(repo, commit)["time"]
    return [
        store.make(
            "run",
            commit=commit,
            date=f"2026-12-06T{day // 60:02d}:{day % 60:02d}:30Z",
            machine=f"runner-{day}#x|Intel Xeon Platinum 8370C|4|",
            run_id=f"run-{day}",
            schema=2,
            profile="quick",
            threads=1,
            case=f"{method}[cpu-float32-N16-D64-M64]",
            label=method,
            metrics={"norm_time": 3.0 * factor * slower * math.exp(float(rng.normal(0, 0.01)))},
        )
        for method, factor in speed.items()
    ]


def _publish(
    repo: Path, tmp_path: Path, seed: int, slower_from: int | None = None
) -> tuple[dict[str, list[timing.MethodGate]], list[dict]]:
    """Every first-parent link measured, recorded and pushed as the workflow does, with the quick
    run's records of each commit (its runner ×1.4 slower from ``slower_from`` on); then the page."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    _git(repo, "remote", "add", "origin", str(remote))
    rng = np.random.default_rng(seed)
    line = branch.first_parent(repo)
    verdicts = {}
    for day, (parent, commit) in enumerate(itertools.pairwise(line)):
        gate_dir = tmp_path / "gates" / commit[:12]
        verdicts[commit] = _measure_link(repo, parent, commit, gate_dir, rng, day)
        new = tmp_path / "new" / f"{commit[:12]}.jsonl"
        assert (
            trend_main(["record", str(gate_dir), "--kind", "link", "--device", "cpu", "--out", str(new)]) == 0
        )
        if slower_from is not None:
            slower = 1.4 if day + 1 >= slower_from else 1.0
            store.append(new, _run_records(repo, commit, day, slower, rng))
        assert trend_main(["push", str(new), "--repo", str(repo)]) == 0
    history = tmp_path / "history.jsonl"
    assert trend_main(["pull", "--repo", str(repo), "--out", str(history)]) == 0
    site = tmp_path / "site"
    assert trend_main(["page", str(history), "--out", str(site), "--repo", str(repo)]) == 0
    runs = len(METHODS) * (len(line) - 1) if slower_from is not None else 0
    assert len(history.read_text().splitlines()) == len(line) - 1 + runs  # every record kept, none twice
    return verdicts, json.loads((site / "changepoints.json").read_text())


@pytest.fixture
def creep_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """12 docs-only commits, five merges each making explicit-torch-warm 3% slower, 12 more."""
    repo, speed = _new_repo(tmp_path)
    for k in range(12):
        _commit(repo, f"docs {k}", doc=f"docs {k}\n")
    creep = []
    for k in range(5):
        speed["time"]["explicit-torch-warm"] *= 1.03
        _merge(repo, f"creep-{k}", speed)
        creep.append(_git(repo, "rev-parse", "HEAD").strip())
    for k in range(12):
        _commit(repo, f"more docs {k}", doc=f"more docs {k}\n")
    return repo, creep


def test_five_merges_of_three_percent_pass_the_gate_and_are_one_change_point_on_the_chain(
    tmp_path, creep_repo
):
    repo, creep = creep_repo
    verdicts, found = _publish(repo, tmp_path, seed=3)
    creeping = [g for c in creep for g in verdicts[c] if g.method == "explicit-torch-warm[cpu-float32]"]
    assert [g.verdict for g in creeping] == ["held"] * 5  # no merge fails the per-change gate
    assert all(1.0 < g.ratio < 1.05 for g in creeping)
    assert len(found) == 1
    (change,) = found
    assert (change["trend"], change["metric"]) == ("chained", "time")
    assert list(change["ratios"]) == ["explicit-torch-warm[cpu-float32]"]
    assert 1.12 < change["ratios"]["explicit-torch-warm[cpu-float32]"] < 1.20  # 1.03⁵ = 1.159
    line = branch.first_parent(repo)
    before, after = line.index(change["before"]), line.index(change["after"])
    first_merge, last_merge = line.index(creep[0]), line.index(creep[-1])
    assert first_merge - 2 <= before < first_merge + 2 and last_merge - 2 < after <= last_merge + 2
    page = (tmp_path / "site" / "index.html").read_text()
    assert (
        f"{change['before'][:12]}..{change['after'][:12]}" in page
        and "explicit-torch-warm[cpu-float32] ×1.1" in page
    )
    assert "the <strong>chained A/B trend</strong>, machine-independent" in page
    assert "trend-time-chained.csv" in page and (tmp_path / "site" / "trend-time.png").exists()


def test_a_docs_only_chain_has_no_change_point_anywhere(tmp_path):
    repo, _ = _new_repo(tmp_path)
    for k in range(30):
        _commit(repo, f"docs {k}", doc=f"docs {k}\n")
    verdicts, found = _publish(repo, tmp_path, seed=4)
    assert found == []
    assert not any(g.verdict == "worse" for gates in verdicts.values() for g in gates)


def test_a_peak_that_grows_once_is_one_memory_change_point_at_its_commit(tmp_path):
    repo, speed = _new_repo(tmp_path)
    for k in range(10):
        _commit(repo, f"docs {k}", doc=f"docs {k}\n")
    speed["peak"][PEAK_CASE] = BASE_PEAK + 2**20  # one more MiB: +16.7%
    _commit(repo, "keep a copy", speed)
    grown = _git(repo, "rev-parse", "HEAD").strip()
    for k in range(10):
        _commit(repo, f"more docs {k}", doc=f"more docs {k}\n")
    _, found = _publish(repo, tmp_path, seed=5)
    memory = [f for f in found if f["metric"] == "memory"]
    assert len(memory) == 1 and memory[0]["after"] == grown
    assert memory[0]["ratios"] == {PEAK_CASE: pytest.approx(7 / 6)}


def test_a_runner_that_got_slower_moves_the_per_machine_history_but_not_the_chained_trend(tmp_path):
    """Docs-only commits; from the 15th on, the runner of the same kind is ×1.4 slower (hosted
    runners of one name differ that much). Each link is still an A/B on one runner."""
    repo, _ = _new_repo(tmp_path)
    for k in range(30):
        _commit(repo, f"docs {k}", doc=f"docs {k}\n")
    _, found = _publish(repo, tmp_path, seed=6, slower_from=15)
    assert [f for f in found if f["trend"] == "chained"] == []
    (machine,) = [f for f in found if f["trend"].startswith("per machine")]
    line = branch.first_parent(repo)
    assert line.index(machine["after"]) == 15
    assert set(machine["ratios"]) == set(METHODS)
    assert all(1.3 < r < 1.5 for r in machine["ratios"].values())
