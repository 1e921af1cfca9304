"""The committed baseline: one machine's run, shown beside this one as a record; a gate only where sound.

Peak bytes are exact on one machine but not across CPU kinds: unchanged code measured on a
2-core AMD EPYC (OpenBLAS ``Haswell`` kernels) against a baseline from a 2-core Intel Xeon
(``SkylakeX``) came out 18 cases "worse" (+5% to +330%) and 13 "better", because torch's CPU
kernels (MKL, oneDNN) pick other code paths and workspaces there. Times differ even between
machines of one kind (×2.4 to ×5.3). So the gate's control is the base commit measured in the
same job (:mod:`analysis.gate.memory`, :mod:`analysis.gate.timing`), and this module:

- makes and reads the baseline file (``nox -s baseline``), every field checked on load;
- says in one line which machine the baseline came from and whether it may gate this one
  (:func:`soundness`): only when the CPU model, the BLAS's kernels, torch's CPU capability and
  the library versions are the same, and the profile and thread count match;
- compares a run's peaks with it per case: gated (``worse`` above +5% and 64 KiB) when sound,
  shown as history across machines (``not gated``) otherwise; a missing baseline is a note,
  never a failure;
- shows a run's times beside the baseline's, per method, never gated.

Its parts, one module each: the file format (``baseline_file``: the ``Baseline`` record), a run's
figures (``run_metrics``), machine fingerprints (``fingerprint``), verdicts (``baseline_verdicts``),
rendering (``baseline_render``) and the github-action-benchmark export (``gab``). This module
exports their public names, so ``from analysis.gate.baseline import X`` holds.
"""

from __future__ import annotations

from analysis.gate.baseline_file import (
    DEFAULT_BASELINE,
    REPO,
    STATUSES,
    Baseline,
    BaselineError,
    load_baseline,
    make_baseline,
    read_baseline,
)
from analysis.gate.baseline_render import format_value, markdown, summary_json
from analysis.gate.baseline_verdicts import (
    MEMORY_FLOOR,
    NOT_MEASURED,
    OTHER_RUN,
    Outcome,
    Thresholds,
    Verdict,
    compare,
    gate_memory,
    method_of,
)
from analysis.gate.fingerprint import Soundness, describe_machine, fingerprint, soundness
from analysis.gate.gab import github_action_benchmark
from analysis.gate.history import BASELINE_SCHEMA
from analysis.gate.run_metrics import LOCAL_ROOF_COLUMN, MAX_SAMPLES, ROOF_COLUMN, metrics_of, run_roofs

__all__ = [
    "BASELINE_SCHEMA",
    "DEFAULT_BASELINE",
    "LOCAL_ROOF_COLUMN",
    "MAX_SAMPLES",
    "MEMORY_FLOOR",
    "NOT_MEASURED",
    "OTHER_RUN",
    "REPO",
    "ROOF_COLUMN",
    "STATUSES",
    "Baseline",
    "BaselineError",
    "Outcome",
    "Soundness",
    "Thresholds",
    "Verdict",
    "compare",
    "describe_machine",
    "fingerprint",
    "format_value",
    "gate_memory",
    "github_action_benchmark",
    "load_baseline",
    "make_baseline",
    "markdown",
    "method_of",
    "metrics_of",
    "read_baseline",
    "run_roofs",
    "soundness",
    "summary_json",
]
