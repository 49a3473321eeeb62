"""If-conversion: a short `if`/`else` in a loop that only picks a number becomes a select.

    if x % 2 == 0:                  head: %c = cmp eq (mod %x, 2), 0
        x = x // 2                        %h = floordiv %x, 2          (copies of both arms)
    else:                   ->            %t = add (mul 3, %x), 1      (speculative: wraps)
        x = 3 * x + 1                     %s = speculated %t           (did one leave int64?)
                                          branch %s slow fast
                                    fast: store x <- select %c, %h, %t; goto join
                                    slow: branch %c arm1 arm2          (the original arms, exact)

A branch on data (a Collatz step's parity, `if v > best: best = v`) goes either way at
random; a mispredicted one costs ~15 cycles, more than computing both short arms. And a
loop of short steps is bound by the branches it retires per cycle: an arm's overflow
tests are branches too. Measured on `collatz_longest` (prototype loops in LLVM IR, one
process, interleaved): the branchy step with its checks ~9.8 ms, the select with one
range test ~6.8 ms, Numba's unchecked select ~6.0 ms.

Where: a block in a loop ends in a branch whose two sides are each either the join
itself (the local keeps its value) or a block only the branch reaches, made of at most
MAX_ARM_OPS ops that cannot fail or be observed, then one store of a Python number into
the same local, then a jump to the join. Both arms' ops are copied before the branch
(the arms stay, for the exact path), and a Select picks the stored value.

Moving an op ahead of its test is exact only if it has no effect when its arm would
not have run. Allowed: constants; reads of locals bound on every path to the branch;
comparisons of like types; Python float `+ - *`; int bit operations; int `// %` by a
constant other than 0 and -1 and `>>` by a constant in [0, 63]; and int `+ - *`, which
may leave int64: those are *speculative* (Binary.speculative), computed wrapping, and a
Speculated op tests whether any did; if one did, the block takes the original branch,
whose arms run exactly as before (and deopt as before, if it was the chosen arm that
overflowed). So the other arm's overflow costs a slower step, never a deopt. (backend/
specemit.py makes the test of `3 * x + 1` one range test on `x`.)

Counters (frontend/counters.py) were marked before this pass; a counter's step under
an `if` becomes a select between the step and no step, in the same block of the same
loop: still at most one step per pass of the loop's header, which is what their check
at the checkpoints relies on. A versioned copy's blocks are left alone (their int ops
are strip-checked).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastimport.frontend.cfg import innermost_loops, predecessors, stored_on_entry
from fastimport.frontend.ir import (
    BasicBlock,
    Binary,
    Branch,
    CheckSignals,
    Compare,
    Const,
    Goto,
    LoadLocal,
    Select,
    Speculated,
    StoreLocal,
    Unary,
)
from fastimport.frontend.types import Ty

if TYPE_CHECKING:
    from fastimport.frontend.ir import FuncIR, Op, Value

MAX_ARM_OPS = 8  # both arms run: beyond a few ops the branch is the better bet
PLAIN = (Ty.INT, Ty.FLOAT, Ty.BOOL)  # Python's numbers (a NumPy scalar's warnings are effects)
WRAPPING = frozenset({"add", "sub", "mul"})  # int ops that may leave int64: speculative
BITS = frozenset({"and", "or", "xor"})


def if_convert(fn: FuncIR) -> None:
    """Turn every eligible `if` in a loop of `fn` into a Select (see the module docstring).

    One sweep: a conversion changes only its own diamond (its head, arms and the blocks it
    adds), and an arm, ending in a jump, is never another diamond's head nor (one
    predecessor) another's join, so the graph facts read up front stay true for the rest.
    """
    if not any(isinstance(op, CheckSignals) for op in fn.all_ops()):
        return  # no loop
    preds = predecessors(fn)
    loops = innermost_loops(fn)
    bound = stored_on_entry(fn.blocks, fn.blocks[0])
    for head in list(fn.blocks):
        branch = head.terminator
        if head not in loops or head.vector_body or not isinstance(branch, Branch):
            continue
        stored = {op.local.name for op in head.ops if isinstance(op, StoreLocal)}
        plan = _diamond(head, branch, preds, bound[head] | stored)
        if plan is not None:
            _apply(fn, head, branch, plan)


@dataclass
class Plan:
    """A convertible branch: where both sides meet, and each side's ops and store (None: the side is the join)."""

    join: BasicBlock
    true_ops: list[Op]
    false_ops: list[Op]
    true_store: StoreLocal | None
    false_store: StoreLocal | None


def _diamond(
    head: BasicBlock, branch: Branch, preds: dict[BasicBlock, list[BasicBlock]], bound: set[str]
) -> Plan | None:
    """(join, the true arm's ops, the false arm's, their stores) if the branch is a convertible diamond or triangle."""
    arms: list[tuple[BasicBlock | None, BasicBlock]] = []  # (arm block or None, where it goes)
    for side in (branch.true, branch.false):
        jump = side.terminator
        if isinstance(jump, Goto) and preds[side] == [head] and jump.target is not side and not side.vector_body:
            arms.append((side, jump.target))
        else:
            arms.append((None, side))
    (true_block, true_join), (false_block, false_join) = arms
    if true_join is not false_join or true_join is head or (true_block is None and false_block is None):
        return None
    parts: list[tuple[list[Op], StoreLocal | None]] = []
    for block in (true_block, false_block):
        if block is None or len(block.ops) == 1:  # no arm, or an empty one (`if` without `else`)
            parts.append(([], None))
            continue
        part = _arm(block, bound)
        if part is None:
            return None
        parts.append(part)
    (true_ops, true_store), (false_ops, false_store) = parts
    stores = [s for s in (true_store, false_store) if s is not None]
    if not stores:
        return None
    local = stores[0].local
    if any(s.local is not local or s.src.type is not local.type for s in stores) or local.type not in PLAIN:
        return None
    if len(stores) == 1 and local.name not in bound:
        return None  # the value kept would be read unbound
    return Plan(true_join, true_ops, false_ops, true_store, false_store)


