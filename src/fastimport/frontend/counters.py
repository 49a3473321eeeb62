"""Int counters (`steps += 1`, `d += 2`) checked against overflow at signal checkpoints, not at each step.

A loop that counts (`steps += 1` in a `while`, `count += 1` under an `if`) tests the
add's overflow flag at every step, although the count would need ~2**63 steps to leave
int64. That test is a branch, and a loop of short steps is bound by the branches it can
retire per cycle: in a Collatz step (~5 branches), the counter's alone cost ~25%.

A local is a *counter* when every store of it, anywhere in the function, is either

    s = k          an int constant with |k| <= COUNTER_START_MAX (2**62), or
    s = s + c      (or c + s, s - c) with 1 <= |c| <= COUNTER_STEP_MAX (2**16), in a
                   block whose innermost loop starts with a CheckSignals (every loop
                   the lowering makes; not a versioned copy, which counts in strips);

and it is not a parameter. Then the adds are emitted without a check (Binary.no_overflow)
and, instead, every signal checkpoint of the function that comes due (backend/emit.py
`check_signals`) deopts unless |s| <= COUNTER_START_MAX. That is exact:

- every return to a counting block passes its innermost loop's header (a reducible
  graph enters a loop only there, and a cycle in it passes its header), whose
  CheckSignals counts the function's own countdown down by one and comes due at zero;
  nothing else resets the countdown except a checkpoint that came due. So between two
  checkpoints that come due, a counter takes at most SIGNAL_INTERVAL + 1 steps;
- it starts each such stretch at |s| <= 2**62 (checked there; a constant store; or 0,
  the value its slot gets at the function's entry), and (2**14 + 1) * 2**16 < 2**62,
  so it cannot pass 2**63 - 1 before the next check;
- a deopt there is the deopt the overflow test would have made, only earlier: the call
  goes on as bytecode from its start, as after any deopt, with CPython's big ints.

Functions with a self tail call made a jump (Reenter) are left alone: their cycle back
to the entry is not a loop the lowering made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastimport.frontend.cfg import innermost_loops
from fastimport.frontend.ir import Binary, CheckSignals, Const, LoadLocal, Reenter, StoreLocal, Unary
from fastimport.frontend.types import Ty

if TYPE_CHECKING:
    from fastimport.frontend.cfg import Loop
    from fastimport.frontend.ir import BasicBlock, FuncIR

COUNTER_START_MAX = 1 << 62
COUNTER_STEP_MAX = 1 << 16


def mark_counters(fn: FuncIR) -> None:
    """Set `fn.counters` and mark their steps `no_overflow` (see the module docstring)."""
    ops = fn.all_ops()
    if any(isinstance(op, Reenter) for op in ops) or not any(isinstance(op, CheckSignals) for op in ops):
        return  # (a function without loops has no counters)
    loops = innermost_loops(fn)
    stores: dict[str, list[tuple[BasicBlock, StoreLocal]]] = {}
    for block in fn.blocks:
        for op in block.ops:
            if isinstance(op, StoreLocal):
                stores.setdefault(op.local.name, []).append((block, op))
    params = {local.name for local in fn.params}
    counters = []
    for name, found in stores.items():
        if fn.locals[name].type is not Ty.INT or name in params:
            continue
        steps = [store for block, store in found if _is_step(store, loops.get(block))]
        if any(not store.src.no_overflow for store in steps) and all(  # type: ignore[attr-defined]
            _is_start(store) or store in steps for _, store in found
        ):  # (a range's own index is already known not to overflow: no check for it)
            for store in steps:
                store.src.no_overflow = True  # type: ignore[attr-defined] - a Binary, by _is_step
            counters.append(name)
    fn.counters = tuple(counters)


def _is_start(store: StoreLocal) -> bool:
    src = store.src
    if isinstance(src, Unary) and src.kind == "neg":  # `s = -5` is lowered as -(5)
        src = src.src
    return isinstance(src, Const) and src.type is Ty.INT and abs(src.value) <= COUNTER_START_MAX


def _is_step(store: StoreLocal, loop: Loop | None) -> bool:
    """`s = s + c` (c + s, s - c) with a small constant c, in a loop that ticks the countdown at its header."""
    src = store.src
    if loop is None or not isinstance(src, Binary) or src.type is not Ty.INT or src.kind not in ("add", "sub"):
        return False
    read, step = src.lhs, src.rhs
    if src.kind == "add" and isinstance(step, LoadLocal) and step.local is store.local:
        read, step = step, read
    if not (isinstance(read, LoadLocal) and read.local is store.local):
        return False
    if not (isinstance(step, Const) and step.type is Ty.INT and 1 <= abs(step.value) <= COUNTER_STEP_MAX):
        return False
    return bool(loop.header.ops) and isinstance(loop.header.ops[0], CheckSignals)
