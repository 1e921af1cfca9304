"""``lbb headline``: the N=64, D=M=4096 explicit Jacobians measured end to end, in bounded memory.

The dense dY/dX there is 256 GiB and dY/dW 16 TiB: hopeless to store, but not to stream. Every
entry is materialised, zeros included, in a reusable tile, and contracted before the next tile
overwrites it: the dense method's work in the memory of a tile. On the CPU the compiled kernel
(``streamed-compiled``, every core with a tile of two thirds of its L1d) streams float32 and float64;
CUDA and half precision use ``streamed-torch`` (:mod:`bench.streamers`). Per device:

1. say how big the Jacobians are and how they will be streamed;
2. check the memory guard; measure the roofs (GEMM, including the target's own skinny products,
   copy bandwidth, and on the CPU the first-touch roof and the L1 and L2 copy roofs); time the formula at the
   same size cold (fresh results) and warm (``out=``);
3. time the full dY/dX pass with a progress bar, and check its dX against the float64 formula;
4. time dY/dW in full (``--dw full``, the default) and check its dW, or with ``--dw sample``
   every ``DW_SAMPLE_STRIDE``-th part of its pass (spread over the whole matrix), the time
   scaled up by the stride and labelled an estimate in every file;
5. measure the peak in a fresh process (memray on the host, torch.cuda on the GPU) over the full
   dY/dX pass and sampled dY/dW parts: the tiles are reused, so the peak cannot grow with the
   number of parts (the test suite checks this);
6. write run.json, runtime.json and memory.json in the sweep's schema.

Ctrl-C or SIGTERM at any point leaves valid files, run.json "interrupted" and a record of how
far the pass got (a finished dY/dX pass is kept in run.json's device entry); the compiled
kernel is called in chunks of about 8 GiB of Jacobian, so it answers within a fraction of a
second. The directory is locked for the whole run (``bench.rundir.lock``), the peak child dies
with the run (``bench.harness.children``), and a run file that cannot be written stops the run
with one line and exit status 2.

The package, one job a module: :mod:`~bench.headline.plan` (the options, what will be streamed
and the memory guard), :mod:`~bench.headline.measure` (roofs, the formula, the kernel's
diagnostics), :mod:`~bench.headline.stream` (one timed pass, the same for dY/dX and dY/dW),
:mod:`~bench.headline.peaks` (the peak child), :mod:`~bench.headline.record` (what goes in the
run files) and :mod:`~bench.headline.runner` (the devices in turn, and every way out).
"""

from bench.headline.plan import DTYPE, DW_CHOICES, DW_SAMPLE_STRIDE, HeadlineOptions
from bench.headline.record import HeadlineFiles
from bench.headline.runner import run, run_device
from bench.headline.stream import InterruptedPassError

__all__ = [
    "DTYPE",
    "DW_CHOICES",
    "DW_SAMPLE_STRIDE",
    "HeadlineFiles",
    "HeadlineOptions",
    "InterruptedPassError",
    "run",
    "run_device",
]