def _arm(block: BasicBlock, bound: set[str]) -> tuple[list[Op], StoreLocal] | None:
    """(ops, store) if `block` is `ops; store; goto` with ops that may run ahead of the branch."""
    if len(block.ops) < 2:  # noqa: PLR2004 - a store and the goto
        return None
    ops, store = block.ops[:-2], block.ops[-2]
    if not isinstance(store, StoreLocal) or len(ops) > MAX_ARM_OPS:
        return None
    if not all(_speculatable(op, bound) for op in ops):
        return None
    return ops, store


def _speculatable(op: Op, bound: set[str]) -> bool:
    """Whether `op` may run where its arm would not have: no effect, no failure (a wrap is tested)."""
    if isinstance(op, Const):
        return op.type in PLAIN
    if isinstance(op, LoadLocal):
        return op.local.type in PLAIN and op.local.name in bound
    if isinstance(op, Compare):
        return op.lhs.type in PLAIN and op.lhs.type is op.rhs.type
    if isinstance(op, Unary):
        return (op.src.type is Ty.FLOAT and op.kind in ("neg", "pos")) or (
            op.src.type is Ty.INT and op.kind in ("invert", "pos")
        )
    if isinstance(op, Binary):
        return _speculatable_binary(op)
    return False


def _speculatable_binary(op: Binary) -> bool:
    types = (op.lhs.type, op.rhs.type)
    if not all(t in PLAIN for t in types) or op.type not in PLAIN:
        return False
    if op.type is Ty.FLOAT:  # Python floats: inf and nan, never an exception
        return op.kind in WRAPPING and Ty.BOOL not in types
    if op.kind in BITS:
        return True
    if op.type is not Ty.INT or Ty.BOOL in types:
        return False
    constant = op.rhs.value if isinstance(op.rhs, Const) else None
    return (
        op.kind in WRAPPING
        or (op.kind in ("floordiv", "mod") and isinstance(constant, int) and constant not in (0, -1))
        or (op.kind == "rshift" and isinstance(constant, int) and 0 <= constant <= 63)  # noqa: PLR2004 - int64's bits
    )


def _apply(fn: FuncIR, head: BasicBlock, branch: Branch, plan: Plan) -> None:
    """Copy both arms before the branch, a Select picks the value.

    With speculative ops, a Speculated test sends the block to the original branch and
    arms (the exact path); without, the arms go.
    """
    copies: dict[Value, Op] = {}
    for op in [*plan.true_ops, *plan.false_ops]:
        copies[op] = _copy(op, copies)
    true_store, false_store, join = plan.true_store, plan.false_store, plan.join
    local = (true_store or false_store).local  # type: ignore[union-attr]
    kept = LoadLocal(local)
    kept.type = local.type
    if_true = copies.get(true_store.src, true_store.src) if true_store is not None else kept
    if_false = copies.get(false_store.src, false_store.src) if false_store is not None else kept
    select = Select(branch.cond, if_true, if_false)
    select.type = local.type
    fast = [*([kept] if kept in (if_true, if_false) else []), select, StoreLocal(local, select), Goto(join)]
    speculative = [op for op in copies.values() if isinstance(op, Binary) and op.speculative]
    if not speculative:  # nothing can wrap: no exact path needed
        head.ops[-1:] = [*copies.values(), *fast]
        arms = {b for b in (branch.true, branch.false) if b is not join}
        fn.blocks = [b for b in fn.blocks if b not in arms]
        return
    test = Speculated(speculative)  # type: ignore[arg-type]
    test.type = Ty.BOOL
    slow, quick = _new_block(fn, [Branch(branch.cond, branch.true, branch.false)]), _new_block(fn, fast)
    head.ops[-1:] = [*copies.values(), test, Branch(test, slow, quick)]


def _copy(op: Op, copies: dict[Value, Op]) -> Op:
    """A copy of `op` reading the copies of the arm's earlier ops; an int `+ - *` becomes speculative."""
    clone = copy.copy(op)
    if isinstance(clone, Unary):
        clone.src = copies.get(clone.src, clone.src)
    elif isinstance(clone, (Binary, Compare)):
        clone.lhs, clone.rhs = copies.get(clone.lhs, clone.lhs), copies.get(clone.rhs, clone.rhs)
    if isinstance(clone, Binary) and clone.type is Ty.INT and clone.kind in WRAPPING and not clone.no_overflow:
        clone.speculative = True
    return clone


def _new_block(fn: FuncIR, ops: list[Op]) -> BasicBlock:
    block = BasicBlock(ops, label=max(b.label for b in fn.blocks) + 1)
    fn.blocks.append(block)
    return block
