"""Self tail calls as jumps: `return f(...)` and `return x + f(...)` in f itself.

A return of the function's own call, with the same argument types (so the same
specialization), becomes a jump back to the start with the arguments as the new
parameters; `return x + f(...)` with ints also adds x to an accumulator that every
other return adds to its value. Naive `fib` makes half its calls then:

    def fib(n):                         fib(n):  acc = 0
        if n < 2:                         start: if n < 2: return acc + n
            return n                             acc = acc + fib(n - 1)
        return fib(n - 1) + fib(n - 2)           n = n - 2; reenter; goto start

This is exact because Python's ints are: acc + x and the final sum are checked adds,
and if none of them leaves int64 the result is the exact sum whatever the grouping
(if one does, the call deopts and the bytecode computes CPython's big int). Nothing
is reordered: x and the arguments are evaluated before the call, as before, and
the call was the last thing evaluated. Floats would round differently: only ints
accumulate.

The jump stands for the call's frame: Reenter counts one frame deeper (out of the
depth budget, the bytecode raises RecursionError where CPython does) and counts
toward a signal check like a loop's back edge. Locals a path may read before storing
them (UnboundLocalError at a fresh call) would still hold the previous round's values:
such a function is left alone.
"""

from __future__ import annotations

from fastimport.frontend.cfg import unbound_reads
from fastimport.frontend.ir import (
    BasicBlock,
    Binary,
    Call,
    Const,
    FuncIR,
    Goto,
    LoadLocal,
    Local,
    Op,
    Param,
    Reenter,
    Return,
    StoreLocal,
    Value,
)
from fastimport.frontend.types import Ty


def jump_self_tail_calls(fn: FuncIR, spec: object) -> bool:
    """Rewrite `fn`'s self tail calls (calls whose target is `spec`) as jumps; True if any."""
    tails = [(block, _tail_call(block, spec)) for block in fn.blocks]
    tails = [(block, tail) for block, tail in tails if tail is not None]
    if not tails or tails[0][0] is fn.blocks[0]:  # (the entry is split below: its own tail call stays)
        return False
    accumulates = any(addend is not None for _, (_, addend) in tails)
    if accumulates and not _int_returns(fn, [block for block, _ in tails]):
        tails = [(block, (call, addend)) for block, (call, addend) in tails if addend is None]
        accumulates = False
        if not tails:
            return False
    params = fn.params
    if unbound_reads(fn.blocks, fn.blocks[0]) - {local.name for local in params}:
        return False
    entry = fn.blocks[0]
    prologue = _prologue_length(entry)
    start = BasicBlock(label=len(fn.blocks))
    fn.blocks.append(start)
    start.ops, entry.ops = entry.ops[prologue:], entry.ops[:prologue]
    acc = None
    if accumulates:
        acc = Local(f"$tail_acc{len(fn.locals)}", Ty.INT)
        fn.locals[acc.name] = acc
        zero = _append(entry.ops, Const(0), Ty.INT)
        _append(entry.ops, StoreLocal(acc, zero), Ty.NONE)
    _append(entry.ops, Goto(start), Ty.NONE)
    for block in fn.blocks:
        if block is start or not isinstance(block.terminator, Return):
            continue
        tail = dict(tails).get(block)
        if tail is not None:
            _jump(block, tail, params, start, acc)
        elif acc is not None:
            _add_acc(block, acc)
    return True


def _tail_call(block: BasicBlock, spec: object) -> tuple[Call, Value | None] | None:
    """The block's self tail call and what it adds to the result (None: nothing), if it ends in one.

    `%c = call f(...); return %c`, or `%c = call f(...); %s = add %x, %c; return %s`
    with nothing between them (the call is the last thing evaluated).
    """
    ret = block.ops[-1] if block.ops else None
    value = ret.value if isinstance(ret, Return) else None
    last = block.ops[-3:-1]  # the ops before the return, newest last
    if isinstance(value, Call) and last[-1:] == [value] and value.target is spec:
        return value, None
    if not (isinstance(value, Binary) and value.kind == "add" and isinstance(value.rhs, Call)):
        return None
    call, addend = value.rhs, value.lhs
    if last != [call, value] or call.target is not spec or addend is call:
        return None
    if not (value.type is Ty.INT and addend.type is Ty.INT and call.type is Ty.INT):
        return None
    return call, addend


def _int_returns(fn: FuncIR, tail_blocks: list[BasicBlock]) -> bool:
    """Whether the function returns an int on every path (so an int accumulator adds to each)."""
    if fn.ret_type is not Ty.INT:
        return False
    returns = [b.terminator for b in fn.blocks if isinstance(b.terminator, Return) and b not in tail_blocks]
    return all(r.value is not None and r.value.type is Ty.INT for r in returns)  # type: ignore[attr-defined]


def _prologue_length(entry: BasicBlock) -> int:
    """How many of the entry's first ops read the parameters into their locals."""
    k = 0
    while k + 1 < len(entry.ops) and isinstance(entry.ops[k], Param) and isinstance(entry.ops[k + 1], StoreLocal):
        k += 2
    return k


def _jump(
    block: BasicBlock, tail: tuple[Call, Value | None], params: list[Local], start: BasicBlock, acc: Local | None
) -> None:
    """`return [x +] f(args)` -> `[acc = acc + x;] params = args; reenter; goto start`."""
    call, addend = tail
    cut = block.ops.index(call)
    ops = block.ops[:cut]
    if addend is not None and acc is not None:  # (an addend only where the function accumulates)
        total = _append(ops, Binary("add", _append(ops, LoadLocal(acc), Ty.INT), addend), Ty.INT)
        _append(ops, StoreLocal(acc, total), Ty.NONE)
    for local, arg in zip(params, call.args, strict=True):
        _append(ops, StoreLocal(local, arg), Ty.NONE)
    _append(ops, Reenter(), Ty.NONE)
    _append(ops, Goto(start), Ty.NONE)
    block.ops = ops


def _add_acc(block: BasicBlock, acc: Local) -> None:
    """`return v` -> `return acc + v`."""
    ret = block.ops.pop()
    total = _append(block.ops, Binary("add", _append(block.ops, LoadLocal(acc), Ty.INT), ret.value), Ty.INT)  # type: ignore[attr-defined]
    _append(block.ops, Return(total), Ty.NONE)


def _append(ops: list[Op], op: Op, ty: Ty) -> Op:
    op.type = ty
    ops.append(op)
    return op
