"""``nox -s baseline``, ``regress`` and ``noise``: write a baseline, gate a change, measure noise.

``python -m analysis.regress_cli baseline [--current RUN_DIR] [--out FILE]``
``python -m analysis.regress_cli regress [--against REF] [--profile P] [--methods a,b] [--device cpu|cuda]
[--reps N] [--time-threshold 0.05] [--confidence 0.95] [--current RUN_DIR] [--baseline FILE]
[--memory-threshold 0.05] [--gate all|memory|time] [--allow-partial] [--history FILE] [--out DIR]``
``python -m analysis.regress_cli noise [--reps N] [--profile P] [--methods a,b] [--device D] [--out DIR]``

``regress`` gates two things, each against what can be trusted on this machine:

- **time**, against a control measured in the same job: the base commit (``--against``; by
  default the commit the committed baseline was made from) checked out in a temporary worktree
  and timed interleaved with the working tree (:mod:`bench.ab`, :mod:`analysis.ab`);
- **memory**, against the committed baseline: peak bytes are deterministic across machines.
  Without ``--current``, a quick memory pass of the working tree is run first; with it, that
  run's peaks are gated, its times shown beside the baseline's (never gated), and the A/B runs
  only when ``--against`` is given.

Exit status: 1 when anything got worse; 2 for bad input (a missing or corrupt baseline, a bad
``--against``, an unreadable run) and for an incomplete comparison (baseline cases the run does
not have, unless ``--allow-partial``), each with a one-line reason; 0 otherwise. ``noise`` is
the A/A test: the working tree against itself, interleaved; exit 1 when the gate would have
raised a false alarm.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from analysis import ab as ab_stats
from analysis.load import RunLoadError, load_run
from analysis.output import write_atomically
from analysis.regress import (
    DEFAULT_BASELINE,
    DEFAULT_HISTORY,
    BaselineError,
    Outcome,
    Thresholds,
    append_history,
    format_value,
    gate_memory,
    github_action_benchmark,
    make_baseline,
    read_baseline,
    summary_json,
)
from analysis.regress import markdown as memory_markdown
from bench.ab import AB_FILE, ABError, Side, ab_cases, run_ab
from bench.methods import METHODS
from bench.profiles import PROFILES
from bench.store import RunFileError, write_json_atomic
from bench.usage import Parser, UsageError, stamp
from bench.worktree import RefError, checkout, head_commit, is_dirty, repo_root, resolve_commit

HEAD_TREE = Path(__file__).resolve().parent.parent
DEFAULT_TIME_THRESHOLD = 0.05
"""A method fails when its whole 95% interval of head ÷ base lies above ×1.05. Why 5%: in five
A/B runs of a docs-only change here no method was flagged (point ratios ×0.95 to ×1.18, the
intervals always reaching below ×1.05), while the minimum detectable effects of 8 repetitions
were 6.5% to 13.5% for all but jacrev-torch (19%); so injected +10% and +25% slowdowns of
explicit-torch were caught (README, "Regression tracking")."""
DEFAULT_CONFIDENCE = 0.95


def _bench_run(out: Path, *options: str) -> Path:
    """A sweep in its own interpreter (the memory pass forks a child per case, and each child
    would otherwise re-import this module's pandas and scipy)."""
    status = subprocess.run(
        [sys.executable, "-m", "bench", *options, "--out", str(out)], check=False
    ).returncode
    if status != 0:
        raise UsageError(f"the run in {out} ended with status {status}")
    return out


def _fraction(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got {text}")
    return value


def _confidence(text: str) -> float:
    value = float(text)
    if not 0.5 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0.5, 1), got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {text}")
    return value


def _methods(text: str | None) -> list[str]:
    if text is None:
        return list(METHODS)
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise UsageError(f"unknown method {', '.join(unknown) or text!r}; known: {', '.join(METHODS)}")
    return names


def _add_ab_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--profile", help="profile whose A/B points and threads are used (default: the baseline's)"
    )
    sub.add_argument("--methods", help=f"comma-separated subset of: {', '.join(METHODS)}")
    sub.add_argument(
        "--device", default="cpu", choices=("cpu", "cuda"), help="device of the A/B (default cpu)"
    )
    sub.add_argument("--reps", type=_count, help="interleaved repetitions (default: the profile's)")
    sub.add_argument(
        "--time-threshold",
        type=_fraction,
        default=DEFAULT_TIME_THRESHOLD,
        help="a method fails when its whole interval lies above 1 + this (default 0.05)",
    )
    sub.add_argument("--confidence", type=_confidence, default=DEFAULT_CONFIDENCE, help="of the interval")
    sub.add_argument("--seed", type=int, help="seed of the random visiting order")
    sub.add_argument("--out", type=Path, help="directory for the results (default: reports/<kind>-<time>)")


def _parser() -> Parser:
    parser = Parser(prog="python -m analysis.regress_cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("baseline")
    base.add_argument("--current", type=Path, help="run directory (default: run the quick profile)")
    base.add_argument("--out", type=Path, default=DEFAULT_BASELINE)
    reg = commands.add_parser("regress")
    reg.add_argument("--against", metavar="REF", help="base commit (default: the baseline's commit)")
    _add_ab_options(reg)
    reg.add_argument("--current", type=Path, help="gate this run's memory (default: run a quick memory pass)")
    reg.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    reg.add_argument("--history", type=Path, default=DEFAULT_HISTORY, help="JSON Lines file to append to")
    reg.add_argument("--memory-threshold", type=_fraction, default=Thresholds.memory, help="(0.05: +5%%)")
    reg.add_argument("--gate", choices=("all", "memory", "time"), default="all", help="what is gated")
    reg.add_argument("--allow-partial", action="store_true", help="missing comparisons do not fail")
    noisy = commands.add_parser("noise")
    _add_ab_options(noisy)
    for sub in (base, reg, noisy):
        sub.error = parser.error  # one-line errors from the subcommands too
    return parser


def _ab(args: argparse.Namespace, base: Side, head: Side, profile_name: str, out: Path) -> dict[str, Any]:
    if profile_name not in PROFILES:
        raise UsageError(f"unknown profile {profile_name!r}; known: {', '.join(PROFILES)}")
    profile = PROFILES[profile_name]
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda, but CUDA is not available here")
    cases = ab_cases(profile, _methods(args.methods), args.device)
    reps = args.reps or profile.ab_reps
    print(
        f"A/B: base {base.commit[:12] if base.commit else base.tree} against head, "
        f"{len(cases)} cases × {reps} repetitions"
    )
    return run_ab(base, head, cases, profile, reps, out / AB_FILE, seed=args.seed)


def _head() -> Side:
    return Side("head", HEAD_TREE, head_commit(HEAD_TREE), is_dirty(HEAD_TREE))


def _base_commit(args: argparse.Namespace, baseline: dict[str, Any] | None) -> str:
    repo = repo_root(HEAD_TREE)
    if args.against is not None:
        return resolve_commit(repo, args.against)
    recorded = (baseline or {}).get("commit")
    if recorded:
        return resolve_commit(repo, recorded)
    if is_dirty(repo):
        raise RefError(
            "no --against given, the baseline records no commit, and the working tree has uncommitted "
            "changes: name the base with --against REF"
        )
    return resolve_commit(repo, "HEAD")


def _print_gates(gates: list[ab_stats.MethodGate]) -> None:
    for g in gates:
        if g.verdict == "not compared":
            print(f"  {g.method:40s} not compared: {g.note}")
        elif not math.isfinite(g.ratio):
            print(f"  {g.method:40s} {g.verdict}: {g.note}")
        else:
            print(
                f"  {g.method:40s} ×{g.ratio:.3f} [{g.low:.3f}, {g.high:.3f}] MDE {g.mde:+.1%} "
                f"spread {g.spread:.1%} {g.verdict}"
            )


def _regress(args: argparse.Namespace) -> int:
    out = args.out or args.current or Path("reports") / f"regress-{stamp()}"
    gate_time = args.gate in ("all", "time") and (args.current is None or args.against is not None)
    gate_mem = args.gate in ("all", "memory")
    baseline = read_baseline(args.baseline) if (gate_mem or args.against is None) else None
    base_commit = _base_commit(args, baseline) if gate_time else None  # bad refs fail before measuring
    profile_name = args.profile or (baseline or {}).get("profile") or "quick"
    methods = _methods(args.methods)  # checked before minutes of measuring
    out.mkdir(parents=True, exist_ok=True)
    status, sections, summary = 0, [], {}
    if gate_mem:
        run_dir = args.current or _bench_run(
            out / "memory", "--profile", profile_name, "--passes", "memory", "--device", "cpu",
            "--methods", ",".join(m for m in methods),
        )  # fmt: skip
        limits = Thresholds(memory=args.memory_threshold, allow_partial=args.allow_partial)
        outcome, run, current = gate_memory(run_dir, args.baseline, limits, set(methods))
        sections.append(memory_markdown(outcome, args.baseline, run))
        summary["memory"] = summary_json(outcome, args.baseline, run)
        write_json_atomic(out / "gab.json", github_action_benchmark(current))
        if args.history is not None:
            append_history(args.history, run, current)
        _print_memory(outcome)
        status = max(status, outcome.exit_status)
    if gate_time:
        assert base_commit is not None
        repo = repo_root(HEAD_TREE)
        with checkout(repo, base_commit) as tree:
            data = _ab(args, Side("base", tree, base_commit), _head(), profile_name, out)
        gates = ab_stats.gate(data, args.time_threshold, args.confidence)
        sections.append(ab_stats.markdown(data, gates, args.time_threshold, args.confidence))
        summary["time"] = {
            "base": data["base"],
            "head": data["head"],
            "threshold": args.time_threshold,
            "confidence": args.confidence,
            "methods": ab_stats.as_json(gates),
        }
        worse = [g for g in gates if g.verdict == "worse"]
        compared = [g for g in gates if g.verdict != "not compared"]
        print(f"time (A/B): {len(worse)} worse, {len(compared)} of {len(gates)} methods compared")
        _print_gates(gates)
        if worse:
            status = max(status, 1)
        elif not compared:
            print("time (A/B): nothing was compared", file=sys.stderr)
            status = max(status, 2)
    title = {0: "passed", 1: "REGRESSED", 2: "INCOMPLETE"}[status]
    text = f"## Regression check: {title}\n\n" + "\n".join(sections)
    summary["exit_status"] = status
    write_json_atomic(out / "regress.json", summary)
    write_atomically(out / "regress.md", lambda tmp: tmp.write_text(text))
    print(f"regress: {title}; {out / 'regress.md'}")
    return status


def _print_memory(outcome: Outcome) -> None:
    print(outcome.memory_line())
    for title, group in (("worse", outcome.worse), ("better", outcome.better), ("missing", outcome.missing)):
        for v in group[:20]:
            was, now = format_value(v.metric, v.baseline), format_value(v.metric, v.current)
            change = f"{v.change:+.1%}" if math.isfinite(v.change) else ""
            print(f"  {title}: {v.case:55s} {was:>12} → {now:>12} {change} {v.note}")
        if len(group) > 20:
            print(f"  … and {len(group) - 20} more {title}")
    if outcome.incomplete:
        print(
            f"peak memory: INCOMPLETE: {len(outcome.missing)} baseline comparisons missing "
            "(exit 2; --allow-partial accepts that)",
            file=sys.stderr,
        )


def _noise(args: argparse.Namespace) -> int:
    """The A/A test: the working tree against itself, exactly as the gate would compare a change."""
    out = args.out or Path("reports") / f"noise-{stamp()}"
    out.mkdir(parents=True, exist_ok=True)
    head = _head()
    data = _ab(args, Side("base", head.tree, head.commit, head.dirty), head, args.profile or "quick", out)
    gates = ab_stats.gate(data, args.time_threshold, args.confidence)
    alarms = [g for g in gates if g.verdict == "worse"]
    text = (
        "## Noise of unchanged code: A/A\n\n"
        + (
            f"**{len(alarms)} false alarms: the gate would fail unchanged code here.**\n\n"
            if alarms
            else "**No false alarm: unchanged code passed the gate.**\n\n"
        )
        + ab_stats.markdown(data, gates, args.time_threshold, args.confidence)
    )
    write_json_atomic(
        out / "noise.json", {"threshold": args.time_threshold, "methods": ab_stats.as_json(gates)}
    )
    write_atomically(out / "noise.md", lambda tmp: tmp.write_text(text))
    _print_gates(gates)
    finite = [g for g in gates if math.isfinite(g.ratio)]
    if finite:
        largest = max(finite, key=lambda g: abs(math.log(g.ratio)))
        mde = max(finite, key=lambda g: g.mde)
        print(
            f"noise: largest ratio ×{largest.ratio:.3f} ({largest.method}); "
            f"largest MDE {mde.mde:+.1%} ({mde.method})"
        )
    print(f"noise: {len(alarms)} false alarms; {out / 'noise.md'}")
    return 1 if alarms else 0


def _baseline(args: argparse.Namespace) -> int:
    current = args.current or _bench_run(Path("reports") / f"{stamp()}-quick", "--profile", "quick")
    baseline = make_baseline(load_run(current))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, baseline)
    print(f"baseline: {args.out} (from {current}, commit {baseline['commit']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    command = given[0] if given and given[0] in ("baseline", "noise") else "regress"
    try:
        args = _parser().parse_args(given)
        handler = {"baseline": _baseline, "regress": _regress, "noise": _noise}[args.command]
        return handler(args)
    except (UsageError, BaselineError, RunLoadError, RefError, ABError, RunFileError, OSError) as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
