"""Native entry points: guards, unboxing, the world check, the kernel, boxing.

The entry code depends only on the *shape* of a specialization (argument and
result types), so it is compiled once per shape and per process, and shared:

    fi_core_<shape>(data, args, nargs, func, nargsf)
                                             guards + unbox + world + kernel + box,
                                             or NULL with an exception set; a miss
                                             returns MISS (func NULL) or ends in
                                             CPython's own vectorcall of func
    (the lite path)                          scalar shapes only, inside each wrapper: the
                                             core's work for a unit whose kernels never use
                                             the undo log (`log_free` in the data block),
                                             without one; anything out of the ordinary
                                             (a guard, a global) -> the core; first, a
                                             leaf's tier-up check (runtime/dispatch.py;
                                             none on 3.11, which makes no tier-ups)
    fi_fastcall_<shape>(self, args, nargs)   METH_FASTCALL; `self` is the data block
                                             (a ctypes object); MISS -> the function's
                                             handler (Python)
    fi_vc_<shape>(func, args, nargsf, kwnames)
                                             the function's vectorcall; the data block
                                             is found through `func.__code__`'s co_extra
                                             slot; MISS, keywords, a replaced __code__
                                             -> CPython's own vectorcall

A leaf unit may also have a vectorcall of its own (`emit_unit_vectorcall`, in the
unit's module): the lite path with its kernel inlined.

A specialization contributes only its kernel(s): the builtin the prologue calls
carries its data block (`DataBlock`, filled in from Python after linking) as
`self`, and the prologue's code object carries it in co_extra. No per-unit
entry code means less for LLVM to generate (~2 ms of every compile).

The world check (`fi_world_ok`) walks a table of the globals the unit reads:
values are read and unboxed into the unit's slots; functions, modules and
builtins must still be the objects compiled against; default-argument tuples
must still be the ones compiled in.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass

from llvmlite import ir

from fastimport.backend.callscope import (
    emit_finish,
    emit_is_precise,
    emit_new_log,
    emit_precise_scope,
    emit_undo_runtime,
)
from fastimport.backend.capi import F64, I8, I32, I64, PTR, declare
from fastimport.backend.emit import (
    DEOPT,
    ERROR,
    FALLBACK_NATIVE_DEPTH,
    MAX_NATIVE_DEPTH,
    OK,
    RETRY,
    box_value,
    emit_checkpoint,
    llvm_type,
    result_type,
)
from fastimport.backend.listemit import LIST_ITEMS_OFFSET, LIST_SIZE_OFFSET
from fastimport.backend.npemit import check_array, unbox_array
from fastimport.backend.objects import ObjectTable
from fastimport.backend.tupleemit import check_tuple_size, tuple_item
from fastimport.frontend.types import Array, List, Tuple, Ty
from fastimport.runtime.funcobject import CDATA_POINTER_OFFSET
from fastimport.runtime.native import (  # noqa: F401 - re-exported: the entry code reads these structures
    BUILTIN,
    DEFAULTS,
    IDENTITY,
    TIER_UPS,
    VALUE_BOOL,
    VALUE_FLOAT,
    VALUE_INT,
    VALUE_KINDS,
    DataBlock,
    WorldRecord,
    unit_vectorcall_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.frontend.types import Type

PY_TYPE_OFFSET = 8  # PyObject.ob_type
FLOAT_VALUE_OFFSET = 16  # PyFloatObject.ob_fval
MISS = ir.Constant(I64, 1).inttoptr(PTR)  # the core's "not mine" answer (never a valid object)
NARGS_MASK = (1 << 63) - 1  # nargsf without PY_VECTORCALL_ARGUMENTS_OFFSET
# CPython's vectorcall for Python functions (registered by backend/capi.py).
ORIGINAL_VECTORCALL = "fi_original_function_vectorcall"

CORE = ir.FunctionType(PTR, [PTR, PTR, I64, PTR, I64])
FASTCALL = ir.FunctionType(PTR, [PTR, PTR, I64])
VECTORCALL = ir.FunctionType(PTR, [PTR, PTR, I64, PTR])
WORLD_OK = ir.FunctionType(ir.IntType(1), [PTR, I64])


_FIELD = 8  # every field above is one 64-bit word


@dataclass(frozen=True)
class Shape:
    """The entry code shared by all specializations with these types."""

    args: tuple[Ty, ...]
    ret: Ty

    @property
    def name(self) -> str:
        """`int_float_float`: argument types, then the result type."""
        return "_".join(t.name.lower() for t in (*self.args, self.ret))

    @property
    def core(self) -> str:
        """Symbol of the shared core."""
        return f"fi_core_{self.name}"

    @property
    def fastcall(self) -> str:
        """Symbol of the shared METH_FASTCALL wrapper."""
        return f"fi_fastcall_{self.name}"

    @property
    def vectorcall(self) -> str:
        """Symbol of the shared vectorcall wrapper."""
        return f"fi_vc_{self.name}"


# --- the shared code, compiled once per process (and per shape) ---------------------------


def emit_world_check(module: ir.Module, objects: ObjectTable, defaults_offset: int | None) -> ir.Function:
    """i1 fi_world_ok(WorldRecord* table, i64 n): check and unbox every global read."""
    fn = ir.Function(module, WORLD_OK, "fi_world_ok")
    table, count = fn.args
    entry, loop, body, done, fail = (fn.append_basic_block(n) for n in ("entry", "loop", "body", "done", "fail"))
    bld = ir.IRBuilder(entry)
    overflow = bld.alloca(I32)
    bld.branch(loop)
    bld.position_at_end(loop)
    index = bld.phi(I64)
    index.add_incoming(ir.Constant(I64, 0), entry)
    bld.cbranch(bld.icmp_signed("<", index, count), body, done)
    bld.position_at_end(body)
    record = bld.gep(table, [bld.mul(index, ir.Constant(I64, len(WorldRecord._fields_)))], source_etype=I64)

    def field(position: int) -> ir.Value:
        return bld.load(bld.gep(record, [ir.Constant(I64, position)], source_etype=I64), typ=PTR)

    kind = bld.load(record, typ=I64)
    namespace, name, expected, slot, shadowing = (field(i) for i in range(1, 6))
    get_item = declare(module, "PyDict_GetItem")
    null = ir.Constant(PTR, None)
    next_block = fn.append_basic_block("next")
    switch = bld.switch(kind, fail)

    def case(value: int) -> None:
        block = fn.append_basic_block(f"kind{value}")
        switch.add_case(ir.Constant(I64, value), block)
        bld.position_at_end(block)

    def require(cond: ir.Value) -> None:
        cont = fn.append_basic_block()
        bld.cbranch(cond, cont, fail)
        bld.position_at_end(cont)

    for value_kind in (VALUE_INT, VALUE_FLOAT, VALUE_BOOL):
        case(value_kind)
        found = bld.call(get_item, [namespace, name])
        require(bld.icmp_unsigned("!=", found, null))
        require(bld.icmp_unsigned("==", _type_of(bld, found), expected))
        if value_kind == VALUE_INT:
            bld.store(ir.Constant(I32, 0), overflow)
            unboxed = bld.call(declare(module, "PyLong_AsLongLongAndOverflow"), [found, overflow])
            require(bld.icmp_signed("==", bld.load(overflow, typ=I32), ir.Constant(I32, 0)))
            bld.store(unboxed, slot)
        elif value_kind == VALUE_FLOAT:
            bld.store(_float_value(bld, found), slot)
        else:
            is_true = bld.icmp_unsigned("==", found, bld.load(objects.ref(True), typ=PTR))
            bld.store(bld.zext(is_true, I8), slot)
        bld.branch(next_block)
    case(IDENTITY)
    require(bld.icmp_unsigned("==", bld.call(get_item, [namespace, name]), expected))
    bld.branch(next_block)
    case(BUILTIN)
    require(bld.icmp_unsigned("==", bld.call(get_item, [shadowing, name]), null))
    require(bld.icmp_unsigned("==", bld.call(get_item, [namespace, name]), expected))
    bld.branch(next_block)
    if defaults_offset is not None:
        case(DEFAULTS)
        current = bld.load(bld.gep(namespace, [ir.Constant(I64, defaults_offset)], source_etype=I8), typ=PTR)
        require(bld.icmp_unsigned("==", current, expected))
        bld.branch(next_block)
    bld.position_at_end(next_block)
    index.add_incoming(bld.add(index, ir.Constant(I64, 1)), next_block)
    bld.branch(loop)
    bld.position_at_end(done)
    bld.ret(ir.Constant(ir.IntType(1), 1))
    bld.position_at_end(fail)
    bld.ret(ir.Constant(ir.IntType(1), 0))
    return fn


@dataclass(frozen=True)
class CodeWay:
    """How the vectorcall wrapper gets from a function to its data block: probed offsets."""

    code_offset: int  # PyFunctionObject.func_code
    extra_offset: int  # PyCodeObject.co_extra
    extra_index: int  # our slot in it


def emit_shape(module: ir.Module, shape: Shape, objects: ObjectTable, vectorcall: CodeWay | None) -> None:
    """The core and the two wrappers of one shape (no vectorcall wrapper if `vectorcall` is None)."""
    core = _emit_core(module, shape, objects)

    fastcall = ir.Function(module, FASTCALL, shape.fastcall)
    this, args, nargs = fastcall.args
    bld = ir.IRBuilder(fastcall.append_basic_block())
    data = bld.load(bld.gep(this, [ir.Constant(I64, CDATA_POINTER_OFFSET)], source_etype=I8), typ=PTR)
    via_core, to_handler = fastcall.append_basic_block("via_core"), fastcall.append_basic_block("to_handler")
    _branch_to_lite(bld, _LiteSite(shape, module, objects, data, args, via_core, to_handler), nargs, via_core)
    bld.position_at_end(via_core)
    result = bld.call(core, [data, args, nargs, ir.Constant(PTR, None), ir.Constant(I64, 0)])
    ours = fastcall.append_basic_block("ours")
    bld.cbranch(bld.icmp_unsigned("==", result, MISS), to_handler, ours)
    bld.position_at_end(ours)
    bld.ret(result)
    bld.position_at_end(to_handler)
    handler = _data_field(bld, data, "handler", PTR)
    call = declare(module, "PyObject_VectorcallDict")
    bld.ret(bld.call(call, [handler, args, nargs, ir.Constant(PTR, None)]))

    if vectorcall is not None:
        _emit_vectorcall(module, shape, objects, core, vectorcall)


@dataclass(frozen=True)
class _LiteSite:
    """Where a wrapper emits the lite path: its values, and where the path leaves to."""

    shape: Shape
    module: ir.Module
    objects: ObjectTable
    data: ir.Value
    args: ir.Value
    to_core: ir.Block  # anything the lite path does not handle (the argument count is the shape's there)
    miss: ir.Block  # the kernel deopted


def _branch_to_lite(bld: ir.IRBuilder, site: _LiteSite, nargs: ir.Value, other: ir.Block) -> None:
    """To the lite path (emitted here) if the shape has one, the block allows it and the count fits; else to `other`.

    The lite path itself ends in a return, in `site.to_core` or in `site.miss`.
    """
    if not has_lite_path(site.shape):
        bld.branch(other)
        return
    lite = bld.function.append_basic_block("lite")
    log_free = bld.icmp_unsigned("!=", _data_field(bld, site.data, "log_free", I64), ir.Constant(I64, 0))
    fits = bld.icmp_signed("==", nargs, ir.Constant(I64, len(site.shape.args)))
    bld.cbranch(bld.and_(log_free, fits), lite, other)
    bld.position_at_end(lite)
    _emit_lite(bld, site)


def _emit_vectorcall(module: ir.Module, shape: Shape, objects: ObjectTable, core: ir.Function, way: CodeWay) -> None:
    fn = ir.Function(module, VECTORCALL, shape.vectorcall)
    func, args, nargsf, kwnames = fn.args
    bld = ir.IRBuilder(fn.append_basic_block())
    fallback = fn.append_basic_block("fallback")
    null = ir.Constant(PTR, None)

    def field(base: ir.Value, offset: int) -> ir.Value:
        return bld.load(bld.gep(base, [ir.Constant(I64, offset)], source_etype=I8), typ=PTR)

    def require(cond: ir.Value) -> None:
        cont = fn.append_basic_block()
        bld.cbranch(cond, cont, fallback)
        bld.position_at_end(cont)

    # func.__code__ -> co_extra -> our slot: a data block, if the code is one our prologue made
    require(bld.icmp_unsigned("==", kwnames, null))
    extras = field(field(func, way.code_offset), way.extra_offset)
    require(bld.icmp_unsigned("!=", extras, null))
    size = bld.load(extras, typ=I64)
    require(bld.icmp_signed(">", size, ir.Constant(I64, way.extra_index)))
    data = field(extras, 8 * (1 + way.extra_index))
    require(bld.icmp_unsigned("!=", data, null))
    # ... and the block is this function's (another's code may have been assigned to it)
    require(bld.icmp_unsigned("==", _data_field(bld, data, "func", PTR), func))
    nargs = bld.and_(nargsf, ir.Constant(I64, NARGS_MASK))
    via_core, lite_core, lite_miss = (fn.append_basic_block(n) for n in ("via_core", "lite_core", "lite_miss"))
    _branch_to_lite(bld, _LiteSite(shape, module, objects, data, args, lite_core, lite_miss), nargs, via_core)
    # Jumps, not calls: a miss ends in CPython's vectorcall from the core itself.
    bld.position_at_end(via_core)
    bld.ret(bld.call(core, [data, args, nargs, func, nargsf], tail=True))
    # From the lite path, after calls: the function is the block's, and the count the shape's
    # (without PY_VECTORCALL_ARGUMENTS_OFFSET, which only allows a callee to borrow args[-1]);
    # nothing but the block and `args` has to live across the calls.
    bld.position_at_end(lite_core)
    count = ir.Constant(I64, len(shape.args))
    bld.ret(bld.call(core, [data, args, count, _data_field(bld, data, "func", PTR), count], tail=True))
    bld.position_at_end(lite_miss)
    original_args = [_data_field(bld, data, "func", PTR), args, count, null]
    bld.ret(bld.call(_original_vectorcall(module), original_args, tail=True))
    bld.position_at_end(fallback)
    bld.ret(bld.call(_original_vectorcall(module), [func, args, nargsf, kwnames], tail=True))


def _original_vectorcall(module: ir.Module) -> ir.Function:
    found = module.globals.get(ORIGINAL_VECTORCALL)
    return found if found is not None else ir.Function(module, VECTORCALL, ORIGINAL_VECTORCALL)


def _emit_core(module: ir.Module, shape: Shape, objects: ObjectTable) -> ir.Function:
    core = ir.Function(module, CORE, shape.core)
    data, args, nargs, func, nargsf = core.args
    bld = ir.IRBuilder(core.append_basic_block("entry"))
    undo = emit_new_log(bld)
    miss = core.append_basic_block("miss")
    chain = core.append_basic_block("next")
    load_obj = lambda obj: bld.load(objects.ref(obj), typ=PTR)  # noqa: E731

    def check(cond: ir.Value, fail: ir.Block) -> None:
        cont = core.append_basic_block()
        bld.cbranch(cond, cont, fail)
        bld.position_at_end(cont)

    # Guards on the arguments: number and exact types; a mismatch tries the previous specialization.
    check(bld.icmp_signed("==", nargs, ir.Constant(I64, len(shape.args))), chain)
    boxed = [bld.load(bld.gep(args, [ir.Constant(I64, i)], source_etype=PTR), typ=PTR) for i in range(len(shape.args))]
    for obj, ty in zip(boxed, shape.args, strict=True):
        _check_type(bld, obj, ty, load_obj, lambda cond: check(cond, chain))

    def unbox(obj: ir.Value, ty: Type) -> ir.Value:
        if ty is Ty.FLOAT:
            return _float_value(bld, obj)
        if ty is Ty.BOOL:
            return bld.icmp_unsigned("==", obj, load_obj(True))
        if ty is Ty.INT:
            return _unbox_int(bld, module, obj, miss)
        if isinstance(ty, Array):
            return unbox_array(bld, obj, ty)
        if isinstance(ty, List):
            return obj  # borrowed from the caller
        if isinstance(ty, Tuple):
            struct = ir.Constant(llvm_type(ty), ir.Undefined)
            for k, item in enumerate(ty.items):
                struct = bld.insert_value(struct, unbox(tuple_item(bld, obj, k), item), k)
            return struct
        return _unbox_numpy_scalar(bld, obj, ty, lambda cond: check(cond, miss))

    values = [unbox(obj, ty) for obj, ty in zip(boxed, shape.args, strict=True)]

    # The world: globals read at call time, and guards on everything compiled against.
    world_changed = core.append_basic_block("world_changed")
    _emit_world_check(bld, module, data, world_changed)
    budget = _emit_budget(bld, module, data, miss)
    kernel = _kernel(bld, data, shape)
    run = core.append_basic_block("run")
    bld.branch(run)
    bld.position_at_end(run)
    result = bld.call(kernel, [*values, undo, budget])
    status = bld.extract_value(result, 1)
    done, failed, error, retry = (core.append_basic_block() for _ in range(4))
    bld.cbranch(bld.icmp_unsigned("==", status, OK), done, failed)
    bld.position_at_end(failed)
    # A deopt hands the call to the bytecode, a RETRY to the precise re-run:
    # first put back what the kernel overwrote.
    roll_back = bld.or_(bld.icmp_unsigned("==", status, DEOPT), bld.icmp_unsigned("==", status, RETRY))
    emit_finish(bld, module, undo, roll_back)
    switch = bld.switch(status, miss)
    switch.add_case(ERROR, error)
    switch.add_case(RETRY, retry)
    bld.position_at_end(error)
    bld.ret(ir.Constant(PTR, None))  # a Python exception is set (KeyboardInterrupt)
    # Only a versioned loop deferring checks returns RETRY, and in the precise re-run none
    # of them runs its copy; should one still, the bytecode runs: the kernel runs twice at most.
    bld.position_at_end(retry)
    again = core.append_basic_block("again")
    bld.cbranch(emit_is_precise(bld, undo), miss, again)
    bld.position_at_end(again)
    emit_precise_scope(bld, undo)
    bld.branch(run)

    bld.position_at_end(done)
    calls = _data_field_pointer(bld, data, "calls")
    bld.store(bld.add(bld.load(calls, typ=I64), ir.Constant(I64, 1)), calls)
    # Boxed before the arena lets go of the arrays the call made (a returned one among them).
    boxed = _box_result(bld, module, shape.ret, bld.extract_value(result, 0), load_obj)
    emit_finish(bld, module, undo, ir.Constant(ir.IntType(1), 0))
    bld.ret(boxed)

    bld.position_at_end(miss)
    from_vectorcall = core.append_basic_block("from_vectorcall")
    miss_out = core.append_basic_block("miss_out")
    bld.cbranch(bld.icmp_unsigned("!=", func, ir.Constant(PTR, None)), from_vectorcall, miss_out)
    bld.position_at_end(from_vectorcall)
    original_args = [func, args, nargsf, ir.Constant(PTR, None)]
    bld.ret(bld.call(_original_vectorcall(module), original_args, tail=True))
    bld.position_at_end(miss_out)
    bld.ret(MISS)

    # A global changed (rebound to another type, say): counted, so the handler can recompile.
    bld.position_at_end(world_changed)
    misses = _data_field_pointer(bld, data, "world_misses")
    bld.store(bld.add(bld.load(misses, typ=I64), ir.Constant(I64, 1)), misses)
    bld.branch(miss)

    # Next: the core of the previous specialization, if any.
    bld.position_at_end(chain)
    prev = _data_field(bld, data, "prev_core", PTR)
    has_prev = core.append_basic_block()
    bld.cbranch(bld.icmp_unsigned("!=", prev, ir.Constant(PTR, None)), has_prev, miss)
    bld.position_at_end(has_prev)
    prev_args = [_data_field(bld, data, "prev_data", PTR), args, nargs, func, nargsf]
    bld.ret(bld.call(_Indirect(prev, CORE), prev_args, tail=True))
    return core


def _emit_world_check(bld: ir.IRBuilder, module: ir.Module, data: ir.Value, changed: ir.Block) -> None:
    """Check (and unbox) the globals the unit reads, if any; to `changed` if one is not as compiled."""
    count = _data_field(bld, data, "world_count", I64)
    with bld.if_then(bld.icmp_signed("!=", count, ir.Constant(I64, 0))):
        world_ok = module.globals.get("fi_world_ok") or ir.Function(module, WORLD_OK, "fi_world_ok")
        cont = bld.function.append_basic_block()
        bld.cbranch(bld.call(world_ok, [_data_field(bld, data, "world", PTR), count]), cont, changed)
        bld.position_at_end(cont)


def _emit_budget(bld: ir.IRBuilder, module: ir.Module, data: ir.Value, spent: ir.Block) -> ir.Value:
    """The kernel's depth budget: what is left of CPython's recursion limit; to `spent` if nothing is.

    Read only for kernels that call others (`nests`): the thread state costs a TLS lookup.
    """
    fn = bld.function
    before_budget = bld.block
    nests = bld.icmp_unsigned("!=", _data_field(bld, data, "nests", I64), ir.Constant(I64, 0))
    read_budget, with_budget = fn.append_basic_block("read_budget"), fn.append_basic_block("with_budget")
    bld.cbranch(nests, read_budget, with_budget)
    bld.position_at_end(read_budget)
    left = _recursion_budget(bld, module)
    cont = fn.append_basic_block()
    bld.cbranch(bld.icmp_signed(">", left, ir.Constant(I32, 0)), cont, spent)
    bld.position_at_end(cont)
    bld.branch(with_budget)
    bld.position_at_end(with_budget)
    budget = bld.phi(I32)
    budget.add_incoming(ir.Constant(I32, MAX_NATIVE_DEPTH), before_budget)
    budget.add_incoming(left, cont)
    return budget


def _emit_tier_check(bld: ir.IRBuilder, module: ir.Module, data: ir.Value) -> None:
    """Call the data block's `tier_hook` once its unit has made `tier_at` native calls; NULL out if it raised.

    A unit that may get a vectorcall of its own (a leaf: runtime/dispatch.py arms it) has
    it compiled on the compile-ahead thread once it is called this often; `tier_at` is
    NEVER for every other unit. The hook sets it to NEVER itself, so it runs once. It is
    called before the kernel runs: an exception it lets through (a KeyboardInterrupt
    delivered while it ran) is the call's, and nothing of the call has happened yet.
    One load and a compare a call (`calls` is loaded again for its increment anyway).
    """
    due, cont = bld.function.append_basic_block("tier_due"), bld.function.append_basic_block("tier_checked")
    calls, tier_at = _data_field(bld, data, "calls", I64), _data_field(bld, data, "tier_at", I64)
    branch = bld.cbranch(bld.icmp_signed(">=", calls, tier_at), due, cont)
    weights = [ir.MetaDataString(module, "branch_weights"), ir.Constant(I32, 1), ir.Constant(I32, 1 << 20)]
    branch.set_metadata("prof", module.add_metadata(weights))  # (out of line: taken once per unit)
    bld.position_at_end(due)
    null = ir.Constant(PTR, None)
    call = declare(module, "PyObject_VectorcallDict")
    result = bld.call(call, [_data_field(bld, data, "tier_hook", PTR), null, ir.Constant(I64, 0), null])
    raised, returned = bld.function.append_basic_block("tier_raised"), bld.function.append_basic_block("tier_done")
    bld.cbranch(bld.icmp_unsigned("==", result, null), raised, returned)
    bld.position_at_end(raised)
    bld.ret(null)
    bld.position_at_end(returned)
    bld.call(declare(module, "Py_DecRef"), [result])
    bld.branch(cont)
    bld.position_at_end(cont)


def _kernel(bld: ir.IRBuilder, data: ir.Value, shape: Shape) -> _Indirect:
    """The specialization's kernel, as a callee: {R, i32} kernel(args..., ptr undo, i32 depth)."""
    kernel_type = ir.FunctionType(result_type(shape.ret), [*(llvm_type(t) for t in shape.args), PTR, I32])
    return _Indirect(_data_field(bld, data, "kernel", PTR), kernel_type)


