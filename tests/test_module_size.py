"""Small modules with one job: no module of the project over 400 lines and no function over 80,
outside the tests (read with ``ast`` from the sources, so nothing is imported to check them)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT
from tests.test_layers import PACKAGES

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def sources(root: Path) -> list[Path]:
    """The project's Python files: its packages, the noxfile and the docs' generator."""
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    return files + sorted(root.glob("*.py")) + sorted((root / "docs").glob("*.py"))


def long_modules(files: list[Path], limit: int = MAX_MODULE_LINES) -> list[str]:
    """Each file over ``limit`` lines, as ``path: lines``."""
    counts = {p: len(p.read_text().splitlines()) for p in files}
    return [f"{p.name}: {n}" for p, n in counts.items() if n > limit]


def long_functions(files: list[Path], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Each function (nested ones and methods included) over ``limit`` lines, decorators and
    docstring included, as ``path:line name: lines``."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - start + 1
                if lines > limit:
                    found.append(f"{path.name}:{node.lineno} {node.name}: {lines}")
    return found


def test_no_module_of_the_project_is_over_400_lines():
    files = sources(ROOT)
    assert len(files) > 100  # the walk found the project
    assert long_modules(files) == []


def test_no_function_of_the_project_is_over_80_lines():
    assert long_functions(sources(ROOT)) == []


def test_a_planted_long_module_and_a_planted_long_function_are_caught(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    planted = tmp_path / "planted.py"
    planted.write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n" + "\n" * 320)
    assert long_functions([planted]) == ["planted.py:1 long: 81"]
    assert long_modules([planted]) == [f"planted.py: {len(planted.read_text().splitlines())}"]
