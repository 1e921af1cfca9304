"""A Python environment with only the packages of the bare GPU machine (issue #21), for the tests.

The GPU machine has its own python with torch, pytest-benchmark, pandas, matplotlib, rich,
jinja2, psutil, py-cpuinfo, scipy and numba (and what they require), and nothing else: no
memray, no threadpoolctl, no nox, no pytest-xdist, and no install of this project. A new venv
made with ``--without-pip`` sees only the standard library; each allowed distribution of this
test's own environment, with everything it requires, is linked into its site-packages. So an
import of anything else fails there exactly as it would on that machine (``find_spec`` gives
None, ``import`` raises ModuleNotFoundError), however deep in our code or a child process.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GPU_MACHINE_PACKAGES = (
    "torch",
    "pytest-benchmark",
    "pandas",
    "matplotlib",
    "rich",
    "jinja2",
    "psutil",
    "scipy",
    "numba",
)
"""The issue's list; py-cpuinfo comes with pytest-benchmark (here as py-cpuinfo2, same module)."""
NOT_THERE = ("memray", "threadpoolctl", "nox", "xdist", "linear_backprop_bench")


def _closure(names: tuple[str, ...]) -> dict[str, metadata.Distribution]:
    """The installed distributions ``names`` need, requirements followed (extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional or platform-only requirement that this environment lacks
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def make_bare_python(root: Path) -> Path:
    """A venv under ``root`` holding only the GPU machine's packages; its python executable."""
    venv = root / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for dist in _closure(GPU_MACHINE_PACKAGES).values():
        here = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            if top.endswith(".pth"):
                continue
            source = here / top
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return python
