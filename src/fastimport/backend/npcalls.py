"""NumPy calls in native code: exact ufuncs and conversions natively, everything else through NumPy.

A mixin of FunctionEmitter (backend/emit.py), next to NumpyOps (backend/npemit.py).

Natively (scalars only): the ufuncs whose result is exact by definition (sqrt, floor,
rint, absolute, minimum, ...: frontend/numpy_calls.py NATIVE_UFUNCS), computed in the
type of NumPy's loop, and the scalar conversions np.float64(x), np.int8(x), ... with
NumPy's rules (measured: a Python float is truncated then range-checked as a Python
int; a NumPy integer is wrapped to the narrower type; a NumPy float out of the target's
range is platform-dependent in NumPy, so native code never decides it). Where NumPy
warns or raises, or where NumPy builds could differ (the sign of a zero picked by
np.minimum(0.0, -0.0)), the value is an event: the call re-runs as bytecode.

Through NumPy (everything else, arrays included): the arguments are boxed and the
callee (the guarded ufunc or function, an ndarray method, or CPython's number protocol
for `a + b`) is called under an error state that *raises* on every floating-point
error, so NumPy never warns inside a native call; an exception deopts, and the bytecode
re-run meets the same condition under the program's own np.errstate (a warning, an
error, or nothing), exactly once. Underflow included. The buffer size is the one other
part of NumPy's error state that can change a result (the blocks of a buffered
reduction); a program that changed it (np.setbufsize) deopts.

    r = np.exp(x)  ->  token = ContextVar.set(numpy.ufunc.extobj, <raise on all>)
                       obj = np.exp(box(x)); ContextVar.reset(token)
                       NULL -> clear, deopt; exact numpy.float64 -> unbox; else deopt

A new array NumPy returns goes into the call's arena (backend/callscope.py); it is
checked like an argument (exact ndarray, dtype object, number of dimensions, C order
when the specialization counts on it) and deopts otherwise.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.callscope import emit_keep
from fastimport.backend.capi import F64, I1, I8, I32, I64, PTR, declare, intrinsic
from fastimport.backend.npemit import ARRAY_OBJECT, F32, check_array, unbox_array
from fastimport.frontend.fresh import COMPUTED
from fastimport.frontend.ir import NumpyCall
from fastimport.frontend.numpy_calls import errstate_override, native_loop
from fastimport.frontend.numpy_types import INT_RANGES, ITEM_BITS, SIGNED
from fastimport.frontend.types import Array, Ty

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.frontend.ir import DtypeQuery, FuncIR, Value

EXTOBJ_CAPSULE = b"numpy.ufunc.extobj\x00"
EXTOBJ_BUFSIZE_OFFSET = 8  # npy_extobj {int errmask; npy_intp bufsize; ...}: probed in numpy_calls
# CPython's number protocol for the operators on arrays (a + b is PyNumber_Add(a, b)).
NUMBER_PROTOCOL = {
    "add": "PyNumber_Add", "sub": "PyNumber_Subtract", "mul": "PyNumber_Multiply",
    "truediv": "PyNumber_TrueDivide", "floordiv": "PyNumber_FloorDivide", "mod": "PyNumber_Remainder",
    "lshift": "PyNumber_Lshift", "rshift": "PyNumber_Rshift", "and": "PyNumber_And",
    "or": "PyNumber_Or", "xor": "PyNumber_Xor", "pow": "PyNumber_Power",
    "neg": "PyNumber_Negative", "pos": "PyNumber_Positive", "invert": "PyNumber_Invert",
    "abs": "PyNumber_Absolute",
}  # fmt: skip
RICH_COMPARE = {"lt": 0, "le": 1, "eq": 2, "ne": 3, "gt": 4, "ge": 5}  # Py_LT ... Py_GE


def _calls_numpy(fn: FuncIR) -> bool:
    """Whether `fn` may call NumPy (a NumpyCall, or an operator with an array operand)."""
    return any(
        isinstance(op, NumpyCall) or (isinstance(op, COMPUTED) and any(isinstance(s.type, Array) for s in op.sources()))
        for op in fn.all_ops()
    )


def _leave_function(module: ir.Module) -> ir.Function:
    """Void fi_numpy_leave(ptr slot, ptr var): reset the error state if the slot holds a token (one per unit)."""
    fn = module.globals.get("fi_numpy_leave")
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "fi_numpy_leave")
    fn.linkage = "internal"
    slot, var = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    token = bld.load(slot, typ=PTR)
    with bld.if_then(bld.icmp_unsigned("!=", token, ir.Constant(PTR, None))):
        bld.call(declare(module, "PyContextVar_Reset"), [var, token])
        bld.call(declare(module, "Py_DecRef"), [token])
        bld.store(ir.Constant(PTR, None), slot)
    bld.ret_void()
    return fn


def _float64_as_float(types: list) -> bool:
    """Whether a numpy.float64 argument may be passed as a Python float (~50 ns to make, not ~500).

    A Python float is "weak" (NEP 50) where a numpy.float64 is not, which only matters
    next to a lower-precision float (float32): `np.minimum(f64, f32)` is a float64,
    `np.minimum(1.5, f32)` a float32. Without one, both pick the same loop, so the
    result, its type and its warnings are the same.
    """
    return not any(t is Ty.F32 or (isinstance(t, Array) and t.dtype is Ty.F32) for t in types)


@functools.cache
def _ndarray_method(name: str) -> object:
    import numpy as np

    return getattr(np.ndarray, name)


class NumpyCalls:
    """NumpyCall and DtypeQuery, and the operators on arrays (mixed into FunctionEmitter)."""

    builder: ir.IRBuilder
    module: ir.Module
    values: dict
    func: ir.Function
    undo: ir.Value
    deopt_block: ir.Block

    if TYPE_CHECKING:  # provided by FunctionEmitter and NumpyOps (stubs here would shadow them)

        def value(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def split(self, op: object) -> bool: ...  # type: ignore[empty-body]  # noqa: D102
        def deopt_if(self, cond: ir.Value) -> None: ...  # noqa: D102
        def overflow_if(self, cond: ir.Value) -> None: ...  # noqa: D102
        def check_overflow(self) -> None: ...  # noqa: D102
        def raise_if(self, cond: ir.Value) -> None: ...  # noqa: D102
        def entry_alloca(self, ty: ir.Type, count: int = 1) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def load_object(self, obj: object) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def convert(self, v: Value, target: Ty) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def truth(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def as_int_value(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def check_range(self, ty: Ty, x: ir.Value) -> None: ...  # noqa: D102
        def float_event(self, r: ir.Value, operands: list[ir.Value]) -> None: ...  # noqa: D102
        def is_nan(self, x: ir.Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def is_inf(self, x: ir.Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def is_finite(self, x: ir.Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
        def fabs(self, x: ir.Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102

    def visit_dtype_query(self, op: DtypeQuery) -> None:
        """A constant: inference folded it."""
        if op.type is Ty.BOOL:
            self.values[op] = ir.Constant(I1, int(op.value))  # type: ignore[call-overload]
        elif op.type is Ty.FLOAT:
            self.values[op] = ir.Constant(F64, op.value)
        else:
            self.values[op] = ir.Constant(I64, op.value)

    def visit_numpy_call(self, op: NumpyCall) -> None:
        """A conversion or an exact ufunc natively, anything else through NumPy."""
        if self.split(op):
            return
        from fastimport.frontend.numpy_types import scalar_types

        types = tuple(a.type for a in op.args)
        if op.kind == "function" and op.ref.expected in scalar_types():  # type: ignore[union-attr]
            self.values[op] = self.numpy_conversion(op.args[0], op.type)  # type: ignore[arg-type]
            return
        loop = native_loop(op.name, types) if op.kind == "function" else None  # type: ignore[arg-type]
        if loop is not None and loop[1] is op.type:
            self.values[op] = self.native_ufunc(op.name, op.args, *loop)
            return
        if op.kind == "method":
            callee = self.load_object(_ndarray_method(op.name))
        elif op.kind == "function":
            callee = self.load_object(op.ref.expected)  # type: ignore[union-attr]
        else:  # pragma: no cover - lowering makes operators Binary/Unary/Compare ops
            raise AssertionError(op.kind)
        self.values[op] = self.call_numpy(lambda argv, n: self.vectorcall(callee, argv, n), op.args, op.type)

    def array_operator(self, kind: str, args: list[Value], result: Ty | Array) -> ir.Value:
        """`a + b`, `-a`, `a > 0.5`, `abs(a)` with an array operand: CPython's number protocol."""
        bld = self.builder

        def call(argv: ir.Value, n: int) -> ir.Value:
            operands = [bld.load(bld.gep(argv, [ir.Constant(I64, k)], source_etype=PTR), typ=PTR) for k in range(n)]
            if kind in RICH_COMPARE:
                compare = declare(self.module, "PyObject_RichCompare")
                return bld.call(compare, [*operands, ir.Constant(I32, RICH_COMPARE[kind])])
            if kind == "pow":  # a ** b is PyNumber_Power(a, b, None)
                operands.append(self.load_object(None))
            return bld.call(declare(self.module, NUMBER_PROTOCOL[kind]), operands)

        return self.call_numpy(call, args, result)

    # Through NumPy.

    def vectorcall(self, callee: ir.Value, argv: ir.Value, n: int) -> ir.Value:
        """callee(*argv[:n]), a new reference or NULL."""
        return self.builder.call(
            declare(self.module, "PyObject_VectorcallDict"), [callee, argv, ir.Constant(I64, n), ir.Constant(PTR, None)]
        )

    def call_numpy(self, call: Callable[[ir.Value, int], ir.Value], args: list[Value], result: Ty | Array) -> ir.Value:
        """Box `args`, `call` NumPy under the raising error state, unbox its result (see the module docstring)."""
        from fastimport.backend.emit import box_value  # (emit.py imports this module)

        bld = self.builder
        self.check_overflow()  # the arguments must be exact before NumPy sees them
        null = ir.Constant(PTR, None)
        for arg in args:  # a view made natively has no ndarray object: the bytecode makes one
            if isinstance(arg.type, Array):
                self.deopt_if(bld.icmp_unsigned("==", bld.extract_value(self.value(arg), ARRAY_OBJECT), null))
        self.enter_numpy_state()
        argv = self.entry_alloca(PTR, max(1, len(args)))
        boxed = []
        weak_float = _float64_as_float([a.type for a in args])
        for index, arg in enumerate(args):
            as_type = Ty.FLOAT if weak_float and arg.type is Ty.F64 else arg.type
            # A new reference (an array's own object too); NULL: MemoryError.
            obj = box_value(bld, self.module, as_type, self.value(arg), self.load_object)
            self.raise_if(bld.icmp_unsigned("==", obj, null))
            bld.store(obj, bld.gep(argv, [ir.Constant(I64, index)], source_etype=PTR))
            boxed.append(obj)
        obj = call(argv, len(args))
        decref = declare(self.module, "Py_DecRef")
        for boxed_arg in boxed:
            bld.call(decref, [boxed_arg])
        with bld.if_then(bld.icmp_unsigned("==", obj, null), likely=False):
            bld.call(declare(self.module, "PyErr_Clear"), [])  # the bytecode re-run meets it again
            bld.branch(self.deopt_block)
            bld.position_at_end(self.func.append_basic_block())
        if isinstance(result, Array):
            return self.take_array(obj, result)
        return self.take_scalar(obj, result)

    # NumPy's error state: raising from the first call through NumPy to the kernel's exit.

    def begin_numpy_state(self, fn: FuncIR) -> None:
        """The slot for the token of the raising error state, if `fn` may call NumPy (in the entry block)."""
        self.numpy_state: ir.Value | None = None
        if not _calls_numpy(fn):
            return
        self.numpy_state = self.builder.alloca(PTR, name="numpy_state")
        self.builder.store(ir.Constant(PTR, None), self.numpy_state)

    def enter_numpy_state(self) -> None:
        """Make NumPy raise where it would warn, unless already done (once per kernel run, not per call).

        Setting a context variable costs ~0.3 us, as much as the call itself; the state
        is the program's again at every exit of the kernel and at every signal check
        (`leave_numpy_state`). A program that changed the buffer size deopts here.
        """
        bld = self.builder
        var, raising, bufsize = errstate_override()  # type: ignore[misc]  # inference checked it exists
        slot = self.numpy_state
        with bld.if_then(bld.icmp_unsigned("==", bld.load(slot, typ=PTR), ir.Constant(PTR, None)), likely=False):
            self.deopt_if(bld.icmp_signed("!=", self.current_bufsize(var), ir.Constant(I64, bufsize)))
            token = bld.call(
                declare(self.module, "PyContextVar_Set"), [self.load_object(var), self.load_object(raising)]
            )
            self.raise_if(bld.icmp_unsigned("==", token, ir.Constant(PTR, None)))  # MemoryError
            bld.store(token, slot)

    def leave_numpy_state(self) -> None:
        """Give the program its own error state back (if this kernel took it)."""
        if self.numpy_state is not None:
            var = errstate_override()[0]  # type: ignore[index]
            self.builder.call(_leave_function(self.module), [self.numpy_state, self.load_object(var)])

    def finish_numpy_state(self) -> None:
        """`leave_numpy_state` before every `ret` of the kernel: deopt, error and return alike."""
        if self.numpy_state is None:
            return
        for block in self.func.blocks:
            terminator = block.terminator
            if terminator is not None and terminator.opname == "ret":
                self.builder.position_before(terminator)
                self.leave_numpy_state()

    def current_bufsize(self, var: object) -> ir.Value:
        """The buffer size of NumPy's current error state (np.setbufsize), or -1."""
        bld = self.builder
        out = self.entry_alloca(PTR)
        bld.store(ir.Constant(PTR, None), out)
        got = bld.call(declare(self.module, "PyContextVar_Get"), [self.load_object(var), ir.Constant(PTR, None), out])
        self.raise_if(bld.icmp_signed("!=", got, ir.Constant(I32, 0)))
        state = bld.load(out, typ=PTR)
        self.deopt_if(bld.icmp_unsigned("==", state, ir.Constant(PTR, None)))  # (the variable has a default)
        pointer = bld.call(declare(self.module, "PyCapsule_GetPointer"), [state, self.c_string(EXTOBJ_CAPSULE)])
        bld.call(declare(self.module, "Py_DecRef"), [state])  # NumPy's context keeps the capsule alive
        with bld.if_then(bld.icmp_unsigned("==", pointer, ir.Constant(PTR, None)), likely=False):
            bld.call(declare(self.module, "PyErr_Clear"), [])
            bld.branch(self.deopt_block)
            bld.position_at_end(self.func.append_basic_block())
        return bld.load(bld.gep(pointer, [ir.Constant(I64, EXTOBJ_BUFSIZE_OFFSET)], source_etype=I8), typ=I64)

    def c_string(self, text: bytes) -> ir.Value:
        """A NUL-terminated constant string of the module."""
        name = "fi.str." + text.rstrip(b"\x00").decode().replace(".", "_")
        var = self.module.globals.get(name)
        if var is None:
            array = ir.ArrayType(I8, len(text))
            var = ir.GlobalVariable(self.module, array, name)
            var.initializer = ir.Constant(array, bytearray(text))
            var.global_constant = True
            var.linkage = "internal"
        return var

    def release_unless(self, ok: ir.Value, obj: ir.Value) -> None:
        """Unless `ok`: drop our reference to `obj` and deopt."""
        bld = self.builder
        with bld.if_then(bld.not_(ok), likely=False):
            bld.call(declare(self.module, "Py_DecRef"), [obj])
            bld.branch(self.deopt_block)
            bld.position_at_end(self.func.append_basic_block())

    def take_array(self, obj: ir.Value, result: Array) -> ir.Value:
        """A new array from NumPy: checked, then held by the arena; native code borrows it from there."""
        from fastimport.backend.entry import PY_TYPE_OFFSET
        from fastimport.backend.npemit import _ndarray

        bld = self.builder
        kind = bld.load(bld.gep(obj, [ir.Constant(I64, PY_TYPE_OFFSET)], source_etype=I8), typ=PTR)
        self.release_unless(bld.icmp_unsigned("==", kind, self.load_object(_ndarray())), obj)
        check_array(bld, obj, result, self.load_object, lambda ok: self.release_unless(ok, obj))
        value = unbox_array(bld, obj, result)
        nbytes = ir.Constant(I64, ITEM_BITS[result.dtype] // 8)
        for k in range(result.ndim):
            nbytes = bld.mul(nbytes, bld.extract_value(value, [1, k]))
        emit_keep(bld, self.undo, obj, nbytes, full=self.deopt_block)
        return value

    def take_scalar(self, obj: ir.Value, result: Ty) -> ir.Value:
        """The value of the exact-typed scalar NumPy returned (another type deopts); the reference dropped."""
        from fastimport.backend.entry import FLOAT_VALUE_OFFSET, PY_TYPE_OFFSET, _unbox_numpy_scalar
        from fastimport.frontend.numpy_types import type_object

        bld = self.builder
        kind = bld.load(bld.gep(obj, [ir.Constant(I64, PY_TYPE_OFFSET)], source_etype=I8), typ=PTR)
        self.release_unless(bld.icmp_unsigned("==", kind, self.load_object(type_object(result))), obj)
        if result is Ty.FLOAT:
            value = bld.load(bld.gep(obj, [ir.Constant(I64, FLOAT_VALUE_OFFSET)], source_etype=I8), typ=F64)
        elif result is Ty.BOOL:
            value = bld.icmp_unsigned("==", obj, self.load_object(obj=True))
        elif result is Ty.INT:
            overflow = self.entry_alloca(I32)
            bld.store(ir.Constant(I32, 0), overflow)
            value = bld.call(declare(self.module, "PyLong_AsLongLongAndOverflow"), [obj, overflow])
            self.release_unless(bld.icmp_signed("==", bld.load(overflow, typ=I32), ir.Constant(I32, 0)), obj)
        else:
            value = _unbox_numpy_scalar(bld, obj, result, lambda ok: self.release_unless(ok, obj))
        bld.call(declare(self.module, "Py_DecRef"), [obj])
        return value

    # Natively: exact ufuncs.

    def native_ufunc(self, name: str, args: list[Value], loop: Ty, out: Ty) -> ir.Value:
        """The ufunc `name` computed in its loop type, as every NumPy computes it (events where it warns)."""
        xs = [self.convert(a, loop) for a in args]
        if loop.is_float:
            return _FLOAT_RECIPES[name](self, xs)
        r = _INT_RECIPES[name](self, xs)
        return r if out.is_bool else self.wrap(r, loop)

    def wrap(self, r: ir.Value, ty: Ty) -> ir.Value:
        """An int64 result reduced modulo 2**bits of `ty`, as NumPy's loop stores it (silently)."""
        bld = self.builder
        bits = ITEM_BITS[ty]
        if bits < 64:  # noqa: PLR2004
            narrow = bld.trunc(r, ir.IntType(bits))
            return bld.sext(narrow, I64) if ty in SIGNED else bld.zext(narrow, I64)
        if ty is Ty.U64:  # beyond 2**63 - 1 native code cannot hold it: an event
            self.overflow_if(bld.icmp_signed("<", r, ir.Constant(I64, 0)))
        return r

    def float_intrinsic(self, name: str, *xs: ir.Value) -> ir.Value:
        """llvm.<name> of doubles or floats (exact operations only: sqrt, floor, fabs...)."""
        suffix = "f64" if xs[0].type == F64 else "f32"
        fn = intrinsic(self.module, f"llvm.{name}.{suffix}", xs[0].type, [xs[0].type] * len(xs))
        return self.builder.call(fn, list(xs))

    def min_max(self, name: str, x: ir.Value, y: ir.Value) -> ir.Value:
        """minimum/maximum (nan propagates) and fmin/fmax (nan ignored) of two floats.

        Between 0.0 and -0.0 NumPy's pick depends on its build (SIMD min/max return the
        second operand, its scalar loop the first): an event, NumPy decides.
        """
        bld = self.builder
        pick_x = bld.fcmp_ordered("<" if name in ("minimum", "fmin") else ">", x, y)
        r = bld.select(pick_x, x, y)
        if name in ("minimum", "maximum"):
            r = bld.select(self.is_nan(x), x, r)  # (a nan y: y already)
        else:
            r = bld.select(self.is_nan(y), x, bld.select(self.is_nan(x), y, r))
        width = ir.IntType(64 if x.type == F64 else 32)
        signed_zeros = bld.and_(
            bld.fcmp_ordered("==", x, y), bld.icmp_unsigned("!=", bld.bitcast(x, width), bld.bitcast(y, width))
        )
        self.overflow_if(signed_zeros)
        return r

    def float_sign(self, x: ir.Value) -> ir.Value:
        """np.sign: 1.0, -1.0, 0.0 for either zero, nan for nan."""
        bld = self.builder
        one, zero = ir.Constant(x.type, 1.0), ir.Constant(x.type, 0.0)
        r = bld.select(bld.fcmp_ordered("==", x, zero), zero, x)
        r = bld.select(bld.fcmp_ordered("<", x, zero), ir.Constant(x.type, -1.0), r)
        return bld.select(bld.fcmp_ordered(">", x, zero), one, r)

    def checked_float(self, r: ir.Value, xs: list[ir.Value]) -> ir.Value:
        """`r`, an event where NumPy would warn (overflow, divide by zero: see float_event)."""
        self.float_event(r, xs)
        return r

    def sqrt(self, x: ir.Value) -> ir.Value:
        """Correctly rounded; nan from a non-nan (a negative x) is NumPy's "invalid value" warning."""
        r = self.float_intrinsic("sqrt", x)
        self.overflow_if(self.builder.and_(self.is_nan(r), self.builder.not_(self.is_nan(x))))  # invalid
        return r

    def signbit(self, x: ir.Value) -> ir.Value:
        """Whether the sign bit is set (-0.0 and negative nans too)."""
        width = ir.IntType(64 if x.type == F64 else 32)
        return self.builder.icmp_signed("<", self.builder.bitcast(x, width), ir.Constant(width, 0))

    # Natively: conversions np.float64(x), np.int8(x), np.bool_(x).

    def numpy_conversion(self, v: Value, target: Ty) -> ir.Value:
        """`np.<target>(v)` for a scalar `v`, with NumPy's rules (see the module docstring)."""
        if target is Ty.B:
            return self.truth(v)
        if target.is_float:
            return self.to_numpy_float(v, target)
        return self.to_numpy_int(v, target)

    def to_numpy_float(self, v: Value, target: Ty) -> ir.Value:
        """np.float64(v) / np.float32(v): exact or correctly rounded; float32 overflow is an event."""
        bld = self.builder
        source: Ty = v.type  # type: ignore[assignment]
        x = self.value(v)
        width = F64 if target is Ty.F64 else F32
        if source.is_float:
            if source is target:
                return x
            wide = bld.fpext(x, F64) if source is Ty.F32 else x
            if target is Ty.F64:
                return wide
            r = bld.fptrunc(wide, F32)  # "overflow encountered in cast"
            self.overflow_if(bld.and_(self.is_inf(r), self.is_finite(wide)))
            return r
        if source.is_bool:
            return bld.uitofp(x, width)
        if source is Ty.INT and target is Ty.F32:  # NumPy goes through a double (rounded twice)
            return bld.fptrunc(bld.sitofp(x, F64), F32)
        return bld.sitofp(x, width)

    def to_numpy_int(self, v: Value, target: Ty) -> ir.Value:
        """np.int8(v) ...: a Python int range-checked, a NumPy int wrapped, a float truncated inside the range."""
        bld = self.builder
        source: Ty = v.type  # type: ignore[assignment]
        x = self.value(v)
        if source.is_bool:
            return bld.zext(x, I64)
        if source.is_float:
            # A Python float: int(x), then the Python int's range check (nan: ValueError, inf
            # and beyond: OverflowError); a NumPy float beyond the type: platform-dependent.
            # Both only inside the range, truncated.
            d = bld.fpext(x, F64) if source is Ty.F32 else x
            low, high = INT_RANGES[target]
            fits = bld.and_(
                bld.fcmp_ordered(">", d, ir.Constant(F64, float(low - 1))),
                bld.fcmp_ordered("<", d, ir.Constant(F64, float(high + 1))),
            )
            self.overflow_if(bld.not_(fits))
            return bld.select(fits, bld.fptosi(d, I64), ir.Constant(I64, 0))
        if source is Ty.INT:  # a Python int out of range: OverflowError
            self.check_range(target, x)
            return x
        return self.wrap(x, target)  # NumPy's integer cast: modulo 2**bits, silently


def _float_recipes() -> dict[str, Callable[[NumpyCalls, list[ir.Value]], ir.Value]]:
    def intrinsic1(name: str) -> Callable[[NumpyCalls, list[ir.Value]], ir.Value]:
        return lambda e, xs: e.float_intrinsic(name, xs[0])

    def min_max(name: str) -> Callable[[NumpyCalls, list[ir.Value]], ir.Value]:
        return lambda e, xs: e.min_max(name, *xs)

    return {
        "sqrt": lambda e, xs: e.sqrt(xs[0]),
        "floor": intrinsic1("floor"),
        "ceil": intrinsic1("ceil"),
        "trunc": intrinsic1("trunc"),
        "rint": intrinsic1("roundeven"),
        "fabs": intrinsic1("fabs"),
        "absolute": intrinsic1("fabs"),
        "copysign": lambda e, xs: e.float_intrinsic("copysign", *xs),
        "negative": lambda e, xs: e.builder.fneg(xs[0]),
        "positive": lambda _e, xs: xs[0],
        "square": lambda e, xs: e.checked_float(e.builder.fmul(xs[0], xs[0]), xs),
        "reciprocal": lambda e, xs: e.checked_float(e.builder.fdiv(ir.Constant(xs[0].type, 1.0), xs[0]), xs),
        "sign": lambda e, xs: e.float_sign(xs[0]),
        "minimum": min_max("minimum"),
        "maximum": min_max("maximum"),
        "fmin": min_max("fmin"),
        "fmax": min_max("fmax"),
        "isnan": lambda e, xs: e.is_nan(xs[0]),
        "isinf": lambda e, xs: e.is_inf(xs[0]),
        "isfinite": lambda e, xs: e.is_finite(xs[0]),
        "signbit": lambda e, xs: e.signbit(xs[0]),
    }


def _int_recipes() -> dict[str, Callable[[NumpyCalls, list[ir.Value]], ir.Value]]:
    zero, one, minus_one = ir.Constant(I64, 0), ir.Constant(I64, 1), ir.Constant(I64, -1)

    def pick(symbol: str) -> Callable[[NumpyCalls, list[ir.Value]], ir.Value]:
        return lambda e, xs: e.builder.select(e.builder.icmp_signed(symbol, xs[0], xs[1]), xs[0], xs[1])

    def sign(e: NumpyCalls, xs: list[ir.Value]) -> ir.Value:
        bld = e.builder
        r = bld.select(bld.icmp_signed("<", xs[0], zero), minus_one, zero)
        return bld.select(bld.icmp_signed(">", xs[0], zero), one, r)

    def absolute(e: NumpyCalls, xs: list[ir.Value]) -> ir.Value:
        bld = e.builder
        return bld.select(bld.icmp_signed("<", xs[0], zero), bld.sub(zero, xs[0]), xs[0])

    return {
        "floor": lambda _e, xs: xs[0],
        "ceil": lambda _e, xs: xs[0],
        "trunc": lambda _e, xs: xs[0],
        "absolute": absolute,
        "negative": lambda e, xs: e.builder.sub(zero, xs[0]),
        "positive": lambda _e, xs: xs[0],
        "square": lambda e, xs: e.builder.mul(xs[0], xs[0]),
        "sign": sign,
        "minimum": pick("<"),
        "maximum": pick(">"),
        "fmin": pick("<"),
        "fmax": pick(">"),
        "isnan": lambda _e, _xs: ir.Constant(I1, 0),
        "isinf": lambda _e, _xs: ir.Constant(I1, 0),
        "isfinite": lambda _e, _xs: ir.Constant(I1, 1),
    }


_FLOAT_RECIPES = _float_recipes()
_INT_RECIPES = _int_recipes()
