"""Imports point down: every module of bench/ and analysis/ has a layer, and imports only from
its own layer or a lower one, never in a circle. The import graph is read with ``ast`` from the
sources (imports inside functions included), so nothing is imported to check it."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("bench", "analysis", "lbb")

LAYERS: tuple[tuple[str, ...], ...] = (
    # leaves: facts and checks that import nothing from the project
    ("bench.units", "bench.errors", "bench.hardware", "bench.problem", "bench.validation", "bench.tiles"),
    # the measuring machinery: timers, roofs, peaks, threads, child processes, machine facts
    ("bench.harness",),
    # the model: exact sizes and counts, and the kernels the methods call
    ("bench.sizes", "bench.costs", "bench.streamed", "bench.panels", "bench.kernelsteps", "bench.compiled",
     "bench.patternroof",
     "bench.streamers"),
    ("bench.methods",),
    ("bench.cases",),
    ("bench.inputs",),
    ("bench.profiles", "bench.usage"),
    ("bench.rundir",),
    # the passes: what a command runs (a sweep's two passes, the A/B's two sides)
    ("bench.sweep", "bench.abtest"),
    # the runs built on them: the headline's streamed passes (its peak child is the memory
    # pass's), the GPU check's parts
    ("bench.headline", "bench.gpucheck"),
    # analysis: the report's one atomic writer; runs into frames, fits and targets, and the
    # history's one file format; then judging; then drawing; then tracking over time
    ("analysis.report.output",),
    ("analysis.load", "analysis.fits", "analysis.targets", "analysis.extrapolate", "analysis.floors",
     "analysis.trend.store"),
    ("analysis.gate",),
    # the gate's rules, one module each, and their registry; then what plans and runs them
    ("analysis.gate.rules",),
    ("analysis.gate.plan", "analysis.gate.cli"),
    ("analysis.report",),
    # the report's charts read the analysis and the page's first-screen figures; the page draws them
    ("analysis.report.charts",),
    ("analysis.report.figures", "analysis.report.page"),
    ("analysis.trend",),
    # the command layer: every option defined once, then the commands, each on its own (none
    # imports another, :func:`test_no_command_imports_another`)
    ("lbb.options",),
    ("lbb.ab_options",),
    ("lbb.commands",),
    # the entry points: the ``lbb`` script and the ``python -m`` shims
    ("lbb.main", "lbb.__main__", "bench.__main__", "analysis.__main__"),
)  # fmt: skip
"""Lowest first. A module's layer is its longest matching prefix (``bench.harness`` holds every
module of that package; ``lbb.commands`` every command).
The harness sits below the model: it measures machines and calls, and knows no method or case.
Within a layer, a module may import another only in its own package (``bench.harness.machine``
→ ``bench.harness.budget``; a package's ``__init__`` → its own modules, as ``bench.methods`` →
``bench.methods.impls``; ``analysis.gate.cli`` → ``analysis.report.page`` would tie the judging
to the drawing). An import under ``if __name__ == "__main__":`` is the entry point of ``python -m
module`` and never runs on import: it belongs to the entry-point layer
(:func:`test_a_python_m_entry_only_calls_its_command`)."""


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(
    node: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules: Iterable[str]
) -> set[str]:
    """The modules an import statement names: ``from a import b`` names ``a.b`` where that is a
    module, else ``a``; relative imports are resolved against ``name``."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":``"""
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _imports(tree: ast.AST, entry: bool) -> Iterable[ast.Import | ast.ImportFrom]:
    """The imports of a module (``entry``: False), or those of its ``__main__`` block alone (True)."""
    stack = [(tree, False)]
    while stack:
        node, inside = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom) and inside == entry:
            yield node
        guard = _is_main_guard(node)
        stack += [(child, inside or guard) for child in ast.iter_child_nodes(node)]


def import_graph(root: Path, entry: bool = False) -> dict[str, set[str]]:
    """Every project module under ``root`` and the project modules it imports; with ``entry``,
    those its ``if __name__ == "__main__":`` block imports."""
    files = {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), str(path)), entry):
            is_package = path.name == "__init__.py"
            targets |= {t for t in _imported(node, name, is_package, files) if t in files}
        graph[name] = targets - {name, *PACKAGES}
    return graph


def layer_of(module: str) -> int | None:
    """The index of the layer whose longest prefix matches ``module``, or None."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                best = max(best or (-1, -1), (len(prefix), index))
    return None if best is None else best[1]


