"""The typed IR: basic blocks of small ops over unboxed values.

One IR function is built per specialization (argument types known), so every
value gets one concrete type from `infer_types`. Locals live in `Local`
slots (the backend turns them into allocas that LLVM promotes to registers);
temporaries are the ops themselves.

Every op that can fail at run time (overflow, zero division, domain error,
an unbound local, a guard on a global) leaves the native path: the whole
call is re-run as bytecode. That is exact because the only effect native code
has, a store into an array the caller passed (`SetIndex`), is undone first
(see docs/semantics.md).

    def f(n):            block0: store n <- param0
        s = 0                    store s <- const 0
        while n > 0:     block1: branch (cmp gt (load n) (const 0)) block2 block3
            s += n       block2: store s <- binary add (load s) (load n)
            n -= 1               ...  goto block1
        return s         block3: return (load s)
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Generic, TypeVar, final

if TYPE_CHECKING:
    from fastimport.frontend.types import Type as Ty

T = TypeVar("T")


class Value:
    """Something with a type: an op's result or a constant."""

    type: Ty | None = None
    line: int = 0
    col: int = 0

    def sources(self) -> list[Value]:
        return []


class Op(Value):
    """An instruction inside a basic block."""

    @abstractmethod
    def accept(self, visitor: OpVisitor[T]) -> T: ...


@dataclass(eq=False)
class Local:
    """A Python local variable; `type` is filled in by inference."""

    name: str
    type: Ty | None = None
    is_param: bool = False


@dataclass(eq=False)
class GlobalRef:
    """A name the function reads from a namespace at call time.

    kind "value": an int/float/bool read and unboxed at each entry;
    kind "callable"/"module": must still be the object seen at compile time (a guard).
    """

    # "globals", "builtins", "module:<name>" (a module's attribute, or the globals of a callee's
    # module), "builtins@module:<name>" (the builtins such a callee reads), "defaults"
    namespace: str
    name: str
    kind: str
    expected: object = None
    type: Ty | None = None


@final
class Const(Op):
    """A literal int, float or bool."""

    def __init__(self, value: object) -> None:
        self.value = value

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_const(self)


@final
class Param(Op):
    """The index-th argument of the specialization, already unboxed."""

    def __init__(self, index: int) -> None:
        self.index = index

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_param(self)


@final
class LoadLocal(Op):
    """Read a local; deopts if it may be unbound (UnboundLocalError stays CPython's).

    `check_bound` False (a loop guard's read, frontend/versioning.py): no deopt; an
    unbound local reads as zero (the loop it guards deopts on its own read first).
    """

    def __init__(self, local: Local, *, check_bound: bool = True) -> None:
        self.local = local
        self.check_bound = check_bound

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_load_local(self)


@final
class StoreLocal(Op):
    """local = src (the local's type is the join of everything stored)."""

    def __init__(self, local: Local, src: Value) -> None:
        self.local = local
        self.src = src

    def sources(self) -> list[Value]:
        return [self.src]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_store_local(self)


@final
class LoadGlobal(Op):
    """A global value read at call time (the entry point unboxes it)."""

    def __init__(self, ref: GlobalRef) -> None:
        self.ref = ref

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_load_global(self)


@final
class Unary(Op):
    """-x, +x, ~x, not x."""

    NEG: Final = "neg"
    POS: Final = "pos"
    INVERT: Final = "invert"
    NOT: Final = "not"

    def __init__(self, kind: str, src: Value) -> None:
        self.kind = kind
        self.src = src

    def sources(self) -> list[Value]:
        return [self.src]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_unary(self)


