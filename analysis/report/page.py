"""The self-contained HTML report: a pure function of saved run directories.

``build_report(run_dirs, out)`` loads the runs, writes each run's ``results-<run_id>.csv`` under
``out`` (never into a run directory: only ``out`` is written), analyses
them (:mod:`analysis.report.study`), draws the first screen's two figures and every plot the data
supports (PNG + CSV, :mod:`analysis.report.figures`) into ``out`` and renders ``out/index.html`` from
the package's Jinja2 template with the PNGs embedded, so the page needs no network and no CDN.
This module only assembles the page: the numbers come from the modules it calls, the markup
from the template, which escapes every value it is given.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from analysis.extrapolate import HEADLINE
from analysis.gate.history import load_history
from analysis.load import results_path, write_results
from analysis.report import tables
from analysis.report.environment import environment, header_line, thread_warning
from analysis.report.figures import ALT_TEXT, draw_figures, draw_first_screen
from analysis.report.first_screen import summary
from analysis.report.output import ReportWriteError, write_atomically
from analysis.report.study import Analysis, analyse
from bench.methods import METHODS
from bench.rundir.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE

REPORT_FILE = "index.html"
TEMPLATE = "report.html.j2"

_TEMPLATES = Environment(
    loader=PackageLoader("analysis.report", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
    undefined=StrictUndefined,  # a context key the template expects but was not given is an error
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Figure:
    title: str
    alt: str
    """What the figure shows, for a reader who cannot see it."""
    data: str
    """The PNG as a ``data:`` URI, so the page is one file."""
    png: str
    csv: str
    anchor: str = ""


@dataclass(frozen=True)
class Link:
    name: str
    href: str


@dataclass(frozen=True)
class RawFiles:
    name: str
    files: list[Link]


def _rel(target: Path, start: Path) -> str:
    return os.path.relpath(target, start)


def _figure(title: str, path: Path, out: Path) -> Figure:
    data = base64.b64encode(path.read_bytes()).decode()
    return Figure(
        title=title,
        alt=ALT_TEXT.get(title, title),
        anchor=path.stem,
        data=f"data:image/png;base64,{data}",
        png=_rel(path, out),
        csv=_rel(path.with_suffix(".csv"), out),
    )


def render(
    analysis: Analysis, figures: dict[str, Path], out: Path, first: dict[str, Path] | None = None
) -> str:
    """The page for ``analysis``: the summary and the ``first`` figures on its first screen, then
    ``figures``, then the full tables; every figure (title → PNG in ``out``) embedded."""
    cases = analysis.cases
    runs = len(analysis.runs)
    not_measured = tables.not_measured_table(analysis)
    noisy = cases[cases["noisy"].fillna(False).astype(bool)] if not cases.empty else cases
    context = {
        "runs": [f"{run.run_id} on {run.machine_label}" for run in analysis.runs],
        "headers": [header_line(run) for run in analysis.runs],
        "warnings": [w for run in analysis.runs for w in run.warnings]
        + [w for w in (thread_warning(analysis.runs),) if w],
        "summary": summary(analysis),
        "first_figures": [_figure(title, path, out) for title, path in (first or {}).items()],
        "measured": tables.shown(tables.measured_headline_table(analysis), runs),
        "predictions": tables.shown(tables.prediction_table(analysis), runs),
        "exponents": tables.shown(tables.exponent_table(analysis.exponents), runs),
        "targets": tables.shown(tables.targets_table(analysis), runs),
        "figures": [_figure(title, path, out) for title, path in figures.items()],
        "holdouts": tables.shown(tables.holdout_table(analysis.holdouts), runs),
        "environments": [environment(run) for run in analysis.runs],
        "not_measured": tables.shown(not_measured, runs),
        "not_measured_count": len(not_measured),
        "case_count": len(cases),
        "noisy_count": len(noisy),
        "methods": [(name, method.summary) for name, method in METHODS.items()],
        "raw": [
            RawFiles(
                name=run.run_id,
                files=[
                    *(Link(n, _rel(run.path / n, out)) for n in (RUNTIME_FILE, MEMORY_FILE, RUN_FILE)),
                    Link("results.csv", _rel(results_path(run, out, index), out)),
                ],
            )
            for index, run in enumerate(analysis.runs)
        ],
    }
    return _TEMPLATES.get_template(TEMPLATE).render(context)


def build_report(
    run_dirs: list[Path], out: Path, target: tuple[int, int, int] = HEADLINE, history: Path | None = None
) -> Path:
    """Analyse ``run_dirs`` and write ``out/index.html`` with its plots; returns the page's path.

    ``history`` is the regress history (JSON Lines); when it has entries, a trend plot is added.
    Every file is written whole or not at all; one that cannot be written raises
    :class:`~analysis.report.output.ReportWriteError` naming it.
    """
    analysis = analyse(run_dirs, target)
    trend = load_history(history)
    out.mkdir(parents=True, exist_ok=True)
    for index, run in enumerate(analysis.runs):
        try:
            write_results(run, out, index)
        except OSError as exc:
            raise ReportWriteError(f"cannot write {results_path(run, out, index)}: {exc}") from exc
    first = draw_first_screen(analysis, out)
    figures = draw_figures(analysis, out, trend)
    page = out / REPORT_FILE
    html = render(analysis, figures, out, first)
    return write_atomically(page, lambda tmp: tmp.write_text(html, encoding="utf-8"))
