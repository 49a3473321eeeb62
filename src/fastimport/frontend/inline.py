"""Inlining: a call of a small, non-recursive compiled function becomes a copy of its IR.

After inference, before the store marks and loop versioning (compiler.front_end), so
that what follows sees the callee's operations inside the caller's loops: the loop
guard of `mult_av` covers `eval_a`'s integer arithmetic, whose checks it can then
defer to the end of each strip (frontend/versioning.py), and `s += eval_a(i, j) * v[j]`
has no call left in it.

    %5 = call eval_a(%3, %4) : float          %0..%2 of eval_a, with param k -> the k-th argument
    %6 = mul %5, %1                  ->       store $inline1.i <- %3 ...
                                              return %9  ->  store $inline1.$result <- %9; goto rest
                                            rest:
                                              %5' = load $inline1.$result : float
                                              %6 = mul %5', %1

The copy has its own locals (`$inlineN.name`, one set per call site), so two calls of
the same function never share them, and a FrameCheck where the call was: the frame the
call would have taken from CPython's recursion limit must still fit. The caller's behaviour is unchanged: a deopt or a
raise inside the copy leaves the whole native call, as it did through the call's status.
Only callees whose every local is stored before each read are copied: a local read
unbound (UnboundLocalError in CPython) keeps a run-time flag, which a copy inside a
loop would find still set by the previous iteration.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from fastimport.frontend.cfg import reads_before_store
from fastimport.frontend.ir import (
    BasicBlock,
    Call,
    FrameCheck,
    FuncIR,
    Goto,
    LoadLocal,
    Local,
    Op,
    Param,
    Return,
    StoreLocal,
    Value,
)
from fastimport.frontend.types import Ty

if TYPE_CHECKING:
    from collections.abc import Callable

# A caller stops taking copies past this many ops (compile time grows with its size).
CALLER_MAX_OPS = 3000


def inline_calls(fn: FuncIR, callee_ir: Callable[[Call], FuncIR | None]) -> int:
    """Replace each Call in `fn` for which `callee_ir` gives an IR by a copy of it; how many were.

    Calls inside a copy are considered too (a copy of a function that calls another
    small one), up to CALLER_MAX_OPS; `callee_ir` must never offer a recursive callee.
    """
    done = 0
    frames: dict[Call, int] = {}  # a call inside copies: how many copied frames deep it stands
    work = True
    while work:
        work = False
        for block in list(fn.blocks):
            for op in block.ops:
                if not isinstance(op, Call):
                    continue
                callee = callee_ir(op)
                if callee is None or not _can_copy(fn, op, callee):
                    continue
                level = frames.get(op, 0) + 1
                frames.update(dict.fromkeys(_inline(fn, block, op, callee, done + 1, level), level))
                done += 1
                work = True
                break
            if work:
                break
    return done


def all_loads_bound(fn: FuncIR) -> bool:
    """True if every local is stored on every path before each read of it."""
    return not reads_before_store(fn.blocks, fn.blocks[0], set(fn.locals))


def _can_copy(fn: FuncIR, call: Call, callee: FuncIR) -> bool:
    if sum(len(b.ops) for b in fn.blocks) + sum(len(b.ops) for b in callee.blocks) > CALLER_MAX_OPS:
        return False
    # A None result has no local to come from; a call whose None is used stays a call.
    return callee.ret_type is not Ty.NONE or not any(call in _operands(op) for op in fn.all_ops())


def _inline(fn: FuncIR, block: BasicBlock, call: Call, callee: FuncIR, n: int, level: int) -> list[Call]:  # noqa: PLR0913, PLR0917 - one per part of the site
    """Split `block` at `call` and put a copy of `callee`, `level` frames deep, between the halves.

    Returns the calls in the copy.
    """
    locals_ = {local: Local(f"$inline{n}.{local.name}", local.type) for local in callee.locals.values()}
    fn.locals.update({local.name: local for local in locals_.values()})
    for key, ref in callee.globals.items():
        fn.globals.setdefault(key, ref)
    result = None
    if callee.ret_type is not Ty.NONE:
        result = Local(f"$inline{n}.$result", callee.ret_type)
        fn.locals[result.name] = result

    at = block.ops.index(call)
    rest = BasicBlock(ops=block.ops[at + 1 :])
    blocks = {b: BasicBlock() for b in callee.blocks}
    # In the caller's order right after `block`: the emitter meets every definition before its uses.
    where = fn.blocks.index(block) + 1
    fn.blocks[where:where] = [*blocks.values(), rest]
    calls = _copy_body(callee, call, (blocks, locals_, level), result, rest)
    # The call's frame, as the callee's own entry would have checked it (see FrameCheck).
    block.ops = [*block.ops[:at], _typed(FrameCheck(level), Ty.NONE), _typed(Goto(blocks[callee.blocks[0]]), Ty.NONE)]
    if result is not None:
        load = _typed(LoadLocal(result), callee.ret_type)  # type: ignore[arg-type]
        load.line, load.col = call.line, call.col
        rest.ops.insert(0, load)
        for op in fn.all_ops():  # the call's users now read the result
            for name, field in list(vars(op).items()):
                setattr(op, name, _remap(field, {call: load}, {}, {}))
    for k, b in enumerate(fn.blocks):
        b.label = k
    return calls


def _copy_body(
    callee: FuncIR, call: Call, targets: tuple[dict, dict, int], result: Local | None, rest: BasicBlock
) -> list[Call]:
    """Fill the copies of the callee's blocks: parameters are the call's arguments; returns go to `rest`.

    Returns the calls in the copy.
    """
    blocks, locals_, level = targets
    values: dict[Value, Value] = {
        op: call.args[op.index] if isinstance(op, Param) else _copied(op, level)
        for op in callee.all_ops()
        if not isinstance(op, Return)
    }
    for b in callee.blocks:
        ops: list[Op] = []
        for op in b.ops:
            if isinstance(op, Return):
                if result is not None:
                    value = _remap(op.value, values, blocks, locals_)
                    ops.append(_typed(StoreLocal(result, value), Ty.NONE))  # type: ignore[arg-type]
                ops.append(_typed(Goto(rest), Ty.NONE))
            elif not isinstance(op, Param):
                clone = values[op]
                for name, field in list(vars(clone).items()):
                    setattr(clone, name, _remap(field, values, blocks, locals_))
                ops.append(clone)  # type: ignore[arg-type]
        blocks[b].ops = ops
    return [values[op] for op in callee.all_ops() if isinstance(op, Call)]  # type: ignore[misc]


def _copied(op: Op, level: int) -> Op:
    clone = copy.copy(op)
    if isinstance(clone, FrameCheck):  # a copy inside the callee: its frames stand `level` deeper here
        clone.level += level
    return clone


def _typed(op: Op, ty: Ty) -> Op:
    op.type = ty
    return op


def _remap(field: object, values: dict, blocks: dict, locals_: dict) -> object:
    """An operand, block, local or container of them, pointed into the copy (anything else is shared)."""
    if isinstance(field, list):
        return [_remap(item, values, blocks, locals_) for item in field]
    if isinstance(field, tuple):
        return tuple(_remap(item, values, blocks, locals_) for item in field)
    if isinstance(field, BasicBlock):
        return blocks.get(field, field)
    if isinstance(field, Value):
        return values.get(field, field)
    if isinstance(field, Local):
        return locals_.get(field, field)
    return field


def _operands(op: Op) -> list[object]:
    out: list[object] = []
    for field in vars(op).values():
        out.extend(field if isinstance(field, (list, tuple)) else [field])
    return out
