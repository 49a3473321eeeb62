"""The ops of versioned range loops (frontend/versioning.py): the guard, the run logging, the strips.

A mixin of FunctionEmitter (backend/emit.py). Everything here runs once per loop
entry or once per strip, never per iteration. The guard's arithmetic is done in
i128, where sums of a few int64 values cannot wrap, so "in bounds" is decided
exactly for any start, stop and offsets.

    for i in range(start, stop, step), nonempty:   i in [lo, hi]   (lo, hi: the first and
    last values, whichever order)     index c + i in [lo + c, hi + c], c - i in [c - hi, c - lo]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.callscope import emit_record_run
from fastimport.backend.capi import I32, I64, I128, INT64_MAX, INT64_MIN
from fastimport.frontend.numpy_types import ITEM_BITS
from fastimport.frontend.types import Ty, Union
from fastimport.frontend.versioning import ACCUMULATOR_BOUND, LOOP_CHUNK, LOOP_MIN_CHUNK

if TYPE_CHECKING:
    from fastimport.frontend.ir import (
        AxisIndex,
        GuardBound,
        LogStores,
        LoopChunk,
        LoopGuard,
        NoteFinite,
        RangeLoop,
        Value,
    )
    from fastimport.frontend.types import Array

COUNTDOWN_CAP = 1 << 30  # the most one strip counts down the i32 signal countdown by


def _max(bld: ir.IRBuilder, a: ir.Value, b: ir.Value) -> ir.Value:
    return bld.select(bld.icmp_signed(">", a, b), a, b)


def _min(bld: ir.IRBuilder, a: ir.Value, b: ir.Value) -> ir.Value:
    return bld.select(bld.icmp_signed("<", a, b), a, b)


class LoopOps:
    """LoopGuard, LogStores, LoopChunk and NoteFinite (mixed into FunctionEmitter)."""

    builder: ir.IRBuilder
    values: dict
    guard_bounds: dict
    undo: ir.Value
    precise: ir.Value | None
    ticks: ir.Value
    deopt_block: ir.Block

    # Provided by FunctionEmitter.
    def value(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def check_overflow(self) -> None: ...  # noqa: D102
    def defer_if(self, cond: ir.Value) -> None: ...  # noqa: D102
    def defer_unless_finite(self, r: ir.Value) -> None: ...  # noqa: D102
    def int_abs(self, x: ir.Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def unpack(self, ty: Ty, union: ir.Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def check_signals(self, ticks: ir.Value, amount: ir.Value | None = None) -> None: ...  # noqa: D102
    def stride(self, arr: Array, base: ir.Value, axis: int) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102

    def visit_loop_guard(self, op: LoopGuard) -> None:
        """Whether the whole range is safe (see LoopGuard); if not, where its middle is."""
        bld = self.builder
        self.check_overflow()  # every value read below is exact from here on
        whole = self._whole_range_safe(op)
        start, stop = self.value(op.loop.start), self.value(op.loop.stop)
        if not any(axis.coef != 0 and axis.terms for access in op.accesses for axis in access.axes):
            # Only `a[i]`, `a[c]`: a middle would be the range clipped to [0, len), a rare
            # case not worth its compile time; the checked loop runs the whole range instead.
            self.guard_bounds[op] = {"limit": stop, "end": stop}
            self.values[op] = whole
            return
        before = bld.block
        split, joined = self.func.append_basic_block("split"), self.func.append_basic_block("guarded")  # type: ignore[attr-defined]
        bld.cbranch(whole, joined, split)
        bld.position_at_end(split)  # the usual case (jacobi, a row of 98) skips this work
        has_middle, first, end = self._middle_of(op)
        limit, end = bld.select(has_middle, first, stop), bld.select(has_middle, end, start)
        bld.branch(joined)
        after = bld.block
        bld.position_at_end(joined)
        bounds = {}
        for which, whole_value, split_value in (("limit", stop, limit), ("end", stop, end)):
            phi = bld.phi(I64, name=which)
            phi.add_incoming(whole_value, before)
            phi.add_incoming(split_value, after)
            bounds[which] = phi
        self.guard_bounds[op] = bounds
        self.values[op] = whole

    def _whole_range_safe(self, op: LoopGuard) -> ir.Value:
        """True if the range is empty, or every access stays in bounds and `i + step` in int64."""
        bld = self.builder
        nonempty, lo, hi = self.range_span(op.loop)
        wide_lo, wide_hi = bld.sext(lo, I128), bld.sext(hi, I128)
        step = bld.sext(self.step_value(op.loop.step), I128)
        if op.loop.ascending:
            ok = bld.icmp_signed("<=", bld.add(wide_hi, step), ir.Constant(I128, INT64_MAX))
        else:
            ok = bld.icmp_signed(">=", bld.add(wide_lo, step), ir.Constant(I128, INT64_MIN))
        for access in op.accesses:
            base = self.value(access.array)
            for axis, index in enumerate(access.axes):
                low, high = self.index_span(index, wide_lo, wide_hi)
                dim = bld.sext(bld.extract_value(base, [1, axis]), I128)
                ok = bld.and_(ok, bld.icmp_signed(">=", low, ir.Constant(I128, 0)))
                ok = bld.and_(ok, bld.icmp_signed("<", high, dim))
        take = bld.and_(bld.or_(bld.not_(nonempty), ok), self.step_positive(op.loop.step))
        if op.defers_checks:  # the precise re-run takes the checked loop (even an empty one: the
            # copy's strip end notes its accumulators, which would ask for RETRY again)
            take = bld.and_(take, bld.not_(self.precise))
        return take

    def _middle_of(self, op: LoopGuard) -> tuple[ir.Value, ir.Value, ir.Value]:
        """Whether the range has a middle (see LoopGuard), its first value, and the value after its last.

        Each access's axis `coef * i + terms` is in [0, dim) for i in one interval (all or
        no i when coef is 0); the middle is the range's values in the intersection of
        those, below the value whose `i + step` would leave int64. In i128, where sums of
        a few int64 values cannot wrap.
        """
        bld = self.builder
        nonempty, lo, hi = self.range_span(op.loop)
        safe_lo, safe_hi = bld.sext(lo, I128), bld.sext(hi, I128)
        ok = nonempty
        zero = ir.Constant(I128, 0)
        for access in op.accesses:
            base = self.value(access.array)
            for axis, index in enumerate(access.axes):
                terms = self.index_span(index, zero, zero)[0]
                dim = bld.sext(bld.extract_value(base, [1, axis]), I128)
                if index.coef == 0:
                    inside = bld.and_(bld.icmp_signed(">=", terms, zero), bld.icmp_signed("<", terms, dim))
                    ok = bld.and_(ok, inside)
                    continue
                # coef 1: 0 <= i + terms <= dim - 1;  coef -1: 0 <= terms - i <= dim - 1
                last = bld.sub(dim, ir.Constant(I128, 1))
                low, high = (bld.neg(terms), bld.sub(last, terms)) if index.coef > 0 else (bld.sub(terms, last), terms)
                safe_lo, safe_hi = _max(bld, safe_lo, low), _min(bld, safe_hi, high)
        step = self.step_value(op.loop.step)
        wide_step = bld.sext(step, I128)
        if op.loop.ascending:
            safe_hi = _min(bld, safe_hi, bld.sub(ir.Constant(I128, INT64_MAX), wide_step))
        else:
            safe_lo = _max(bld, safe_lo, bld.sub(ir.Constant(I128, INT64_MIN), wide_step))
        ok = bld.and_(ok, bld.icmp_signed("<=", safe_lo, safe_hi))
        ok = bld.and_(ok, self.step_positive(op.loop.step))
        # Within [lo, hi] now (if ok): int64 from here, where division by the step is cheap.
        first, last = self._middle(op.loop, bld.trunc(safe_lo, I64), bld.trunc(safe_hi, I64))
        ordered = bld.icmp_signed("<=" if op.loop.ascending else ">=", first, last)
        ok = bld.and_(ok, ordered)
        if op.defers_checks:  # the precise re-run takes the checked loop
            ok = bld.and_(ok, bld.not_(self.precise))
        return ok, first, bld.add(last, step)

    def _middle(self, loop: RangeLoop, safe_lo: ir.Value, safe_hi: ir.Value) -> tuple[ir.Value, ir.Value]:
        """The first and last values of `loop` in [safe_lo, safe_hi] (a subset of the range's span).

        Differences from `start` are unsigned (they fit a u64); no sum leaves int64: safe_hi
        leaves room for one more step (visit_loop_guard). If there are none, first is past last.
        """
        bld = self.builder
        start = self.value(loop.start)
        size = self.step_size(loop.step)
        below = bld.sub(size, ir.Constant(I64, 1))
        if loop.ascending:  # start, start + step, ...: up to the first >= safe_lo, the last <= safe_hi
            skip = bld.sub(safe_lo, start)
            first = bld.add(start, bld.mul(bld.udiv(bld.add(skip, below), size), size))
            last = bld.add(start, bld.mul(bld.udiv(bld.sub(safe_hi, start), size), size))
            return first, last
        skip = bld.sub(start, safe_hi)  # start, start - step, ...: down to the first <= safe_hi
        first = bld.sub(start, bld.mul(bld.udiv(bld.add(skip, below), size), size))
        last = bld.sub(start, bld.mul(bld.udiv(bld.sub(start, safe_lo), size), size))
        return first, last

    def visit_guard_bound(self, op: GuardBound) -> None:
        """A bound the loop guard computed (emitted just before, in the same block)."""
        self.values[op] = self.guard_bounds[op.guard][op.which]

    def visit_log_stores(self, op: LogStores) -> None:
        """One undo-log run per store: the elements it can overwrite in the whole loop (unit step)."""
        bld = self.builder
        nonempty, lo, hi = self.range_span(op.loop)
        count = bld.add(bld.sub(hi, lo), ir.Constant(I64, 1))
        wide_lo, wide_hi = bld.sext(lo, I128), bld.sext(hi, I128)
        with bld.if_then(nonempty):
            for access in op.stores:
                arr: Array = access.array.type  # type: ignore[assignment]
                base = self.value(access.array)
                offset = ir.Constant(I64, 0)
                for axis, index in enumerate(access.axes):
                    first = bld.trunc(self.index_span(index, wide_lo, wide_hi)[0], I64)  # the lowest element
                    offset = bld.add(offset, bld.mul(first, self.stride(arr, base, axis)))
                pointer = bld.gep(bld.extract_value(base, 0), [offset], source_etype=ir.IntType(8))
                nbytes = bld.mul(count, ir.Constant(I64, ITEM_BITS[arr.dtype] // 8))
                emit_record_run(bld, self.undo, pointer, nbytes, full=self.deopt_block)
        self.values[op] = ir.Constant(ir.IntType(8), 0)

    def visit_note_finite(self, op: NoteFinite) -> None:
        """Defer "finite" for each value (versioning._float_accumulators)."""
        for v in op.values:  # a double, or a Union of Python float and np.float64 (a double either way)
            value = self.value(v)
            self.defer_unless_finite(self.unpack(Ty.F64, value) if isinstance(v.type, Union) else value)

    def visit_loop_chunk(self, op: LoopChunk) -> None:
        """The end of the next strip: as many steps as the loop has run, within [LOOP_MIN_CHUNK, LOOP_CHUNK]."""
        bld = self.builder
        for acc in op.accumulators:  # small enough for a strip of bounded steps (versioning._bound_int_ops)
            value = self.value(acc)
            if isinstance(acc.type, Union):
                value = self.unpack(Ty.I64, value)
            self.defer_if(bld.icmp_unsigned(">", self.int_abs(value), ir.Constant(I64, ACCUMULATOR_BOUND)))
        self.check_overflow()
        start, cur, stop = (self.value(v) for v in (op.start, op.cur, op.stop))
        ascending = not isinstance(op.step, int) or op.step > 0
        # In the loop's direction: how far it has come (cur moves away from start, so this fits
        # in a u64) and, if stop is still ahead, how far it has to go (u64 likewise). 64-bit
        # unsigned arithmetic instead of i128: this runs at every entry of the copy, and a
        # short inner loop enters it once per 3 iterations (pairwise_distances).
        ahead, ran, left = (
            (bld.icmp_signed("<", cur, stop), bld.sub(cur, start), bld.sub(stop, cur))
            if ascending
            else (bld.icmp_signed(">", cur, stop), bld.sub(start, cur), bld.sub(cur, stop))
        )
        low, high = (self.steps_covered(op.step, n) for n in (LOOP_MIN_CHUNK, LOOP_CHUNK))
        # A loop with at most one minimal strip left runs it to the end (every entry of a
        # short inner loop: three steps in pairwise_distances), with no strip arithmetic.
        short = bld.icmp_unsigned("<=", left, low)  # (with stop not ahead, `left` wraps: long)
        before = bld.block
        with bld.if_then(bld.not_(short), likely=False):
            capped = bld.select(bld.icmp_unsigned(">", ran, high), high, ran)
            length = bld.select(bld.icmp_unsigned("<", ran, low), low, capped)
            # As far as the strip's length or the loop goes, or no step at all if stop is
            # not ahead (then the header leaves the copy at once).
            covered = bld.select(bld.icmp_unsigned("<", left, length), left, length)
            move = covered if ascending else bld.neg(covered)
            far_end = bld.select(ahead, bld.add(cur, move), stop)
            far_amount = bld.select(ahead, covered, ir.Constant(I64, 1))
            far = bld.block
        end = bld.phi(I64)
        end.add_incoming(stop, before)
        end.add_incoming(far_end, far)
        amount = bld.phi(I64)
        amount.add_incoming(left, before)
        amount.add_incoming(far_amount, far)
        self.values[op] = end
        # The strip counts as its iterations' back edges towards the next signal checkpoint
        # (counted as values covered: for |step| > 1 a checkpoint comes sooner; capped so
        # that a huge step cannot wrap the i32 countdown). A short strip (the whole of a short
        # inner loop) only counts, capped at LOOP_MIN_CHUNK: whatever runs it again, the header
        # of an enclosing loop or the entry of a recursive function, tests the count first,
        # so at most LOOP_MIN_CHUNK values run between a checkpoint falling due and its test.
        # (pairwise_distances, 3 values a strip: 0.570 -> 0.485 ms without the test and its cold block.)
        if not (isinstance(op.step, int) and abs(op.step) * LOOP_CHUNK <= COUNTDOWN_CAP):
            cap = ir.Constant(I64, COUNTDOWN_CAP)
            amount = bld.select(bld.icmp_unsigned(">", amount, cap), cap, amount)
        if not (isinstance(op.step, int) and abs(op.step) == 1):
            least = ir.Constant(I64, LOOP_MIN_CHUNK)
            amount = bld.select(bld.and_(short, bld.icmp_unsigned(">", amount, least)), least, amount)
        self.check_signals(self.ticks, bld.trunc(amount, I32), test=bld.not_(short))

    def range_span(self, loop: RangeLoop) -> tuple[ir.Value, ir.Value, ir.Value]:
        """Whether `range(start, stop, step)` is nonempty, and its lowest and highest values if so."""
        bld = self.builder
        start, stop = self.value(loop.start), self.value(loop.stop)
        size = self.step_size(loop.step)
        if loop.ascending:
            nonempty = bld.icmp_signed("<", start, stop)
            # The last value: start + ((stop - 1 - start) // step) * step (the difference fits in a u64).
            last = bld.sub(stop, ir.Constant(I64, 1))
            if loop.step != 1:
                last = bld.add(start, bld.mul(bld.udiv(bld.sub(last, start), size), size))
            return nonempty, start, last
        nonempty = bld.icmp_signed(">", start, stop)
        last = bld.add(stop, ir.Constant(I64, 1))
        if loop.step != -1:
            last = bld.sub(start, bld.mul(bld.udiv(bld.sub(start, last), size), size))
        return nonempty, last, start

    def step_value(self, step: int | Value) -> ir.Value:
        """A RangeLoop's step as an int64 (a run-time step is positive where the copy runs)."""
        return ir.Constant(I64, step) if isinstance(step, int) else self.value(step)

    def step_size(self, step: int | Value) -> ir.Value:
        """|step|, for the unsigned divisions that count steps."""
        return ir.Constant(I64, abs(step)) if isinstance(step, int) else self.value(step)

    def step_positive(self, step: int | Value) -> ir.Value:
        """True if the copy may take the step: always for a constant one, for a run-time one if > 0.

        With a run-time step the copy runs only ascending ranges (frontend/versioning.py
        `_runtime_direction`); a descending one leaves it all to the checked loop. (For such a
        step the range's span and middle above are computed as if ascending, and discarded.)
        """
        if isinstance(step, int):
            return ir.Constant(ir.IntType(1), 1)
        return self.builder.icmp_signed(">", self.value(step), ir.Constant(I64, 0))

    def steps_covered(self, step: int | Value, n: int) -> ir.Value:
        """How many values `n` steps cover: n * |step|, at most INT64_MAX."""
        if isinstance(step, int):
            return ir.Constant(I64, min(abs(step) * n, INT64_MAX))
        bld = self.builder
        size = self.value(step)
        huge = bld.icmp_unsigned(">", size, ir.Constant(I64, INT64_MAX // n))
        return bld.select(huge, ir.Constant(I64, INT64_MAX), bld.mul(size, ir.Constant(I64, n)))

    def index_span(self, index: AxisIndex, lo: ir.Value, hi: ir.Value) -> tuple[ir.Value, ir.Value]:
        """The lowest and highest value of `coef * i + terms` for i in [lo, hi] (i128)."""
        bld = self.builder
        total = ir.Constant(I128, 0)
        for term in index.terms:
            wide = bld.sext(self.value(term.value), I128)
            total = bld.add(total, wide) if term.sign > 0 else bld.sub(total, wide)
        if index.coef > 0:
            return bld.add(total, lo), bld.add(total, hi)
        if index.coef < 0:
            return bld.sub(total, hi), bld.sub(total, lo)
        return total, total
