"""The self-contained HTML report: a pure function of saved run directories.

``build_report(run_dirs, out)`` loads the runs, writes each run's ``results.csv``, fits,
extrapolates, checks the performance targets, draws every plot (PNG + CSV) into ``out`` and
writes ``out/index.html`` with the PNGs embedded, so the page needs no network and no CDN.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import plots
from analysis.extrapolate import HEADLINE, extrapolate, holdout
from analysis.fits import AxesByRun, exponents
from analysis.history import load_history
from analysis.load import RESULTS_FILE, Run, load_run, write_results
from analysis.targets import check_targets
from bench.costs import format_bytes, jacobian_bytes
from bench.methods import METHODS
from bench.store import MEMORY_FILE, RUN_FILE, RUNTIME_FILE

REPORT_FILE = "index.html"


@dataclass
class Analysis:
    """Everything the report shows, computed from the runs."""

    runs: list[Run]
    cases: pd.DataFrame
    exponents: pd.DataFrame
    predictions: pd.DataFrame
    holdouts: pd.DataFrame
    targets: pd.DataFrame
    limits: dict[tuple[str, str], int | None]
    target: tuple[int, int, int]

    @property
    def axes(self) -> AxesByRun:
        return {run.run_id: run.meta["profile"].get("axes", {}) for run in self.runs}


def _device_limits(run: Run) -> dict[tuple[str, str], int | None]:
    machine = run.meta.get("machine", {})
    limits: dict[tuple[str, str], int | None] = {(run.run_id, "cpu"): machine.get("ram_bytes")}
    gpus = machine.get("gpus") or []
    if gpus:
        limits[(run.run_id, "cuda")] = gpus[0].get("memory_bytes")
    return limits


def analyse(run_dirs: list[Path], target: tuple[int, int, int] = HEADLINE) -> Analysis:
    """Load every run and compute fits, extrapolations, hold-outs and targets."""
    runs = [load_run(path) for path in run_dirs]
    seen: dict[str, Path] = {}
    for run in runs:
        if run.uid in seen:
            raise ValueError(f"the same run was given twice: {seen[run.uid]} and {run.path}")
        seen[run.uid] = run.path
    names = [run.run_id for run in runs]
    for run in runs:  # two runs of one name (a/r1, b/r1) are told apart by their parent directory
        if names.count(run.run_id) > 1:
            label = f"{run.path.resolve().parent.name}/{run.run_id}"
            run.meta["run_name"] = label
            run.cases["run_id"] = label
    cases = pd.concat([run.cases for run in runs], ignore_index=True)
    limits: dict[tuple[str, str], int | None] = {}
    cache = {run.run_id: run.meta.get("machine", {}).get("llc_bytes") for run in runs}
    for run in runs:
        limits |= _device_limits(run)
    parts = [
        (
            exponents(run.cases, run.meta["profile"].get("axes", {})),
            holdout(run.cases, run.meta["profile"].get("axes", {}), cache),
        )
        for run in runs
        if not run.cases.empty
    ]
    return Analysis(
        runs=runs,
        cases=cases,
        exponents=pd.concat([p[0] for p in parts], ignore_index=True) if parts else pd.DataFrame(),
        predictions=extrapolate(cases, limits, cache, target),
        holdouts=pd.concat([p[1] for p in parts], ignore_index=True) if parts else pd.DataFrame(),
        targets=check_targets(cases),
        limits=limits,
        target=target,
    )


# --- HTML --------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .55em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.headline { background: #f6f8ff; border-left: 4px solid #3a5bd9; padding: .8em 1.2em; font-size: 1.05em; }
.bad { color: #b00020; font-weight: 600; } .good { color: #11772d; font-weight: 600; }
.warn { background: #fff6e0; border-left: 4px solid #e0a000; padding: .5em 1em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; } code { background: #f3f3f3; padding: 0 .2em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    return frame.to_html(index=False, escape=True, border=0, na_rep="–")


def _time(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "–"
    if seconds >= 100:
        return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)" if seconds < 7200 else f"{seconds / 3600:,.1f} h"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:,.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _bytes(count: float) -> str:
    return format_bytes(int(count)) if np.isfinite(count) else "–"


def _pick(predictions: pd.DataFrame, family: str, device: str) -> pd.Series | None:
    rows = predictions[(predictions["family"] == family) & (predictions["device"] == device)]
    rows = rows[np.isfinite(rows["time_value"].astype(float))]
    if rows.empty:
        return None
    torch_rows = rows[rows["label"].str.contains("torch")]
    preferred = torch_rows if not torch_rows.empty else rows
    warm = preferred[preferred["label"].str.endswith("warm")]
    return (warm if not warm.empty else preferred).iloc[0]


def headline(analysis: Analysis) -> str:
    """The summary paragraph, computed from the data."""
    n, d, m = analysis.target
    dydx, dydw = jacobian_bytes(n, d, m, "float32")
    parts = [
        f"At N={n}, D={d}, M={m} (float32) the explicit approach needs <b>{_e(format_bytes(dydx))}</b> for dY/dX "
        f"and <b>{_e(format_bytes(dydw))}</b> for dY/dW."
    ]
    preds = analysis.predictions
    if not preds.empty:
        preds = preds[np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])]
    if preds.empty:
        parts.append("No method has enough measured points to extrapolate.")
        return "<p class='headline'>" + " ".join(parts) + "</p>"
    for device in sorted(preds["device"].unique()):
        explicit, formula = _pick(preds, "explicit", device), _pick(preds, "formula", device)
        if formula is not None:
            parts.append(
                f"On {device}, the formula ({_e(formula['label'])}) is predicted to need "
                f"{_e(_bytes(formula['peak_value']))} and {_e(_time(formula['time_value']))}."
            )
        if explicit is not None and formula is not None:
            ratio = explicit["time_value"] / formula["time_value"]
            low = explicit["time_low"] / formula["time_high"]
            high = explicit["time_high"] / formula["time_low"]
            fits = explicit["device_memory_bytes"]
            parts.append(
                f"{_e(explicit['label'])} is predicted at {_e(_time(explicit['time_value']))} "
                f"(90% interval {_e(_time(explicit['time_low']))}–{_e(_time(explicit['time_high']))}): "
                f"<b>{ratio:,.0f}×</b> the formula's time (interval {low:,.0f}–{high:,.0f}×)"
                + (
                    f", and {explicit['over_by']:,.0f}× more memory than this {device} has "
                    f"({_e(_bytes(fits))})."
                    if fits and not explicit["fits_device"]
                    else "."
                )
            )
    return "<p class='headline'>" + " ".join(parts) + "</p>"


def headline_measured(analysis: Analysis) -> str:
    """The full-size streamed case as measured, beside the sweep's extrapolation of it."""
    cases = analysis.cases
    if cases.empty or "headline_dydx_seconds" not in cases:
        return ""
    measured = cases[cases["headline_dydx_seconds"].notna()]
    if measured.empty:
        return ""
    preds = analysis.predictions
    rows = []
    for _, row in measured.iterrows():
        others = (
            preds[
                (preds["label"] == "streamed-torch")
                & (preds["device"] == row["device"])
                & (preds["run_id"] != row["run_id"])
            ]
            if not preds.empty
            else preds
        )
        others = others[np.isfinite(others["time_value"].astype(float))] if not others.empty else others
        total = row["time_median_s"]
        extrapolated = others["time_value"].iloc[0] if not others.empty else np.nan
        estimate = bool(row["headline_dydw_is_estimate"])
        dense = row["jacobian_dydx_bytes"]
        rows.append(
            {
                "run": row["run_id"],
                "device": row["device"],
                "N, D, M": f"{row['n']}, {row['d']}, {row['m']}",
                "dY/dX streamed (measured)": _time(row["headline_dydx_seconds"]),
                "dY/dW streamed": _time(row["headline_dydw_seconds"])
                + (
                    f" (estimate: {row['headline_dydw_fraction_measured']:.4f} of its tiles timed)"
                    if estimate
                    else " (measured)"
                ),
                "total": _time(total) + (" (with the estimate)" if estimate else ""),
                "extrapolated from the sweep": (
                    f"{_time(extrapolated)} ({others['run_id'].iloc[0]})"
                    if np.isfinite(extrapolated)
                    else "no sweep run given"
                ),
                "extrapolation error": f"{(extrapolated - total) / total:+.0%}"
                if np.isfinite(extrapolated)
                else "–",
                "formula, same size": _time(row["headline_formula_seconds"]),
                "dY/dX ÷ formula": f"{row['headline_dydx_seconds'] / row['headline_formula_seconds']:,.0f}×",
                "effective throughput dY/dX": f"{row['headline_effective_gbps_dydx']:.1f} GB/s = {row['headline_effective_gbps_dydx'] / row['copy_roof_gbps']:.2f}× copy bandwidth",
                "peak memory (measured)": _bytes(row["peak_bytes"]),
                "dense dY/dX would need": format_bytes(int(dense)),
            }
        )
    table = pd.DataFrame(rows).set_index(["run", "device"]).T
    table.columns = [f"{run} ({device})" for run, device in table.columns]
    return (
        "<h2>The headline case, measured</h2><p>The streamed method materialises every entry of the full-size "
        "Jacobians, zeros included, one cache-sized tile at a time, and contracts each tile at once: the dense "
        "method's work in the memory of one tile. Its measured time stands beside the time the sweep's cost model "
        "predicted for it, so the extrapolation is checked at the very size the notes talk about.</p>"
        + _table(table.rename_axis("quantity").reset_index())
    )


