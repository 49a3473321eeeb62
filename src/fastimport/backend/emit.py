"""Typed IR -> one LLVM function per specialization (the "kernel").

Kernel ABI:  {T, i32} @sym(<unboxed args>..., ptr %undo, i32 %depth)
    returns the result and a status, both in registers: 0 ok, 1 deopt (re-run the
    call as bytecode) or 2 (a Python exception is set, e.g. KeyboardInterrupt from
    the signal check). %undo is the entry point's undo log (backend/callscope.py): stores
    into the caller's arrays are recorded there, so a deopt can take them back.
    %depth is the native recursion budget left; at 0 the kernel deopts.

Locals become allocas, with a "bound" flag next to those some path reads before
storing them (cfg.unbound_reads); LLVM's mem2reg turns both into registers.

Int overflow (and a NumPy event, backend/npemit.py) deopts at once: a branch to the
deopt exit, which the CPU predicts and LLVM keeps out of the hot path. Only in a
versioned copy's loop body (BasicBlock.vector_body), where a branch would stop LLVM's
vectorizer, does it set a sticky flag instead, tested at every strip, loop back edge,
call and return. Deferring is exact because a deopt re-runs the whole call, and
nothing between an overflow and the next test can be observed (no Python code runs,
and an array store, even of a wrapped value, is in the undo log, which the deopt
rolls back). Measured: branching at once instead of the flag everywhere, spectral_norm
1.56 -> 0.94 ms, collatz_longest 7.7 -> 6.3 ms, count_primes 7.4 -> 6.7 ms (a flag
costs a setcc and an OR per operation, a branch nothing on the hot path).

Unit-wide state lives in LLVM globals of the unit module: the unboxed value
of each global read (`@g.<ns>.<name>`, filled by the entry point) and the
signal-check countdown used at function entry by kernels that call others
(loops count down in a local).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend import numerics
from fastimport.backend.callscope import emit_is_precise
from fastimport.backend.capi import F64, I1, I8, I32, I64, INT64_MIN, PTR, declare, declare_libm, intrinsic
from fastimport.backend.divemit import DivisionOps
from fastimport.backend.listemit import ListOps
from fastimport.backend.loopemit import LoopOps
from fastimport.backend.mirroremit import MirrorOps
from fastimport.backend.npcalls import NumpyCalls
from fastimport.backend.npemit import ARRAY_OBJECT, F32, NumpyOps, array_struct, is_numpy
from fastimport.backend.specemit import SpeculationOps
from fastimport.backend.tupleemit import TupleOps, box_tuple, tuple_struct
from fastimport.frontend.cfg import stored_on_entry, unbound_reads
from fastimport.frontend.counters import COUNTER_START_MAX
from fastimport.frontend.dynamic import Shadow, cases, dynamic_sources, substitute
from fastimport.frontend.errors import Unsupported
from fastimport.frontend.infer import concrete_type
from fastimport.frontend.ir import (
    BasicBlock,
    Binary,
    Branch,
    Builtin,
    Call,
    CheckSignals,
    Compare,
    Const,
    Deopt,
    FrameCheck,
    FuncIR,
    GlobalRef,
    Goto,
    LoadGlobal,
    LoadLocal,
    LoopGuard,
    MathCall,
    Op,
    OpVisitor,
    Param,
    PyCall,
    Reenter,
    Return,
    Speculated,
    StoreLocal,
    Truth,
    Unary,
    Value,
)
from fastimport.frontend.mathlib import FINITE_FROM_FINITE, MATH_FUNCTIONS, NUMBER_FROM_NUMBER
from fastimport.frontend.types import NUMPY_INTS, SCALARS, Array, List, Tuple, Ty, Type, Union
from fastimport.frontend.versioning import ADDEND_BOUND

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.backend.objects import ObjectTable

# A Union is {tag, payload}: tag = index in SCALARS; the payload holds the int, the
# float's bits (a float32's in the low 32 bits) or the bool (0/1). A Union of doubles
# only (float|float64: `s = 0.0; s += a[i]`) keeps a double payload: no trips between
# integer and float registers in a loop that accumulates.
UNION_TYPE = ir.LiteralStructType([I8, I64])
DOUBLE_UNION_TYPE = ir.LiteralStructType([I8, F64])


def union_type(ty: Union) -> ir.LiteralStructType:
    """The LLVM struct of a Union."""
    return DOUBLE_UNION_TYPE if all(m in (Ty.FLOAT, Ty.F64) for m in ty.members) else UNION_TYPE


SCALAR_TYPES: dict[Ty, ir.Type] = {
    Ty.INT: I64, Ty.FLOAT: F64, Ty.BOOL: I1, Ty.NONE: I8,
    Ty.F64: F64, Ty.F32: F32, Ty.B: I1,
    **dict.fromkeys(NUMPY_INTS, I64),
}  # fmt: skip


def llvm_type(ty: Type | None) -> ir.Type:
    """How a value of type `ty` is held in native code."""
    if isinstance(ty, Union):
        return union_type(ty)
    if isinstance(ty, Array):
        return array_struct(ty.ndim)
    if isinstance(ty, Tuple):
        return tuple_struct(ty, llvm_type)
    if isinstance(ty, List):
        return PTR
    return SCALAR_TYPES[ty or Ty.NONE]


# Kernel statuses. RETRY: a check a versioned loop deferred failed (a NumPy float event, an
# int bound); the entry point rolls the call back and runs it again in precise mode
# (frontend/versioning.py).
OK, DEOPT, ERROR, RETRY = (ir.Constant(I32, n) for n in range(4))
# Unions whose members compute alike with a NumPy scalar of the key's type (`FunctionEmitter.uniform`).
UNIFORM = {Ty.F64: {Ty.FLOAT, Ty.F64}, Ty.I64: {Ty.INT, Ty.I64}}
# Native calls nest at most as deep as CPython's recursion limit still allows (the
# entry point reads it), and never deeper than this: C stack safety when a program
# raises sys.setrecursionlimit() very high. Deeper, the kernel deopts.
MAX_NATIVE_DEPTH = 20000
# Used only where the thread state's recursion counter could not be found.
FALLBACK_NATIVE_DEPTH = 200
# Loop back edges (and native calls) between two checkpoints, where the GIL is
# offered to other threads and pending signals (Ctrl-C) are handled: ~1% of a
# 1 ns loop body, a few milliseconds of latency at worst.
SIGNAL_INTERVAL = 1 << 14
COPY_INTERLEAVE = 2  # see FunctionEmitter.interleaved_loop
# i32 fi_checkpoint(): offer the GIL (if it was not offered lately), then run pending signal
# handlers (nonzero: one raised). One call per checkpoint site, defined once in the runtime
# module: less code per loop to compile.
CHECKPOINT, CHECKPOINT_TYPE = "fi_checkpoint", ir.FunctionType(I32, [])
# Ticks of the CPU's cycle counter (`llvm.readcyclecounter`) between two offers of the GIL:
# ~10-17 ms of a 2-3 GHz x86 time-stamp counter; elsewhere the counter runs at 24 MHz to
# 1 GHz, 2**19 ticks ~0.5-22 ms. (Why not at every checkpoint: `emit_checkpoint`.)
OFFER_TICKS = {"x86_64": 1 << 25}
OTHER_OFFER_TICKS = 1 << 19


def emit_checkpoint(module: ir.Module) -> None:
    """Define `fi_checkpoint` (in the runtime module).

    The GIL is offered at most every OFFER_TICKS, not at every checkpoint. A thread that
    wants the GIL waits for it for the switch interval (5 ms) and then asks the holder to
    drop it, but only if the GIL has not changed hands meanwhile; CPython counts every
    release and re-take as a change, and the holder re-takes at once, before the woken
    waiter can. So a release every few tens of microseconds (a checkpoint of a loop whose
    16384 iterations take 60 us) kept other threads from running: measured, a thread
    waking every millisecond ran 0-2 times during 0.3-2.9 s native loops with 60-110 us
    between checkpoints, against 35-45 times in 90 ms with 15 us between them. Offering at
    most every ~10 ms leaves a waiter a full switch interval without a change, after which
    its drop request makes the next offer a hand-over (CPython waits for the waiter to take it).
    """
    fn = ir.Function(module, CHECKPOINT_TYPE, CHECKPOINT)
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    last = ir.GlobalVariable(module, I64, "fi_gil_offered")  # shared by all threads: a hint, not a lock
    last.initializer = ir.Constant(I64, 0)
    now = bld.call(intrinsic(module, "llvm.readcyclecounter", I64, []), [])
    before = bld.load_atomic(last, "monotonic", 8, typ=I64)
    from fastimport.backend.jit import per_host  # (the runtime is always compiled for this machine)

    ticks = per_host(OFFER_TICKS, OTHER_OFFER_TICKS)
    # (unsigned: a counter read on another core that is behind this one's offers at once)
    with bld.if_then(bld.icmp_unsigned(">=", bld.sub(now, before), ir.Constant(I64, ticks))):
        bld.store_atomic(now, last, "monotonic", 8)
        thread_state = bld.call(declare(module, "PyEval_SaveThread"), [])
        bld.call(declare(module, "PyEval_RestoreThread"), [thread_state])
    bld.ret(bld.call(declare(module, "PyErr_CheckSignals"), []))


TWO53 = 2**53
MUL_OPERAND_BOUND = 1 << 31  # a strip-checked `*` (versioned copy): |a|, |b| below it
F64_INF_BITS = 0x7FF0000000000000  # a double's bits without the sign: >= this, not finite
F32_INF_BITS = 0x7F800000
# The bounds a versioned copy defers magnitudes against (`defer_magnitude`): powers of two,
# so that a running OR collects them (finiteness is moved onto 2**63, `defer_unless_finite`).
DEFERRED_BOUNDS = (MUL_OPERAND_BOUND, ADDEND_BOUND, 1 << 63)


def _same_value(a: ir.Value, b: ir.Value) -> bool:
    """Whether `a` and `b` are one value: the same, or loads of one slot with no store between them."""
    if a is b:
        return True
    if not (isinstance(a, ir.LoadInstr) and isinstance(b, ir.LoadInstr) and a.operands[0] is b.operands[0]):
        return False
    block = a.parent
    if b.parent is not block:
        return False
    between = block.instructions[block.instructions.index(a) : block.instructions.index(b)]
    return not any(isinstance(instr, (ir.StoreInstr, ir.CallInstr)) for instr in between)


def kernel_type(fn: FuncIR) -> ir.FunctionType:
    """The LLVM type of the kernel of `fn` (see the ABI above)."""
    return ir.FunctionType(result_type(fn.ret_type), [*(llvm_type(t) for t in fn.arg_types), PTR, I32])


def result_type(ty: Ty | None) -> ir.LiteralStructType:
    """{value, status}: what a kernel returns."""
    return ir.LiteralStructType([llvm_type(ty), I32])


def kernel_result(bld: ir.IRBuilder, ty: Ty | None, value: ir.Value | None, status: ir.Constant | ir.Value) -> ir.Value:
    """The {value, status} pair a kernel returns."""
    struct = result_type(ty)
    if value is None:
        value = ir.Constant(llvm_type(ty), ir.Undefined)
    return bld.insert_value(bld.insert_value(ir.Constant(struct, ir.Undefined), value, 0), status, 1)


def global_slot(module: ir.Module, ref: GlobalRef) -> ir.GlobalVariable:
    """The unit-wide slot holding the unboxed value of a global read."""
    name = global_slot_name(module, ref)
    slot = module.globals.get(name)
    if slot is None:
        slot = ir.GlobalVariable(module, llvm_type(ref.type), name)
        slot.initializer = ir.Constant(llvm_type(ref.type), 0)
    return slot


def global_slot_name(module: ir.Module, ref: GlobalRef) -> str:
    """Unique in the process: the entry code's world check writes the slot by address."""
    return f"{module.name}.g.{ref.namespace}.{ref.name}"