@final
class Binary(Op):
    """lhs <kind> rhs with Python's semantics for the operand types.

    `no_overflow`: an int add/sub a loop guard proved stays in int64 (an array index in
    bounds, the range's next value), emitted without the overflow check.
    In a versioned loop's copy (frontend/versioning.py), checks that would stop LLVM's
    vectorizer are made differently:
    `defer_events`: a NumPy float operation whose NumPy warnings are noticed once per
    strip, not where they happen; `events_absorbed`: one of those whose non-finite
    result always reaches another's;
    `strip_checked`: an int add, sub or mul checked without overflow intrinsics (add
    and sub exactly, mul by bounding its operands, a deferred check);
    `bounded`: an int accumulation `s = s + x` or `s - x`, emitted wrapping: x is bounded
    at each iteration and s at each strip (LoopChunk.accumulators), so s cannot wrap.
    `invariant_divisor`: an int `//` or `%` whose loop does not change its divisor
    (frontend/divisors.py): divided by multiplying with a reciprocal made once.
    `speculative`: an int add, sub or mul computed ahead of the branch it sat under
    (frontend/ifconvert.py): emitted wrapping, its leaving int64 noted for a Speculated.
    """

    KINDS: Final = frozenset(
        {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift", "and", "or", "xor"}
    )

    def __init__(self, kind: str, lhs: Value, rhs: Value, *, inplace: bool = False) -> None:
        self.kind = kind
        self.lhs = lhs
        self.rhs = rhs
        self.inplace = inplace  # `x op= y`: the same for numbers, a mutation for arrays
        self.no_overflow = False
        self.defer_events = False
        self.events_absorbed = False
        self.strip_checked = False
        self.bounded = False
        self.invariant_divisor = False
        self.speculative = False

    def sources(self) -> list[Value]:
        return [self.lhs, self.rhs]

    @property
    def int_check(self) -> str:
        """How an int `+ - *` is checked: "bounded", "strip" or "exact" (overflow intrinsics)."""
        return "bounded" if self.bounded else "strip" if self.strip_checked else "exact"

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_binary(self)


@final
class Compare(Op):
    """lhs <kind> rhs -> bool; exact across int and float."""

    KINDS: Final = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})

    def __init__(self, kind: str, lhs: Value, rhs: Value) -> None:
        self.kind = kind
        self.lhs = lhs
        self.rhs = rhs

    def sources(self) -> list[Value]:
        return [self.lhs, self.rhs]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_compare(self)


@final
class Truth(Op):
    """bool(src) for a condition."""

    def __init__(self, src: Value) -> None:
        self.src = src

    def sources(self) -> list[Value]:
        return [self.src]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_truth(self)


@final
class Select(Op):
    """`if_true if cond else if_false`, both already computed (frontend/ifconvert.py): no branch."""

    def __init__(self, cond: Value, if_true: Value, if_false: Value) -> None:
        self.cond = cond
        self.if_true = if_true
        self.if_false = if_false

    def sources(self) -> list[Value]:
        return [self.cond, self.if_true, self.if_false]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_select(self)


@final
class Speculated(Op):
    """True if one of `ops` (speculative Binary ops, frontend/ifconvert.py) left int64: then take the exact path."""

    def __init__(self, ops: list[Op]) -> None:
        self.ops = ops

    def sources(self) -> list[Value]:
        return list(self.ops)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_speculated(self)


@final
class Builtin(Op):
    """A call of a builtin function (abs, min, max, int, float, bool, round)."""

    def __init__(self, name: str, args: list[Value]) -> None:
        self.name = name
        self.args = args

    def sources(self) -> list[Value]:
        return list(self.args)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_builtin(self)


@final
class MathCall(Op):
    """math.<name>(args) with CPython's libm calls and error checks."""

    def __init__(self, name: str, args: list[Value]) -> None:
        self.name = name
        self.args = args

    def sources(self) -> list[Value]:
        return list(self.args)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_math_call(self)


@final
class PyCall(Op):
    """Call a pure builtin through CPython itself (boxed), e.g. math.gamma, round(x, n).

    For functions whose CPython implementation is its own algorithm: calling it is
    the only way to be exact. An exception or an unexpected result type deopts.
    `ref` is the guarded global naming the callee; `rule` names the result-type rule.
    """

    def __init__(self, ref: GlobalRef, rule: str, args: list[Value]) -> None:
        self.ref = ref
        self.rule = rule
        self.args = args

    def sources(self) -> list[Value]:
        return list(self.args)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_py_call(self)