LITE_TYPES = (Ty.INT, Ty.FLOAT, Ty.BOOL)


def has_lite_path(shape: Shape) -> bool:
    """Whether the shape's entry code has a lite path: numbers in, a number or None out."""
    return all(t in LITE_TYPES for t in shape.args) and shape.ret in (*LITE_TYPES, Ty.NONE)


@dataclass(frozen=True)
class _OwnUnit:
    """What a unit's own vectorcall knows of its unit that the shared wrappers must read from the data block."""

    kernel: ir.Function  # called directly, and inlined: the unit is the vectorcall's module
    world: bool  # whether the unit reads globals (the world check is emitted only then)


def _emit_lite(bld: ir.IRBuilder, site: _LiteSite, own: _OwnUnit | None = None) -> None:
    """The core's work for a log-free unit of a scalar shape, with less of it, in the wrapper itself.

    No undo log to make, hand over and finish (the kernel is given NULL: compiler.py
    sets `log_free` only when no kernel of the unit asks for the log, and such a kernel
    never returns RETRY, whose precise re-run is a flag in the log), and the result's
    box returned at once. Whatever is not the plain case (a guard that fails, an int of
    more than one digit, a changed global, no recursion budget left) goes to `to_core`,
    which does it all again its own way; a kernel that deopts goes to `miss`, where the
    core's would end. Measured with valgrind on `add(1, 2)` from a Python loop (3.13):
    the core took ~100 instructions a call (its pushes, the log, the call of
    `PyLong_FromLongLong`), this path ~65 (the vectorcall wrapper's own part included).

    In the shared wrappers the path first asks whether the unit is due to tier up (see
    `_emit_tier_check`); a unit's own vectorcall (`own`) is what it tiers up to, and it
    knows its kernel, whether it reads globals, and that it calls nothing (no budget).
    """
    shape, module, data, to_core = site.shape, site.module, site.data, site.to_core
    fn = bld.function
    load_obj = lambda obj: bld.load(site.objects.ref(obj), typ=PTR)  # noqa: E731

    def check(cond: ir.Value) -> None:
        cont = fn.append_basic_block()
        bld.cbranch(cond, cont, to_core)
        bld.position_at_end(cont)

    # The world and the budget first: fewer values are live across their calls than after unboxing.
    if own is None and TIER_UPS:
        _emit_tier_check(bld, module, data)
    if own is None or own.world:
        _emit_world_check(bld, module, data, to_core)
    budget = _emit_budget(bld, module, data, to_core) if own is None else ir.Constant(I32, MAX_NATIVE_DEPTH)
    args = site.args
    boxed = [bld.load(bld.gep(args, [ir.Constant(I64, i)], source_etype=PTR), typ=PTR) for i in range(len(shape.args))]
    values = []
    for obj, ty in zip(boxed, shape.args, strict=True):
        _check_type(bld, obj, ty, load_obj, check)
        if ty is Ty.INT:
            values.append(_unbox_int(bld, module, obj, to_core, one_digit=True))  # (the core takes bigger ones)
        elif ty is Ty.FLOAT:
            values.append(_float_value(bld, obj))
        else:
            values.append(bld.icmp_unsigned("==", obj, load_obj(True)))
    callee = own.kernel if own is not None else _kernel(bld, data, shape)
    result = bld.call(callee, [*values, ir.Constant(PTR, None), budget])
    status = bld.extract_value(result, 1)
    done, failed, error = (fn.append_basic_block(n) for n in ("done", "failed", "error"))
    bld.cbranch(bld.icmp_unsigned("==", status, OK), done, failed)
    bld.position_at_end(failed)
    bld.cbranch(bld.icmp_unsigned("==", status, ERROR), error, site.miss)
    bld.position_at_end(error)
    bld.ret(ir.Constant(PTR, None))  # a Python exception is set (KeyboardInterrupt)
    bld.position_at_end(done)
    calls = _data_field_pointer(bld, data, "calls")
    bld.store(bld.add(bld.load(calls, typ=I64), ir.Constant(I64, 1)), calls)
    bld.ret(_box_result(bld, module, shape.ret, bld.extract_value(result, 0), load_obj))