def unit_counter(module: ir.Module, name: str, initial: int = 0) -> ir.GlobalVariable:
    """An i32 counter private to the unit's module (the signal-check countdown)."""
    slot = module.globals.get(name)
    if slot is None:
        slot = ir.GlobalVariable(module, I32, name)
        slot.initializer = ir.Constant(I32, initial)
        slot.linkage = "internal"
    return slot


def emit_kernel(
    module: ir.Module,
    fn: FuncIR,
    func: ir.Function,
    symbol_of: Callable[[object], ir.Function],
    objects: ObjectTable,
) -> bool:
    """Emit the body of `fn` into its declared kernel `func`; `symbol_of` gives callees' kernels.

    Returns whether the kernel reads or writes the undo log itself (passing it on to the
    kernels it calls aside): a unit none of whose kernels does may be run without one.
    """
    emitter = FunctionEmitter(module, fn, func, symbol_of, objects)
    emitter.emit()
    return emitter.touches_log


def box_value(
    bld: ir.IRBuilder, module: ir.Module, ty: Type | None, value: ir.Value, load_object: Callable[[object], ir.Value]
) -> ir.Value:
    """A new reference to the Python object for `value` (NULL with an exception on failure)."""
    if ty is Ty.INT:
        return bld.call(declare(module, "PyLong_FromLongLong"), [value])
    if ty is Ty.FLOAT:
        return bld.call(declare(module, "PyFloat_FromDouble"), [value])
    if ty is Ty.BOOL:
        return bld.call(declare(module, "PyBool_FromLong"), [bld.zext(value, I64)])
    if isinstance(ty, Union):
        return _box_union(bld, module, ty, value, load_object)
    if isinstance(ty, Ty) and ty.is_numpy:
        return box_numpy_scalar(bld, module, ty, value, load_object)
    if isinstance(ty, Tuple):
        return box_tuple(bld, module, ty, value, lambda t, v: box_value(bld, module, t, v, load_object))
    if isinstance(ty, List):  # the list itself
        bld.call(declare(module, "Py_IncRef"), [value])
        return value
    if isinstance(ty, Array):  # the array itself (the kernel never returns a view without one)
        obj = bld.extract_value(value, ARRAY_OBJECT)
        bld.call(declare(module, "Py_IncRef"), [obj])
        return obj
    none = load_object(None)
    bld.call(declare(module, "Py_IncRef"), [none])
    return none


def _box_union(
    bld: ir.IRBuilder, module: ir.Module, ty: Union, value: ir.Value, load_object: Callable[[object], ir.Value]
) -> ir.Value:
    tag, payload = bld.extract_value(value, 0), bld.extract_value(value, 1)
    fn = bld.function
    done = fn.append_basic_block("boxed")
    switch = bld.switch(tag, done)
    incoming = []
    for member in ty.members:
        block = fn.append_basic_block(f"box_{member.name.lower()}")
        switch.add_case(ir.Constant(I8, SCALARS.index(member)), block)
        bld.position_at_end(block)
        unboxed = unpack_payload(bld, member, payload)
        incoming.append((box_value(bld, module, member, unboxed, load_object), bld.block))
        bld.branch(done)
    bld.position_at_end(done)
    phi = bld.phi(PTR)
    phi.add_incoming(ir.Constant(PTR, None), switch.parent)  # pragma: no cover - tags are always members
    for obj, block in incoming:
        phi.add_incoming(obj, block)
    return phi


