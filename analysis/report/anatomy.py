"""What the first screen's two figures show, as data: the Jacobians' structure and where the bytes go.

Both are computed, never drawn by hand. The structure comes from :func:`bench.methods.jacobians`
on a small case (the notes' N=2, D=2, M=3), whose inputs have distinct entries so that every
non-zero cell can be named (``w₁₂`` is W[0, 1]). The sizes at the target come from
:mod:`bench.costs`, the machine's memory from each run's ``run.json``. :mod:`analysis.report.charts`
draws the frames returned here, and writes each beside its PNG as CSV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import Run
from bench.costs import input_bytes, jacobian_bytes, peak_bytes
from bench.methods import jacobians
from bench.profiles import TARGET

SMALL = (2, 2, 3)
"""The notes' example: N=2, D=2, M=3, small enough to print every entry."""

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _name(symbol: str, row: int, col: int) -> str:
    return f"{symbol}{row + 1}{col + 1}".translate(_SUBSCRIPTS)


def structure_data(
    small: tuple[int, int, int] = SMALL, target: tuple[int, int, int] = TARGET, dtype: str = "float32"
) -> pd.DataFrame:
    """One row per entry of dY/dX and dY/dW at ``small``, with what the figure says about each.

    Columns: ``jacobian`` ("dY/dX" or "dY/dW"), ``n``, ``d``, ``m``, ``row``, ``col``, ``value``,
    ``entry`` (the input entry it equals, "" for a zero), ``nonzero``, ``nonzero_fraction`` (of
    that Jacobian at ``small``), and at ``target``: ``target_n``, ``target_d``, ``target_m``,
    ``target_bytes`` and ``target_zero_bytes`` (the Jacobian's bytes that are structural zeros:
    dY/dX = I_N ⊗ Wᵀ keeps 1/N of its entries, dY/dW = X ⊗ I_M 1/M, for dense X and W).
    """
    n, d, m = small
    X = np.arange(1, n * d + 1, dtype=np.float64).reshape(n, d)  # distinct and non-zero
    W = np.arange(n * d + 1, n * d + d * m + 1, dtype=np.float64).reshape(d, m)
    names = {X[i, j]: _name("x", i, j) for i in range(n) for j in range(d)}
    names |= {W[i, j]: _name("w", i, j) for i in range(d) for j in range(m)}
    tn, td, tm = target
    sizes = dict(zip(("dY/dX", "dY/dW"), jacobian_bytes(tn, td, tm, dtype), strict=True))
    kept = {"dY/dX": tn, "dY/dW": tm}  # one entry in N (resp. M) is not a structural zero
    rows = []
    for label, jac in zip(("dY/dX", "dY/dW"), jacobians(X, W), strict=True):
        jac = np.asarray(jac)
        fraction = np.count_nonzero(jac) / jac.size
        total = sizes[label]
        zero_bytes = total - total // kept[label]
        for (r, c), value in np.ndenumerate(jac):
            rows.append(
                {
                    "jacobian": label,
                    "n": n,
                    "d": d,
                    "m": m,
                    "row": r,
                    "col": c,
                    "value": float(value),
                    "entry": names.get(float(value), "") if value else "",
                    "nonzero": bool(value),
                    "nonzero_fraction": fraction,
                    "target_n": tn,
                    "target_d": td,
                    "target_m": tm,
                    "target_bytes": total,
                    "target_zero_bytes": zero_bytes,
                }
            )
    return pd.DataFrame(rows)


def bytes_data(runs: list[Run], target: tuple[int, int, int], dtype: str = "float32") -> pd.DataFrame:
    """Where the bytes go at ``target``: the inputs, the formula's peak, dY/dX and dY/dW (cost
    model), and each run's machine: its RAM and, where it has one, its first GPU's memory.

    Columns: ``quantity``, ``kind`` (problem, formula, jacobian, machine), ``bytes``, ``source``.
    """
    n, d, m = target
    dydx, dydw = jacobian_bytes(n, d, m, dtype)
    model = "cost model (bench.costs)"
    rows = [
        {
            "quantity": "inputs X, W, dY",
            "kind": "problem",
            "bytes": input_bytes(n, d, m, dtype),
            "source": model,
        },
        {
            "quantity": "formula peak (dX + dW)",
            "kind": "formula",
            "bytes": peak_bytes("formula", n, d, m, dtype),
            "source": model,
        },
        {"quantity": "dY/dX, dense", "kind": "jacobian", "bytes": dydx, "source": model},
        {"quantity": "dY/dW, dense", "kind": "jacobian", "bytes": dydw, "source": model},
    ]
    many = len(runs) > 1
    for run in runs:
        machine = run.meta.get("machine", {})
        suffix = f" ({run.run_id})" if many else ""
        memories = [(f"this machine's RAM{suffix}", machine.get("ram_bytes"))]
        memories += [
            (f"GPU memory, {gpu.get('name', 'GPU')}{suffix}", gpu.get("memory_bytes"))
            for gpu in (machine.get("gpus") or [])[:1]
        ]
        rows += [
            {"quantity": name, "kind": "machine", "bytes": int(size), "source": f"run.json of {run.run_id}"}
            for name, size in memories
            if size
        ]
    return pd.DataFrame(rows, columns=["quantity", "kind", "bytes", "source"])
