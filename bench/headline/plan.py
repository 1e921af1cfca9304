"""What the headline will stream on a device: the choices, the Jacobians' sizes, the streamer and
its tile, and the memory guard's verdict, all decided before anything is measured."""

from __future__ import annotations

from dataclasses import dataclass

from bench import costs
from bench.cases import Case
from bench.harness import budget as budgets
from bench.profiles import TARGET
from bench.streamers import COMPILED, default_tile, kernel_for
from bench.units import format_bytes

DTYPE = "float32"
"""The default dtype; ``--dtype`` takes any torch dtype of the suite (bfloat16: the 128 GiB case)."""
DW_SAMPLE_STRIDE = 64
"""With ``--dw sample``, every 64th part of dY/dW's pass is timed and the time scaled by 64."""
DW_CHOICES = ("full", "sample")


@dataclass(frozen=True)
class HeadlineOptions:
    """The headline's validated choices (:mod:`lbb.commands.headline` parses them)."""

    device: str = "all"
    target: tuple[int, int, int] = TARGET
    dtype: str = DTYPE
    dw: str = "full"
    kernel: str | None = None
    """The CPU's streaming kernel: ``compiled``, ``torch`` or None (the dtype's default)."""
    block_bytes: int | None = None
    memory_budget: int | None = None

    @property
    def dw_stride(self) -> int:
        """Every how many parts of dY/dW's pass are streamed: 1 in full, else the sample's stride."""
        return 1 if self.dw == "full" else DW_SAMPLE_STRIDE


def method_for(device: str, options: HeadlineOptions) -> str:
    """The streamer of ``device``: ``--kernel`` chooses on the CPU only, CUDA streams with torch."""
    return kernel_for(device, options.dtype, options.kernel if device == "cpu" else "torch")


def streamed_case(device: str, options: HeadlineOptions) -> Case:
    """The case the streamed passes are recorded under."""
    n, d, m = options.target
    return Case(method_for(device, options), "", device, options.dtype, n, d, m)


@dataclass(frozen=True)
class Plan:
    """One device's streamed passes: the cases, the tile, and how big the Jacobians are."""

    case: Case
    block: int
    """The tile: per core for the compiled kernel, the one buffer for ``streamed-torch``."""
    dydx_bytes: int
    dydw_bytes: int

    @property
    def device(self) -> str:
        return self.case.device

    @property
    def method(self) -> str:
        return self.case.method

    @property
    def formula_case(self) -> Case:
        c = self.case
        return Case("formula-torch", "", c.device, c.dtype, c.n, c.d, c.m)

    def intro(self) -> str:
        """The console's first line for the device: the sizes, the streamer and its tiles."""
        c, block = self.case, self.block
        tiling = (
            f"a tile of {format_bytes(block, False)} per core"
            if c.method == COMPILED
            else f"{format_bytes(block, False)} tiles"
        )
        return (
            f"{c.device}: dY/dX at N={c.n}, D={c.d}, M={c.m} ({c.dtype}) is {format_bytes(self.dydx_bytes)}, "
            f"dY/dW {format_bytes(self.dydw_bytes)}; {c.method} streams them in {tiling}"
        )


def plan_device(device: str, options: HeadlineOptions) -> Plan:
    case = streamed_case(device, options)
    block = options.block_bytes or default_tile(case.method, device)
    dydx_bytes, dydw_bytes = costs.jacobian_bytes(case.n, case.d, case.m, case.dtype)
    return Plan(case, block, dydx_bytes, dydw_bytes)


@dataclass(frozen=True)
class Guard:
    """The memory guard's verdict: the budget, where it came from, and what the passes need."""

    budget: int
    source: str
    need: int

    @property
    def reason(self) -> str | None:
        """Why the passes are skipped, or None when they fit."""
        return budgets.over_budget_reason(self.need, self.budget)


def guard(plan: Plan, memory_budget: int | None) -> Guard:
    """The budget (``--memory-budget``, else the default) against the need with the real tile:
    a 1 GiB tile needs 1 GiB, once per core for the compiled kernel."""
    budget, source = budgets.budget_for(plan.device, memory_budget)
    return Guard(budget, source, plan.case.needed_bytes(plan.block))