def box_numpy_scalar(
    bld: ir.IRBuilder, module: ir.Module, ty: Ty, value: ir.Value, load_object: Callable[[object], ir.Value]
) -> ir.Value:
    """numpy.float64(x) etc.: the Python number, passed to the NumPy type (exact for every type)."""
    from fastimport.frontend.numpy_types import type_object

    if ty.is_float:
        python = box_value(bld, module, Ty.FLOAT, value if ty is Ty.F64 else bld.fpext(value, F64), load_object)
    elif ty.is_bool:
        python = box_value(bld, module, Ty.BOOL, value, load_object)
    else:
        python = box_value(bld, module, Ty.INT, value, load_object)
    fn = bld.function
    ok, failed = fn.append_basic_block(), fn.append_basic_block()
    entry = bld.block
    bld.cbranch(bld.icmp_unsigned("==", python, ir.Constant(PTR, None)), failed, ok)
    bld.position_at_end(ok)
    argv = bld.alloca(PTR)
    bld.store(python, argv)
    result = bld.call(
        declare(module, "PyObject_VectorcallDict"),
        [load_object(type_object(ty)), argv, ir.Constant(I64, 1), ir.Constant(PTR, None)],
    )
    bld.call(declare(module, "Py_DecRef"), [python])
    ok_end = bld.block
    bld.branch(failed)
    bld.position_at_end(failed)
    phi = bld.phi(PTR)
    phi.add_incoming(ir.Constant(PTR, None), entry)
    phi.add_incoming(result, ok_end)
    return phi


def unpack_payload(bld: ir.IRBuilder, ty: Ty, payload: ir.Value) -> ir.Value:
    """The value of scalar type `ty` held in a Union's payload."""
    if payload.type == F64:
        return payload
    if ty in (Ty.FLOAT, Ty.F64):
        return bld.bitcast(payload, F64)
    if ty is Ty.F32:
        return bld.bitcast(bld.trunc(payload, I32), F32)
    if ty.is_bool:
        return bld.trunc(payload, I1)
    return payload


def pack_payload(bld: ir.IRBuilder, ty: Ty, value: ir.Value, payload_type: ir.Type = I64) -> ir.Value:
    """The payload holding `value` of scalar type `ty` in a Union."""
    if payload_type == F64:
        return value
    if ty in (Ty.FLOAT, Ty.F64):
        return bld.bitcast(value, I64)
    if ty is Ty.F32:
        return bld.zext(bld.bitcast(value, I32), I64)
    if ty.is_bool:
        return bld.zext(value, I64)
    return value