def emit_unit_vectorcall(
    module: ir.Module, shape: Shape, objects: ObjectTable, kernel: ir.Function, *, world: bool
) -> str | None:
    """A vectorcall of the unit's own, with the lite path and the kernel inlined; its symbol, or None.

    For a small log-free unit of a lite shape that calls nothing (compiler.py decides;
    `world`: whether it reads globals, checked as everywhere), a call from Python
    then costs the guards, the unboxing, the kernel's own instructions and the box:
    no `co_extra` walk, no call of the kernel, no field of the data block but the call
    count. It is the function's vectorcall only while the function's code is the one it
    was installed with (`.code`, written by `CompiledEntry.bind_vectorcall`; the state
    keeps that code alive, so its address is never another's). Anything else goes to
    the shape's vectorcall (`.fallback`), which does it all again; a kernel that deopts
    goes to CPython's vectorcall, as from the shape's. The three globals are filled
    after linking (compiler.py), or after placing a `.pym`'s code (runtime/artifacts.py).
    """
    way = code_way()
    if way is None or not has_lite_path(shape):
        return None
    name = unit_vectorcall_name(kernel.name)
    fn = ir.Function(module, VECTORCALL, name)
    slots = {}
    for part in ("data", "code", "fallback"):
        slots[part] = ir.GlobalVariable(module, PTR, f"{name}.{part}")
        slots[part].initializer = ir.Constant(PTR, None)
    func, args, nargsf, kwnames = fn.args
    bld = ir.IRBuilder(fn.append_basic_block())
    fallback, deopted = fn.append_basic_block("fallback"), fn.append_basic_block("deopted")
    null = ir.Constant(PTR, None)

    def require(cond: ir.Value) -> None:
        cont = fn.append_basic_block()
        bld.cbranch(cond, cont, fallback)
        bld.position_at_end(cont)

    require(bld.icmp_unsigned("==", kwnames, null))
    code = bld.load(bld.gep(func, [ir.Constant(I64, way.code_offset)], source_etype=I8), typ=PTR)
    require(bld.icmp_unsigned("==", code, bld.load(slots["code"], typ=PTR)))
    count = ir.Constant(I64, len(shape.args))
    require(bld.icmp_unsigned("==", bld.and_(nargsf, ir.Constant(I64, NARGS_MASK)), count))
    data = bld.load(slots["data"], typ=PTR)
    _emit_lite(bld, _LiteSite(shape, module, objects, data, args, fallback, deopted), _OwnUnit(kernel, world))
    bld.position_at_end(fallback)
    shape_vectorcall = _Indirect(bld.load(slots["fallback"], typ=PTR), VECTORCALL)
    bld.ret(bld.call(shape_vectorcall, [func, args, nargsf, kwnames], tail=True))
    bld.position_at_end(deopted)
    bld.ret(bld.call(_original_vectorcall(module), [func, args, count, null], tail=True))
    return name