@final
class Call(Op):
    """A native call of another compiled function of the same module.

    `callee` is the callee's name; `target` (its specialization) is set by inference.
    """

    def __init__(self, callee: str, args: list[Value]) -> None:
        self.callee = callee
        self.args = args
        self.target: object = None

    def sources(self) -> list[Value]:
        return list(self.args)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_call(self)


@final
class Index(Op):
    """base[i, j, ...] of an array: an element, or a view when fewer indices than dimensions.

    Also t[i] of a tuple: with a literal index, that item (its own type); with any other,
    the item chosen at run time (the join of the item types).
    Negative indices count from the end; out of bounds deopts (CPython raises NumPy's
    IndexError). `base[i][j]` is Index(Index(base, [i]), [j]). `checked` False: a loop
    guard proved every index in [0, length) (frontend/versioning.py): no check, no wrap.
    """

    def __init__(
        self, base: Value, indices: list[Value], *, const_index: int | None = None, unpack: int | None = None
    ) -> None:
        self.base = base
        self.indices = indices
        # The index when it is an int literal (`t[-1]`): a tuple's item then has its own type.
        self.const_index = const_index
        # `x, y = t` reads t[0] and t[1], each with `unpack` = 2 (inference checks len(t) is 2).
        self.unpack = unpack
        self.checked = True

    def sources(self) -> list[Value]:
        return [self.base, *self.indices]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_index(self)


@final
class SetIndex(Op):
    """base[i, j, ...] = value: store one element, cast to the array's dtype as NumPy casts.

    The one op with an effect: memory the caller can see. A store the bytecode would
    refuse or warn about (a value NumPy rejects or casts with a warning) leaves the native
    path like an out-of-bounds index does; what was stored before is undone first (see
    `backend/callscope.py`), so the bytecode re-run starts from the caller's state.
    """

    def __init__(self, base: Value, indices: list[Value], value: Value) -> None:
        self.base = base
        self.indices = indices
        self.value = value
        # False for an array this call made (frontend/fresh.py), or one a LogStores logged whole.
        self.logged = True
        self.checked = True  # as Index.checked

    def sources(self) -> list[Value]:
        return [self.value, self.base, *self.indices]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_set_index(self)


@final
class NewArray(Op):
    """A new array from a NumPy allocator: np.empty/zeros/ones/full(shape, ...) or its `_like` form.

    NumPy itself makes it (through the guarded `ref`, with the shape boxed, and the
    dtype passed as its canonical dtype object), so it is an ordinary ndarray that owns
    its memory; the call's arena holds it until the entry point returns
    (backend/callscope.py). `shape` lists the dimensions (`tuple_shape`: passed as a
    tuple, else as one int); `shape_of`, an array whose shape is used (`np.zeros(a.shape)`);
    `like`, the prototype of a `_like` call; `fill`, the fill value of `full`;
    `dtype_given`, the dtype written in the call, if any (else NumPy's default).
    """

    def __init__(  # noqa: PLR0913 - one argument per part of the call
        self,
        ref: GlobalRef,
        *,
        shape: list[Value] | None = None,
        tuple_shape: bool = False,
        shape_of: Value | None = None,
        like: Value | None = None,
        fill: Value | None = None,
        dtype_given: Ty | None = None,
    ) -> None:
        self.ref = ref
        self.shape = shape or []
        self.tuple_shape = tuple_shape
        self.shape_of = shape_of
        self.like = like
        self.fill = fill
        self.dtype_given = dtype_given

    def sources(self) -> list[Value]:
        return [v for v in (*self.shape, self.shape_of, self.like, self.fill) if v is not None]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_new_array(self)


@final
class NumpyCall(Op):
    """A NumPy computation on numbers and arrays: the result is NumPy's, its type asked of NumPy.

    `kind` says what is called:
        "function"  `ref` (a guarded global: np.sqrt, np.float64, np.sum, np.dot...) with `args`
        "operator"  `name` ("add", "neg", "lt"...) on an array operand: `a + b`, `-a`, `a > 0.5`
        "method"    the ndarray method `name` of args[0] (`a.sum()`, `a.max(0)`)
    Exact operations on scalars are computed natively (backend/npcalls.py); the rest calls
    NumPy itself, under an error state that raises where NumPy would warn, so that any
    warning or error deopts and the bytecode re-run gets it from NumPy, exactly. A new
    array it returns is held by the call's arena (like NewArray's).
    """

    FUNCTION: Final = "function"
    OPERATOR: Final = "operator"
    METHOD: Final = "method"

    def __init__(self, kind: str, name: str, args: list[Value], ref: GlobalRef | None = None) -> None:
        self.kind = kind
        self.name = name
        self.args = args
        self.ref = ref

    def sources(self) -> list[Value]:
        return list(self.args)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_numpy_call(self)


