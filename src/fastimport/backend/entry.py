"""The native entry point of a specialization: guards, unboxing, the kernel, boxing.

A METH_FASTCALL function `ptr @entry(ptr self, ptr args, i64 nargs)`:

    guard   exact type of each argument (chained: on a mismatch, try the entry
            of the previous specialization, if any)
    unbox   int -> i64 (a too-big int misses), float -> double, bool -> i1
    world   every global the unit reads: values are read and unboxed now,
            functions/modules/builtins must still be the objects compiled against
    run     the kernel; box its result
    miss    call the function's handler (Python), which counts the deopt and
            raises Miss so the prologue runs the bytecode body

Object addresses are not baked into the code: each lives in an `@obj.N`
global the loader fills after linking (so machine code stays position- and
process-independent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from fastimport.backend.capi import F64, I32, I64, PTR, declare
from fastimport.backend.objects import ObjectTable
from fastimport.backend.emit import LLVM_TYPES, MAX_NATIVE_DEPTH, OK, box_value, global_slot
from fastimport.frontend.ir import FuncIR, GlobalRef
from fastimport.frontend.types import Ty

PY_TYPE_OFFSET = 8  # PyObject.ob_type
FLOAT_VALUE_OFFSET = 16  # PyFloatObject.ob_fval


@dataclass
class Namespaces:
    """The dicts global reads look in: the module's globals, builtins, the math module's."""

    globals: dict
    builtins: dict
    modules: dict[str, dict]

    def lookup(self, namespace: str) -> dict:
        if namespace == "globals":
            return self.globals
        if namespace == "builtins":
            return self.builtins
        return self.modules[namespace.removeprefix("module:")]


PY_TYPE_OF = {Ty.INT: int, Ty.FLOAT: float, Ty.BOOL: bool}


MISS = ir.Constant(I64, 1).inttoptr(PTR)  # the core's "not mine" answer (never a valid object)
FASTCALL = ir.FunctionType(PTR, [PTR, PTR, I64])
VECTORCALL = ir.FunctionType(PTR, [PTR, PTR, I64, PTR])
CORE = ir.FunctionType(PTR, [PTR, I64])
NARGS_MASK = (1 << 63) - 1  # nargsf without PY_VECTORCALL_ARGUMENTS_OFFSET
# CPython's vectorcall for Python functions (registered by runtime/funcobject.py).
ORIGINAL_VECTORCALL = "fi_original_function_vectorcall"


def emit_entry(
    module: ir.Module,
    symbol: str,
    kernel: ir.Function,
    fn: FuncIR,
    refs: list[GlobalRef],
    names: Namespaces,
    objects: ObjectTable,
    handler: object,
    prev_symbol: str | None,
    code_offset: int | None,
    defaults_offset: int | None,
) -> None:
    """Emit `<symbol>_core`, `<symbol>` (METH_FASTCALL) and `<symbol>_vc` (vectorcall).

    core(args, nargs) returns the boxed result, NULL with an exception set, or MISS.
    The fastcall entry (called by the prologue) hands a MISS to the Python handler;
    the vectorcall entry (installed on the function object where CPython honours it)
    hands it, and any call with keywords or a replaced `__code__`, to CPython's own
    vectorcall, which runs the prologue and so ends up in the same place.
    """
    core = _emit_core(module, f"{symbol}_core", kernel, fn, refs, names, objects, prev_symbol, defaults_offset)

    fastcall = ir.Function(module, FASTCALL, symbol)
    _self, args, nargs = fastcall.args
    bld = ir.IRBuilder(fastcall.append_basic_block())
    result = bld.call(core, [args, nargs])
    with bld.if_then(bld.icmp_unsigned("==", result, MISS), likely=False):
        handler_obj = bld.load(objects.ref(handler), typ=PTR)
        bld.ret(bld.call(declare(module, "PyObject_VectorcallDict"), [handler_obj, args, nargs, ir.Constant(PTR, None)]))
    bld.ret(result)

    if code_offset is None:
        return  # this CPython's function layout is unknown: the prologue is the only path
    vectorcall = ir.Function(module, VECTORCALL, f"{symbol}_vc")
    callable_, args, nargsf, kwnames = vectorcall.args
    bld = ir.IRBuilder(vectorcall.append_basic_block())
    fallback = vectorcall.append_basic_block("fallback")
    run = vectorcall.append_basic_block("run")
    code = bld.load(bld.gep(callable_, [ir.Constant(I64, code_offset)], source_etype=ir.IntType(8)), typ=PTR)
    expected_code = bld.load(_pointer_global(module, "fi.code"), typ=PTR)
    simple = bld.and_(
        bld.icmp_unsigned("==", kwnames, ir.Constant(PTR, None)), bld.icmp_unsigned("==", code, expected_code)
    )
    bld.cbranch(simple, run, fallback)
    bld.position_at_end(run)
    result = bld.call(core, [args, bld.and_(nargsf, ir.Constant(I64, NARGS_MASK))])
    with bld.if_then(bld.icmp_unsigned("==", result, MISS), likely=False):
        bld.branch(fallback)
    bld.ret(result)
    bld.position_at_end(fallback)
    original = module.globals.get(ORIGINAL_VECTORCALL) or ir.Function(module, VECTORCALL, ORIGINAL_VECTORCALL)
    bld.ret(bld.call(original, [callable_, args, nargsf, kwnames], tail=True))


def _pointer_global(module: ir.Module, name: str) -> ir.GlobalVariable:
    var = module.globals.get(name)
    if var is None:
        var = ir.GlobalVariable(module, PTR, name)
        var.initializer = ir.Constant(PTR, None)
    return var


def _emit_core(
    module: ir.Module,
    symbol: str,
    kernel: ir.Function,
    fn: FuncIR,
    refs: list[GlobalRef],
    names: Namespaces,
    objects: ObjectTable,
    prev_symbol: str | None,
    defaults_offset: int | None,
) -> ir.Function:
    entry = ir.Function(module, CORE, symbol)
    entry.attributes.add("noinline")  # one copy, shared by both wrappers: halves LLVM time
    args, nargs = entry.args
    bld = ir.IRBuilder(entry.append_basic_block("entry"))
    miss = entry.append_basic_block("miss")
    chain = entry.append_basic_block("next")
    load_obj = lambda obj: bld.load(objects.ref(obj), typ=PTR)  # noqa: E731

    def next_block() -> ir.Block:
        return entry.append_basic_block()

    def check(cond: ir.Value, fail: ir.Block) -> None:
        cont = next_block()
        bld.cbranch(cond, cont, fail)
        bld.position_at_end(cont)

    def type_of(obj: ir.Value) -> ir.Value:
        return bld.load(bld.gep(obj, [ir.Constant(I64, PY_TYPE_OFFSET)], source_etype=ir.IntType(8)), typ=PTR)

    def unbox(obj: ir.Value, ty: Ty, fail: ir.Block) -> ir.Value:
        if ty is Ty.FLOAT:
            return bld.load(bld.gep(obj, [ir.Constant(I64, FLOAT_VALUE_OFFSET)], source_etype=ir.IntType(8)), typ=F64)
        if ty is Ty.BOOL:
            return bld.icmp_unsigned("==", obj, load_obj(True))
        overflow = bld.alloca(I32)
        bld.store(ir.Constant(I32, 0), overflow)
        value = bld.call(declare(module, "PyLong_AsLongLongAndOverflow"), [obj, overflow])
        check(bld.icmp_signed("==", bld.load(overflow, typ=I32), ir.Constant(I32, 0)), fail)
        return value

    # Guards on the arguments: number and exact types; a mismatch tries the previous specialization.
    check(bld.icmp_signed("==", nargs, ir.Constant(I64, len(fn.arg_types))), chain)
    boxed = [bld.load(bld.gep(args, [ir.Constant(I64, i)], source_etype=PTR), typ=PTR) for i in range(len(fn.arg_types))]
    for obj, ty in zip(boxed, fn.arg_types):
        check(bld.icmp_unsigned("==", type_of(obj), load_obj(PY_TYPE_OF[ty])), chain)
    values = [unbox(obj, ty, miss) for obj, ty in zip(boxed, fn.arg_types)]

    # The world: globals read at call time, and guards on everything compiled against.
    get_item = declare(module, "PyDict_GetItem")
    for ref in refs:
        if ref.kind == "defaults":  # the callee still has the defaults tuple compiled in
            func, defaults = ref.expected  # type: ignore[misc]
            field = bld.gep(load_obj(func), [ir.Constant(I64, defaults_offset)], source_etype=ir.IntType(8))
            check(bld.icmp_unsigned("==", bld.load(field, typ=PTR), load_obj(defaults)), miss)
            continue
        name = load_obj(ref.name)
        if ref.namespace == "builtins":  # not shadowed by a module global, and still the builtin
            check(bld.icmp_unsigned("==", bld.call(get_item, [load_obj(names.globals), name]), ir.Constant(PTR, None)), miss)
        found = bld.call(get_item, [load_obj(names.lookup(ref.namespace)), name])
        if ref.kind == "value":
            check(bld.icmp_unsigned("!=", found, ir.Constant(PTR, None)), miss)
            check(bld.icmp_unsigned("==", type_of(found), load_obj(PY_TYPE_OF[ref.type])), miss)  # type: ignore[index]
            bld.store(unbox(found, ref.type, miss), global_slot(module, ref))  # type: ignore[arg-type]
        else:
            check(bld.icmp_unsigned("==", found, load_obj(ref.expected)), miss)

    # Run the kernel with the full native recursion budget.
    result = bld.call(kernel, [*values, ir.Constant(I32, MAX_NATIVE_DEPTH)])
    status = bld.extract_value(result, 1)
    done, failed = next_block(), next_block()
    bld.cbranch(bld.icmp_unsigned("==", status, OK), done, failed)
    bld.position_at_end(failed)
    error = next_block()
    bld.cbranch(bld.icmp_unsigned("==", status, ir.Constant(I32, 2)), error, miss)
    bld.position_at_end(error)
    bld.ret(ir.Constant(PTR, None))  # a Python exception is set (KeyboardInterrupt)

    bld.position_at_end(done)
    calls = ir.GlobalVariable(module, I64, "fi.calls")
    calls.initializer = ir.Constant(I64, 0)
    bld.store(bld.add(bld.load(calls, typ=I64), ir.Constant(I64, 1)), calls)
    bld.ret(box_value(bld, module, fn.ret_type, bld.extract_value(result, 0), load_obj))

    bld.position_at_end(miss)
    bld.ret(MISS)

    # Next: the core of the previous specialization, if any (linked by symbol).
    bld.position_at_end(chain)
    if prev_symbol is None:
        bld.branch(miss)
    else:
        prev_core = f"{prev_symbol}_core"
        prev = module.globals.get(prev_core) or ir.Function(module, CORE, prev_core)
        bld.ret(bld.call(prev, [args, nargs], tail=True))
    return entry
