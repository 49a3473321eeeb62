"""Range-loop versioning: a copy of `for i in range(...)` without bounds checks, chosen by a guard.

An innermost `for i in range(start, stop, step)` (or `for x in a`) whose array accesses
index loop-invariant arrays with `i + c`, `c - i` or `c` (c a sum of loop-invariant
ints) gets a second, *versioned* copy. In the block before the loop, one LoopGuard
computes, for the whole range at once, whether every such index stays in [0, length)
(negative indices and int64 wrap included); if so the copy runs. If not, the guard
finds the range's *middle*, the values for which they all do, and the range is split:
the original, checked loop runs the values before the middle (`a[k - 1]` at k = 0 wraps
to the last element, as in CPython), the copy runs the middle, and the checked loop the
values after it (`a[k + 1]` at the last k: IndexError). A stencil over the whole range
with a boundary test (`if k == 0 or k == n - 1: ... else: a[k - 1] + a[k + 1]`) thus
runs its copy on all but two values (measured: stencil3d 1.02 -> 0.25 ms). In the copy:

- those accesses have no bounds check (Index/SetIndex.checked = False) and the index
  arithmetic no overflow check (Binary.no_overflow);
- stores that walk a C-contiguous axis with a unit step are logged one strip at a time
  (below), as one contiguous run per strip (LogStores), instead of one undo-log entry
  per store; a loop that leaves early has logged at most one strip in vain;
- the loop is strip-mined: it runs in strips of up to LOOP_CHUNK iterations (each as
  long as the loop has run so far), and the deferred overflow flag and the signal
  checkpoint are tested once per strip (LoopChunk) instead of at every back edge.
  Deferring the flag further is exact for the reason it is exact at all
  (backend/emit.py): a deopt re-runs the whole call, and nothing that depends on a
  wrapped value can be observed before the test. The guard makes the proven accesses
  safe whatever other variables hold, `i` itself cannot wrap, and a loop nested in the
  body tests the flag at its own back edges.

Int arithmetic in the copy avoids LLVM's overflow intrinsics, which stop its vectorizer
(`_bound_int_ops`): an accumulation `s += x` wraps, with |x| bounded at each step and
|s| at each strip's start (so no prefix sum of a strip can leave int64); other int
`+ - *` test signs (exactly) or bound their operands. A bound that fails is a deferred
check, like a NumPy float event below (measured: an int64 sum and sum of squares over
1M elements 1.0 -> 0.21 ms).

NumPy float arithmetic in the copy (Binary.defer_events) does not test each result for
what NumPy would warn about (an overflow to inf, an invalid nan, a division by zero: a
non-finite result from finite operands). It only notes, in one flag, that some result
was not finite: an OR that vectorizes, where the exact test of each operation did not
(measured: the Jacobi sweep 0.38 -> 0.12 ms). The flag is tested where the overflow flag
is; if set, the kernel returns RETRY and the entry point rolls the call back and runs it
again natively in *precise* mode, where no guard with deferred checks lets its copy run
and each operation is tested exactly (then a real warning deopts, as everywhere). A
non-finite value among the inputs costs a call at most one such second run.

So the copy is a plain counted loop LLVM can vectorize. Nothing changes for a loop
that does not match, and the guard leaves native code only where the original loop's
first test would (the overflow flag).

    before:                               after:
    b1: check_signals                     b0: ... goto b9
        %c = load cur; %s = load stop     b9: %g = loop_guard range(%c0, %s0, 1): a[i+1]
        branch (cmp lt %c, %s) b2 b3          store limit <- (guard_bound limit of %g)
    b2: store i <- %c; ...                    store mid <- (guard_bound end of %g)
        %x = index a[%i1]                     branch %g b10 b1
        goto b1                           b10: %e = loop_chunk ...(up to mid); log_stores range(%c, %e, 1): out[i]
                                               store chunk <- %e; goto b11
                                          b11: %c' = load cur; branch (cmp lt %c', chunk) b12 b13
                                          b13: branch (cmp lt %c', mid) b10 b14
                                          b12: store i <- %c'; ... index a[%i1] (in bounds); goto b11
                                          b1: the original header, up to `limit`: else b15
                                          b15: branch (cmp lt cur, mid) b10 b14     (the middle starts)
                                          b14: branch (cmp lt cur, stop) b16 b3     (values left after it?)
                                          b16: store limit <- stop; goto b1         (the checked suffix)
                                          b2: the original body, unchanged
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from fastimport.frontend.cfg import predecessors, reaches, reads_before_store
from fastimport.frontend.ir import (
    Access,
    ArrayAttr,
    AxisIndex,
    BasicBlock,
    Binary,
    Branch,
    Builtin,
    Call,
    CheckSignals,
    Compare,
    Const,
    FuncIR,
    Goto,
    GuardBound,
    Index,
    LoadGlobal,
    LoadLocal,
    Local,
    LogStores,
    LoopChunk,
    LoopGuard,
    NoteFinite,
    NumpyCall,
    Op,
    PyCall,
    RangeLoop,
    Return,
    SetIndex,
    StoreLocal,
    Term,
    Unary,
    Value,
)
from fastimport.frontend.types import Array, Tuple, Ty, Union

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fastimport.frontend.types import Type

# Iterations per strip, at most: as many as back edges between two signal checkpoints
# (backend/emit.py SIGNAL_INTERVAL); a strip's logged runs (128 KiB of float64) stay in
# the cache for its stores. At least LOOP_MIN_CHUNK: the strips' work stays negligible.
LOOP_CHUNK = 1 << 14
LOOP_MIN_CHUNK = 1 << 8
# Bounded accumulation (`_bound_int_ops`): |s| at a strip's start and |x| at each step, so
# that LOOP_CHUNK steps cannot carry s out of int64.
ACCUMULATOR_BOUND = 1 << 62
ADDEND_BOUND = ACCUMULATOR_BOUND // LOOP_CHUNK  # |x| < this


def version_range_loops(fn: FuncIR) -> None:
    """Give each innermost range loop with provable array accesses a guarded, unchecked copy."""
    _hoist_fixed_lengths(fn)
    preds = predecessors(fn)
    found = [m for m in (_match(fn, block, preds) for block in fn.blocks) if m is not None]
    # Innermost only: a loop holding another candidate is left alone (its inner loop is versioned).
    for loop in found:
        if not any(other is not loop and other.header in loop.blocks for other in found):
            _version(fn, loop, preds)


def _hoist_fixed_lengths(fn: FuncIR) -> None:
    """`for x in a`, `enumerate(a)`, `zip(a, b, range(n))`: the length, computed once before the loop.

    Lowering re-reads a sequence's length at every test (a loop may append to the list
    it walks: frontend/lower_statements.py `_sequence`), which makes the header

        check_signals; %c = load cur; <the length: loads, len, min>; cmp lt %c, %n; branch

    An array's or a tuple's length cannot change (nor can a range's, held in a temp), so
    when every sequence is one of those the length's ops move to the block that enters
    the loop, their result into a local stored there, and the header takes the shape
    `_match` knows.
    """
    for header in fn.blocks:
        ops = header.ops
        if len(ops) < 5 or not isinstance(ops[0], CheckSignals):  # noqa: PLR2004
            continue
        cur, length_ops, compare, branch = ops[1], ops[2:-2], ops[-2], ops[-1]
        if len(length_ops) == 1:
            continue  # `load stop` already: a range loop
        if not (
            isinstance(cur, LoadLocal)
            and isinstance(compare, Compare)
            and compare.kind == "lt"
            and compare.lhs is cur
            and compare.rhs is length_ops[-1]
            and isinstance(branch, Branch)
            and branch.cond is compare
        ):
            continue
        init = _fixed_length_init(fn, header, length_ops)
        if init is None:
            continue
        fixed = Local(f"$iter_fixed_len{len(fn.locals)}", Ty.INT)
        fn.locals[fixed.name] = fixed
        enter = init.ops.pop()  # the goto into the loop
        init.ops.extend(length_ops)
        _add(init, StoreLocal(fixed, length_ops[-1]), Ty.NONE)
        init.ops.append(enter)
        stop = _new_op(LoadLocal(fixed), Ty.INT)
        header.ops[2:-2] = [stop]
        compare.rhs = stop


def _fixed_length_init(fn: FuncIR, header: BasicBlock, length_ops: list[Op]) -> BasicBlock | None:
    """The block entering the loop, if `length_ops` compute a length that cannot change there.

    They must be loads of locals stored once, all in that block (an array or a tuple, or an
    int: a range's length), `len` of such an array or tuple, and `min` of those, each used
    only by the next ones and the test.
    """
    inside = set(map(id, length_ops))
    homes: set[BasicBlock] = set()
    if not all(_fixed_length_op(fn, op, inside, homes) for op in length_ops):
        return None
    if len(homes) != 1:
        return None
    (init,) = homes
    if not (isinstance(init.terminator, Goto) and init.terminator.target is header):
        return None  # (the temps are stored in the block that enters the loop)
    users = [src for block in fn.blocks for op in block.ops if id(op) not in inside for src in op.sources()]
    used_outside = [src for src in users if id(src) in inside]
    return init if used_outside == [length_ops[-1]] else None


def _fixed_length_op(fn: FuncIR, op: Op, inside: set[int], homes: set[BasicBlock]) -> bool:
    """One op of a fixed length (see `_fixed_length_init`); the blocks storing what it loads go to `homes`."""
    if isinstance(op, LoadLocal):
        stores = [block for block in fn.blocks for other in block.ops if _stores(other, op.local)]
        homes.update(stores)
        return len(stores) == 1 and (isinstance(op.local.type, (Array, Tuple)) or op.local.type is Ty.INT)
    if isinstance(op, ArrayAttr):
        return op.kind == "len" and id(op.base) in inside and isinstance(op.base.type, (Array, Tuple))
    if isinstance(op, Builtin):
        return op.name == "min" and all(id(arg) in inside for arg in op.args)
    return False


def _stores(op: Op, local: Local) -> bool:
    return isinstance(op, StoreLocal) and op.local is local


class _Loop:
    """A matched range loop: its blocks, its counter locals and its step."""

    def __init__(self, header: BasicBlock, test: BasicBlock, blocks: list[BasicBlock], step: int | Value) -> None:
        self.header = header
        # The block that compares `cur` with `stop`: the header, or for a run-time step the
        # header's ascending side (`_runtime_direction`), which with the other side the copy drops.
        self.test = test
        self.sides = [] if test is header else header.terminator.targets()  # type: ignore[union-attr]
        self.blocks = blocks
        self.cur: LoadLocal = header.ops[1]  # type: ignore[assignment]  # `load $range_cur`: `i` in this iteration
        self.stop: LoadLocal = header.ops[2]  # type: ignore[assignment]
        # A constant, or a run-time step (an invariant int local's load in the loop; the copy
        # takes only a positive one).
        self.step = step
        compare, branch = test.ops[-2], test.ops[-1]
        self.compare: Compare = compare  # type: ignore[assignment]
        self.body: BasicBlock = branch.true  # type: ignore[attr-defined]
        self.exit: BasicBlock = branch.false  # type: ignore[attr-defined]
        self.stored = {op.local for b in blocks for op in b.ops if isinstance(op, StoreLocal)}
        self.defined = {op for b in blocks for op in b.ops}
        self.mirrors = self._mirrors()

    def _mirrors(self) -> set[Local]:
        """Locals holding `i` wherever they are read in the loop: the loop variable (`store i <- %cur`)."""
        found: set[Local] = set()
        stores: dict[Local, list[StoreLocal]] = {}
        for block in self.blocks:
            for op in block.ops:
                if isinstance(op, StoreLocal):
                    stores.setdefault(op.local, []).append(op)
        for local, ops in stores.items():
            if len(ops) != 1 or ops[0].src is not self.cur or local.type is not Ty.INT:
                continue
            # Stored first thing in the body (which every iteration enters), read only after it.
            position = self.body.ops.index(ops[0]) if ops[0] in self.body.ops else -1
            early = [op for op in self.body.ops[:position] if isinstance(op, LoadLocal) and op.local is local]
            if position >= 0 and not early and not _loads(self.header.ops, local):
                found.add(local)
        return found

    def invariant_local(self, local: Local) -> bool:
        return local not in self.stored


def _loads(ops: Iterable[Op], local: Local) -> bool:
    return any(isinstance(op, LoadLocal) and op.local is local for op in ops)


def _match(fn: FuncIR, header: BasicBlock, preds: dict) -> _Loop | None:
    """A range loop's header as lowering builds it (lower_for), else None.

    header: check_signals; %c = load cur; %s = load stop; %t = cmp lt|gt %c, %s; branch %t body exit
    (in the loop, `cur` is stored only as `%c + step`, the step a constant); or with a
    run-time step, the header `_runtime_direction` describes.
    """
    found = _header_test(header)
    if found is None:
        return None
    test, runtime_step = found
    cur, stop = header.ops[1:3]
    compare, branch = test.ops[-2:]
    # Back edges come from blocks the header dominates: unreachable from the entry without it.
    around = _reachable(fn.blocks[0], avoiding=header)
    back = [p for p in preds[header] if p not in around]
    blocks = _natural_loop(header, back, preds)
    if branch.true not in blocks or branch.false in blocks:  # type: ignore[attr-defined]
        return None
    step = _step(fn, blocks, cur, compare.kind, runtime_step)  # type: ignore[attr-defined]
    if step is None or stop.local in {op.local for b in blocks for op in b.ops if isinstance(op, StoreLocal)}:
        return None
    loop = _Loop(header, test, blocks, step)
    # Every value made in the loop is used in it (the copy has its own).
    if any(src in loop.defined for b in fn.blocks if b not in blocks for op in b.ops for src in op.sources()):
        return None
    return loop if _accesses(loop) else None


def _header_test(header: BasicBlock) -> tuple[BasicBlock, Local | None] | None:
    """The block testing `cur` against `stop` (lt or gt) and a run-time step's local, for a range loop's header."""
    ops = header.ops
    if len(ops) < 5 or not isinstance(ops[0], CheckSignals):  # noqa: PLR2004
        return None
    cur, stop = ops[1:3]
    if not (isinstance(cur, LoadLocal) and isinstance(stop, LoadLocal) and cur.type is stop.type is Ty.INT):
        return None
    found = (header, None) if len(ops) == 5 else _runtime_direction(header)  # noqa: PLR2004
    if found is None:
        return None
    compare, branch = found[0].ops[-2:]
    return found if _compares(compare, branch, cur, stop) and compare.kind in ("lt", "gt") else None  # type: ignore[attr-defined]


def _compares(compare: Op, branch: Op, cur: Value, stop: Value) -> bool:
    """Whether `compare; branch` is `branch (cmp <kind> cur, stop)`."""
    return (
        isinstance(compare, Compare)
        and compare.lhs is cur
        and compare.rhs is stop
        and isinstance(branch, Branch)
        and branch.cond is compare
    )


def _runtime_direction(header: BasicBlock) -> tuple[BasicBlock, Local] | None:
    """A header whose range's direction is known only at run time (`range(a, b, k)`, lower_for).

    header: check_signals; %c = load cur; %s = load stop; %k = load step; %z = 0;
            %p = cmp gt %k, %z; branch %p up down
    up:     branch (cmp lt %c, %s) body exit          down: branch (cmp gt %c, %s) body exit

    Returns `up` (the copy runs only an ascending range: the guard requires the step > 0)
    and the step's local.
    """
    ops = header.ops
    if len(ops) != 7:  # noqa: PLR2004
        return None
    cur, stop, step, zero, positive, branch = ops[1:]
    if not (
        isinstance(step, LoadLocal)
        and step.type is Ty.INT
        and isinstance(zero, Const)
        and zero.value == 0
        and isinstance(positive, Compare)
        and positive.kind == "gt"
        and positive.lhs is step
        and positive.rhs is zero
        and isinstance(branch, Branch)
        and branch.cond is positive
    ):
        return None
    up, down = branch.true, branch.false
    if not (len(up.ops) == len(down.ops) == 2 and _compares(*down.ops, cur, stop)):  # noqa: PLR2004
        return None
    up_compare, up_branch = up.ops
    down_compare, down_branch = down.ops
    same_targets = (down_branch.true, down_branch.false) == tuple(up_branch.targets())  # type: ignore[attr-defined]
    if not (up_compare.kind == "lt" and down_compare.kind == "gt" and same_targets):  # type: ignore[attr-defined]
        return None  # (the copy is ascending: its header compares `lt`)
    return up, step.local


def _step(
    fn: FuncIR, blocks: list[BasicBlock], cur: LoadLocal, kind: str, runtime: Local | None = None
) -> int | Value | None:
    """The step if `cur` is stored in the loop only as `%c + step` (its sign agreeing with `kind`).

    A constant; or with `runtime` (the step's local, `_runtime_direction`), its load there
    if the local is not stored in the loop.
    """
    stores = [op for b in blocks for op in b.ops if isinstance(op, StoreLocal) and op.local is cur.local]
    if len(stores) != 1:
        return None
    add = stores[0].src
    if not (isinstance(add, Binary) and add.kind == "add" and add.lhs is cur):
        return None
    if runtime is not None:
        rhs = add.rhs
        stored = any(isinstance(op, StoreLocal) and op.local is runtime for b in blocks for op in b.ops)
        return rhs if isinstance(rhs, LoadLocal) and rhs.local is runtime and not stored else None
    step = _constant(fn, add.rhs)
    if step is None or step == 0 or (step > 0) != (kind == "lt"):
        return None
    return step


def _constant(fn: FuncIR, v: Value) -> int | None:
    """The int `v` always is: a literal (`2`, `-1`, through `$range_arg`), or a local stored once from one."""
    if isinstance(v, Const):
        return v.value if type(v.value) is int else None
    if isinstance(v, Unary) and v.kind == "neg":
        inner = _constant(fn, v.src)
        return None if inner is None else -inner
    if isinstance(v, Builtin) and v.name == "$range_arg":
        return _constant(fn, v.args[0])
    if isinstance(v, LoadLocal):
        stores = [op for op in fn.all_ops() if isinstance(op, StoreLocal) and op.local is v.local]
        return _constant(fn, stores[0].src) if len(stores) == 1 else None
    return None


# Accesses.


def _accesses(loop: _Loop) -> list[tuple[Op, Access]]:
    """The Index/SetIndex ops of the loop whose indices are provable, each with its Access."""
    found = []
    for block in loop.blocks:
        for op in block.ops:
            if isinstance(op, (Index, SetIndex)):
                access = _access(loop, op)
                if access is not None:
                    found.append((op, access))
    return found


def _access(loop: _Loop, op: Index | SetIndex) -> Access | None:
    """`root[axes...]` for an access through invariant arrays and linear indices (a chain `a[i][j]` is flattened)."""
    axes: list[AxisIndex] = []
    base: Value = op
    while isinstance(base, (Index, SetIndex)):
        parts = [_linear(loop, index) for index in base.indices]
        if any(p is None for p in parts):
            return None
        axes[:0] = parts  # type: ignore[arg-type]
        base = base.base
        if isinstance(base, Index) and base not in loop.defined:
            return None
    if not (isinstance(base, LoadLocal) and isinstance(base.type, Array) and loop.invariant_local(base.local)):
        return None
    return Access(base, axes)


def _linear(loop: _Loop, v: Value) -> AxisIndex | None:
    """`v` as `coef * i + terms` (coef -1, 0 or 1; terms loop-invariant ints), or None."""
    if v.type is not Ty.INT:
        return None
    if v is loop.cur or (isinstance(v, LoadLocal) and v.local in loop.mirrors):
        return AxisIndex(1, [])
    if _invariant(loop, v):
        return AxisIndex(0, [Term(1, v)])
    if not (isinstance(v, Binary) and v.kind in ("add", "sub")):
        return None
    left, right = _linear(loop, v.lhs), _linear(loop, v.rhs)
    if left is None or right is None:
        return None
    sign = 1 if v.kind == "add" else -1
    coef = left.coef + sign * right.coef
    terms = [*left.terms, *(Term(sign * t.sign, t.value) for t in right.terms)]
    return AxisIndex(coef, terms) if coef in (-1, 0, 1) else None


def _invariant(loop: _Loop, v: Value) -> bool:
    """A leaf the guard can read before the loop: a constant, an invariant local or global, a length."""
    if isinstance(v, Const):
        return type(v.value) is int
    if isinstance(v, LoadGlobal):
        return v.type is Ty.INT
    if isinstance(v, LoadLocal):
        return v.type is Ty.INT and loop.invariant_local(v.local) and v.local not in loop.mirrors
    if isinstance(v, ArrayAttr):
        base = v.base
        return isinstance(base, LoadLocal) and isinstance(base.type, Array) and loop.invariant_local(base.local)
    return False


# The transformation.


def _version(fn: FuncIR, loop: _Loop, preds: dict) -> None:
    accesses = _accesses(loop)
    blocks, values = _clone_blocks(fn, loop)
    # The guard's block, on every edge that enters the loop from outside.
    pre, chunk, fast_exit = (_new_block(fn) for _ in range(3))
    for pred in preds[loop.header]:
        if pred not in loop.blocks:
            _retarget(pred, loop.header, pre)
    leaves: dict[object, Value] = {}
    start = _add(pre, LoadLocal(loop.cur.local, check_bound=False), Ty.INT)
    stop = _add(pre, LoadLocal(loop.stop.local, check_bound=False), Ty.INT)
    range_loop = RangeLoop(start, stop, _read_step(pre, loop.step))
    hoisted = [_hoist(pre, access, leaves) for _op, access in accesses]
    _hoist_invariant_ints(fn, loop, list(blocks.values()), pre, leaves)
    distinct = {_key(access): access for access in hoisted}  # `a[i]` read and stored is one check
    guard = _add(pre, LoopGuard(range_loop, list(distinct.values())), Ty.BOOL)
    # If the whole range is safe the copy runs it all (up to `mid`, then `stop`). Else the
    # checked loop runs first, up to `limit` (the first value of the middle, which the copy
    # runs, up to `mid`), then, if values are left, again from there to `stop`.
    limit_local, mid_local = (_new_local(fn, name) for name in ("$range_limit", "$range_mid"))
    pre.ops.append(StoreLocal(limit_local, _add(pre, GuardBound(guard, "limit"), Ty.INT)))
    pre.ops.append(StoreLocal(mid_local, _add(pre, GuardBound(guard, "end"), Ty.INT)))
    pre.ops.append(Branch(guard, chunk, loop.header))

    # Unchecked accesses (and their index arithmetic) in the copy; stores logged by the strip.
    logged_by_strip: dict[tuple, Access] = {}
    copies = set(values.values())
    for (op, access), access_before in zip(accesses, hoisted, strict=True):
        clone = values[op]
        clone.checked = False  # type: ignore[attr-defined]
        for index in clone.indices:  # type: ignore[attr-defined]
            if isinstance(index, Binary) and index.kind in ("add", "sub") and index in copies:
                index.no_overflow = True
        if isinstance(clone, SetIndex) and clone.logged and _contiguous_run(access, loop.step):
            clone.logged = False
            logged_by_strip.setdefault(_key(access_before), access_before)

    # `i + step` cannot wrap in the copy (the guard checked the last value).
    copy_blocks = list(blocks.values())
    for op in (o for b in copy_blocks for o in b.ops):
        if isinstance(op, StoreLocal) and op.local is loop.cur.local:
            op.src.no_overflow = True  # type: ignore[attr-defined]
    header = blocks[loop.header]
    accumulators = _checks_in_copy(copy_blocks, header, guard, reassociate=fn.reassociate)  # type: ignore[arg-type]
    sums = _float_accumulators(copy_blocks, header) + _element_accumulator(fn, copy_blocks, header)  # type: ignore[arg-type]

    # Strips: the copy's header compares with the strip's end; at a strip's end, the next
    # strip, whose elements the stores can overwrite are logged first, as one run each.
    chunk_local = _new_local(fn, "$range_chunk")
    cur = _add(chunk, LoadLocal(loop.cur.local), Ty.INT)
    end = _add(chunk, LoadLocal(mid_local), Ty.INT)
    # Read without a bound check: a local unbound here makes the copy's first read deopt.
    bounded = [_add(chunk, LoadLocal(local, check_bound=False), local.type) for local in accumulators]  # type: ignore[arg-type]
    strip_end = _add(chunk, LoopChunk(start, cur, end, _read_step(chunk, loop.step), bounded), Ty.INT)
    if logged_by_strip:
        _add(chunk, LogStores(RangeLoop(cur, strip_end, loop.step), list(logged_by_strip.values())), Ty.NONE)
    chunk.ops.append(StoreLocal(chunk_local, strip_end))
    chunk.ops.append(Goto(header))
    fast_cur, fast_stop = values[loop.cur], values[loop.stop]
    strip = _new_op(LoadLocal(chunk_local), Ty.INT)
    in_strip = _new_op(Compare(loop.compare.kind, fast_cur, strip), Ty.BOOL)
    header.ops = [fast_cur, fast_stop, strip, in_strip, Branch(in_strip, blocks[loop.body], fast_exit)]
    rest = _new_block(fn)
    _note_finite(fast_exit, sums)  # where each strip ends (the next strip's LoopChunk tests the flag)
    more = _add(fast_exit, Compare(loop.compare.kind, fast_cur, _add(fast_exit, LoadLocal(mid_local), Ty.INT)), Ty.BOOL)
    fast_exit.ops.append(Branch(more, chunk, rest))
    _split_checked_loop(fn, loop, (limit_local, mid_local), chunk, rest)


def _read_step(block: BasicBlock, step: int | Value) -> int | Value:
    """The loop's step for an op of `block`: a constant, or the run-time step's local read there."""
    if isinstance(step, int):
        return step
    return _add(block, LoadLocal(step.local, check_bound=False), Ty.INT)  # type: ignore[attr-defined]


def _split_checked_loop(
    fn: FuncIR, loop: _Loop, bounds: tuple[Local, Local], chunk: BasicBlock, rest: BasicBlock
) -> None:
    """The checked loop stops at `limit`; there the copy takes the middle; `rest` runs what is left.

    header: ... branch (cmp cur, limit) body dispatch
    dispatch: branch (cmp cur, mid) chunk rest          at the middle's first value: the copy
    rest: branch (cmp cur, stop) suffix exit           after the middle (or no middle)
    suffix: store limit <- stop; goto header           the checked loop to the end
    """
    limit_local, mid_local = bounds
    header = loop.header
    limit = _new_op(LoadLocal(limit_local), Ty.INT)
    loop.test.ops.insert(loop.test.ops.index(loop.compare), limit)
    loop.compare.rhs = limit
    dispatch, suffix = _new_block(fn), _new_block(fn)
    loop.test.ops[-1].false = dispatch  # type: ignore[attr-defined]
    cur = _add(dispatch, LoadLocal(loop.cur.local), Ty.INT)
    at_mid = _add(dispatch, Compare(loop.compare.kind, cur, _add(dispatch, LoadLocal(mid_local), Ty.INT)), Ty.BOOL)
    dispatch.ops.append(Branch(at_mid, chunk, rest))
    cur = _add(rest, LoadLocal(loop.cur.local), Ty.INT)
    stop = _add(rest, LoadLocal(loop.stop.local), Ty.INT)
    rest.ops.append(Branch(_add(rest, Compare(loop.compare.kind, cur, stop), Ty.BOOL), suffix, loop.exit))
    suffix.ops.extend([StoreLocal(limit_local, stop), Goto(header)])


def _new_local(fn: FuncIR, name: str) -> Local:
    local = Local(f"{name}{len(fn.locals)}", Ty.INT)
    fn.locals[local.name] = local
    return local


def _hoist_invariant_ints(
    fn: FuncIR, loop: _Loop, copy_blocks: list[BasicBlock], pre: BasicBlock, leaves: dict
) -> None:
    """Int `+ - *` of loop-invariant values (`nx - 1`), computed once in the guard's block for the copy.

    Each result goes into a new local there, which the copy reads (blocks are emitted in
    list order, and the guard's block comes after the copy's).

    Without their overflow tests in the body, a test like `i == 0 or k == nz - 1` is a
    few compares LLVM can merge into one branch, or a select the vectorizer takes. The
    hoisted op runs even where the loop would not have reached it: if it overflows, the
    call deopts where CPython might not have overflowed, which only costs time (the
    bytecode re-run is exact); with a shape or length as operand it cannot overflow.
    """
    computed: dict[Value, Value] = {}  # a hoisted op in the copy -> its value in `pre`
    replaced: dict[Value, Value] = {}  # ... -> the load of its local in the copy

    def invariant(v: Value) -> bool:
        return v in computed or _invariant(loop, v)

    def operand(v: Value) -> Value:
        return computed[v] if v in computed else _leaf(pre, v, leaves)

    for block in copy_blocks:
        kept: list[Op] = []
        for op in block.ops:
            if (
                isinstance(op, Binary)
                and op.kind in ("add", "sub", "mul")
                and op.type is Ty.INT
                and invariant(op.lhs)
                and invariant(op.rhs)
            ):
                computed[op] = value = _add(pre, Binary(op.kind, operand(op.lhs), operand(op.rhs)), Ty.INT)
                local = Local(f"$invariant{len(fn.locals)}", Ty.INT)
                fn.locals[local.name] = local
                pre.ops.append(StoreLocal(local, value))
                replaced[op] = _new_op(LoadLocal(local, check_bound=False), Ty.INT)
                kept.append(replaced[op])
                continue
            for name, field in list(vars(op).items()):
                setattr(op, name, _remap(field, replaced, {}))
            kept.append(op)
        block.ops = kept


def _defer_events(blocks: list[BasicBlock], guard: LoopGuard) -> None:
    """NumPy float arithmetic in the copy notes its warnings once per strip (see the module docstring)."""
    for op in (o for b in blocks for o in b.ops):
        if isinstance(op, Binary) and op.type in (Ty.F64, Ty.F32):
            op.defer_events = guard.defers_checks = True
    _absorb_events(blocks)


def _is_int(v: Value) -> bool:
    """An int64-held integer: Python int, np.int64, or a Union of the two."""
    ty = v.type
    return ty in (Ty.INT, Ty.I64) or (isinstance(ty, Union) and set(ty.members) <= {Ty.INT, Ty.I64})


def _checks_in_copy(
    blocks: list[BasicBlock], header: BasicBlock, guard: LoopGuard, *, reassociate: bool = False
) -> list[Local]:
    """Make the copy's checks ones the vectorizer takes; returns the bounded accumulators (`_bound_int_ops`).

    A loop that carries a float is never vectorized without reassociation: there checks
    keep branching at once, which costs less than noting a flag (backend/emit.py). Where
    the user allows reassociation (FuncIR.reassociate) a float sum vectorizes like an int one.
    """
    _defer_events(blocks, guard)
    carries_float = _float_recurrence(blocks, header) and not reassociate
    accumulators = _bound_int_ops(blocks, header, guard, carries_float=carries_float)
    if not carries_float:
        for block in blocks:
            block.vector_body = True
        # A reduction's vector sums chain through one register: two in flight hide the latency
        # (int_sum 0.141 -> 0.124 ms). Other copies gain little and compile longer (stencil3d +5%).
        # (A float sum the user lets us reassociate likewise: 10.7 -> 8.6 us over 100k float64s.)
        header.copy_header = bool(accumulators) or (reassociate and _float_recurrence(blocks, header))
    return accumulators


def _bound_int_ops(
    blocks: list[BasicBlock], header: BasicBlock, guard: LoopGuard, *, carries_float: bool
) -> list[Local]:
    """Int arithmetic in the copy, checked in ways the vectorizer can take; returns the accumulators.

    `sadd.with.overflow` and its kin stop LLVM's loop vectorizer, and a running sum's
    overflow test needs every prefix sum in order. So in the copy:

    - `s = s + x` (or `- x`), where `s` is read only there: `bounded`, a wrapping add.
      |x| < ADDEND_BOUND at each step and |s| <= ACCUMULATOR_BOUND at each strip's start
      (LoopChunk) mean no prefix sum of a strip (at most LOOP_CHUNK steps) can leave
      int64, so the wrapping sum is the exact one. A bound that does not hold is a
      deferred check (RETRY: the precise re-run decides exactly). Only where it runs at
      most once per iteration: not in a loop inside the body (a `while` there could add
      any number of times per strip).
    - any other int `+ - *`: `strip_checked`: add and sub test the signs (exact, into
      the overflow flag); mul holds if both operands are below 2**31 in magnitude, a
      deferred check otherwise.

    Neither in a loop that carries a float from one iteration to the next (`s += w * v[j]`):
    without reassociation LLVM never vectorizes it, and there the sign tests cost more than
    the overflow branches they replace (measured on spectral_norm's inner loop, ~15
    instructions per iteration).
    """
    if carries_float:
        return []
    ops = [op for block in blocks for op in block.ops]
    users: dict[Value, list[Op]] = {}
    for op in ops:
        for src in op.sources():
            users.setdefault(src, []).append(op)
    once = [op for block in blocks if not _in_inner_cycle(block, header, blocks) for op in block.ops]
    accumulators = []
    for op in once:
        r = op.src if isinstance(op, StoreLocal) else None  # type: ignore[attr-defined]
        if not (isinstance(r, Binary) and r.kind in ("add", "sub") and not r.no_overflow and _is_int(r)):
            continue
        local = op.local  # type: ignore[attr-defined]
        loads = [o for o in ops if isinstance(o, LoadLocal) and o.local is local]
        stores = [o for o in ops if isinstance(o, StoreLocal) and o.local is local]
        if (
            len(loads) == len(stores) == 1
            and r.lhs is loads[0]
            and r.rhs is not loads[0]
            and users.get(loads[0]) == [r]
            and users.get(r) == [op]
            and _is_int(r.rhs)
        ):
            r.bounded = True
            accumulators.append(local)
    for op in ops:
        if (
            isinstance(op, Binary)
            and op.kind in ("add", "sub", "mul")
            and not (op.no_overflow or op.bounded)
            and all(_is_int(v) for v in (op.lhs, op.rhs, op))
        ):
            op.strip_checked = True
            guard.defers_checks |= op.kind == "mul"
    guard.defers_checks |= bool(accumulators)
    return accumulators


def _float_recurrence(blocks: list[BasicBlock], header: BasicBlock) -> bool:
    """Whether a float local stored in the loop is read before it is stored in an iteration."""
    floats = {Ty.FLOAT, Ty.F64, Ty.F32}
    carried = {
        op.local.name
        for block in blocks
        for op in block.ops
        if isinstance(op, StoreLocal)
        and (op.local.type in floats or (isinstance(op.local.type, Union) and set(op.local.type.members) & floats))
    }
    return reads_before_store(blocks, header, carried)


def _float_accumulators(blocks: list[BasicBlock], header: BasicBlock) -> list[Local]:
    """NumPy float locals the copy accumulates into (`s += x`, `s = s - x`), their steps' events absorbed.

    A non-finite sum stays non-finite through `+` and `-` (NoteFinite), so instead of
    noting every step's result, the sum is noted where each strip ends (the value it
    entered the copy with is in the last note too): per iteration the OR of its bits
    leaves the loop. As for `_bound_int_ops`, the
    local is read once and stored once per iteration, in a block that runs once; and the
    copy has no other way out than its header's (no break, no return).
    """
    if not _ends_through_header(blocks, header):
        return []
    ops = [op for block in blocks for op in block.ops]
    users = _users(ops)
    sums = []
    for block in blocks:
        if _in_inner_cycle(block, header, blocks):
            continue
        for op in block.ops:
            r = op.src if isinstance(op, StoreLocal) else None
            if not (isinstance(r, Binary) and r.kind in ("add", "sub") and r.defer_events):
                continue
            local = op.local  # type: ignore[attr-defined]
            loads = [o for o in ops if isinstance(o, LoadLocal) and o.local is local]
            stores = [o for o in ops if isinstance(o, StoreLocal) and o.local is local]
            if (
                r.type in (Ty.F64, Ty.F32)
                and _same_float(local.type, r.type)
                and len(loads) == len(stores) == 1
                and r.lhs is loads[0]
                and r.rhs is not loads[0]
                and users.get(loads[0]) == [r]
                and users.get(r) == [op]
            ):
                r.events_absorbed = True
                sums.append(local)
    return sums


def _element_accumulator(fn: FuncIR, blocks: list[BasicBlock], header: BasicBlock) -> list[Local]:
    """An array element the copy accumulates into (`c[i, j] += x`, i and j invariant), its steps' events absorbed.

    The same reasoning as `_float_accumulators`, through memory: the element's sum stays
    non-finite once it is, so the value stored last in each strip is noted where the strip
    ends, kept in a new local (a register). It must be the copy's only store into any
    array, and the copy must make no call (either could write the element, or an alias
    of it), at indices the copy
    never changes; the copy ends through its header. (A strip that stores nothing notes
    the local's previous value, noted already, or zero.)
    """
    if not _ends_through_header(blocks, header):
        return []
    ops = [op for block in blocks for op in block.ops]
    stores = [op for op in ops if isinstance(op, SetIndex)]
    # (A call could store into the array too: a compiled function, NumPy's `out=`, Python code.)
    if len(stores) != 1 or any(isinstance(op, (Call, PyCall, NumpyCall)) for op in ops):
        return []
    store = stores[0]
    block = next(b for b in blocks if store in b.ops)
    step, users = store.value, _users(ops)
    if _in_inner_cycle(block, header, blocks) or not (
        isinstance(step, Binary) and step.kind in ("add", "sub") and step.defer_events and step.type in (Ty.F64, Ty.F32)
    ):
        return []
    read = step.lhs
    changed = {op.local for op in ops if isinstance(op, StoreLocal)}

    def invariant(v: Value) -> bool:
        return isinstance(v, Const) or (isinstance(v, LoadLocal) and v.local not in changed)

    if not (
        isinstance(read, Index)
        and read.base is store.base
        and len(read.indices) == len(store.indices)
        and all(a is b for a, b in zip(read.indices, store.indices, strict=True))
        and all(invariant(v) for v in [store.base, *store.indices])
        and step.rhs is not read
        and users.get(read) == [step]
        and users.get(step) == [store]
    ):
        return []
    step.events_absorbed = True
    last = _new_local(fn, "$element_sum")
    last.type = step.type
    block.ops.insert(block.ops.index(store) + 1, _new_op(StoreLocal(last, step), Ty.NONE))
    return [last]


def _ends_through_header(blocks: list[BasicBlock], header: BasicBlock) -> bool:
    """Whether the copy has no other way out than its header's (no break, no return)."""
    inside = set(blocks)
    for block in blocks:
        term = block.terminator
        if block is not header and (isinstance(term, Return) or any(t not in inside for t in term.targets())):
            return False
    return True


def _users(ops: list[Op]) -> dict[Value, list[Op]]:
    users: dict[Value, list[Op]] = {}
    for op in ops:
        for src in op.sources():
            users.setdefault(src, []).append(op)
    return users


def _same_float(held: Type | None, result: Ty) -> bool:
    """Whether a local of type `held` holds `result`'s kind of float (a double may start as a Python float)."""
    if isinstance(held, Union) and result is Ty.F64:
        return set(held.members) <= {Ty.FLOAT, Ty.F64}
    return held is result


def _note_finite(block: BasicBlock, sums: list[Local]) -> None:
    """Note the sums' values in `block` (read without a bound check: an unbound one reads as 0.0)."""
    if sums:
        values = [_add(block, LoadLocal(local, check_bound=False), local.type) for local in sums]
        _add(block, NoteFinite(values), Ty.NONE)  # type: ignore[arg-type]


def _in_inner_cycle(block: BasicBlock, header: BasicBlock, blocks: list[BasicBlock]) -> bool:
    """Whether `block` can run again without the loop's header running in between."""
    inside = set(blocks)

    def successors(b: BasicBlock) -> list[BasicBlock]:
        term = b.terminator
        return [t for t in (term.targets() if term is not None else []) if t in inside and t is not header]

    return reaches(successors(block), block, successors)


def _absorb_events(blocks: Iterable[BasicBlock]) -> None:
    """Deferred float ops whose every use is a deferred `+ - *` need not note their own result.

    A non-finite operand of `+`, `-` or `*` always makes a non-finite result (inf + 1,
    inf - inf, inf * 0, nan * 1...), so such a result reaches a noted one: in
    `0.25 * (a + b + c + d)` only the product is tested. (`/` is no such user: 1 / inf is 0.)
    The users must be in the op's own block, which runs them whenever it runs the op. A
    result stored into a local (`t = a - b; s += t * t`) counts as used by a load of that
    local later in the block, before any other store to it, all of whose users are such.
    """
    users: dict[Value, list[Op]] = {}
    block_of: dict[Op, BasicBlock] = {}
    for block in blocks:
        for op in block.ops:
            block_of[op] = block
            for src in op.sources():
                users.setdefault(src, []).append(op)

    def propagated(v: Value, block: BasicBlock) -> bool:
        uses = users.get(v, [])
        return bool(uses) and all(
            isinstance(u, Binary) and u.defer_events and u.kind in ("add", "sub", "mul") and block_of[u] is block
            for u in uses
        )

    for op, block in block_of.items():
        if isinstance(op, Binary) and op.defer_events:
            uses = users.get(op, [])
            if len(uses) == 1 and isinstance(uses[0], StoreLocal) and block_of[uses[0]] is block:
                op.events_absorbed = any(propagated(load, block) for load in _reloads(block, uses[0]))
            else:
                op.events_absorbed = propagated(op, block)


def _reloads(block: BasicBlock, store: StoreLocal) -> list[LoadLocal]:
    """The loads of `store`'s local that follow it in `block`, up to the next store to the local."""
    found = []
    for op in block.ops[block.ops.index(store) + 1 :]:
        if _stores(op, store.local):
            break
        if isinstance(op, LoadLocal) and op.local is store.local:
            found.append(op)
    return found


def _clone_blocks(fn: FuncIR, loop: _Loop) -> tuple[dict[BasicBlock, BasicBlock], dict]:
    """A copy of the loop's blocks; edges inside the loop point into the copy, edges out are kept."""
    # Not the sides of a run-time direction's test (`_runtime_direction`): the copy's header
    # compares with its strip's end itself.
    cloned = [block for block in loop.blocks if block not in loop.sides]
    blocks = {block: _new_block(fn) for block in cloned}
    values: dict = {}
    for block in cloned:
        for op in block.ops:
            values[op] = copy.copy(op)
    for block in cloned:
        clones = []
        for op in block.ops:
            clone = values[op]
            for name, field in list(vars(clone).items()):
                setattr(clone, name, _remap(field, values, blocks))
            clones.append(clone)
        blocks[block].ops = clones
    return blocks, values


def _remap(field: object, values: dict, blocks: dict) -> object:
    """An operand, block or list of them, pointed into the copy (anything else is shared)."""
    if isinstance(field, list):
        return [_remap(item, values, blocks) for item in field]
    if isinstance(field, BasicBlock):
        return blocks.get(field, field)
    if isinstance(field, Value):
        return values.get(field, field)
    return field


def _hoist(pre: BasicBlock, access: Access, leaves: dict[object, Value]) -> Access:
    """The access with its array and terms read again in the guard's block (reads that cannot deopt)."""
    axes = [AxisIndex(a.coef, [Term(t.sign, _leaf(pre, t.value, leaves)) for t in a.terms]) for a in access.axes]
    return Access(_leaf(pre, access.array, leaves), axes)


def _leaf(pre: BasicBlock, v: Value, leaves: dict[object, Value]) -> Value:
    """`v` read again in the guard's block, once per distinct leaf (a local, a global, a constant...)."""
    key = _leaf_key(v)
    if key not in leaves:
        if isinstance(v, LoadLocal):
            copy_: Op = LoadLocal(v.local, check_bound=False)
        elif isinstance(v, ArrayAttr):
            copy_ = ArrayAttr(v.kind, _leaf(pre, v.base, leaves), v.axis)
        elif isinstance(v, Const):
            copy_ = Const(v.value)
        else:
            copy_ = LoadGlobal(v.ref)  # type: ignore[attr-defined]
        leaves[key] = _add(pre, copy_, v.type)  # type: ignore[arg-type]
    return leaves[key]


def _leaf_key(v: Value) -> object:
    if isinstance(v, LoadLocal):
        return ("local", v.local)
    if isinstance(v, ArrayAttr):
        return ("attr", v.kind, v.axis, _leaf_key(v.base))
    if isinstance(v, Const):
        return ("const", v.value)
    return ("global", v.ref)  # type: ignore[attr-defined]


def _key(access: Access) -> tuple:
    """What makes two hoisted accesses the same check (their leaves are shared, so by identity)."""
    axes = tuple((a.coef, tuple((t.sign, id(t.value)) for t in a.terms)) for a in access.axes)
    return (id(access.array), axes)


def _contiguous_run(access: Access, step: int | Value) -> bool:
    """Whether the elements a store writes over the whole loop are one contiguous run of memory."""
    arr: Array = access.array.type  # type: ignore[assignment]
    varying = [k for k, axis in enumerate(access.axes) if axis.coef != 0]
    return (
        arr.layout == "C"
        and isinstance(step, int)
        and abs(step) == 1
        and len(access.axes) == arr.ndim
        and varying == [arr.ndim - 1]
    )


# CFG helpers.


def _new_block(fn: FuncIR) -> BasicBlock:
    block = BasicBlock(label=len(fn.blocks))
    fn.blocks.append(block)
    return block


def _new_op(op: Op, ty: Ty) -> Op:
    op.type = ty
    return op


def _add(block: BasicBlock, op: Op, ty: Ty) -> Op:
    block.ops.append(_new_op(op, ty))
    return op


def _retarget(block: BasicBlock, old: BasicBlock, new: BasicBlock) -> None:
    term = block.terminator
    if isinstance(term, Goto) and term.target is old:
        term.target = new
    elif isinstance(term, Branch):
        if term.true is old:
            term.true = new
        if term.false is old:
            term.false = new


def _reachable(entry: BasicBlock, avoiding: BasicBlock) -> set[BasicBlock]:
    """The blocks reachable from `entry` by paths that do not pass through `avoiding`."""
    seen = {entry}
    work = [entry]
    while work:
        term = work.pop().terminator
        for target in term.targets() if term is not None else []:
            if target is not avoiding and target not in seen:
                seen.add(target)
                work.append(target)
    return seen


def _natural_loop(
    header: BasicBlock, back: list[BasicBlock], preds: dict[BasicBlock, list[BasicBlock]]
) -> list[BasicBlock]:
    """The header and every block that reaches a back edge without passing the header, in block order."""
    seen = {header}
    work = [b for b in back if b is not header]
    seen.update(work)
    while work:
        block = work.pop()
        for pred in preds[block]:
            if pred not in seen:
                seen.add(pred)
                work.append(pred)
    # The header first, then in block order (a stable order for the copy's labels).
    return [header, *sorted((b for b in seen if b is not header), key=lambda b: b.label)]
