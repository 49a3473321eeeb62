"""Ops an if-conversion computed ahead of their branch (frontend/ifconvert.py): Select, Speculated, speculative ints.

A speculative int `+ - *` wraps, and notes whether it left int64: a bit per op, which a
Speculated ORs into the test that sends the block to the exact path (the original arms).
Where the op is affine in one value `x` (`c * x`, `x + k`, and those composed: `3 * x + 1`),
the bit is a range test on `x` beside the op rather than a flag after it: the exact
interval of `x` on which every step of the composition stays in int64, one unsigned
compare for the whole chain, with the value itself a plain `lea`. A composed op's test
implies its operand's (its interval is a sub-interval), so the operand's bit is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.capi import I1, I64, INT64_MAX, INT64_MIN
from fastimport.frontend.ir import Binary, Const

if TYPE_CHECKING:
    from fastimport.frontend.ir import Op, Select, Speculated, Value


def _signed(v: int) -> int:
    """`v` mod 2**64 as an int64 (an LLVM constant)."""
    v &= 2**64 - 1
    return v - 2**64 if v >= 2**63 else v


def affine_interval(c: int, e: int, lo: int, hi: int) -> tuple[int, int]:
    """The x in [lo, hi] for which c * x + e is an int64 too (c != 0); empty if lo > hi."""
    if c > 0:
        return max(lo, -((e - INT64_MIN) // c)), min(hi, (INT64_MAX - e) // c)  # ceil((MIN - e) / c), floor(...)
    return max(lo, -((INT64_MAX - e) // -c)), min(hi, (e - INT64_MIN) // -c)  # dividing by c < 0 flips the bounds


class SpeculationOps:
    """Mixin of FunctionEmitter: speculative int ops, their test, and Select."""

    builder: ir.IRBuilder
    values: dict[Op, ir.Value]
    # Each speculative op's "left int64" bit, and, where the op is c * x + e of one value x,
    # (x, c, e, lo, hi): on x in [lo, hi] every step of it stays in int64.
    speculation: dict[Op, ir.Value]
    affine: dict[Op, tuple[ir.Value, int, int, int, int]]

    if TYPE_CHECKING:  # (FunctionEmitter's; a stub here would come first in its MRO)

        def value(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def as_int_value(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102

    def visit_select(self, op: Select) -> None:  # noqa: D102
        self.values[op] = self.builder.select(self.value(op.cond), self.value(op.if_true), self.value(op.if_false))

    def visit_speculated(self, op: Speculated) -> None:  # noqa: D102
        bld = self.builder
        left = ir.Constant(I1, 0)
        for spec in op.ops:
            left = bld.or_(left, self.speculation[spec])
        self.values[op] = left

    def speculative_int(self, op: Binary) -> ir.Value:
        """A speculative `+ - *` of ints: its wrapped value; its bit in `speculation`."""
        bld = self.builder
        a, b = self.as_int_value(op.lhs), self.as_int_value(op.rhs)
        form = self._affine_form(op)
        if form is None:  # no constant operand: the intrinsic's flag
            res = getattr(bld, f"s{op.kind}_with_overflow")(a, b)
            self.speculation[op] = bld.extract_value(res, 1)
            return bld.extract_value(res, 0)
        x, _c, _e, lo, hi = form
        if lo > hi:  # (never in int64: a constant chain that overflows for every x)
            self.speculation[op] = ir.Constant(I1, 1)
        else:
            offset = bld.sub(x, ir.Constant(I64, _signed(lo)))
            self.speculation[op] = bld.icmp_unsigned(">", offset, ir.Constant(I64, _signed(hi - lo)))
        inner = op.lhs if not isinstance(op.lhs, Const) else op.rhs
        if inner in self.affine:
            self.speculation[inner] = ir.Constant(I1, 0)  # implied by this op's test
        self.affine[op] = form
        emit = {"add": bld.add, "sub": bld.sub, "mul": bld.mul}[op.kind]
        return emit(a, b)  # wrapping: where it left int64 the exact path runs instead

    def _affine_form(self, op: Binary) -> tuple[ir.Value, int, int, int, int] | None:
        """(x, c, e, lo, hi) if `op` is c * x + e of one value x (see `affine`), with x's interval."""
        consts = [v for v in (op.lhs, op.rhs) if isinstance(v, Const) and v.type is not None]
        if len(consts) != 1 or not isinstance(consts[0].value, int):
            return None
        k = int(consts[0].value)
        inner = op.rhs if op.lhs is consts[0] else op.lhs
        x, c, e, lo, hi = self.affine.get(inner) or (self.as_int_value(inner), 1, 0, INT64_MIN, INT64_MAX)
        if op.kind == "mul":
            if k == 0:
                return None
            c, e = c * k, e * k
        elif op.kind == "add":
            e += k
        elif op.lhs is inner:  # x - k
            e -= k
        else:  # k - x
            c, e = -c, k - e
        lo, hi = affine_interval(c, e, lo, hi)
        return x, c, e, lo, hi
