"""NumPy in native code: array elements, views and properties, and NumPy scalar arithmetic.

A mixin of FunctionEmitter (backend/emit.py). Arrays are {data, shape, strides}
structs (see `array_struct`); an element read checks its bounds (out of bounds
deopts: CPython raises NumPy's IndexError).

NumPy scalar arithmetic computes what NumPy's scalar math computes: both
operands converted to the result type (frontend/numpy_types.py asks NumPy
which), then one IEEE or wrapping integer operation. Whatever would make NumPy
warn or raise (a float overflow to inf, an invalid operation giving nan, a
division by zero, an integer leaving its type) is an *event*: it deopts as a
Python int overflow does (backend/emit.py), and the call re-runs as bytecode, where
NumPy itself warns, honours np.errstate, or raises. Events are rare, so the
common path is plain machine arithmetic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend import numerics
from fastimport.backend.callscope import emit_keep, emit_record
from fastimport.backend.capi import F64, I8, I32, I64, PTR, declare, intrinsic
from fastimport.frontend.numpy_types import INT_RANGES, ITEM_BITS, SIGNED, loop_type
from fastimport.frontend.types import SCALARS, Array, Ty, Union

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.frontend.ir import ArrayAttr, Binary, Index, NewArray, SetIndex, Value

F32 = ir.FloatType()
INF = float("inf")


def array_struct(ndim: int) -> ir.LiteralStructType:
    """An array in native code: {data, shape[ndim], strides[ndim], object} (strides in bytes).

    `object` is the ndarray itself (borrowed: from the caller, or from the call's arena,
    backend/callscope.py), or null for a view made in native code.
    """
    dims = ir.ArrayType(I64, ndim)
    return ir.LiteralStructType([ir.PointerType(), dims, dims, ir.PointerType()])


ARRAY_OBJECT = 3  # the index of `object` in array_struct


def check_array(
    bld: ir.IRBuilder, obj: ir.Value, ty: Array, load_obj: Callable[[object], ir.Value], check: Callable
) -> None:
    """Guards of an ndarray argument: dimensions, the dtype object itself, the layout."""
    from fastimport.frontend.numpy_types import dtype_of
    from fastimport.runtime.ndarray import C_CONTIGUOUS, WRITEABLE, layout

    lay = layout()
    nd = bld.load(bld.gep(obj, [ir.Constant(I64, lay.nd)], source_etype=I8), typ=I32)
    check(bld.icmp_signed("==", nd, ir.Constant(I32, ty.ndim)))
    # Canonical dtypes are singletons: another byte order or metadata is another object.
    descr = bld.load(bld.gep(obj, [ir.Constant(I64, lay.descr)], source_etype=I8), typ=PTR)
    check(bld.icmp_unsigned("==", descr, load_obj(dtype_of(ty.dtype))))
    # A read-only specialization stores nothing, so it takes writeable arrays too.
    required = (C_CONTIGUOUS if ty.layout == "C" else 0) | (0 if ty.readonly else WRITEABLE)
    if required:
        flags = bld.load(bld.gep(obj, [ir.Constant(I64, lay.flags)], source_etype=I8), typ=I32)
        check(bld.icmp_unsigned("==", bld.and_(flags, ir.Constant(I32, required)), ir.Constant(I32, required)))


def unbox_array(bld: ir.IRBuilder, obj: ir.Value, ty: Array) -> ir.Value:
    """{data, shape, strides, object} of an ndarray (an argument, or one NumPy just made).

    A C array gets the strides its shape implies (NumPy may store any stride for a
    dimension of length 1).
    """
    from fastimport.runtime.ndarray import layout

    lay = layout()

    def field(offset: int) -> ir.Value:
        return bld.load(bld.gep(obj, [ir.Constant(I64, offset)], source_etype=I8), typ=PTR)

    dims_at, strides_at = field(lay.dimensions), field(lay.strides)
    value = bld.insert_value(ir.Constant(array_struct(ty.ndim), ir.Undefined), field(lay.data), 0)
    value = bld.insert_value(value, obj, ARRAY_OBJECT)
    dims = [bld.load(bld.gep(dims_at, [ir.Constant(I64, k)], source_etype=I64), typ=I64) for k in range(ty.ndim)]
    if ty.layout == "C":
        strides = [ir.Constant(I64, ITEM_BITS[ty.dtype] // 8)]
        for k in range(ty.ndim - 1, 0, -1):
            strides.insert(0, bld.mul(strides[0], dims[k]))
    else:
        strides = [
            bld.load(bld.gep(strides_at, [ir.Constant(I64, k)], source_etype=I64), typ=I64) for k in range(ty.ndim)
        ]
    for k in range(ty.ndim):
        value = bld.insert_value(value, dims[k], [1, k])
        value = bld.insert_value(value, strides[k], [2, k])
    return value


def _ndarray() -> type:
    import numpy as np

    return np.ndarray


def is_numpy(*types: object) -> bool:
    """Whether NumPy's rules apply: a NumPy scalar takes part."""
    return any(isinstance(t, Ty) and t.is_numpy for t in types)


