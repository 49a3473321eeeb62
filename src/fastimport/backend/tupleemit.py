"""Tuples in native code: a struct of the items, boxed into a Python tuple only at the boundary.

A mixin of FunctionEmitter (backend/emit.py), like NumpyOps. A tuple is immutable,
so its struct is the tuple: building one costs nothing, `t[1]` with a literal index
is a field read, and `x, y = t` reads fields. An index known only at run time is
bounds-checked (out of range deopts: the bytecode raises IndexError) and picks the
item with selects; items of different types are coerced to their Union first.

Boxing (`box_tuple`) and the entry point's guards (`check_tuple` / `unbox_tuple`)
work item by item, recursively for nested tuples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.capi import I64, PTR, declare
from fastimport.frontend.types import Tuple

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.frontend.ir import ArrayAttr, Index, MakeTuple

TUPLE_SIZE_OFFSET = 16  # PyVarObject.ob_size
TUPLE_ITEMS_OFFSET = 24  # PyTupleObject.ob_item[0]


def tuple_struct(ty: Tuple, llvm_type: Callable) -> ir.LiteralStructType:
    """The LLVM struct of a tuple type: one field per item."""
    return ir.LiteralStructType([llvm_type(item) for item in ty.items])


class TupleOps:
    """Tuple ops for FunctionEmitter; falls through to the next mixin for arrays."""

    def visit_make_tuple(self, op: MakeTuple) -> None:
        """The struct of the items."""
        from fastimport.backend.emit import llvm_type

        bld = self.builder  # type: ignore[attr-defined]
        value = ir.Constant(llvm_type(op.type), ir.Undefined)
        for k, item in enumerate(op.items):
            value = bld.insert_value(value, self.value(item), k)  # type: ignore[attr-defined]
        self.values[op] = value  # type: ignore[attr-defined]

    def visit_index(self, op: Index) -> None:
        """t[k]: a field; t[i]: bounds-checked, chosen with selects. Arrays: NumpyOps."""
        base = op.base.type
        if not isinstance(base, Tuple):
            super().visit_index(op)  # type: ignore[misc]
            return
        bld = self.builder  # type: ignore[attr-defined]
        tup = self.value(op.base)  # type: ignore[attr-defined]
        count = len(base.items)
        if op.const_index is not None:
            self.values[op] = bld.extract_value(tup, op.const_index % count)  # type: ignore[attr-defined]
            return
        i = self.as_int_value(op.indices[0])  # type: ignore[attr-defined]
        n = ir.Constant(I64, count)
        i = bld.select(bld.icmp_signed("<", i, ir.Constant(I64, 0)), bld.add(i, n), i)
        self.deopt_if(bld.icmp_unsigned(">=", i, n))  # type: ignore[attr-defined] # IndexError, from the bytecode
        chosen = None
        for k, item_type in enumerate(base.items):
            item = self.coerce(bld.extract_value(tup, k), item_type, op.type)  # type: ignore[attr-defined]
            chosen = (
                item if chosen is None else bld.select(bld.icmp_unsigned("==", i, ir.Constant(I64, k)), item, chosen)
            )
        self.values[op] = chosen  # type: ignore[attr-defined]

    def visit_array_attr(self, op: ArrayAttr) -> None:
        """len(t) is a constant of the type. Arrays: NumpyOps."""
        if isinstance(op.base.type, Tuple):  # len(t): fixed by the type
            self.values[op] = ir.Constant(I64, len(op.base.type.items))  # type: ignore[attr-defined]
            return
        super().visit_array_attr(op)  # type: ignore[misc]

    def coerce_tuple(self, value: ir.Value, source: Tuple, target: Tuple) -> ir.Value:
        """A tuple struct as one of a wider tuple type (items of a Union type packed)."""
        from fastimport.backend.emit import llvm_type

        bld = self.builder  # type: ignore[attr-defined]
        result = ir.Constant(llvm_type(target), ir.Undefined)
        for k, (src, dst) in enumerate(zip(source.items, target.items, strict=True)):
            item = self.coerce(bld.extract_value(value, k), src, dst)  # type: ignore[attr-defined]
            result = bld.insert_value(result, item, k)
        return result


def box_tuple(bld: ir.IRBuilder, module: ir.Module, ty: Tuple, value: ir.Value, box_item: Callable) -> ir.Value:
    """A new Python tuple of the boxed items (NULL with an exception set if any boxing failed).

    `box_item(ty, value)` boxes one item (backend/emit.py's box_value).
    """
    fn = bld.function
    tup = bld.call(declare(module, "PyTuple_New"), [ir.Constant(I64, len(ty.items))])
    failed, done = fn.append_basic_block("tuple_failed"), fn.append_basic_block("tuple_done")
    cont = fn.append_basic_block()
    bld.cbranch(bld.icmp_unsigned("==", tup, ir.Constant(PTR, None)), failed, cont)
    bld.position_at_end(cont)
    for k, item_type in enumerate(ty.items):
        obj = box_item(item_type, bld.extract_value(value, k))
        cont = fn.append_basic_block()
        drop = fn.append_basic_block()
        bld.cbranch(bld.icmp_unsigned("==", obj, ir.Constant(PTR, None)), drop, cont)
        bld.position_at_end(drop)
        bld.call(declare(module, "Py_DecRef"), [tup])  # the items stored so far go with it
        bld.branch(failed)
        bld.position_at_end(cont)
        bld.call(declare(module, "PyTuple_SetItem"), [tup, ir.Constant(I64, k), obj])  # steals obj
    ok_from = bld.block
    bld.branch(done)
    bld.position_at_end(failed)
    bld.branch(done)
    bld.position_at_end(done)
    phi = bld.phi(PTR)
    phi.add_incoming(tup, ok_from)
    phi.add_incoming(ir.Constant(PTR, None), failed)
    return phi


def tuple_item(bld: ir.IRBuilder, obj: ir.Value, k: int) -> ir.Value:
    """Item k of a tuple object (a borrowed reference; k < its size)."""
    return bld.load(bld.gep(obj, [ir.Constant(I64, TUPLE_ITEMS_OFFSET + 8 * k)], source_etype=ir.IntType(8)), typ=PTR)


def check_tuple_size(bld: ir.IRBuilder, obj: ir.Value, ty: Tuple) -> ir.Value:
    """Whether an exact tuple object has as many items as `ty`."""
    size = bld.load(bld.gep(obj, [ir.Constant(I64, TUPLE_SIZE_OFFSET)], source_etype=ir.IntType(8)), typ=I64)
    return bld.icmp_signed("==", size, ir.Constant(I64, len(ty.items)))
