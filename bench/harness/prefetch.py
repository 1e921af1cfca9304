"""A software prefetch for numba kernels: ``llvm.prefetch`` of one array element's cache line.

numba has no prefetch of its own. The compiled dY/dX kernel (:mod:`bench.compiled`) asks for the
rows of Wᵀ its next few copy passes read while its passes of zeros run, which move nothing in
from memory: the lines are then in L2 when the copy reads them, not fetched from L3 or DRAM in a
run of their own.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

READ = 0
TO_L2 = 2
"""``llvm.prefetch``'s locality 2: ``prefetcht1`` on x86, into L2 (and the outer caches), not L1,
where the kernel's tile takes two thirds already."""
DATA = 1


@intrinsic
def prefetch_l2(typingctx: Any, array: Any, index: Any) -> Any:
    """prefetch_l2(array, i): ask for the cache line of array[i] (1-D, i in range) to be brought
    into L2. A hint: it changes no value, and faults on no address."""
    sig = types.void(array, index)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        # LLVM's pointers are opaque (numba 0.68 is built on LLVM 22): the intrinsic's one name, p0
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(READ), i32(TO_L2), i32(DATA)])
        return context.get_dummy_value()

    return sig, codegen