class NumpyOps:
    """Array access and NumPy scalar operations (mixed into FunctionEmitter)."""

    builder: ir.IRBuilder
    module: ir.Module
    values: dict
    func: ir.Function
    undo: ir.Value
    deopt_block: ir.Block
    error_block: ir.Block
    deferred: ir.Value | None
    float_flags: tuple[str, ...]  # (FunctionEmitter's property)

    # Provided by FunctionEmitter.
    def value(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def deopt_if(self, cond: ir.Value) -> None: ...  # noqa: D102
    def overflow_if(self, cond: ir.Value) -> None: ...  # noqa: D102
    def defer_unless_finite(self, r: ir.Value) -> None: ...  # noqa: D102
    def check_overflow(self) -> None: ...  # noqa: D102
    def int_binary(self, kind: str, a: ir.Value, b: ir.Value, *, check: str = "exact") -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def entry_alloca(self, ty: ir.Type, count: int = 1) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def truth(self, v: Value) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def load_object(self, obj: object) -> ir.Value: ...  # type: ignore[empty-body]  # noqa: D102
    def raise_if(self, cond: ir.Value) -> None: ...  # noqa: D102

    # Arrays.

    def visit_index(self, op: Index) -> None:
        """An element (bounds-checked; a negative index counts from the end) or a view."""
        bld = self.builder
        base = self.value(op.base)
        pointer = self.element_pointer(op.base, op.indices, checked=op.checked)
        if isinstance(op.type, Array):  # a view: the remaining dimensions
            view = bld.insert_value(ir.Constant(array_struct(op.type.ndim), ir.Undefined), pointer, 0)
            view = bld.insert_value(view, ir.Constant(ir.PointerType(), None), ARRAY_OBJECT)
            for k in range(op.type.ndim):
                view = bld.insert_value(view, bld.extract_value(base, [1, len(op.indices) + k]), [1, k])
                view = bld.insert_value(view, bld.extract_value(base, [2, len(op.indices) + k]), [2, k])
            self.values[op] = view
            return
        self.values[op] = self.load_element(op.base.type.dtype, pointer)  # type: ignore[union-attr]

    def element_pointer(self, array: Value, indices: list[Value], *, checked: bool = True) -> ir.Value:
        """The address of `array[indices]` after the bounds checks (out of bounds deopts: IndexError).

        Unchecked: a loop guard proved every index in [0, length) (frontend/versioning.py).
        """
        bld = self.builder
        arr: Array = array.type  # type: ignore[assignment]
        base = self.value(array)
        offset = ir.Constant(I64, 0)
        for axis, index in enumerate(indices):
            i = self.as_int_value(index)
            if checked:
                dim = bld.extract_value(base, [1, axis])
                i = bld.select(bld.icmp_signed("<", i, ir.Constant(I64, 0)), bld.add(i, dim), i)
                self.deopt_if(bld.icmp_unsigned(">=", i, dim))  # IndexError, raised by the bytecode
            offset = bld.add(offset, bld.mul(i, self.stride(arr, base, axis)))
        return bld.gep(bld.extract_value(base, 0), [offset], source_etype=I8)

    def visit_set_index(self, op: SetIndex) -> None:
        """`a[i, j] = value`: the value cast as NumPy casts it on assignment, the old bytes logged.

        CPython evaluates the value before the target's index, so a bad value is found
        first. A cast NumPy would refuse or warn about is an event (see `store_value`).
        """
        dtype: Ty = op.base.type.dtype  # type: ignore[union-attr]
        if isinstance(op.value.type, Union):
            value = self.union_store_value(op.value, dtype)
        else:
            value = self.store_value(op.value, dtype)
        pointer = self.element_pointer(op.base, op.indices, checked=op.checked)
        if op.logged:
            self.record_store(pointer, ITEM_BITS[dtype] // 8)
        self.builder.store(value, pointer, align=1)

    def union_store_value(self, v: Value, dtype: Ty) -> ir.Value:
        """`store_value` of a Union (`s = 0.0; s += a[i]; out[i] = s`): one cast per run-time type."""
        from fastimport.frontend.dynamic import Shadow

        bld = self.builder
        union = self.value(v)
        done = self.func.append_basic_block("stored_value")
        switch = bld.switch(bld.extract_value(union, 0), self.deopt_block)  # (tags are always members)
        incoming = []
        for member in v.type.members:  # type: ignore[union-attr]
            case = self.func.append_basic_block(f"store_{member.name.lower()}")
            switch.add_case(ir.Constant(I8, SCALARS.index(member)), case)
            bld.position_at_end(case)
            incoming.append((self.store_value(Shadow(member, self.unpack(member, union)), dtype), bld.block))
            bld.branch(done)
        bld.position_at_end(done)
        phi = bld.phi(incoming[0][0].type)
        for value, block in incoming:
            phi.add_incoming(value, block)
        return phi

    def store_value(self, v: Value, dtype: Ty) -> ir.Value:
        """`v` as the bytes of one `dtype` element, as NumPy's `a[i] = v` stores it.

        Where NumPy raises (a Python int out of range, nan or inf into an int array,
        int8 from an out-of-range np.int64) or warns (a float too big for float32, an
        out-of-range np.float64 into a uint8), the value is an event, and the bytecode
        does what NumPy does. An unsigned array stores NumPy integers modulo 2**bits,
        as NumPy's cast does, without a warning.
        """
        bld = self.builder
        source: Ty = v.type  # type: ignore[assignment]
        x = self.value(v)
        if dtype is Ty.F64:
            return self.convert(v, Ty.F64)
        if dtype is Ty.F32:
            if source.is_float and source is not Ty.F32:
                r = bld.fptrunc(x, F32)
                with bld.if_then(bld.and_(self.is_inf(r), self.is_finite(x)), likely=False):
                    self.overflow_if(ir.Constant(ir.IntType(1), 1))  # "overflow encountered in cast"
                return r
            return self.convert(v, Ty.F32)
        if dtype is Ty.B:
            return bld.zext(self.truth(v), I8)
        width = ir.IntType(ITEM_BITS[dtype])
        low, high = INT_RANGES[dtype]
        if source.is_float:
            # Truncated toward zero, it must fit; nan fails both tests.
            d = bld.fpext(x, F64) if source is Ty.F32 else x
            fits = bld.and_(  # (held as int64: uint64 up to 2**63 - 1, the rest is an event)
                bld.fcmp_ordered(">", d, ir.Constant(F64, float(low - 1))),
                bld.fcmp_ordered("<", d, ir.Constant(F64, float(high + 1))),
            )
            self.overflow_if(bld.not_(fits))
            return bld.trunc(bld.fptosi(d, I64), width) if width != I64 else bld.fptosi(d, I64)
        i = self.as_int_value(v)
        if dtype in SIGNED or not source.is_numpy or source.is_bool:
            self.check_range(dtype, i)  # else NumPy's integer cast: modulo 2**bits, silently
        return i if width == I64 else bld.trunc(i, width)

    def record_store(self, pointer: ir.Value, size: int) -> None:
        """Log the bytes a store is about to overwrite (see backend/callscope.py)."""
        emit_record(self.builder, self.undo, pointer, size, full=self.deopt_block)

    def visit_new_array(self, op: NewArray) -> None:
        """np.zeros(...) and friends: NumPy makes the array, the arena keeps it, native code uses it.

        The shape goes in as Python ints (a tuple if the call wrote one), the dtype as its
        canonical dtype object (what NumPy resolves the written one to); NumPy's own errors
        (a negative dimension, no memory) deopt and the bytecode raises them.
        """
        from fastimport.backend.emit import box_value  # (emit.py imports this module)
        from fastimport.frontend.numpy_types import dtype_of

        bld = self.builder
        arr: Array = op.type  # type: ignore[assignment]
        self.check_overflow()  # the arguments must be exact before NumPy sees them
        decref = declare(self.module, "Py_DecRef")
        null = ir.Constant(PTR, None)
        if op.like is not None:
            dims = [bld.extract_value(self.value(op.like), [1, k]) for k in range(arr.ndim)]
            first = bld.extract_value(self.value(op.like), ARRAY_OBJECT)
            self.deopt_if(bld.icmp_unsigned("==", first, null))  # a view made natively has no object
            owned_first = False
        else:
            if op.shape_of is not None:
                dims = [bld.extract_value(self.value(op.shape_of), [1, k]) for k in range(arr.ndim)]
            else:
                dims = [self.as_int_value(v) for v in op.shape]
            first = self.box_shape(dims, as_tuple=op.tuple_shape)
            owned_first = True
        args = [first]
        if op.fill is not None:
            fill = box_value(bld, self.module, op.fill.type, self.value(op.fill), self.load_object)
            self.raise_if(bld.icmp_unsigned("==", fill, null))  # MemoryError
            args.append(fill)
        args.append(self.load_object(dtype_of(arr.dtype)))
        argv = self.entry_alloca(PTR, len(args))
        for index, obj in enumerate(args):
            bld.store(obj, bld.gep(argv, [ir.Constant(I64, index)], source_etype=PTR))
        result = bld.call(
            declare(self.module, "PyObject_VectorcallDict"),
            [self.load_object(op.ref.expected), argv, ir.Constant(I64, len(args)), null],
        )
        if owned_first:
            bld.call(decref, [first])
        if op.fill is not None:
            bld.call(decref, [args[1]])
        with bld.if_then(bld.icmp_unsigned("==", result, null), likely=False):
            bld.call(declare(self.module, "PyErr_Clear"), [])  # the bytecode re-run raises it again
            bld.branch(self.deopt_block)
            bld.position_at_end(self.func.append_basic_block())
        nbytes = ir.Constant(I64, ITEM_BITS[arr.dtype] // 8)
        for dim in dims:
            nbytes = bld.mul(nbytes, dim)
        emit_keep(bld, self.undo, result, nbytes, full=self.deopt_block)
        # It is NumPy's array of the expected kind (else np.zeros was not NumPy's, say).
        is_ndarray = bld.icmp_unsigned(
            "==",
            bld.load(bld.gep(result, [ir.Constant(I64, 8)], source_etype=I8), typ=PTR),
            self.load_object(_ndarray()),
        )
        self.deopt_if(bld.not_(is_ndarray))
        check_array(bld, result, arr, self.load_object, lambda ok: self.deopt_if(bld.not_(ok)))
        value = unbox_array(bld, result, arr)
        # The array has the shape asked for (checked once: NumPy's), so its dimensions are the
        # very values that bound the loops over it (`for i in range(n): out[i] = ...`), and
        # LLVM can drop the bounds checks those loops already imply.
        for k, dim in enumerate(dims):
            self.deopt_if(bld.icmp_unsigned("!=", bld.extract_value(value, [1, k]), dim))
            value = bld.insert_value(value, dim, [1, k])
        self.values[op] = value

    def box_shape(self, dims: list[ir.Value], *, as_tuple: bool) -> ir.Value:
        """A new reference: the shape as a Python int, or a tuple of them."""
        bld = self.builder
        from_long = declare(self.module, "PyLong_FromLongLong")
        if not as_tuple:
            obj = bld.call(from_long, [dims[0]])
            self.raise_if(bld.icmp_unsigned("==", obj, ir.Constant(PTR, None)))
            return obj
        shape = bld.call(declare(self.module, "PyTuple_New"), [ir.Constant(I64, len(dims))])
        self.raise_if(bld.icmp_unsigned("==", shape, ir.Constant(PTR, None)))
        for k, dim in enumerate(dims):
            item = bld.call(from_long, [dim])
            with bld.if_then(bld.icmp_unsigned("==", item, ir.Constant(PTR, None)), likely=False):
                bld.call(declare(self.module, "Py_DecRef"), [shape])
                bld.branch(self.error_block)
                bld.position_at_end(self.func.append_basic_block())
            bld.call(declare(self.module, "PyTuple_SetItem"), [shape, ir.Constant(I64, k), item])  # steals item
        return shape

    def stride(self, arr: Array, base: ir.Value, axis: int) -> ir.Value:
        """Bytes between neighbours along `axis` (a constant for the last axis of a C array)."""
        if arr.layout == "C" and axis == arr.ndim - 1:
            return ir.Constant(I64, ITEM_BITS[arr.dtype] // 8)
        return self.builder.extract_value(base, [2, axis])

    def load_element(self, dtype: Ty, pointer: ir.Value) -> ir.Value:
        """The element at `pointer` as native code holds a value of `dtype` (align 1: NumPy allows unaligned)."""
        bld = self.builder
        if dtype is Ty.F64:
            return bld.load(pointer, typ=F64, align=1)
        if dtype is Ty.F32:
            return bld.load(pointer, typ=F32, align=1)
        if dtype is Ty.B:
            return bld.icmp_unsigned("!=", bld.load(pointer, typ=I8, align=1), ir.Constant(I8, 0))
        raw = bld.load(pointer, typ=ir.IntType(ITEM_BITS[dtype]), align=1)
        if dtype in (Ty.I64, Ty.U64):
            if dtype is Ty.U64:  # beyond 2**63 - 1 it does not fit our int64: leave
                self.overflow_if(bld.icmp_signed("<", raw, ir.Constant(I64, 0)))
            return raw
        return bld.sext(raw, I64) if dtype in SIGNED else bld.zext(raw, I64)

    def visit_array_attr(self, op: ArrayAttr) -> None:
        """`a.shape[k]`, `len(a)`, `a.ndim`, `a.size`."""
        bld = self.builder
        arr: Array = op.base.type  # type: ignore[assignment]
        base = self.value(op.base)
        if op.kind == "ndim":
            self.values[op] = ir.Constant(I64, arr.ndim)
        elif op.kind == "shape_tuple":
            shape = ir.Constant(ir.LiteralStructType([I64] * arr.ndim), ir.Undefined)
            for axis in range(arr.ndim):
                shape = bld.insert_value(shape, bld.extract_value(base, [1, axis]), axis)
            self.values[op] = shape
        elif op.kind == "size":
            size = ir.Constant(I64, 1)
            for axis in range(arr.ndim):
                size = bld.mul(size, bld.extract_value(base, [1, axis]))
            self.values[op] = size
        else:  # shape[axis], len
            self.values[op] = bld.extract_value(base, [1, op.axis % arr.ndim])

    # Conversions.

    def as_int_value(self, v: Value) -> ir.Value:
        """An int64 (a bool widened to 0 or 1)."""
        x = self.value(v)
        return self.builder.zext(x, I64) if v.type.is_bool else x  # type: ignore[union-attr]

    def convert(self, v: Value, target: Ty) -> ir.Value:  # noqa: PLR0911 - one return per conversion
        """The value of `v` converted to `target` the way NumPy casts it (events on overflow)."""
        bld = self.builder
        source: Ty = v.type  # type: ignore[assignment]
        x = self.value(v)
        if target in (Ty.F64, Ty.FLOAT):
            if source is Ty.F32:
                return bld.fpext(x, F64)
            if source.is_float:
                return x
            return bld.uitofp(x, F64) if source.is_bool else bld.sitofp(x, F64)
        if target is Ty.F32:
            if source is Ty.F32:
                return x
            if source.is_float:  # a Python float meets a float32: NumPy casts it, warning on overflow
                r = bld.fptrunc(x, F32)
                self.float_event(r, [x])
                return r
            # NumPy converts a Python int through a double (rounded twice), its own ints directly.
            exact = {Ty.INT: lambda: bld.fptrunc(bld.sitofp(x, F64), F32), Ty.BOOL: lambda: bld.uitofp(x, F32)}
            return exact.get(source, lambda: bld.uitofp(x, F32) if source.is_bool else bld.sitofp(x, F32))()
        if target is Ty.B:
            return x
        # An integer type.
        if source.is_bool:
            return bld.zext(x, I64)
        if source is Ty.INT:  # a Python int must fit the NumPy type (NEP 50: OverflowError)
            self.check_range(target, x)
        return x

    def check_range(self, ty: Ty, x: ir.Value) -> None:
        """An event if `x` is outside the NumPy integer type `ty`."""
        low, high = INT_RANGES[ty]
        if (low, high) == (-(2**63), 2**63 - 1):
            return
        bld = self.builder
        below = bld.icmp_signed("<", x, ir.Constant(I64, low))
        above = bld.icmp_signed(">", x, ir.Constant(I64, high))
        self.overflow_if(bld.or_(below, above))

    def is_nan(self, x: ir.Value) -> ir.Value:
        """Whether x is nan (x != x)."""
        return self.builder.fcmp_unordered("uno", x, x)

    def is_inf(self, x: ir.Value) -> ir.Value:
        """|x| == inf."""
        fabs = self.fabs(x)
        return self.builder.fcmp_ordered("==", fabs, ir.Constant(x.type, INF))

    def is_finite(self, x: ir.Value) -> ir.Value:
        """|x| < inf (false for nan)."""
        return self.builder.fcmp_ordered("<", self.fabs(x), ir.Constant(x.type, INF))

    def fabs(self, x: ir.Value) -> ir.Value:
        """|x| of a double or a float."""
        suffix = "f64" if x.type == F64 else "f32"
        return self.builder.call(intrinsic(self.module, f"llvm.fabs.{suffix}", x.type, [x.type]), [x])

    # NumPy scalar arithmetic.

    def numpy_binary(self, op: Binary) -> ir.Value:
        """`lhs <kind> rhs` where a NumPy scalar takes part, in the result type."""
        bld = self.builder
        result: Ty = op.type  # type: ignore[assignment]
        if result.is_float:
            x, y = self.convert(op.lhs, result), self.convert(op.rhs, result)
            if op.events_absorbed:  # a user notes a non-finite result (frontend/versioning.py)
                return self.float_op(op.kind, x, y, deferred=True, noted=False)
            return self.float_op(op.kind, x, y, deferred=op.defer_events)
        if result is Ty.B:
            x, y = self.convert(op.lhs, Ty.B), self.convert(op.rhs, Ty.B)
            emit = {"add": bld.or_, "mul": bld.and_, "and": bld.and_, "or": bld.or_, "xor": bld.xor}[op.kind]
            return emit(x, y)
        x, y = self.convert(op.lhs, result), self.convert(op.rhs, result)
        r = self.int_binary(op.kind, x, y, check=op.int_check)  # floor semantics, as NumPy; zero division deopts
        self.check_range(result, r)
        return r

    def float_op(self, kind: str, x: ir.Value, y: ir.Value, *, deferred: bool = False, noted: bool = True) -> ir.Value:
        """X <kind> y in IEEE arithmetic; NumPy's warnings become events.

        `deferred` (in a versioned loop's copy): a non-finite result only sets the
        `nonfinite` flag, and the call is re-run in precise mode if it was set
        (frontend/versioning.py).
        """
        bld = self.builder
        if kind in ("add", "sub", "mul"):
            r = {"add": bld.fadd, "sub": bld.fsub, "mul": bld.fmul}[kind](x, y, flags=self.float_flags)
        elif kind == "truediv":
            r = bld.fdiv(x, y)
        elif kind in ("floordiv", "mod"):
            div, mod = self.entry_alloca(F64), self.entry_alloca(F64)
            bld.call(numerics.float_div_mod(self.module), [x, y, div, mod])
            r = bld.load(div if kind == "floordiv" else mod, typ=F64)
        else:  # pragma: no cover - typerules admits no other
            raise AssertionError(kind)
        if deferred:
            if not noted:
                return r
            self.defer_unless_finite(r)
        else:
            self.float_event(r, [x, y])
        return r

    def float_event(self, r: ir.Value, operands: list[ir.Value]) -> None:
        """Note an event where NumPy would warn: overflow, invalid, divide by zero.

        Each of those makes a non-finite result, so the common path is one test. Then:
        an event unless a nan operand made the nan, or an inf operand the inf (`inf + 1`
        is quiet). Over-approximating is safe (an event only re-runs the call), missing
        one is not; underflow is not an event (NumPy ignores it by default).
        """
        bld = self.builder
        with bld.if_then(bld.not_(self.is_finite(r)), likely=False):
            nan_in = ir.Constant(ir.IntType(1), 0)
            inf_in = ir.Constant(ir.IntType(1), 0)
            for x in operands:
                nan_in = bld.or_(nan_in, self.is_nan(x))
                inf_in = bld.or_(inf_in, self.is_inf(x))
            propagated = bld.or_(nan_in, bld.and_(self.is_inf(r), inf_in))
            self.overflow_if(bld.not_(propagated))

    def numpy_compare(self, symbol: str, kind: str, lhs: Value, rhs: Value) -> ir.Value:
        """A comparison in NumPy's common type of both sides."""
        bld = self.builder
        if not (lhs.type.is_float or rhs.type.is_float or (lhs.type.is_bool and rhs.type.is_bool)):  # type: ignore[union-attr]
            # Integers compare by value in NumPy 2 (int64 against uint64 included, where the
            # common type would be float64); every one native code holds fits an int64.
            return bld.icmp_signed(symbol, self.as_int_value(lhs), self.as_int_value(rhs))
        common = loop_type(lhs.type, rhs.type)  # type: ignore[arg-type]
        x, y = self.convert(lhs, common), self.convert(rhs, common)
        if common.is_float:
            if kind == "ne":
                return bld.fcmp_unordered("!=", x, y)
            return bld.fcmp_ordered(symbol, x, y)
        if common is Ty.B:
            return bld.icmp_unsigned(symbol, x, y)
        return bld.icmp_signed(symbol, x, y)  # unsigned values are held below 2**63

    def numpy_unary(self, kind: str, src: Value, result: Ty) -> ir.Value:  # noqa: PLR0911 - one return per case
        """`-x`, `+x`, `~x`, `abs(x)` of a NumPy scalar."""
        bld = self.builder
        x = self.value(src)
        if kind == "pos":
            return x
        if result.is_float:
            if kind == "neg":
                return bld.fneg(x)
            return self.fabs(x)  # abs
        if result is Ty.B:
            return bld.not_(x) if kind == "invert" else x
        if kind == "invert":
            if result in SIGNED:
                return bld.xor(x, ir.Constant(I64, -1))
            return bld.sub(ir.Constant(I64, INT_RANGES[result][1]), x)  # ~x of an unsigned: max - x
        if kind == "neg":
            res = bld.ssub_with_overflow(ir.Constant(I64, 0), x)
            self.overflow_if(bld.extract_value(res, 1))
            r = bld.extract_value(res, 0)
        else:  # abs
            r = bld.select(bld.icmp_signed("<", x, ir.Constant(I64, 0)), bld.neg(x), x)
            self.overflow_if(bld.icmp_signed("<", r, ir.Constant(I64, 0)))  # abs(INT64_MIN)
        self.check_range(result, r)  # -uint8(1) wraps in NumPy (a warning): an event
        return r

    def numpy_truth(self, ty: Ty, x: ir.Value) -> ir.Value:
        """bool(x) of a NumPy scalar."""
        bld = self.builder
        if ty.is_bool:
            return x
        if ty.is_float:
            return bld.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))
        return bld.icmp_signed("!=", x, ir.Constant(I64, 0))
