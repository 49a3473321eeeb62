"""Which int `//` and `%` divide by a value their loop does not change (backend/divemit.py).

A 64-bit division is the slowest integer instruction there is (~14 cycles of latency on
this machine, and on the chain of `s = (s + i * i) % m`), and LLVM replaces it by a
multiplication only when the divisor is a constant. A divisor that a loop reads but never
changes is as good as one: the backend computes its reciprocal once and divides by
multiplying (`backend/divemit.py`). The reciprocal is kept beside the divisor it was made
for and made again when the divisor differs, so the mark below is only a bet on speed,
never a condition of correctness: a wrong bet costs a second division.

The bet: the divisor is read from a local that no block of the innermost loop around the
division stores into, except with a copy of another such local (an inlined helper's
parameter, `m2 = m`), or from a module global (read at each use, as CPython does, but
rarely changed). A constant divisor is LLVM's to handle; a division outside every loop
runs once per call, where making a reciprocal would cost a division of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastimport.frontend.cfg import innermost_loops
from fastimport.frontend.ir import Binary, Const, LoadGlobal, LoadLocal, StoreLocal
from fastimport.frontend.types import Ty

if TYPE_CHECKING:
    from fastimport.frontend.ir import BasicBlock, FuncIR, Local, Value

DIVISIONS = frozenset({"floordiv", "mod"})


def mark_invariant_divisors(fn: FuncIR) -> None:
    """Set `Binary.invariant_divisor` on each int `//` or `%` whose divisor its loop does not change."""
    divisions = [op for op in fn.all_ops() if isinstance(op, Binary) and op.kind in DIVISIONS]
    if not any(not isinstance(op.rhs, Const) for op in divisions):
        return  # (most functions: no graph analysis for them)
    loops = innermost_loops(fn)
    for block in fn.blocks:
        if block not in loops:
            continue
        loop = loops[block].body
        for op in block.ops:
            if (
                isinstance(op, Binary)
                and op.kind in DIVISIONS
                and op.type is Ty.INT
                and op.lhs.type in (Ty.INT, Ty.BOOL)
                and op.rhs.type is Ty.INT
            ):
                op.invariant_divisor = _invariant(op.rhs, loop)


def _invariant(value: Value, loop: set[BasicBlock]) -> bool:
    if isinstance(value, LoadGlobal):
        return True
    return isinstance(value, LoadLocal) and _unchanged(value.local, loop, set())


def _unchanged(local: Local, loop: set[BasicBlock], seen: set[str]) -> bool:
    """Whether every store of `local` in `loop` copies a local the loop does not change."""
    if local.name in seen:
        return False  # a cycle of copies: give up rather than reason about it
    seen.add(local.name)
    for block in loop:
        for op in block.ops:
            if isinstance(op, StoreLocal) and op.local is local:
                src = op.src
                if not (isinstance(src, LoadLocal) and _unchanged(src.local, loop, seen)):
                    return False
    return True