@final
class DtypeQuery(Op):
    """A fact about the dtype of an array or NumPy scalar, fixed by the specialization.

    `a.dtype == np.float64` is DtypeQuery(a, (), "eq", np.float64); `a.dtype.itemsize` is
    DtypeQuery(a, ("itemsize",)); `a.dtype == b.dtype` compares with `other_value`'s dtype.
    Inference folds it to `value` (a bool, int or float); the globals it reads are guarded.
    """

    def __init__(  # noqa: PLR0913 - the parts of the expression
        self,
        base: Value,
        attrs: tuple[str, ...] = (),
        compare: str | None = None,
        *,
        other: object = None,
        other_value: Value | None = None,
        other_attrs: tuple[str, ...] = (),
    ) -> None:
        self.base = base
        self.attrs = attrs
        self.compare = compare
        self.other = other
        self.other_value = other_value
        self.other_attrs = other_attrs
        self.value: object = None

    def sources(self) -> list[Value]:
        return [self.base] if self.other_value is None else [self.base, self.other_value]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_dtype_query(self)


@final
class MakeTuple(Op):
    """(a, b, ...): a tuple of the items' values (built as a Python tuple only when boxed)."""

    def __init__(self, items: list[Value]) -> None:
        self.items = items

    def sources(self) -> list[Value]:
        return list(self.items)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_make_tuple(self)


@final
class NewList(Op):
    """A new Python list: `[a, b]`, `[a] * n` (`repeat` = n), or the empty list a comprehension fills.

    `element` is the value a comprehension appends (its type is the list's item type);
    it is computed later in the loop, so it is not a source of this op. The list is held
    by the call's arena until the entry point returns (backend/callscope.py).
    """

    def __init__(self, items: list[Value], repeat: Value | None = None, element: Value | None = None) -> None:
        self.items = items
        self.repeat = repeat
        self.element = element

    def sources(self) -> list[Value]:
        return [*self.items, *([self.repeat] if self.repeat is not None else [])]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_new_list(self)


@final
class ListAppend(Op):
    """lst.append(value): an effect on a list the caller may see, so it is logged (undone on deopt)."""

    def __init__(self, lst: Value, value: Value) -> None:
        self.lst = lst
        self.value = value
        self.logged = True  # False for a list this call made (frontend/fresh.py)

    def sources(self) -> list[Value]:
        return [self.lst, self.value]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_list_append(self)


@final
class ArrayAttr(Op):
    """An int property of an array: `shape` (with `axis`), `ndim`, `size`, or `len` (of a tuple too).

    `a.shape` as a value is ArrayAttr("shape_tuple", a), a tuple of ints.
    `a.shape[k]` is ArrayAttr("shape", a, k); `n, m = a.shape` stores one ArrayAttr per
    name, each with `unpack` = the number of names (inference checks it is a.ndim).
    """

    def __init__(self, kind: str, base: Value, axis: int = 0, unpack: int | None = None) -> None:
        self.kind = kind
        self.base = base
        self.axis = axis
        self.unpack = unpack

    def sources(self) -> list[Value]:
        return [self.base]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_array_attr(self)


@final
class CheckSignals(Op):
    """At a loop back edge: let Ctrl-C (KeyboardInterrupt) in, every so often."""

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_check_signals(self)


@final
class Reenter(Op):
    """A self tail call become a jump (frontend/tailcalls.py): the frame it stands for.

    One frame deeper in the depth budget (out of it, the call re-runs as bytecode, which
    raises RecursionError where CPython does), and a back edge toward a signal check.
    """

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_reenter(self)


