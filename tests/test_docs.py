"""The documentation: a README that is a first screen, links that resolve, and a command-line
reference (docs/cli.md) that is what the parsers print."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
REGENERATE = "nox -s docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _generator()


def test_the_committed_cli_reference_is_what_the_parsers_print(generator: ModuleType) -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == generator.render(), f"docs/cli.md is stale: regenerate it with `{REGENERATE}`"


def test_the_cli_reference_has_every_command_with_its_help(generator: ModuleType) -> None:
    pages = generator.helps(generator.entry_point())
    names = {" ".join(argv) for argv, _, _ in pages}
    assert {"", "bench", "headline", "report", "regress", "noise", "baseline", "trend"} <= names
    assert {"trend record", "trend page"} <= names  # a command's own actions
    for argv, status, text in pages:
        assert status == 0, argv
        assert "usage:" in text, argv


def test_lbb_exits_as_the_reference_says_for_bad_input(generator: ModuleType) -> None:
    main = generator.entry_point()
    documented = {status for status, _ in generator.EXIT_STATUSES}
    assert {"0", "2"} <= documented
    assert generator.run(main, ["--help"])[0] == 0
    assert generator.run(main, [])[0] == 2
    status, text = generator.run(main, ["no-such-command"])
    assert status == 2
    assert len(text.strip().splitlines()) == 1 and "no-such-command" in text


def test_commands_are_read_from_a_subparser_group_not_from_an_options_choices() -> None:
    commands = _generator().commands
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--device", choices=["cpu", "cuda"])
    sub = parser.add_subparsers()
    for name in ("record", "push"):
        sub.add_parser(name, help=f"{name} things")
    assert commands(parser.format_help()) == ["record", "push"]

    flat = argparse.ArgumentParser(prog="tool")
    flat.add_argument("--device", choices=["cpu", "cuda"])
    assert commands(flat.format_help()) == []


def test_commands_are_read_from_a_commands_heading() -> None:
    text = "usage: tool COMMAND\n\ncommands:\n  bench     the sweep\n  report    the page\n\nmore text\n"
    assert _generator().commands(text) == ["bench", "report"]


def test_the_readme_is_a_first_screen_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 150
    assert "nox -s bench" in text and "nox -s tests" in text


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            slug = _slug(match.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [a or b for a, b in _LINK.findall(text)]


def test_a_slug_is_githubs_anchor_for_a_heading() -> None:
    heading = "The GPU half: `python -m bench.gpucheck`, one call"
    assert _slug(heading) == "the-gpu-half-python--m-benchgpucheck-one-call"
    assert _slug("lbb trend record") == "lbb-trend-record"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_check_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [bad](#nowhere) `[code](x.md)`\n")
    assert _links(page) == ["#title", "missing.md", "#nowhere"]
    assert _anchors(page) == {"title"}


def test_the_python_m_entries_are_found_from_the_sources(generator: ModuleType) -> None:
    entries = generator.module_entries()
    assert {"bench", "bench.headline", "bench.gpucheck", "analysis"} <= set(entries)
    assert "bench.abtest.worker" not in entries  # started by the gate, not by a user
    assert all(not name.startswith(("tests", "docs")) for name in entries)


def test_the_readme_command_table_names_every_nox_session() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    sessions = re.findall(r"@nox\.session[^\n]*\ndef (\w+)", noxfile)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert {"tests", "bench", "lint"} <= set(sessions)
    missing = [name for name in sessions if f"`nox -s {name}" not in readme]
    assert not missing, f"README.md's command table lacks nox -s {', '.join(missing)}"