def _exponent_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run, method, device and metric; one column per axis: fitted [95% CI] vs expected."""
    if frame.empty:
        return frame
    shown = frame.assign(
        cell=[
            f"{e:.2f} [{lo:.2f}, {hi:.2f}] vs {x:.2f}"
            for e, lo, hi, x in zip(
                frame["exponent"], frame["ci_low"], frame["ci_high"], frame["expected"], strict=True
            )
        ]
    )
    table = shown.pivot_table(
        index=["run_id", "metric", "label", "device", "dtype"], columns="axis", values="cell", aggfunc="first"
    )
    ordered = [a for a in ("N", "D", "M", "diag") if a in table.columns]
    table = table[ordered]
    table.columns.name = None
    return table.reset_index().sort_values(["run_id", "metric", "label"])


def _prediction_table(analysis: Analysis) -> pd.DataFrame:
    preds, hold = analysis.predictions, analysis.holdouts
    if preds.empty:
        return preds
    rows = []
    for _, row in preds.iterrows():
        if not (np.isfinite(row["time_value"]) or np.isfinite(row["peak_value"])):
            continue  # too few measured points (a headline run, say): nothing was extrapolated
        mine = (
            hold[
                (hold["run_id"] == row["run_id"])
                & (hold["label"] == row["label"])
                & (hold["device"] == row["device"])
            ]
            if not hold.empty
            else hold
        )
        worst = {
            m: mine[mine["metric"] == m]["error"].abs().max() if not mine.empty else np.nan
            for m in ("time", "memory")
        }
        rows.append(
            {
                "run_id": row["run_id"],
                "method": row["label"],
                "device": row["device"],
                "time": _time(row["time_value"]),
                "time 90% interval": f"{_time(row['time_low'])} – {_time(row['time_high'])}",
                "peak memory": _bytes(row["peak_value"]),
                "cost-model peak": _bytes(row["predicted_peak_bytes"]),
                "fits device": "yes" if row["fits_device"] else f"no ({row['over_by']:,.0f}× over)",
                "hold-out |error| time": f"{worst['time']:.0%}" if np.isfinite(worst["time"]) else "–",
                "hold-out |error| memory": f"{worst['memory']:.1%}" if np.isfinite(worst["memory"]) else "–",
                "points fitted": int(row["time_points"]),
            }
        )
    return pd.DataFrame(rows)


def _holdout_table(hold: pd.DataFrame) -> pd.DataFrame:
    if hold.empty:
        return hold
    return hold.assign(
        measured=[
            _time(v) if m == "time" else _bytes(v)
            for v, m in zip(hold["measured"], hold["metric"], strict=True)
        ],
        predicted=[
            _time(v) if m == "time" else _bytes(v)
            for v, m in zip(hold["predicted"], hold["metric"], strict=True)
        ],
        error=[f"{e:+.1%}" for e in hold["error"]],
    )[["run_id", "label", "device", "metric", "axis", "held_out", "measured", "predicted", "error"]]


def _threads_used(run: Run) -> str:
    """Per backend and device, the CPU thread counts its timed cases recorded (a profile may pin them)."""
    cases = run.cases
    if "threads" not in cases or cases["threads"].isna().all():
        return "not recorded"
    used = cases.dropna(subset=["threads"]).groupby(["backend", "device"])["threads"].unique()
    return ", ".join(
        f"{backend} on {device}: {'/'.join(str(int(t)) for t in sorted(ts))}"
        for (backend, device), ts in used.items()
    )


def _environment(run: Run) -> str:
    machine = run.meta.get("machine", {})
    rows = [
        ("run", run.run_id),
        ("profile", run.meta.get("profile", {}).get("name")),
        ("status", run.meta.get("status")),
        (
            "CPU",
            f"{machine.get('cpu_model')} × {machine.get('cores')} cores, last-level cache {_bytes(machine.get('llc_bytes') or np.nan)}",
        ),
        ("RAM", _bytes(machine.get("ram_bytes") or np.nan)),
        (
            "GPUs",
            ", ".join(f"{g['name']} ({_bytes(g['memory_bytes'])})" for g in machine.get("gpus", []))
            or "none",
        ),
        (
            "Python / numpy / torch",
            f"{machine.get('python')} / {machine.get('numpy')} / {machine.get('torch')}",
        ),
        (
            "BLAS",
            "; ".join(
                f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
                for b in machine.get("blas", [])
            ),
        ),
        ("torch threads (process default)", machine.get("torch_threads")),
        ("threads the timed cases ran on", _threads_used(run)),
        (
            "commit",
            f"{(machine.get('commit') or {}).get('id')} (dirty: {(machine.get('commit') or {}).get('dirty')})",
        ),
        ("started (UTC)", machine.get("timestamp_utc")),
    ]
    for device, info in run.meta.get("devices", {}).items():
        roofs = info.get("roofs")
        if roofs:
            gemm = ", ".join(f"{k} {v['gflops']:,.0f} GFLOP/s" for k, v in roofs["gemm"].items())
            rows.append((f"{device} roofs", f"GEMM {gemm}; copy {roofs['copy']['gbps']:,.1f} GB/s"))
            rows.append((f"{device} memory budget", _bytes(info.get("memory_budget_bytes") or np.nan)))
        else:
            rows.append((device, f"{info.get('status')}: {info.get('reason')}"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"data:image/png;base64,{data}"


def _rel(target: Path, start: Path) -> str:
    return html.escape(os.path.relpath(target, start))


def render(analysis: Analysis, figures: dict[str, Path], out: Path) -> str:
    cases = analysis.cases
    not_ok = (
        cases[cases["status"] != "ok"][["run_id", "case", "status", "reason"]] if not cases.empty else cases
    )
    noisy = cases[cases["noisy"].fillna(False).astype(bool)] if not cases.empty else cases
    warnings = [w for run in analysis.runs for w in run.warnings]
    methods = "".join(
        f"<tr><td><code>{_e(n)}</code></td><td>{_e(m.summary)}</td></tr>" for n, m in METHODS.items()
    )
    figure_html = "".join(
        f"<figure><img alt='{_e(title)}' src='{_image(path)}'><figcaption>{_e(title)} — "
        f"<a href='{_rel(path, out)}'>PNG</a>, <a href='{_rel(path.with_suffix('.csv'), out)}'>data (CSV)</a>"
        f"</figcaption></figure>"
        for title, path in figures.items()
    )
    raw = "".join(
        f"<li>{_e(run.run_id)}: "
        + ", ".join(
            f"<a href='{_rel(run.path / name, out)}'>{name}</a>"
            for name in (RUNTIME_FILE, MEMORY_FILE, RUN_FILE, RESULTS_FILE)
        )
        + "</li>"
        for run in analysis.runs
    )
    targets = (
        analysis.targets.assign(passed=["✔ pass" if p else "✘ short" for p in analysis.targets["passed"]])
        if not analysis.targets.empty
        else analysis.targets
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>linear-backprop-bench report</title>
<style>{CSS}</style></head><body>
<h1>Backprop through Y = X·W: explicit Jacobians against the matrix formula</h1>
<p>Runs: {_e(", ".join(f"{r.run_id} on {r.machine_label}" for r in analysis.runs))}</p>
{"".join(f"<p class='warn'>{_e(w)}</p>" for w in warnings)}
<h2>Headline</h2>
{headline(analysis)}
{headline_measured(analysis)}
<h2>Extrapolation to N={analysis.target[0]}, D={analysis.target[1]}, M={analysis.target[2]}</h2>
<p>Each method's cost model (time ≈ a·bytes moved + b·FLOPs + c, peak ≈ α·predicted + β, non-negative, fitted
on its larger, out-of-cache cases) evaluated at the target's exact counts. The interval is the 5th–95th percentile
of a bootstrap. The hold-out columns give the worst error when the largest measured size of each axis was left out
of the fit and predicted: how far this kind of extrapolation was off where it could be checked.</p>
{_table(_prediction_table(analysis))}
<h2>Scaling exponents</h2>
<p>Each cell: log-log slope of median time (or peak memory) along that axis, its 95% interval, and "vs" the slope of
the cost model's count at the same sizes (bytes moved for the Jacobian methods, FLOPs for the formula and autograd,
predicted peak for memory). Expected asymptotically: explicit time and memory grow as N² through dY/dX and as D·M
per sample through dY/dW; the formula as N·D·M.</p>
{_table(_exponent_table(analysis.exponents))}
<h2>Performance targets (measured in the same run)</h2>
{_table(targets)}
<h2>Plots</h2>
{figure_html}
<h2>Hold-out predictions</h2>
<details><summary>every held-out point</summary>{_table(_holdout_table(analysis.holdouts))}</details>
<h2>Environment</h2>
{"".join(_environment(run) for run in analysis.runs)}
<h2>Skipped and failed cases</h2>
<p>{len(not_ok)} of {len(cases)} cases were not measured in full; each keeps its reason.</p>
<details><summary>list</summary>{_table(not_ok)}</details>
<p>{len(noisy)} timings are noisy (IQR above 10% of the median).</p>
<h2>Methods</h2>
<table><tr><th>name</th><th>what it computes</th></tr>{methods}</table>
<p>dY/dX = I_N ⊗ Wᵀ is (N·M)×(N·D) and dY/dW = X ⊗ I_M is (N·M)×(D·M) in row-major vec. The explicit methods
build one at a time (peak = the larger one), write every entry once and read it once; <i>cold</i> allocates fresh
Jacobian memory per call, <i>warm</i> reuses a workspace. Times are medians over rounds with inputs built outside
the timed region; CUDA is synchronised inside it. Peaks come from memray (host) or torch.cuda (GPU) in a fresh
process per case.</p>
<h2>Raw files</h2><ul>{raw}</ul>
</body></html>
"""