@final
class FrameCheck(Op):
    """Where an inlined call was (frontend/inline.py): its frame, `level` calls deep, must fit.

    The kernel's depth budget is what is left of CPython's recursion limit; a call costs
    one frame of it. A copy costs none, so it checks the frame it stands for: out of
    budget, the call re-runs as bytecode, which raises RecursionError where CPython does.
    """

    def __init__(self, level: int) -> None:
        self.level = level

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_frame_check(self)


@dataclass(eq=False)
class Term:
    """One summand of an index: `sign * value`, `value` a loop-invariant int."""

    sign: int
    value: Value


@dataclass(eq=False)
class AxisIndex:
    """The index along one axis of a guarded access: `coef * i + sum(terms)` (coef -1, 0 or 1)."""

    coef: int
    terms: list[Term]


@dataclass(eq=False)
class Access:
    """`array[axes...]` inside a versioned loop: an invariant array, one AxisIndex per indexed axis."""

    array: Value
    axes: list[AxisIndex]

    def values(self) -> list[Value]:
        return [self.array, *(t.value for axis in self.axes for t in axis.terms)]


@dataclass(eq=False)
class RangeLoop:
    """The values `i` of a versioned `for i in range(start, stop, step)`.

    The step is a constant, or a run-time int (a Value), positive wherever the loop's
    ops run (the guard requires it: frontend/versioning.py `_runtime_direction`).
    """

    start: Value
    stop: Value
    step: int | Value

    @property
    def ascending(self) -> bool:
        return not isinstance(self.step, int) or self.step > 0

    def values(self) -> list[Value]:
        return [self.start, self.stop] if isinstance(self.step, int) else [self.start, self.stop, self.step]


@final
class LoopGuard(Op):
    """Where the versioned copy of a range loop may run (bool: on the whole range).

    True if, for every `i` of `loop`, every access's index is in [0, length) and `i + step`
    stays in int64 (vacuously, for an empty range). If not, it finds the *middle*: the
    run of consecutive values for which that holds; the values before and after it run
    in the checked loop (`a[i - 1]` at i = 0, `a[i + 1]` at the last i). GuardBound gives
    the middle's bounds. It tests the overflow flag first, so every value it reads is
    exact. `defers_checks`: the copy defers checks to its strips (NumPy float warnings,
    int bounds: Binary.defer_events, .bounded, .strip_checked), so it may not run when
    the call is re-run to decide them exactly (backend/entry.py, RETRY).
    """

    def __init__(self, loop: RangeLoop, accesses: list[Access]) -> None:
        self.loop = loop
        self.accesses = accesses
        self.defers_checks = False

    def sources(self) -> list[Value]:
        return [*self.loop.values(), *(v for a in self.accesses for v in a.values())]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_loop_guard(self)


@final
class GuardBound(Op):
    """An int the loop guard computed (int).

    `limit`: where the checked loop stops first (the middle's first value, or the range's
    stop if it has no middle); `end`: where the copy stops (the value after the middle's
    last, or the range's start if it has no middle; the stop if the whole range is safe).
    """

    def __init__(self, guard: LoopGuard, which: str) -> None:
        self.guard = guard
        self.which = which  # "limit" or "end"

    def sources(self) -> list[Value]:
        return [self.guard]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_guard_bound(self)


@final
class LogStores(Op):
    """Log every element the stores `stores` can overwrite for the values of `loop` (a strip).

    Each store varies along the last axis of a C-contiguous array with a unit step: its
    elements are one contiguous run of memory, logged as one undo-log entry
    (backend/callscope.py), so the stores themselves are not logged.
    """

    def __init__(self, loop: RangeLoop, stores: list[Access]) -> None:
        self.loop = loop
        self.stores = stores

    def sources(self) -> list[Value]:
        return [*self.loop.values(), *(v for a in self.stores for v in a.values())]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_log_stores(self)