class FunctionEmitter(
    SpeculationOps, DivisionOps, MirrorOps, ListOps, TupleOps, NumpyCalls, NumpyOps, LoopOps, OpVisitor[None]
):
    """Walks the blocks of one FuncIR and emits LLVM IR for each op."""

    def __init__(
        self,
        module: ir.Module,
        fn: FuncIR,
        func: ir.Function,
        symbol_of: Callable[[object], ir.Function],
        objects: ObjectTable,
    ) -> None:
        self.module = module
        self.objects = objects
        self.fn = fn
        self.func = func
        self.symbol_of = symbol_of
        self.values: dict[Value, ir.Value] = {}
        self.guard_bounds: dict[Value, dict[str, ir.Value]] = {}  # LoopGuard -> its GuardBound values
        self.blocks: dict[BasicBlock, ir.Block] = {}
        self.slots: dict[str, ir.Value] = {}
        self.bound_flags: dict[str, ir.Value] = {}  # only for locals some path reads before storing
        self.builder = ir.IRBuilder()
        self.flag_overflow = False  # in a versioned copy's body: overflows set a flag (module docstring)
        self.touches_log = False  # whether any op read `undo` (see the property)

    @property
    def undo(self) -> ir.Value:
        """The entry point's undo log (backend/callscope.py); noted as used.

        A unit whose kernels never ask for it runs from a lighter entry path
        (backend/entry.py: `log_free`) that passes no log at all.
        """
        self.touches_log = True
        return self.func.args[-2]

    # Driver.

    def emit(self) -> None:
        entry = self.func.append_basic_block("entry")
        for block in self.fn.blocks:
            self.blocks[block] = self.func.append_basic_block(f"b{block.label}")
        self.deopt_block = self.func.append_basic_block("deopt")
        self.error_block = self.func.append_basic_block("error")
        bld = self.builder
        defers = any(isinstance(op, LoopGuard) and op.defers_checks for op in self.fn.all_ops())
        if defers:
            self.retry_block = self.func.append_basic_block("retry")

        bld.position_at_end(entry)
        # Read without a bound check by a loop guard: zero until stored (see LoadLocal).
        guarded = {op.local.name for op in self.fn.all_ops() if isinstance(op, LoadLocal) and not op.check_bound}
        # A flag per local only where a read may find it unbound: less IR for every later stage.
        unbound = unbound_reads(self.fn.blocks, self.fn.blocks[0])
        for local in self.fn.locals.values():
            if local.type is None:
                continue  # never stored: every load of it deopts (UnboundLocalError)
            name = local.name.replace("$", "t.")
            self.slots[local.name] = value = bld.alloca(llvm_type(local.type), name=name)
            if local.name in guarded or local.name in self.fn.counters:  # (counters: 0, checked at checkpoints)
                bld.store(ir.Constant(llvm_type(local.type), None), value)
            if local.name in unbound:
                self.bound_flags[local.name] = flag = bld.alloca(I1, name=f"{name}.bound")
                bld.store(ir.Constant(I1, 0), flag)
        # Overflows are noted in a flag only in versioned copies' bodies (`overflow_if`).
        self.overflow: ir.Value | None = None
        if any(block.vector_body for block in self.fn.blocks):
            self.overflow = bld.alloca(I1, name="overflow")
            bld.store(ir.Constant(I1, 0), self.overflow)
        self.deferred: ir.Value | None = None  # checks a versioned copy defers (frontend/versioning.py)
        # Deferred bounds, as running magnitudes tested with the flag (see `defer_magnitude`):
        # bound -> i64 accumulator. Unused ones vanish in mem2reg.
        self.deferred_magnitudes: dict[int, ir.Value] = {}
        # Strip-checked squares `x * x`: their own magnitude wherever the deferred bound on |x| holds.
        self.squares: set[int] = set()
        self.speculation: dict[Op, ir.Value] = {}  # (backend/specemit.py)
        self.affine: dict[Op, tuple[ir.Value, int, int, int, int]] = {}
        if defers:
            self.deferred = bld.alloca(I1, name="deferred")
            bld.store(ir.Constant(I1, 0), self.deferred)
            for bound in DEFERRED_BOUNDS:
                acc = bld.alloca(I64, name=f"deferred.or.{bound:x}")
                bld.store(ir.Constant(I64, 0), acc)
                self.deferred_magnitudes[bound] = acc
        self.ticks = bld.alloca(I32, name="ticks")
        bld.store(ir.Constant(I32, SIGNAL_INTERVAL), self.ticks)
        self.begin_numpy_state(self.fn)
        self.depth = self.func.args[-1]
        self.begin_mirror()
        here = bld.block
        self.emit_exits(defers=defers)
        bld.position_at_end(here)
        # A self tail call become a jump (Reenter) moves the frame a level deeper.
        self.depth_slot: ir.Value | None = None
        if any(isinstance(op, Reenter) for op in self.fn.all_ops()):
            self.depth_slot = bld.alloca(I32, name="depth")
            bld.store(self.depth, self.depth_slot)
        # Read once: a call's mode never changes, and a load at each guard would be redone
        # after every checkpoint call (an inner loop's guard runs at each of its entries).
        self.precise = emit_is_precise(bld, self.undo) if defers else None
        # The frames of inlined calls (FrameCheck) are checked here, once, for the deepest of
        # them, unless a self tail call moves the depth: the depth never changes otherwise, and
        # a deopt is exact wherever it happens (a call the budget could not hold anyway re-runs
        # as bytecode a little earlier). A check in a loop cost two instructions per iteration.
        levels = [op.level for op in self.fn.all_ops() if isinstance(op, FrameCheck)]
        self.frames_checked = self.depth_slot is None
        deepest = max(levels) if levels and self.frames_checked else 0
        self.deopt_if(bld.icmp_signed("<=", self.depth, ir.Constant(I32, deepest)))
        if self.fn.recursive:
            # Recursion without loops (fib) has no back edge to check signals at: each entry
            # of a function on a cycle counts instead. (A call of any other function ends
            # after bounded work, or in a loop with its own checkpoint.) Once per entry, not
            # per call site: the shared counter's load and store chain the calls.
            self.check_signals(unit_counter(self.module, "fi.ticks", SIGNAL_INTERVAL))
        bld.branch(self.blocks[self.fn.blocks[0]])

        bound_on_entry = stored_on_entry(self.fn.blocks, self.fn.blocks[0])  # no bound checks: LLVM's work saved
        for block in self.fn.blocks:
            bld.position_at_end(self.blocks[block])
            self.bound = set(bound_on_entry[block])
            self.flag_overflow = block.vector_body
            for op in block.ops:
                op.accept(self)
            if not bld.block.is_terminated:
                bld.unreachable()  # an empty dead block
        self.finish_numpy_state()  # NumPy's error state is the program's again at every exit

    def emit_exits(self, *, defers: bool) -> None:
        """The deopt, error and retry blocks: each returns its status (a mirror dropped, or written back first)."""
        bld = self.builder
        for block, status in ((self.deopt_block, DEOPT), *([(self.retry_block, RETRY)] if defers else [])):
            bld.position_at_end(block)
            self.drop_mirror()
            bld.ret(kernel_result(bld, self.fn.ret_type, None, status))
        bld.position_at_end(self.error_block)
        ok = self.flush_mirror(leaving=True)  # the stores before the exception stay, as in CPython
        if ok is not None:
            self.drop_mirror()
            # A failed write-back deopts when the lists were snapshotted (the bytecode re-run
            # raises the exception again); without snapshots it left a MemoryError in its
            # place, and the call raises that (`MirrorOps.leave_mirror`).
            with bld.if_then(bld.and_(bld.not_(ok), bld.not_(self._surely_root())), likely=False):
                bld.call(declare(self.module, "PyErr_Clear"), [])
                bld.ret(kernel_result(bld, self.fn.ret_type, None, DEOPT))
        bld.ret(kernel_result(bld, self.fn.ret_type, None, ERROR))

    def value(self, v: Value) -> ir.Value:
        if isinstance(v, Shadow):
            return v.llvm  # type: ignore[return-value]
        return self.values[v]

    # NUM values: pack, unpack, and one case per run-time type (frontend/dynamic.py).

    def pack(self, ty: Ty, value: ir.Value, target: Union) -> ir.Value:
        """A concrete value as a Union."""
        bld = self.builder
        struct = union_type(target)
        union = bld.insert_value(ir.Constant(struct, ir.Undefined), ir.Constant(I8, SCALARS.index(ty)), 0)
        return bld.insert_value(union, pack_payload(bld, ty, value, struct.elements[1]), 1)

    def unpack(self, ty: Ty, union: ir.Value) -> ir.Value:
        return unpack_payload(self.builder, ty, self.builder.extract_value(union, 1))

    def coerce(self, value: ir.Value, source: Type | None, target: Type | None) -> ir.Value:
        if isinstance(target, Tuple) and source != target:
            return self.coerce_tuple(value, source, target)  # type: ignore[arg-type]
        if isinstance(target, Union) and not isinstance(source, Union):
            return self.pack(source, value, target)  # type: ignore[arg-type]
        if isinstance(target, Union) and union_type(source) != union_type(target):  # type: ignore[arg-type]
            # A narrower Union (tags are global: kept) whose payload is a double.
            bld = self.builder
            payload = bld.bitcast(bld.extract_value(value, 1), union_type(target).elements[1])
            tagged = bld.insert_value(ir.Constant(union_type(target), ir.Undefined), bld.extract_value(value, 0), 0)
            return bld.insert_value(tagged, payload, 1)
        return value

    def split(self, op: Op) -> bool:
        """Emit `op` once per run-time type of its Union operands; False if it has none."""
        sources = dynamic_sources(op)
        if not sources:
            return False
        if self.uniform(op, sources):
            return True
        bld = self.builder
        key = ir.Constant(I32, 0)
        for src in sources:  # key = tag0 + N * tag1 + ...: one switch for all operands
            tag = bld.zext(bld.extract_value(self.value(src), 0), I32)
            key = bld.add(bld.mul(key, ir.Constant(I32, len(SCALARS))), tag)
        done = self.func.append_basic_block()
        switch = bld.switch(key, self.deopt_block)
        incoming = []
        for case in cases(sources):
            block = self.func.append_basic_block()
            index = 0
            for ty in case:
                index = index * len(SCALARS) + SCALARS.index(ty)
            switch.add_case(ir.Constant(I32, index), block)
            bld.position_at_end(block)
            clone = substitute(
                op, {id(s): Shadow(t, self.unpack(t, self.value(s))) for s, t in zip(sources, case, strict=True)}
            )
            try:
                clone.type = concrete_type(clone)
            except Unsupported:
                bld.branch(self.deopt_block)  # CPython raises TypeError for this case
                continue
            clone.accept(self)
            incoming.append((self.coerce(self.values.pop(clone), clone.type, op.type), bld.block))
            bld.branch(done)
        bld.position_at_end(done)
        phi = bld.phi(llvm_type(op.type))
        for value, block in incoming:
            phi.add_incoming(value, block)
        self.values[op] = phi
        return True

    def uniform(self, op: Op, sources: list[Value]) -> bool:
        """Emit `op` once if every run-time type of its Union operand computes the same; False if not.

        `s += a[i]` with `s = 0.0` (or `0`) first: s is `float|float64` (`int|int64`), and
        with a float64 (int64) on the other side both cases are the same NumPy operation on
        the same payload, with the same result type. No switch on the tag, so the loop
        carrying `s` stays one straight line.
        """
        if not (isinstance(op, Binary) and op.kind in ("add", "sub", "mul") and len(sources) == 1):
            return False
        (src,) = sources
        other = op.rhs if src is op.lhs else op.lhs
        members = set(src.type.members)  # type: ignore[union-attr]
        numpy = next((t for t in (Ty.F64, Ty.I64) if other.type is t and members == UNIFORM[t]), None)
        if numpy is None:
            return False
        clone = substitute(op, {id(src): Shadow(numpy, self.unpack(numpy, self.value(src)))})
        clone.type = concrete_type(clone)
        clone.accept(self)
        self.values[op] = self.coerce(self.values.pop(clone), clone.type, op.type)
        return True

    def floor_divide(self, kind: str, a: ir.Value, b: ir.Value) -> ir.Value:
        """`a // b` or `a % b` of int64s with Python's floor (b not 0; INT64_MIN // -1 already ruled out)."""
        bld = self.builder
        zero, minus1 = ir.Constant(I64, 0), ir.Constant(I64, -1)
        safe_b = bld.select(bld.icmp_signed("==", b, minus1), ir.Constant(I64, 1), b)
        q = bld.sdiv(a, safe_b)
        r = bld.srem(a, safe_b)
        # Python rounds toward -inf: fix up when the remainder's sign differs from b's.
        fix = bld.and_(bld.icmp_signed("!=", r, zero), bld.icmp_signed("<", bld.xor(r, b), zero))
        if kind == "floordiv":
            q = bld.select(bld.icmp_signed("==", b, minus1), bld.sub(zero, a), q)
            return bld.select(fix, bld.sub(q, ir.Constant(I64, 1)), q)
        # (For b == -1 the remainder by 1 is 0, which is a % -1: no select on the result,
        # which would lengthen the chain through `s = (s + x) % m` by a cycle.)
        return bld.select(fix, bld.add(r, b), r)

    def strip_int_binary(self, kind: str, a: ir.Value, b: ir.Value, *, bounded: bool) -> ir.Value:
        """A `+ - *` in a versioned copy, checked in a way the vectorizer takes (see `int_binary`)."""
        bld = self.builder
        emit = {"add": bld.add, "sub": bld.sub, "mul": bld.mul}[kind]
        r = emit(a, b)
        if bounded:  # s + x: x small enough (s is bounded at each strip's start: LoopChunk)
            self.defer_magnitude(b if id(b) in self.squares else self.int_abs(b), ADDEND_BOUND)
        elif kind == "mul":  # |a|, |b| < 2**31: |a * b| < 2**62; otherwise the precise re-run decides
            self.defer_magnitude(bld.or_(self.int_abs(a), self.int_abs(b)), MUL_OPERAND_BOUND)
            if _same_value(a, b):  # and then a * a is in [0, 2**62): no abs to take
                self.squares.add(id(r))
        else:  # wrapped iff the result's sign differs from both addends' (add), from a's but not b's (sub)
            other = b if kind == "add" else bld.not_(b)
            wrapped = bld.and_(bld.xor(a, r), bld.xor(other, r))
            self.overflow_if(bld.icmp_signed("<", wrapped, ir.Constant(I64, 0)))
        return r

    def int_abs(self, x: ir.Value) -> ir.Value:
        """|x| (INT64_MIN stays INT64_MIN: 2**63 unsigned)."""
        return self.builder.call(intrinsic(self.module, "llvm.abs.i64", I64, [I64, I1]), [x, ir.Constant(I1, 0)])

    def defer_if(self, cond: ir.Value) -> None:
        """Note a check a versioned copy defers; `check_overflow` returns RETRY if one was noted."""
        bld = self.builder
        bld.store(bld.or_(bld.load(self.deferred, typ=I1), cond), self.deferred)

    def defer_magnitude(self, magnitude: ir.Value, bound: int) -> None:
        """Defer `magnitude < bound` (unsigned; `bound` one of DEFERRED_BOUNDS, a power of two).

        Not a flag per value but a running OR (the OR of values below a power of two stays
        below it), compared with the bound where the flag is tested. In a vectorized loop
        that is one vector OR per check, where the flag was a compare and an OR of masks
        chained through every iteration.
        """
        bld = self.builder
        acc = self.deferred_magnitudes[bound]
        bld.store(bld.or_(bld.load(acc, typ=I64), magnitude), acc)

    def defer_unless_finite(self, r: ir.Value) -> None:
        """Defer "`r` is finite" (a float or double): its bits without the sign, below infinity's.

        Shifted onto a power of two, `bits < INF` as `bits + (2**k - INF) < 2**k` (no
        wrap: `bits` < 2**63, or < 2**31 for a float), so an OR can collect it.
        """
        bld = self.builder
        if r.type == F32:
            bits = bld.zext(bld.and_(bld.bitcast(r, I32), ir.Constant(I32, 0x7FFFFFFF)), I64)
            self.defer_magnitude(bld.add(bits, ir.Constant(I64, (1 << 31) - F32_INF_BITS)), 1 << 31)
        else:
            bits = bld.and_(bld.bitcast(r, I64), ir.Constant(I64, 2**63 - 1))
            self.defer_magnitude(bld.add(bits, ir.Constant(I64, (1 << 63) - F64_INF_BITS)), 1 << 63)

    def deopt_if(self, cond: ir.Value) -> None:
        cont = self.func.append_basic_block()
        self.builder.cbranch(cond, self.deopt_block, cont)
        self.builder.position_at_end(cont)

    def overflow_if(self, cond: ir.Value) -> None:
        """Deopt on an int overflow (or a NumPy event); in a vector body, note it for `check_overflow`."""
        if not self.flag_overflow:
            self.deopt_if(cond)
            return
        bld = self.builder
        bld.store(bld.or_(bld.load(self.overflow, typ=I1), cond), self.overflow)

    def check_overflow(self) -> None:
        """Deopt if an overflow was noted; return RETRY if a deferred check failed."""
        if self.overflow is not None:
            self.deopt_if(self.builder.load(self.overflow, typ=I1))
        if self.deferred is not None:
            bld = self.builder
            failed = bld.load(self.deferred, typ=I1)
            for bound, acc in self.deferred_magnitudes.items():
                failed = bld.or_(failed, bld.icmp_unsigned(">=", bld.load(acc, typ=I64), ir.Constant(I64, bound)))
            cont = self.func.append_basic_block()
            bld.cbranch(failed, self.retry_block, cont)
            bld.position_at_end(cont)

    def as_float(self, v: Value) -> ir.Value:
        """A double (Python's float(x) for every scalar type)."""
        return self.convert(v, Ty.FLOAT)

    # Values.

    def visit_const(self, op: Const) -> None:
        if op.type is Ty.FLOAT:
            self.values[op] = ir.Constant(F64, op.value)
        elif op.type is Ty.BOOL:
            self.values[op] = ir.Constant(I1, int(op.value))  # type: ignore[call-overload]
        else:
            self.values[op] = ir.Constant(I64, op.value)

    def visit_param(self, op: Param) -> None:
        mirror = self.mirror_param(op.index)
        self.values[op] = self.func.args[op.index] if mirror is None else mirror

    def visit_load_local(self, op: LoadLocal) -> None:
        if op.local.name not in self.slots:
            if not op.check_bound:  # a guard's read of a local never stored
                self.values[op] = ir.Constant(llvm_type(op.type or Ty.INT), None)
                return
            self.builder.branch(self.deopt_block)
            self.builder.position_at_end(self.func.append_basic_block())
            self.values[op] = ir.Constant(llvm_type(op.type or Ty.INT), ir.Undefined)
            return
        if op.check_bound and op.local.name not in self.bound:
            flag = self.bound_flags[op.local.name]
            self.deopt_if(self.builder.not_(self.builder.load(flag, typ=I1)))
        self.values[op] = self.builder.load(self.slots[op.local.name], typ=llvm_type(op.local.type))

    def visit_store_local(self, op: StoreLocal) -> None:
        self.builder.store(self.coerce(self.value(op.src), op.src.type, op.local.type), self.slots[op.local.name])
        if op.local.name in self.bound_flags:
            self.builder.store(ir.Constant(I1, 1), self.bound_flags[op.local.name])
        self.bound.add(op.local.name)

    def visit_load_global(self, op: LoadGlobal) -> None:
        slot = global_slot(self.module, op.ref)
        self.values[op] = self.builder.load(slot, typ=llvm_type(op.ref.type))

    def visit_unary(self, op: Unary) -> None:
        if self.split(op):
            return
        bld, src = self.builder, op.src
        if op.kind != "not" and isinstance(src.type, Array):  # NumPy computes it (backend/npcalls.py)
            self.values[op] = self.array_operator(op.kind, [src], op.type)  # type: ignore[arg-type]
            return
        if op.kind != "not" and is_numpy(src.type):
            self.values[op] = self.numpy_unary(op.kind, src, op.type)  # type: ignore[arg-type]
            return
        if op.kind == "not":
            self.values[op] = bld.not_(self.truth(src))
        elif src.type is Ty.FLOAT:
            self.values[op] = bld.fneg(self.value(src)) if op.kind == "neg" else self.value(src)
        elif op.kind == "neg":
            res = bld.ssub_with_overflow(ir.Constant(I64, 0), self.as_int_value(src))
            self.overflow_if(bld.extract_value(res, 1))
            self.values[op] = bld.extract_value(res, 0)
        elif op.kind == "invert":
            self.values[op] = bld.xor(self.as_int_value(src), ir.Constant(I64, -1))
        else:
            self.values[op] = self.as_int_value(src)

    def visit_binary(self, op: Binary) -> None:
        if self.split(op):
            return
        if isinstance(op.lhs.type, Array) or isinstance(op.rhs.type, Array):
            self.values[op] = self.array_operator(op.kind, [op.lhs, op.rhs], op.type)  # type: ignore[arg-type]
        elif is_numpy(op.lhs.type, op.rhs.type):
            self.values[op] = self.numpy_binary(op)
        elif op.type is Ty.FLOAT:
            self.values[op] = self.float_binary(op)
        elif op.type is Ty.BOOL:
            emit = {"and": self.builder.and_, "or": self.builder.or_, "xor": self.builder.xor}[op.kind]
            self.values[op] = emit(self.value(op.lhs), self.value(op.rhs))
        elif op.speculative:  # ahead of its branch (frontend/ifconvert.py)
            self.values[op] = self.speculative_int(op)
        elif op.no_overflow:  # proven by a loop guard (frontend/versioning.py)
            emit = self.builder.add if op.kind == "add" else self.builder.sub
            self.values[op] = emit(self.as_int_value(op.lhs), self.as_int_value(op.rhs), flags=["nsw"])
        else:
            a, b = self.as_int_value(op.lhs), self.as_int_value(op.rhs)
            self.values[op] = self.int_binary(op.kind, a, b, check=op.int_check, invariant=op.invariant_divisor)

    def int_binary(
        self, kind: str, a: ir.Value, b: ir.Value, *, check: str = "exact", invariant: bool = False
    ) -> ir.Value:
        """A <kind> b of int64-held ints, floor semantics; leaving int64 is an overflow.

        `check` (Binary.int_check) for `+ - *` in a versioned loop's copy: "bounded" and
        "strip" avoid the overflow intrinsics, which stop LLVM's vectorizer
        (frontend/versioning.py `_bound_int_ops`). `invariant` (Binary.invariant_divisor):
        `//` and `%` by a reciprocal (backend/divemit.py).
        """
        bld = self.builder
        zero, minus1 = ir.Constant(I64, 0), ir.Constant(I64, -1)
        if kind in ("add", "sub", "mul") and check != "exact":
            return self.strip_int_binary(kind, a, b, bounded=check == "bounded")
        if kind in ("add", "sub", "mul"):
            res = getattr(bld, f"s{kind}_with_overflow")(a, b)
            self.overflow_if(bld.extract_value(res, 1))
            return bld.extract_value(res, 0)
        if kind in ("floordiv", "mod"):
            # ZeroDivisionError, and INT64_MIN // -1 which leaves int64.
            self.deopt_if(bld.icmp_signed("==", b, zero))
            if kind == "floordiv":
                self.deopt_if(
                    bld.and_(bld.icmp_signed("==", a, ir.Constant(I64, INT64_MIN)), bld.icmp_signed("==", b, minus1))
                )
            if invariant:  # the loop does not change b (frontend/divisors.py)
                return self.divide_by_invariant(kind, a, b, lambda: self.floor_divide(kind, a, b))
            return self.floor_divide(kind, a, b)
        if kind == "pow":
            self.deopt_if(bld.icmp_signed("<", b, zero))  # int ** negative int is a float
            out = self.entry_alloca(I64)
            ok = bld.call(numerics.int_pow(self.module), [a, b, out])
            self.deopt_if(bld.not_(ok))
            return bld.load(out, typ=I64)
        if kind == "lshift":
            self.deopt_if(bld.icmp_signed("<", b, zero))  # ValueError: negative shift count
            # a << b for b >= 64 fits only when a == 0; otherwise shifting back must give a.
            big = bld.icmp_signed(">=", b, ir.Constant(I64, 64))
            self.deopt_if(bld.and_(big, bld.icmp_signed("!=", a, zero)))
            sb = bld.select(big, zero, b)
            r = bld.shl(a, sb)
            self.deopt_if(bld.icmp_signed("!=", bld.ashr(r, sb), a))
            return r
        if kind == "rshift":
            self.deopt_if(bld.icmp_signed("<", b, zero))
            clamped = bld.select(bld.icmp_signed(">", b, ir.Constant(I64, 63)), ir.Constant(I64, 63), b)
            return bld.ashr(a, clamped)
        if kind == "truediv":  # pragma: no cover - typed FLOAT, handled in float_binary
            raise AssertionError(kind)
        return {"and": bld.and_, "or": bld.or_, "xor": bld.xor}[kind](a, b)

    def float_binary(self, op: Binary) -> ir.Value:
        bld = self.builder
        if op.kind == "truediv" and op.lhs.type is not Ty.FLOAT and op.rhs.type is not Ty.FLOAT:
            # int / int: exact operands up to 2**53 make one correctly rounded division.
            a, b = self.as_int_value(op.lhs), self.as_int_value(op.rhs)
            self.deopt_if(bld.icmp_signed("==", b, ir.Constant(I64, 0)))
            self.deopt_if(self.beyond_2_53(a))
            self.deopt_if(self.beyond_2_53(b))
            return bld.fdiv(bld.sitofp(a, F64), bld.sitofp(b, F64))
        if op.kind == "pow":
            out = self.entry_alloca(F64)
            ok = bld.call(numerics.float_pow(self.module), [self.as_float(op.lhs), self.as_float(op.rhs), out])
            self.deopt_if(bld.not_(ok))
            return bld.load(out, typ=F64)
        x, y = self.as_float(op.lhs), self.as_float(op.rhs)
        if op.kind in ("add", "sub", "mul"):
            return getattr(bld, f"f{op.kind}")(x, y, flags=self.float_flags)
        self.deopt_if(bld.fcmp_ordered("==", y, ir.Constant(F64, 0.0)))  # ZeroDivisionError
        if op.kind == "truediv":
            return bld.fdiv(x, y)
        div, mod = self.entry_alloca(F64), self.entry_alloca(F64)
        bld.call(numerics.float_div_mod(self.module), [x, y, div, mod])
        return bld.load(div if op.kind == "floordiv" else mod, typ=F64)

    @property
    def float_flags(self) -> tuple[str, ...]:
        """The fast-math flags of a float `+ - *`: `reassoc` where the user opted in (FuncIR.reassociate), else none.

        Only `reassoc`: NaNs, infinities, signed zeros and rounding of each operation stay
        IEEE's; only the order of a chain of operations may change (what a vectorized sum needs).
        """
        return ("reassoc",) if self.fn.reassociate else ()

    def beyond_2_53(self, a: ir.Value) -> ir.Value:
        bld = self.builder
        biased = bld.add(a, ir.Constant(I64, TWO53))
        return bld.icmp_unsigned(">", biased, ir.Constant(I64, 2 * TWO53))

    def visit_compare(self, op: Compare) -> None:
        if self.split(op):
            return
        if isinstance(op.lhs.type, Array) or isinstance(op.rhs.type, Array):
            self.values[op] = self.array_operator(op.kind, [op.lhs, op.rhs], op.type)  # type: ignore[arg-type]
            return
        self.values[op] = self.compare(op.kind, op.lhs, op.rhs)

    def compare(self, kind: str, lhs: Value, rhs: Value) -> ir.Value:
        bld = self.builder
        symbol = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}[kind]
        if is_numpy(lhs.type, rhs.type):
            return self.numpy_compare(symbol, kind, lhs, rhs)
        if lhs.type is not Ty.FLOAT and rhs.type is not Ty.FLOAT:
            # bools compare as the ints 0 and 1 (an i1 `true` is -1 to a signed compare).
            return bld.icmp_signed(symbol, self.as_int_value(lhs), self.as_int_value(rhs))
        # int vs float compares exactly in CPython; int64 -> double is exact up to 2**53.
        for side in (lhs, rhs):
            if side.type is Ty.INT:
                self.deopt_if(self.beyond_2_53(self.value(side)))
        x, y = self.as_float(lhs), self.as_float(rhs)
        if kind == "ne":
            return bld.fcmp_unordered("!=", x, y)  # nan != nan is True
        return bld.fcmp_ordered(symbol, x, y)

    def truth(self, v: Value) -> ir.Value:
        bld, x = self.builder, self.value(v)
        if is_numpy(v.type):
            return self.numpy_truth(v.type, x)  # type: ignore[arg-type]
        if v.type is Ty.BOOL:
            return x
        if v.type is Ty.FLOAT:
            return bld.fcmp_unordered("!=", x, ir.Constant(F64, 0.0))  # nan is true, -0.0 false
        if v.type is Ty.NONE:
            return ir.Constant(I1, 0)
        return bld.icmp_signed("!=", x, ir.Constant(I64, 0))

    def visit_truth(self, op: Truth) -> None:
        if self.split(op):
            return
        self.values[op] = self.truth(op.src)

    def visit_builtin(self, op: Builtin) -> None:
        if self.split(op):
            return
        bld = self.builder
        arg = op.args[0]
        if op.name in ("min", "max"):
            # Python keeps the first extreme item: replace only on a strict < (min) or > (max).
            # With mixed types the result is a NUM: which argument wins is known at run time.
            best = Shadow(arg.type, self.value(arg))  # type: ignore[arg-type]
            for item in op.args[1:]:
                test = Compare("lt" if op.name == "min" else "gt", Shadow(item.type, self.value(item)), best)  # type: ignore[arg-type]
                test.type = Ty.BOOL
                test.accept(self)
                better = self.values.pop(test)
                chosen = bld.select(
                    better,
                    self.coerce(self.value(item), item.type, op.type),
                    self.coerce(best.llvm, best.type, op.type),  # type: ignore[arg-type]
                )
                best = Shadow(op.type, chosen)  # type: ignore[arg-type]
            self.values[op] = best.llvm
        elif op.name == "abs" and isinstance(arg.type, Array):
            self.values[op] = self.array_operator("abs", [arg], op.type)  # type: ignore[arg-type]
        elif op.name == "abs" and is_numpy(arg.type):
            self.values[op] = self.numpy_unary("abs", arg, op.type)  # type: ignore[arg-type]
        elif op.name == "abs":
            if arg.type is Ty.FLOAT:
                self.values[op] = bld.call(intrinsic(self.module, "llvm.fabs.f64", F64, [F64]), [self.value(arg)])
            else:
                x = self.as_int_value(arg)
                self.deopt_if(bld.icmp_signed("==", x, ir.Constant(I64, INT64_MIN)))
                self.values[op] = bld.select(bld.icmp_signed("<", x, ir.Constant(I64, 0)), bld.neg(x), x)
        elif op.name == "float":
            self.values[op] = self.as_float(arg)
        elif op.name == "bool":
            self.values[op] = self.truth(arg)
        elif op.name in ("int", "round", "$range_arg"):
            if not arg.type.is_float:  # type: ignore[union-attr]
                self.values[op] = self.as_int_value(arg)
            else:
                x = self.as_float(arg)
                if op.name == "round":  # CPython rounds half to even
                    x = bld.call(intrinsic(self.module, "llvm.roundeven.f64", F64, [F64]), [x])
                self.values[op] = self.float_to_int(x)
        else:  # pragma: no cover - the resolver admits no other builtin
            raise AssertionError(op.name)

    def float_to_int(self, x: ir.Value) -> ir.Value:
        """Truncate toward zero; nan, inf and values outside int64 deopt."""
        bld = self.builder
        in_range = bld.and_(
            bld.fcmp_ordered(">=", x, ir.Constant(F64, -(2.0**63))),
            bld.fcmp_ordered("<", x, ir.Constant(F64, 2.0**63)),
        )
        self.deopt_if(bld.not_(in_range))
        return bld.fptosi(x, I64)

    def visit_math_call(self, op: MathCall) -> None:
        if self.split(op):
            return
        bld = self.builder
        spec = MATH_FUNCTIONS[op.name]
        args = [self.as_float(a) for a in op.args]
        fabs = intrinsic(self.module, "llvm.fabs.f64", F64, [F64])
        inf = ir.Constant(F64, float("inf"))

        def is_nan(x: ir.Value) -> ir.Value:
            return bld.fcmp_unordered("uno", x, x)

        def is_finite(x: ir.Value) -> ir.Value:
            return bld.fcmp_ordered("<", bld.call(fabs, [x]), inf)

        if spec.kind == "round":
            if not op.args[0].type.is_float:  # type: ignore[union-attr]
                self.values[op] = self.as_int_value(op.args[0])
                return
            rounded = bld.call(intrinsic(self.module, f"llvm.{spec.symbol}.f64", F64, [F64]), [args[0]])
            self.values[op] = self.float_to_int(rounded)
        elif spec.kind == "pred":
            x = args[0]
            self.values[op] = {
                "isnan": lambda: is_nan(x),
                "isinf": lambda: bld.fcmp_ordered("==", bld.call(fabs, [x]), inf),
                "isfinite": lambda: is_finite(x),
            }[op.name]()
        elif spec.kind == "scale":
            self.values[op] = bld.fmul(args[0], ir.Constant(F64, spec.factor))
        elif spec.kind == "log":
            for x in args:  # m_log raises for x <= 0 (and -inf); log(inf) = inf, log(nan) = nan
                self.deopt_if(bld.fcmp_ordered("<=", x, ir.Constant(F64, 0.0)))
            logs = [bld.call(declare_libm(self.module, spec.symbol, 1), [x]) for x in args]
            if len(logs) == 1:
                self.values[op] = logs[0]
            else:  # math.log(x, base) = log(x) / log(base); ZeroDivisionError when log(base) == 0
                self.deopt_if(bld.fcmp_ordered("==", logs[1], ir.Constant(F64, 0.0)))
                self.values[op] = bld.fdiv(logs[0], logs[1])
        elif spec.kind == "libm1":
            x = args[0]
            if op.name in ("sqrt", "fabs"):
                r = bld.call(intrinsic(self.module, f"llvm.{op.name}.f64", F64, [F64]), [x])
            else:
                r = bld.call(declare_libm(self.module, spec.symbol, 1), [x])
            # math_1: nan from a non-nan argument, or inf from a finite one, raises.
            if op.name not in NUMBER_FROM_NUMBER:
                self.deopt_if(bld.and_(is_nan(r), bld.not_(is_nan(x))))
            if op.name not in FINITE_FROM_FINITE:
                self.deopt_if(bld.and_(bld.fcmp_ordered("==", bld.call(fabs, [r]), inf), is_finite(x)))
            self.values[op] = r
        else:  # libm2
            x, y = args
            if op.name == "copysign":
                r = bld.call(intrinsic(self.module, "llvm.copysign.f64", F64, [F64, F64]), [x, y])
            elif op.name == "fmod":
                # CPython: fmod(x, +-inf) is x for finite x; a nan from non-nan arguments raises.
                r = bld.call(declare_libm(self.module, "fmod", 2), [x, y])
                y_inf = bld.fcmp_ordered("==", bld.call(fabs, [y]), inf)
                r = bld.select(bld.and_(y_inf, is_finite(x)), x, r)
                self.deopt_if(bld.and_(is_nan(r), bld.not_(bld.or_(is_nan(x), is_nan(y)))))
            else:
                r = bld.call(declare_libm(self.module, spec.symbol, 2), [x, y])
                both_finite = bld.and_(is_finite(x), is_finite(y))
                self.deopt_if(bld.and_(bld.not_(is_finite(r)), both_finite))
                self.deopt_if(bld.and_(is_nan(r), bld.not_(bld.or_(is_nan(x), is_nan(y)))))
            self.values[op] = r

    def visit_py_call(self, op: PyCall) -> None:
        """Box the arguments, call the builtin, unbox an exact-typed result; else deopt."""
        if self.split(op):
            return
        bld = self.builder
        decref = declare(self.module, "Py_DecRef")
        boxed = []
        for arg in op.args:
            obj = box_value(bld, self.module, arg.type, self.value(arg), self.load_object)
            self.raise_if(bld.icmp_unsigned("==", obj, ir.Constant(PTR, None)))  # MemoryError
            boxed.append(obj)
        argv = self.entry_alloca(PTR, max(1, len(boxed)))
        for index, obj in enumerate(boxed):
            bld.store(obj, bld.gep(argv, [ir.Constant(I64, index)], source_etype=PTR))
        callee = self.load_object(op.ref.expected)
        result = bld.call(
            declare(self.module, "PyObject_VectorcallDict"),
            [callee, argv, ir.Constant(I64, len(boxed)), ir.Constant(PTR, None)],
        )
        for obj in boxed:
            bld.call(decref, [obj])
        failed, ok = self.func.append_basic_block(), self.func.append_basic_block()
        bld.cbranch(bld.icmp_unsigned("==", result, ir.Constant(PTR, None)), failed, ok)
        bld.position_at_end(failed)
        bld.call(declare(self.module, "PyErr_Clear"), [])  # the bytecode re-run raises it again
        bld.branch(self.deopt_block)
        bld.position_at_end(ok)
        py_type = {Ty.INT: int, Ty.FLOAT: float, Ty.BOOL: bool}[op.type]  # type: ignore[index]
        result_type = bld.load(bld.gep(result, [ir.Constant(I64, 8)], source_etype=I8), typ=PTR)
        exact = bld.icmp_unsigned("==", result_type, self.load_object(py_type))
        wrong, right = self.func.append_basic_block(), self.func.append_basic_block()
        bld.cbranch(exact, right, wrong)
        bld.position_at_end(wrong)
        bld.call(decref, [result])
        bld.branch(self.deopt_block)
        bld.position_at_end(right)
        if op.type is Ty.FLOAT:
            value = bld.load(bld.gep(result, [ir.Constant(I64, 16)], source_etype=I8), typ=F64)
        elif op.type is Ty.BOOL:
            value = bld.icmp_unsigned("==", result, self.load_object(True))
        else:
            overflow = self.entry_alloca(I32)
            bld.store(ir.Constant(I32, 0), overflow)
            value = bld.call(declare(self.module, "PyLong_AsLongLongAndOverflow"), [result, overflow])
            big = bld.icmp_signed("!=", bld.load(overflow, typ=I32), ir.Constant(I32, 0))
            with bld.if_then(big, likely=False):
                bld.call(decref, [result])
                bld.branch(self.deopt_block)
        bld.call(decref, [result])
        self.values[op] = value

    def load_object(self, obj: object) -> ir.Value:
        load = self.builder.load(self.objects.ref(obj), typ=PTR)
        # The loader fills the object table before any code runs and never changes it.
        load.set_metadata("invariant.load", self.module.add_metadata([]))
        return load

    def raise_if(self, cond: ir.Value) -> None:
        """Leave with status 2: a Python exception (here MemoryError) is set."""
        cont = self.func.append_basic_block()
        self.builder.cbranch(cond, self.error_block, cont)
        self.builder.position_at_end(cont)

    def visit_call(self, op: Call) -> None:
        bld = self.builder
        self.check_overflow()  # arguments must be exact before they leave this kernel
        callee = self.symbol_of(op.target)
        depth = bld.sub(self.current_depth(), ir.Constant(I32, 1))
        # The log passes through untouched: whether the callee uses it is its own fact (compiler.py).
        result = bld.call(callee, [*(self.value(a) for a in op.args), self.func.args[-2], depth])
        status = bld.extract_value(result, 1)
        # A deopt or an exception anywhere below abandons the whole native run.
        failed = bld.icmp_unsigned("!=", status, OK)
        cont = self.func.append_basic_block()
        leave = self.func.append_basic_block()
        bld.cbranch(failed, leave, cont)
        bld.position_at_end(leave)
        bld.ret(kernel_result(bld, self.fn.ret_type, None, status))
        bld.position_at_end(cont)
        self.values[op] = bld.extract_value(result, 0)

    def current_depth(self) -> ir.Value:
        """What is left of the depth budget for this frame (i32)."""
        if self.depth_slot is None:
            return self.depth
        return self.builder.load(self.depth_slot, typ=I32)

    def visit_frame_check(self, op: FrameCheck) -> None:
        """An inlined call's frame: deopt if the depth budget has no room for it (checked at the entry if it can be)."""
        if not self.frames_checked:
            self.deopt_if(self.builder.icmp_signed("<=", self.current_depth(), ir.Constant(I32, op.level)))

    def visit_reenter(self, _op: Reenter) -> None:
        """A self tail call's frame (frontend/tailcalls.py): one level deeper, checked as the call's entry would be."""
        bld = self.builder
        depth = bld.sub(self.current_depth(), ir.Constant(I32, 1))
        bld.store(depth, self.depth_slot)  # (made for every function with a Reenter)
        self.deopt_if(bld.icmp_signed("<=", depth, ir.Constant(I32, 0)))
        self.check_overflow()  # at a back edge: no overflowed value may go round again
        self.check_signals(self.ticks)

    def visit_check_signals(self, _op: CheckSignals) -> None:
        # At a loop header: no overflowed value may go round the loop again.
        self.check_overflow()
        self.check_signals(self.ticks)

    def check_signals(self, ticks: ir.Value, amount: ir.Value | None = None, *, test: ir.Value | None = None) -> None:
        """Count `amount` (1) back edges down from `ticks`; at 0, a checkpoint.

        `test` False: only count (the next loop header's test sees the count; loopemit.py).
        """
        bld = self.builder
        left = bld.sub(bld.load(ticks, typ=I32), amount or ir.Constant(I32, 1))
        bld.store(left, ticks)
        due = bld.icmp_signed("<=", left, ir.Constant(I32, 0))
        with bld.if_then(due if test is None else bld.and_(test, due), likely=False):
            bld.store(ir.Constant(I32, SIGNAL_INTERVAL), ticks)
            self.check_counters()
            # Let other threads run, as the interpreter would (a thread may be the one
            # that interrupts us: _thread.interrupt_main()). Nothing native reads
            # Python state after the entry point, so a switch here is a legal schedule.
            self.leave_numpy_state()  # a signal handler sees the program's np.errstate
            if self.mirror_checkpoint():  # ... and the lists as CPython would have left them
                return
            checkpoint = self.module.globals.get(CHECKPOINT) or ir.Function(self.module, CHECKPOINT_TYPE, CHECKPOINT)
            raised = bld.call(checkpoint, [])
            cont = self.func.append_basic_block()
            bld.cbranch(bld.icmp_signed("!=", raised, ir.Constant(I32, 0)), self.error_block, cont)
            bld.position_at_end(cont)

    def check_counters(self) -> None:
        """Deopt unless every counter is within COUNTER_START_MAX of zero (frontend/counters.py)."""
        bld = self.builder
        for name in self.fn.counters:
            value = bld.load(self.slots[name], typ=I64)
            shifted = bld.add(value, ir.Constant(I64, COUNTER_START_MAX))  # in [0, 2 * MAX] iff |value| <= MAX
            self.deopt_if(bld.icmp_unsigned(">", shifted, ir.Constant(I64, 2 * COUNTER_START_MAX)))

    # Terminators.

    def visit_goto(self, op: Goto) -> None:
        jump = self.builder.branch(self.blocks[op.target])
        if self.flag_overflow and op.target.copy_header:  # a vectorizable copy's back edge
            jump.set_metadata("llvm.loop", self.interleaved_loop())

    def interleaved_loop(self) -> ir.Value:
        """A new loop ID asking LLVM to interleave the loop COPY_INTERLEAVE times.

        Only versioned copies that reduce into an int ask (frontend/versioning.py); the
        pipeline interleaves no other loop.
        """
        module = self.module
        count = ir.Constant(I32, COPY_INTERLEAVE)
        hint = module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"), count])
        # A loop ID refers to itself (which also keeps two loops' IDs apart).
        loop = module.add_metadata([ir.MetaDataString(module, f"fi.loop.{len(module.metadata)}"), hint])
        loop.operands = (loop, hint)
        return loop

    def visit_branch(self, op: Branch) -> None:
        branch = self.builder.cbranch(self.value(op.cond), self.blocks[op.true], self.blocks[op.false])
        if isinstance(op.cond, Speculated):  # the exact path: only where a speculated op left int64
            branch.set_weights([1, 1 << 20])

    def visit_return(self, op: Return) -> None:
        bld = self.builder
        self.check_overflow()
        if op.value is None:
            value = ir.Constant(I8, 0)
        else:
            value = self.coerce(self.value(op.value), op.value.type, self.fn.ret_type)
        if isinstance(self.fn.ret_type, Array):  # a view made here has no ndarray yet: the bytecode makes it
            self.deopt_if(bld.icmp_unsigned("==", bld.extract_value(value, ARRAY_OBJECT), ir.Constant(PTR, None)))
        self.leave_mirror()
        bld.ret(kernel_result(bld, self.fn.ret_type, value, OK))

    def visit_deopt(self, _op: Deopt) -> None:
        self.builder.branch(self.deopt_block)

    def entry_alloca(self, ty: ir.Type, count: int = 1) -> ir.Value:
        """An alloca in the entry block (so loops do not grow the stack)."""
        bld = self.builder
        block = bld.block
        entry = self.func.entry_basic_block
        bld.position_at_start(entry)
        slot = bld.alloca(ty, size=ir.Constant(I32, count)) if count > 1 else bld.alloca(ty)
        bld.position_at_end(block)
        return slot