def draw_figures(analysis: Analysis, out: Path, history: pd.DataFrame | None = None) -> dict[str, Path]:
    """Every plot the data can support: a run with no timings gets no time plots, and so on."""
    cases, axes, limits = analysis.cases, analysis.axes, analysis.limits
    timed = not cases.empty and cases["time_median_s"].notna().any()
    peaked = not cases.empty and cases["peak_bytes"].notna().any()
    figures: dict[str, Path] = {}
    if timed:
        figures["Runtime against size, per axis (log-log, fitted power laws)"] = plots.scaling_plot(
            cases, axes, out, "time"
        )
    if peaked:
        figures["Peak memory against size, with the cost model and device memory"] = plots.scaling_plot(
            cases, axes, out, "memory", limits
        )
    if timed or peaked:
        figures["Time and memory as a multiple of the formula's"] = plots.ratio_plot(cases, axes, out)
    preds = analysis.predictions
    if not preds.empty and (np.isfinite(preds["time_value"]) | np.isfinite(preds["peak_value"])).any():
        figures["Extrapolation to the target, with hold-out predictions"] = plots.extrapolation_plot(
            cases, analysis.predictions, analysis.holdouts, limits, analysis.target, out
        )
    if timed:
        figures["Efficiency against the roofs measured in the same run"] = plots.efficiency_plot(
            cases, axes, out
        )
    if history is not None and not history.empty and history["norm_time"].notna().any():
        figures["Normalised time over commits, from the regress history"] = plots.trend_plot(history, out)
    return figures


def build_report(
    run_dirs: list[Path], out: Path, target: tuple[int, int, int] = HEADLINE, history: Path | None = None
) -> Path:
    """Analyse ``run_dirs`` and write ``out/index.html`` with its plots; returns the page's path.

    ``history`` is the regress history (JSON Lines); when it has entries, a trend plot is added.
    """
    analysis = analyse(run_dirs, target)
    out.mkdir(parents=True, exist_ok=True)
    for run in analysis.runs:
        write_results(run)
    figures = draw_figures(analysis, out, load_history(history))
    page = out / REPORT_FILE
    tmp = page.with_suffix(".tmp")
    tmp.write_text(render(analysis, figures, out), encoding="utf-8")
    tmp.replace(page)
    return page