@final
class LoopChunk(Op):
    """The end of the next strip of a versioned loop (int), which runs `range(cur, <end>, step)`.

    A strip is as long as the loop has run so far (from `start`), at least LOOP_MIN_CHUNK and
    at most LOOP_CHUNK iterations, and ends at `stop` at the latest: a loop that ends early
    has logged or computed little in vain. Where a strip starts, the deferred overflow flag
    is tested and signals are counted (once per strip instead of at every back edge).
    `accumulators`: the values of the locals the copy's `bounded` ops accumulate into,
    which must be small enough that a strip of bounded steps cannot make them wrap.
    """

    def __init__(self, start: Value, cur: Value, stop: Value, step: int | Value, accumulators: list[Value]) -> None:
        self.start = start
        self.cur = cur
        self.stop = stop
        self.step = step  # as RangeLoop.step: a constant, or a positive run-time int
        self.accumulators = accumulators

    def sources(self) -> list[Value]:
        step = [] if isinstance(self.step, int) else [self.step]
        return [self.start, self.cur, self.stop, *step, *self.accumulators]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_loop_chunk(self)


@final
class NoteFinite(Op):
    """Defer the check that each of `values` (NumPy floats) is finite, as a versioned copy's events.

    For a float accumulator of a versioned copy (`s += x`, versioning._float_accumulators):
    a non-finite sum stays non-finite (inf + x, inf - inf, nan + x), so the sum's value
    where each strip ends tells whether any of its steps was one.
    """

    def __init__(self, values: list[Value]) -> None:
        self.values = values

    def sources(self) -> list[Value]:
        return list(self.values)

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_note_finite(self)


# Terminators.


class Terminator(Op):
    """The last op of a block."""

    def targets(self) -> list[BasicBlock]:
        return []


@final
class Goto(Terminator):
    """goto target: an unconditional jump."""

    def __init__(self, target: BasicBlock) -> None:
        self.target = target

    def targets(self) -> list[BasicBlock]:
        return [self.target]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_goto(self)


@final
class Branch(Terminator):
    """if cond (a BOOL value) goto true else goto false."""

    def __init__(self, cond: Value, true: BasicBlock, false: BasicBlock) -> None:
        self.cond = cond
        self.true = true
        self.false = false

    def sources(self) -> list[Value]:
        return [self.cond]

    def targets(self) -> list[BasicBlock]:
        return [self.true, self.false]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_branch(self)


@final
class Return(Terminator):
    """return value (None for `return` / falling off the end)."""

    def __init__(self, value: Value | None) -> None:
        self.value = value

    def sources(self) -> list[Value]:
        return [] if self.value is None else [self.value]

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_return(self)