def _box_result(
    bld: ir.IRBuilder, module: ir.Module, ty: Type, value: ir.Value, load_obj: Callable[[object], ir.Value]
) -> ir.Value:
    """`box_value`, with a bool, or an int among CPython's cached small ones, taken inline.

    Small functions return small ints often, and the call of `PyLong_FromLongLong` was
    a fifth of the entry's instructions for them (valgrind, `add(1, 2)` on 3.13).
    """
    from fastimport.runtime.funcobject import SMALL_INT_MAX, SMALL_INT_MIN, small_ints

    if ty is Ty.BOOL:
        obj = bld.select(value, load_obj(True), load_obj(False))
        if sys.version_info < (3, 12):  # Py_INCREF (3.12+: True and False are immortal)
            bld.store(bld.add(bld.load(obj, typ=I64), ir.Constant(I64, 1)), obj)
        return obj
    cache = small_ints()
    if ty is not Ty.INT or cache is None:
        return box_value(bld, module, ty, value, load_obj)
    fn = bld.function
    cached, other, done = (fn.append_basic_block(n) for n in ("small_int", "other_int", "boxed"))
    index = bld.sub(value, ir.Constant(I64, SMALL_INT_MIN))
    bld.cbranch(bld.icmp_unsigned("<=", index, ir.Constant(I64, SMALL_INT_MAX - SMALL_INT_MIN)), cached, other)
    bld.position_at_end(cached)
    small = bld.gep(load_obj(SMALL_INT_MIN), [bld.mul(index, ir.Constant(I64, cache.stride))], source_etype=I8)
    if not cache.immortal:  # Py_INCREF (3.11: no atomics, no immortal objects)
        bld.store(bld.add(bld.load(small, typ=I64), ir.Constant(I64, 1)), small)
    bld.branch(done)
    bld.position_at_end(other)
    boxed = box_value(bld, module, ty, value, load_obj)
    other_end = bld.block
    bld.branch(done)
    bld.position_at_end(done)
    result = bld.phi(PTR)
    result.add_incoming(small, cached)
    result.add_incoming(boxed, other_end)
    return result


