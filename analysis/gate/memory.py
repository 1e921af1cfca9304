"""How the memory gate decides: each case's peak on the head against the base, both measured in this job.

Input is ``peaks.json`` from :func:`bench.abtest.runner.run_peaks`: per case, the peak bytes of
one call on each side, each in a fresh process forked from a per-side server, on this machine
and these libraries. Peaks are deterministic there (two memory passes on one machine agreed on
75 of 76 peaks to the byte, the 76th by 67 bytes), so the gate needs no statistics: it flags
any growth beyond the allocator's jitter, :data:`JITTER_BYTES` or :data:`JITTER_FRACTION` of
the base's peak, whichever is larger. Across CPU kinds the same code's peaks differ by up to
+330% (torch's CPU kernels pick other workspaces), which is why the control is the base commit
measured here, never a committed baseline.

Per case: ``worse`` (grew beyond the jitter), ``better`` (shrank beyond it), ``held``, or
``not compared`` (a side could not measure it: the base lacks the method, or both fail). A case
the base measured and the head now fails is ``worse``. Per method the worst case is named, so a
regression reads "formula-torch: +4.0 MiB (+100%) at N64-D1024-M1024".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.cases import split_name
from bench.rundir.gate_files import GateFile, Measurement
from bench.units import format_bytes

JITTER_BYTES = 4096
"""A page: the largest A/A difference seen between the two sides of one case on one machine was
340 bytes (docs/gate.md); allocator rounding and Python's object heap move a peak by up to a
few hundred bytes."""
JITTER_FRACTION = 0.001
"""0.1% of the base's peak, for large peaks whose allocator rounding grows with them."""


@dataclass(frozen=True)
class PeakVerdict:
    """One case's peak on both sides, and the gate's verdict on it."""

    case: str
    base: int | None
    head: int | None
    verdict: str  # "worse", "better", "held", "not compared"
    note: str = ""

    @property
    def growth(self) -> int | None:
        return None if self.base is None or self.head is None else self.head - self.base

    @property
    def change(self) -> float | None:
        growth = self.growth
        return None if growth is None or not self.base else growth / self.base

    def describe(self) -> str:
        """``+4.0 MiB (+100.0%)``, or the note when the case was not compared in bytes."""
        if self.growth is None:
            return self.note
        sign = "+" if self.growth >= 0 else "-"
        return f"{sign}{format_bytes(abs(self.growth), decimal=False)} ({self.change:+.1%})"


def allowance(base: int) -> int:
    """Bytes a peak may grow before it counts: the allocator's jitter."""
    return max(JITTER_BYTES, int(JITTER_FRACTION * base))


def verdict_of(case: str, base: Measurement, head: Measurement) -> PeakVerdict:
    if base.ok and head.ok:
        b, h = base.peak_bytes, head.peak_bytes
        verdict = "worse" if h - b > allowance(b) else "better" if b - h > allowance(b) else "held"
        return PeakVerdict(case, b, h, verdict)
    if base.ok:
        return PeakVerdict(case, base.peak_bytes, None, "worse", f"now fails: {head.reason}")
    reason = f"base {base.status}: {base.reason}"
    return PeakVerdict(case, None, head.peak_bytes if head.ok else None, "not compared", reason)


def gate(data: GateFile) -> list[PeakVerdict]:
    """One verdict per case of a ``peaks.json``, in the order of the case names."""
    return sorted((verdict_of(p.case, p.base, p.head) for p in data.pairs), key=lambda v: v.case)


def label_of(case: str) -> str:
    """``explicit-torch-warm[cpu-float32-N16-D64-M64]`` → ``explicit-torch-warm``."""
    return split_name(case)[0]


def worst_by_label(verdicts: list[PeakVerdict]) -> dict[str, PeakVerdict]:
    """Per label, its worst case: a worse one with the largest growth first, else the largest move."""

    def badness(v: PeakVerdict) -> tuple[int, float]:
        rank = {"worse": 3, "not compared": 1}.get(v.verdict, 2 if v.verdict == "held" else 0)
        return rank, abs(v.growth or 0)

    worst: dict[str, PeakVerdict] = {}
    for v in verdicts:
        label = label_of(v.case)
        if label not in worst or badness(v) > badness(worst[label]):
            worst[label] = v
    return worst


def summary_line(verdicts: list[PeakVerdict]) -> str:
    """``peak memory (A/B): 36 of 36 cases compared; 1 worse, 0 better; largest held move +67 B``."""
    compared = [v for v in verdicts if v.verdict != "not compared"]
    worse = [v for v in verdicts if v.verdict == "worse"]
    better = [v for v in verdicts if v.verdict == "better"]
    text = (
        f"peak memory (A/B): {len(compared)} of {len(verdicts)} cases compared; "
        f"{len(worse)} worse, {len(better)} better"
    )
    held = [v for v in verdicts if v.verdict == "held"]
    if held:
        largest = max(held, key=lambda v: abs(v.growth or 0))
        text += (
            "; every held case equal to the byte"
            if not largest.growth
            else f"; largest held move {largest.describe()} ({largest.case})"
        )
    return text


def exit_status(verdicts: list[PeakVerdict], allow_partial: bool) -> int:
    """1 when a case got worse; 2 when nothing at all was compared (unless allowed); else 0."""
    if any(v.verdict == "worse" for v in verdicts):
        return 1
    if not any(v.verdict != "not compared" for v in verdicts) and not allow_partial:
        return 2
    return 0


def markdown(data: GateFile, verdicts: list[PeakVerdict]) -> str:
    """The memory A/B section of ``regress.md``: per label its worst case, then every worse case."""
    worse = [v for v in verdicts if v.verdict == "worse"]
    state = (
        "REGRESSED"
        if worse
        else "passed"
        if any(v.verdict != "not compared" for v in verdicts)
        else "INCOMPLETE"
    )
    base, head = data.base, data.head
    lines = [
        f"### Peak memory: same-job A/B, {state}",
        "",
        f"Head `{(head['commit'] or 'working tree')[:12]}`"
        f"{' (with uncommitted changes)' if head['dirty'] else ''} against base "
        f"`{(base['commit'] or '?')[:12]}`, **both measured in this job on this machine**, each case "
        "once per side in a fresh process (memray on the host, torch.cuda on a GPU). Peaks are exact "
        "on one machine but differ across CPU kinds, so the base measured here is the control. A case "
        "fails when it grows by more than the allocator's jitter: "
        f"{format_bytes(JITTER_BYTES, decimal=False)} or {JITTER_FRACTION:.1%} of its peak, whichever "
        "is larger.",
        "",
        f"**{summary_line(verdicts)}.**",
        "",
        "| method | worst case | base | head | change | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, v in sorted(worst_by_label(verdicts).items()):
        lines.append(
            f"| `{label}` | `{v.case}` | {_bytes(v.base)} | {_bytes(v.head)} | {v.describe()} | {v.verdict} |"
        )
    if worse:
        lines += [
            "",
            "#### Every case that got worse",
            "",
            "| case | base | head | change |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| `{v.case}` | {_bytes(v.base)} | {_bytes(v.head)} | {v.describe()} |" for v in worse]
    return "\n".join(lines) + "\n"


def _bytes(value: int | None) -> str:
    return "–" if value is None else format_bytes(value, decimal=False)


def as_json(verdicts: list[PeakVerdict]) -> list[dict[str, Any]]:
    return [asdict(v) | {"growth": v.growth, "change": v.change} for v in verdicts]