@final
class Deopt(Terminator):
    """Leave native code: the call re-runs as bytecode (which raises, if it must)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def accept(self, visitor: OpVisitor[T]) -> T:
        return visitor.visit_deopt(self)


PURE_OPS: Final = (
    Const, Param, LoadLocal, LoadGlobal, Unary, Binary, Compare, Truth, Select, Speculated, Builtin, MathCall, PyCall,
    Index, ArrayAttr, MakeTuple, NumpyCall, DtypeQuery,
)  # fmt: skip
TERMINATORS: Final = (Goto, Branch, Return, Deopt)


@dataclass(eq=False)
class BasicBlock:
    """A straight-line run of ops that ends in one terminator once it is complete."""

    ops: list[Op] = field(default_factory=list)
    label: int = -1
    # A versioned copy's block that LLVM's vectorizer may take (frontend/versioning.py): its
    # checks note a flag tested once per strip instead of branching away (backend/emit.py).
    vector_body: bool = False
    # The header of such a copy that reduces into an int: its back edges ask LLVM to
    # interleave the loop (backend/emit.py `interleaved_loop`).
    copy_header: bool = False

    @property
    def terminator(self) -> Terminator | None:
        last = self.ops[-1] if self.ops else None
        return last if isinstance(last, Terminator) else None


@dataclass(eq=False)
class FuncIR:
    """One specialization of one Python function."""

    module: str
    name: str
    params: list[Local]
    arg_types: tuple[Ty, ...]
    blocks: list[BasicBlock] = field(default_factory=list)
    locals: dict[str, Local] = field(default_factory=dict)
    globals: dict[tuple[str, str], GlobalRef] = field(default_factory=dict)
    ret_type: Ty | None = None
    symbol: str = ""
    # On a cycle of its unit's call graph (compiler.py decides; until then assumed): each
    # entry counts toward the next signal checkpoint, as a loop's back edge does.
    recursive: bool = True
    # The list parameters the call works on unboxed (frontend/mirror.py): their indices.
    mirrored: tuple[int, ...] = ()
    # Int locals whose steps are checked at signal checkpoints (frontend/counters.py).
    counters: tuple[str, ...] = ()
    # Float `+ - *` may be reassociated: the user opted in ([tool.fastimport] reassociate),
    # so reductions vectorize (frontend/versioning.py) and LLVM may reorder them (the
    # emitters' `reassoc` flag). Set by compiler.front_end; False: bit-identical to CPython.
    reassociate: bool = False

    def all_ops(self) -> list[Op]:
        return [op for block in self.blocks for op in block.ops]


class OpVisitor(Generic[T]):
    """One abstract method per op, so a forgotten op fails loudly."""

    @abstractmethod
    def visit_const(self, op: Const) -> T: ...
    @abstractmethod
    def visit_param(self, op: Param) -> T: ...
    @abstractmethod
    def visit_load_local(self, op: LoadLocal) -> T: ...
    @abstractmethod
    def visit_store_local(self, op: StoreLocal) -> T: ...
    @abstractmethod
    def visit_load_global(self, op: LoadGlobal) -> T: ...
    @abstractmethod
    def visit_unary(self, op: Unary) -> T: ...
    @abstractmethod
    def visit_binary(self, op: Binary) -> T: ...
    @abstractmethod
    def visit_compare(self, op: Compare) -> T: ...
    @abstractmethod
    def visit_truth(self, op: Truth) -> T: ...
    @abstractmethod
    def visit_select(self, op: Select) -> T: ...
    @abstractmethod
    def visit_speculated(self, op: Speculated) -> T: ...
    @abstractmethod
    def visit_builtin(self, op: Builtin) -> T: ...
    @abstractmethod
    def visit_math_call(self, op: MathCall) -> T: ...
    @abstractmethod
    def visit_py_call(self, op: PyCall) -> T: ...
    @abstractmethod
    def visit_call(self, op: Call) -> T: ...
    @abstractmethod
    def visit_index(self, op: Index) -> T: ...
    @abstractmethod
    def visit_set_index(self, op: SetIndex) -> T: ...
    @abstractmethod
    def visit_new_array(self, op: NewArray) -> T: ...
    @abstractmethod
    def visit_make_tuple(self, op: MakeTuple) -> T: ...
    @abstractmethod
    def visit_new_list(self, op: NewList) -> T: ...
    @abstractmethod
    def visit_list_append(self, op: ListAppend) -> T: ...
    @abstractmethod
    def visit_array_attr(self, op: ArrayAttr) -> T: ...
    @abstractmethod
    def visit_numpy_call(self, op: NumpyCall) -> T: ...
    @abstractmethod
    def visit_dtype_query(self, op: DtypeQuery) -> T: ...
    @abstractmethod
    def visit_check_signals(self, op: CheckSignals) -> T: ...
    @abstractmethod
    def visit_frame_check(self, op: FrameCheck) -> T: ...
    @abstractmethod
    def visit_reenter(self, op: Reenter) -> T: ...
    @abstractmethod
    def visit_loop_guard(self, op: LoopGuard) -> T: ...
    @abstractmethod
    def visit_log_stores(self, op: LogStores) -> T: ...
    @abstractmethod
    def visit_loop_chunk(self, op: LoopChunk) -> T: ...
    @abstractmethod
    def visit_note_finite(self, op: NoteFinite) -> T: ...
    @abstractmethod
    def visit_guard_bound(self, op: GuardBound) -> T: ...
    @abstractmethod
    def visit_goto(self, op: Goto) -> T: ...
    @abstractmethod
    def visit_branch(self, op: Branch) -> T: ...
    @abstractmethod
    def visit_return(self, op: Return) -> T: ...
    @abstractmethod
    def visit_deopt(self, op: Deopt) -> T: ...