# Frames kept in hand below CPython's limit: the function's own frame (absent on the
# vectorcall path) and a C call CPython may count (3.10, 3.11).
RECURSION_MARGIN = 2


def _recursion_budget(bld: ir.IRBuilder, module: ir.Module) -> ir.Value:
    """How deep native calls may nest before CPython would raise RecursionError.

    Deeper than that, the kernel deopts and bytecode frames take over, so a
    RecursionError is raised where CPython raises it. The cap keeps the C stack safe
    when a program raises the recursion limit very high.
    """
    from fastimport.runtime.funcobject import recursion_field

    where = recursion_field()
    if where is None:  # an unknown CPython: a small fixed budget (see docs/semantics.md)
        return ir.Constant(I32, FALLBACK_NATIVE_DEPTH)
    tstate = bld.call(declare(module, "PyThreadState_Get"), [])
    counter = bld.load(bld.gep(tstate, [ir.Constant(I64, where.offset)], source_etype=I8), typ=I32)
    limit = bld.call(declare(module, "Py_GetRecursionLimit"), []) if not where.remaining else None
    left = counter if limit is None else bld.sub(limit, counter)
    left = bld.sub(left, ir.Constant(I32, RECURSION_MARGIN))
    too_deep = bld.icmp_signed(">", left, ir.Constant(I32, MAX_NATIVE_DEPTH))
    return bld.select(too_deep, ir.Constant(I32, MAX_NATIVE_DEPTH), left)


