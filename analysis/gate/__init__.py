"""The regression gate's deciding side: the rules that compare head and base in one job, and the
committed baseline, one machine's run, shown beside this one as a record; a gate only where sound.

Peak bytes are exact on one machine but not across CPU kinds: unchanged code measured on a
2-core AMD EPYC (OpenBLAS ``Haswell`` kernels) against a baseline from a 2-core Intel Xeon
(``SkylakeX``) came out 18 cases "worse" (+5% to +330%) and 13 "better", because torch's CPU
kernels (MKL, oneDNN) pick other code paths and workspaces there. Times differ even between
machines of one kind (×2.4 to ×5.3). So the gate's control is the base commit measured in the
same job (:mod:`analysis.gate.rules`: the verdicts of :mod:`analysis.gate.memory` and
:mod:`analysis.gate.timing`), and the baseline's modules, which

- make and read the baseline file (``nox -s baseline``), every field checked on load;
- say in one line which machine the baseline came from and whether it may gate this one
  (:func:`analysis.gate.fingerprint.soundness`): only when the CPU model, the BLAS's kernels,
  torch's CPU capability and the library versions are the same, and the profile and thread
  count match;
- compare a run's peaks with it per case: gated (``worse`` above +5% and 64 KiB) when sound,
  shown as history across machines (``not gated``) otherwise; a missing baseline is a note,
  never a failure;
- show a run's times beside the baseline's, per method, never gated.

Its parts, one module each: the file format (``baseline_file``: the ``Baseline`` record), a run's
figures (``run_metrics``), machine fingerprints (``fingerprint``), verdicts (``baseline_verdicts``),
rendering (``baseline_render``) and the github-action-benchmark export (``gab``).
"""
