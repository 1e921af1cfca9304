"""The tracking page: change points, the trends and the gate's noise in one offline HTML file.

Everything is computed from the history's records and main's first-parent line (a pure function
of saved files): the chain (:mod:`analysis.trend.chain`), the change points
(:mod:`analysis.trend.findings`), the figures (:mod:`analysis.trend.plot`). The PNGs are embedded
as ``data:`` URIs and nothing is loaded from elsewhere, so the page works from GitHub Pages and
from a downloaded artifact alike. ``changepoints.json`` and ``changepoints.md`` list the same
findings for other tools and for a job summary.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from analysis.gate.history import load_history
from analysis.report.output import write_atomically
from analysis.trend import findings as found
from analysis.trend import noise, plot, store
from analysis.trend.chain import chain
from analysis.trend.changepoint import MAX_PVALUE

PAGE = "index.html"
_TEMPLATES = Environment(
    loader=PackageLoader("analysis.trend", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
    undefined=StrictUndefined,
)
DETECTOR = (
    "E-divisive means proposes change points, and each is confirmed in the manner of Apache Otava "
    f"(p < {MAX_PVALUE}, a move of at least {found.MIN_MAGNITUDE:.0%}): on the chained trend by a z-test "
    "of the summed log ratios of the links around it, with their own variances; on the per-machine "
    "history by Student's t-test between the windows either side. Detection rates at this suite's "
    "noise are in docs/tracking.md."
)


def analyse(history: Path, first_parent: list[str]) -> tuple[list[Any], pd.DataFrame, list[found.Finding]]:
    """The chained series, the per-machine series and every finding, from the history file."""
    links = store.read(history, "link")
    series = chain(links, first_parent)
    runs = load_history(history)
    machine = found.per_machine_series(runs, first_parent)
    findings = found.chained(series) + found.per_machine(runs, first_parent)
    return series, machine, findings


def _memory_by_label(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method label, the largest chained peak ratio among its cases at each commit."""
    if frame.empty:
        return frame
    labelled = frame.assign(series=frame["series"].str.partition("[")[0])
    worst = labelled.groupby(["series", "segment", "position"])["ratio"].idxmax()
    return labelled.loc[worst].sort_values(["series", "position"])


def _finding_rows(findings: list[found.Finding]) -> list[list[str]]:
    rows = []
    for f in sorted(findings, key=lambda f: (f.trend, f.metric, f.before)):
        moved = ", ".join(f"{name} ×{ratio:.3f}" for name, ratio in sorted(f.ratios.items()))
        rows.append([f.trend, f.metric, f.commit_range, moved, _p(f.pvalue)])
    return rows


def _p(value: float) -> str:
    return "< 1e-15" if value < 1e-15 else f"{value:.2g}"


def markdown(findings: list[found.Finding]) -> str:
    lines = ["### Change points", ""]
    if not findings:
        return "\n".join([*lines, "None found on the chained trend or the per-machine history.", ""])
    lines += ["| trend | metric | commits | series: after ÷ before | p |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in _finding_rows(findings)]
    return "\n".join(lines) + "\n"


def _link_rows(links: list[dict[str, Any]], count: int = 15) -> list[list[str]]:
    rows = []
    for link in sorted(links, key=lambda r: r["date"], reverse=True)[:count]:
        ratios = [m["ratio"] for m in link["time"].values() if m.get("ratio")]
        moves = [
            c["head"] / c["base"] - 1 for c in link["memory"].values() if c.get("base") and c.get("head")
        ]
        rows.append(
            [
                link["commit"][:12],
                link["parent"][:12],
                found.runner_kind(link.get("machine")),
                str(link.get("status")),
                "–" if not ratios else f"×{max(ratios, key=lambda r: abs(math.log(r))):.3f}",
                "–" if not moves else f"{max(moves, key=abs):+.2%}",
            ]
        )
    return rows


def _embedded(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def build(history: Path, first_parent: list[str], out: Path, report: str | None = None) -> Path:
    """Write ``out/index.html`` (with its figures, CSVs and change-point lists); returns its path."""
    series, machine, findings = analyse(history, first_parent)
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for metric, title in (("time", "Time"), ("memory", "Peak memory (per method, its case that grew most)")):
        frame = plot.chain_frame(series, metric)
        if metric == "memory":
            frame = _memory_by_label(frame)
        if frame.empty and (metric == "memory" or machine.empty):
            continue
        png = plot.trend_figure(frame, machine, findings, first_parent, metric, out)
        csvs = sorted(p.name for p in out.glob(f"trend-{metric}-*.csv"))
        figures.append({"title": title, "data": _embedded(png), "csvs": csvs})
    links, aa = store.read(history, "link"), store.read(history, "aa")
    rate = noise.alarm_rate(aa)
    counts = ", ".join(f"{len(store.read(history, k))} {k} records" for k in ("link", "run", "aa"))
    html = _TEMPLATES.get_template("trends.html.j2").render(
        built=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        counts=counts,
        head=first_parent[-1][:12] if first_parent else "?",
        report=report,
        detector=DETECTOR,
        findings=_finding_rows(findings),
        figures=figures,
        noise_line=rate.line(),
        noise=noise.per_method(aa, links),
        links=_link_rows(links),
    )
    (out / "changepoints.json").write_text(json.dumps([asdict(f) for f in findings], indent=1))
    (out / "changepoints.md").write_text(markdown(findings))
    return write_atomically(out / PAGE, lambda tmp: tmp.write_text(html, encoding="utf-8"))