class _Indirect:
    """A loaded function pointer as a callee: llvmlite's call wants `function_type`."""

    def __init__(self, pointer: ir.Value, function_type: ir.FunctionType) -> None:
        self.pointer = pointer
        self.function_type = function_type
        self.type = pointer.type

    def get_reference(self) -> str:
        return self.pointer.get_reference()


def _check_type(bld: ir.IRBuilder, obj: ir.Value, ty: Type, load_obj: Callable, check: Callable) -> None:
    """Guards of one argument: its exact type, and what else the specialization assumes of it."""
    check(bld.icmp_unsigned("==", _type_of(bld, obj), load_obj(_type_object(ty))))
    if isinstance(ty, Array):
        check_array(bld, obj, ty, load_obj, check)
    elif isinstance(ty, Tuple):
        check(check_tuple_size(bld, obj, ty))
        for k, item in enumerate(ty.items):
            _check_type(bld, tuple_item(bld, obj, k), item, load_obj, check)
    elif isinstance(ty, List):
        # Items are checked at each read; the first one tells specializations apart
        # (a list of floats from one of ints) without a walk over the list.
        size = bld.load(bld.gep(obj, [ir.Constant(I64, LIST_SIZE_OFFSET)], source_etype=I8), typ=I64)
        with bld.if_then(bld.icmp_signed(">", size, ir.Constant(I64, 0))):  # (only then is there an item 0)
            items = bld.load(bld.gep(obj, [ir.Constant(I64, LIST_ITEMS_OFFSET)], source_etype=I8), typ=PTR)
            first = bld.load(items, typ=PTR)
            check(bld.icmp_unsigned("==", _type_of(bld, first), load_obj(_type_object(ty.item))))