def _package(module: str) -> str:
    return module.rpartition(".")[0]


def upward_imports(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Each import that points up a layer, or sideways out of its package, as ``a -> b``."""
    bad = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            low, high = layer_of(target), layer_of(source)
            if low is None or high is None:
                continue
            inside = target.startswith(source + ".")  # a package's __init__ exports its own modules
            if low > high or (low == high and _package(source) != _package(target) and not inside):
                bad.append(f"{source} -> {target}")
    return bad


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles (strongly connected components of two or more modules, or a module
    importing itself), the allowed upward arrows left out; Tarjan's algorithm."""
    edges = {s: sorted(ts) for s, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges.get(node, []):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    graph = import_graph(ROOT)
    assert {"bench.costs", "analysis.load", "lbb.main"} <= set(graph)  # the walk found the packages
    assert [m for m in graph if m not in PACKAGES and layer_of(m) is None] == []


def test_no_import_points_up_a_layer():
    assert upward_imports(import_graph(ROOT)) == []


def test_no_imports_close_a_circle():
    assert circles(import_graph(ROOT)) == []


COMMANDS = "lbb.commands."


def command_imports(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Each import of one command by another, as ``a -> b``."""
    commands = [m for m in graph if m.startswith(COMMANDS)]
    return [f"{s} -> {t}" for s in commands for t in graph[s] if t.startswith(COMMANDS)]


def test_no_command_imports_another():
    graph = import_graph(ROOT)
    assert len([m for m in graph if m.startswith(COMMANDS)]) >= 8  # bench ... gpucheck, trend
    assert command_imports(graph) == []


def test_a_python_m_entry_only_calls_its_command():
    """``python -m bench.headline`` and the like keep working as thin shims: what a module's
    ``__main__`` block imports is the command layer or the entry point, nothing else."""
    entries = {s: ts for s, ts in import_graph(ROOT, entry=True).items() if ts}
    assert {"bench.headline.__main__", "bench.gpucheck", "analysis.gate.cli"} <= set(entries)
    assert [f"{s} -> {t}" for s, ts in entries.items() for t in ts if not t.startswith("lbb.")] == []


def test_bench_never_imports_analysis():
    graph = import_graph(ROOT)
    assert [
        f"{s} -> {t}"
        for s, ts in graph.items()
        if s.startswith("bench") and s != "bench.__main__"  # the shim of ``lbb bench``
        for t in ts
        if t.startswith(("analysis", "lbb"))
    ] == []


def _copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_a_planted_upward_import_is_caught(tmp_path):
    root = _copy(tmp_path)
    units = root / "bench" / "units.py"
    units.write_text(
        units.read_text() + "\n\ndef _late():\n    from bench.cases import Case\n\n    return Case\n"
    )
    assert "bench.units -> bench.cases" in upward_imports(import_graph(root))


def test_a_planted_relative_import_between_two_packages_of_a_layer_is_caught(tmp_path):
    root = _copy(tmp_path)
    cli = root / "analysis" / "load.py"
    cli.write_text(cli.read_text() + "\nfrom .trend import store as _store  # noqa\n")
    assert "analysis.load -> analysis.trend.store" in upward_imports(import_graph(root))


def test_a_planted_upward_import_under_a_main_guard_is_seen_as_the_entry_points(tmp_path):
    root = _copy(tmp_path)
    units = root / "bench" / "units.py"
    units.write_text(units.read_text() + "\nif __name__ == '__main__':\n    import analysis.load  # noqa\n")
    assert "bench.units -> analysis.load" not in upward_imports(import_graph(root))
    assert import_graph(root, entry=True)["bench.units"] == {"analysis.load"}


def test_a_planted_circle_within_a_layer_is_caught(tmp_path):
    root = _copy(tmp_path)
    sizes = root / "bench" / "sizes.py"
    sizes.write_text(sizes.read_text() + "\nimport bench.costs  # noqa\n")
    assert ["bench.costs", "bench.sizes"] in circles(import_graph(root))


def test_a_planted_import_of_one_command_by_another_is_caught(tmp_path):
    root = _copy(tmp_path)
    noise = root / "lbb" / "commands" / "noise.py"
    noise.write_text(noise.read_text() + "\nfrom lbb.commands import regress as _regress  # noqa\n")
    assert command_imports(import_graph(root)) == ["lbb.commands.noise -> lbb.commands.regress"]