def _type_object(ty: Type) -> type:
    if isinstance(ty, Tuple):
        return tuple
    if isinstance(ty, List):
        return list
    if isinstance(ty, Array):
        import numpy as np

        return np.ndarray
    from fastimport.frontend.numpy_types import type_object

    return type_object(ty)


def _unbox_numpy_scalar(bld: ir.IRBuilder, obj: ir.Value, ty: Ty, check: Callable) -> ir.Value:
    """The value of a NumPy scalar object (it follows the object header, as in every NumPy)."""
    from fastimport.frontend.numpy_types import ITEM_BITS, SIGNED

    at = bld.gep(obj, [ir.Constant(I64, FLOAT_VALUE_OFFSET)], source_etype=I8)
    if ty is Ty.F64:
        return bld.load(at, typ=F64)
    if ty is Ty.F32:
        return bld.load(at, typ=ir.FloatType())
    if ty is Ty.B:
        return bld.icmp_unsigned("!=", bld.load(at, typ=I8), ir.Constant(I8, 0))
    raw = bld.load(at, typ=ir.IntType(ITEM_BITS[ty]))
    if ty is Ty.U64:
        check(bld.icmp_signed(">=", raw, ir.Constant(I64, 0)))  # beyond 2**63 - 1: bytecode
        return raw
    if ITEM_BITS[ty] == 64:  # noqa: PLR2004
        return raw
    return bld.sext(raw, I64) if ty in SIGNED else bld.zext(raw, I64)


def _unbox_int(
    bld: ir.IRBuilder, module: ir.Module, obj: ir.Value, miss: ir.Block, *, one_digit: bool = False
) -> ir.Value:
    """The int64 value of an exact int; one-digit ints inline, others through the C API.

    An int beyond int64 goes to `miss` (the call runs as bytecode); with `one_digit`, any
    int of more than one digit does (and where the int layout is unknown, every one).
    """
    from fastimport.runtime.funcobject import INT_DIGIT_OFFSET, INT_SIZE_OFFSET, int_layout

    fn = bld.function
    layout_name = int_layout()
    if one_digit:
        slow = miss
        join = fn.append_basic_block("int_done")
    else:
        slow, join = fn.append_basic_block("int_slow"), fn.append_basic_block("int_done")
    entry_block = bld.block
    if layout_name is not None:
        size = bld.load(bld.gep(obj, [ir.Constant(I64, INT_SIZE_OFFSET)], source_etype=I8), typ=I64)
        digit = bld.load(bld.gep(obj, [ir.Constant(I64, INT_DIGIT_OFFSET)], source_etype=I8), typ=I32)
        digit = bld.zext(digit, I64)
        if layout_name == "ob_size":  # -1, 0, 1 digits: the size is the sign
            compact = bld.icmp_unsigned("<=", bld.add(size, ir.Constant(I64, 1)), ir.Constant(I64, 2))
            sign = size
        else:  # lv_tag: one digit or none; sign bits 0 (+), 1 (zero), 2 (-)
            compact = bld.icmp_unsigned("<", size, ir.Constant(I64, 16))
            sign = bld.sub(ir.Constant(I64, 1), bld.and_(size, ir.Constant(I64, 3)))
        fast = bld.mul(sign, digit)
        bld.cbranch(compact, join, slow)
    else:
        fast = None
        bld.branch(slow)
    if one_digit:
        bld.position_at_end(join)
        return fast if fast is not None else ir.Constant(I64, 0)  # (unknown layout: `join` is unreachable)
    bld.position_at_start(fn.entry_basic_block)  # a static slot: no stack adjustment on the way
    overflow = bld.alloca(I32)
    bld.position_at_end(slow)
    bld.store(ir.Constant(I32, 0), overflow)
    value = bld.call(declare(module, "PyLong_AsLongLongAndOverflow"), [obj, overflow])
    slow_done = fn.append_basic_block()
    bld.cbranch(bld.icmp_signed("==", bld.load(overflow, typ=I32), ir.Constant(I32, 0)), slow_done, miss)
    bld.position_at_end(slow_done)
    bld.branch(join)
    bld.position_at_end(join)
    phi = bld.phi(I64)
    if fast is not None:
        phi.add_incoming(fast, entry_block)
    phi.add_incoming(value, slow_done)
    return phi


def _field_index(name: str) -> int:
    return [f[0] for f in DataBlock._fields_].index(name)


def _data_field_pointer(bld: ir.IRBuilder, data: ir.Value, name: str) -> ir.Value:
    return bld.gep(data, [ir.Constant(I64, _field_index(name))], source_etype=I64)


def _data_field(bld: ir.IRBuilder, data: ir.Value, name: str, ty: ir.Type) -> ir.Value:
    return bld.load(_data_field_pointer(bld, data, name), typ=ty)


def _type_of(bld: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    return bld.load(bld.gep(obj, [ir.Constant(I64, PY_TYPE_OFFSET)], source_etype=I8), typ=PTR)


def _float_value(bld: ir.IRBuilder, obj: ir.Value) -> ir.Value:
    return bld.load(bld.gep(obj, [ir.Constant(I64, FLOAT_VALUE_OFFSET)], source_etype=I8), typ=F64)


# The object tables of the shared code this process compiled, by .pym section name
# ("runtime", "shape:<name>"): a unit's artifact carries them (runtime/artifacts.py).
SHARED_OBJECTS: dict[str, list[tuple[str, object]]] = {}


@functools.cache
def shape_module_loaded(shape: Shape) -> Shape:
    """Compile the shared entry code of `shape` into the JIT (once per process)."""
    from fastimport.runtime.registry import add_setup_ms

    runtime_loaded()
    start = time.perf_counter()
    module, objects = shape_module(shape)
    _load_with_objects(module, objects)
    SHARED_OBJECTS[f"shape:{shape.name}"] = list(zip(objects.names, objects.objects, strict=True))
    add_setup_ms((time.perf_counter() - start) * 1000)  # once per shape and process
    return shape


@functools.cache
def code_way() -> CodeWay | None:
    """The offsets the vectorcall wrapper needs, or None where a probe failed (then the prologue is the only path)."""
    from fastimport.runtime.funcobject import code_extra, layout

    lay, extra = layout(), code_extra()
    if lay is None or extra is None:
        return None
    return CodeWay(lay.code_offset, extra.offset, extra.index)


@functools.cache
def runtime_loaded() -> None:
    """Compile `fi_world_ok`, the undo log's helpers and `fi_checkpoint` into the JIT (once per process)."""
    module, objects = runtime_module()
    _load_with_objects(module, objects)
    SHARED_OBJECTS["runtime"] = list(zip(objects.names, objects.objects, strict=True))


def shape_module(shape: Shape) -> tuple[ir.Module, ObjectTable]:
    """The LLVM module of `shape`'s entry code, and its object table (for the JIT, or `fastimport compile`)."""
    module = ir.Module(name=f"fi_shape_{shape.name}")
    objects = ObjectTable(module, prefix=f"fi_shape_{shape.name}")
    emit_shape(module, shape, objects, code_way())
    return module, objects


def runtime_module() -> tuple[ir.Module, ObjectTable]:
    """The LLVM module of the shared runtime (world check, undo log, checkpoint), and its object table."""
    from fastimport.runtime.funcobject import layout

    lay = layout()
    module = ir.Module(name="fi_runtime")
    objects = ObjectTable(module, prefix="fi_runtime")
    emit_world_check(module, objects, lay.defaults_offset if lay is not None else None)
    emit_undo_runtime(module)
    emit_checkpoint(module)
    return module, objects


def _load_with_objects(module: ir.Module, objects: ObjectTable) -> None:
    from fastimport.backend.jit import jit

    engine = jit()
    engine.load(module)
    for name, obj in zip(objects.names, objects.objects, strict=True):
        engine.set_pointer(name, id(obj))
    # These objects (types, True, None) are immortal or live as long as the process.
