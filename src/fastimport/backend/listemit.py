"""Python lists in native code: the list object itself, read and changed in place.

A mixin of FunctionEmitter (backend/emit.py), like NumpyOps. A list is a borrowed
PyListObject pointer (the caller's argument, an item of another list, or a list this
call made, which the call's arena holds). Python code may put anything into a list,
so every read checks the item's type; another type deopts.

    lst[i]            bounds-checked against the current size; the item's type checked, unboxed
    lst[i] = v        v boxed into the slot, the old item released
    lst.append(v)     v boxed and appended
    len(lst)          the current size (appends change it)
    [a, b], [a] * n   a new list (PyList_New / PySequence_Repeat), held by the arena

Before the first change to a list in a call, the list is snapshotted (`fi_list_touch`,
backend/callscope.py), so a deopt can put it back whole; a small cache in each kernel
invocation skips the lookup for the lists it has touched already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.callscope import emit_call_or, emit_keep
from fastimport.backend.capi import F64, I8, I64, PTR, declare
from fastimport.frontend.types import List, Ty

if TYPE_CHECKING:
    from fastimport.frontend.ir import ArrayAttr, Index, ListAppend, NewList, SetIndex

FLOAT_VALUE_OFFSET = 16  # PyFloatObject.ob_fval
REFCNT_OFFSET = 0  # PyObject.ob_refcnt
TYPE_OFFSET = 8  # PyObject.ob_type
LIST_SIZE_OFFSET = 16  # PyVarObject.ob_size
LIST_ITEMS_OFFSET = 24  # PyListObject.ob_item
TOUCH_CACHE = 8  # lists remembered per kernel invocation (direct-mapped by address)

# Type-based alias analysis: each object field the list code reads or writes gets its own
# TBAA type, so LLVM knows that storing a float's value cannot change a list's size, its
# item array, an item pointer or an object's type, and keeps those loads across the store.
# (Fields are told apart by offset and LLVM type: a list's ob_size and a float's ob_fval
# share offset 16.) Accesses without a tag, and calls, still alias everything.
FIELDS = {
    (REFCNT_OFFSET, I64): "ob_refcnt",
    (TYPE_OFFSET, PTR): "ob_type",
    (LIST_SIZE_OFFSET, I64): "PyListObject.ob_size",
    (LIST_ITEMS_OFFSET, PTR): "PyListObject.ob_item",
    (FLOAT_VALUE_OFFSET, F64): "PyFloatObject.ob_fval",
}
ITEM_SLOT = "PyListObject.ob_item[]"


def tag_access(module: ir.Module, instruction: ir.Instruction, field: str) -> None:
    """Mark a load or store as an access to `field` only (TBAA, scalar form)."""
    root = module.add_metadata([ir.MetaDataString(module, "fastimport objects")])
    node = module.add_metadata([ir.MetaDataString(module, field), root, ir.Constant(I64, 0)])
    instruction.set_metadata("tbaa", module.add_metadata([node, node, ir.Constant(I64, 0)]))


class ListOps:
    """List ops for FunctionEmitter; anything else falls through to the next mixin."""

    def _field(self, obj: ir.Value, offset: int, ty: ir.Type) -> ir.Value:
        bld = self.builder  # type: ignore[attr-defined]
        load = bld.load(bld.gep(obj, [ir.Constant(I64, offset)], source_etype=I8), typ=ty)
        tag_access(self.module, load, FIELDS[offset, ty])  # type: ignore[attr-defined]
        return load

    def list_size(self, lst: ir.Value) -> ir.Value:
        """The current number of items."""
        return self._field(lst, LIST_SIZE_OFFSET, I64)

    def _slot(self, lst: ir.Value, index: ir.Value, size: ir.Value) -> tuple[ir.Value, ir.Value]:
        """The address of item `index` (negative from the end) and its index from the start.

        Out of range deopts (the bytecode raises IndexError).
        """
        bld = self.builder  # type: ignore[attr-defined]
        i = bld.select(bld.icmp_signed("<", index, ir.Constant(I64, 0)), bld.add(index, size), index)
        self.deopt_if(bld.icmp_unsigned(">=", i, size))  # type: ignore[attr-defined]
        return bld.gep(self._field(lst, LIST_ITEMS_OFFSET, PTR), [i], source_etype=PTR), i

    def visit_index(self, op: Index) -> None:
        """lst[i]: the item, if it has the list's item type (else deopt)."""
        if not isinstance(op.base.type, List):
            super().visit_index(op)  # type: ignore[misc]
            return
        bld = self.builder  # type: ignore[attr-defined]
        lst = self.value(op.base)  # type: ignore[attr-defined]
        size = self.list_size(lst)
        if op.unpack is not None:  # `x, y = lst`: CPython raises ValueError for another length
            self.deopt_if(bld.icmp_signed("!=", size, ir.Constant(I64, op.unpack)))  # type: ignore[attr-defined]
        index = self.as_int_value(op.indices[0])  # type: ignore[attr-defined]
        obj = bld.load(self._slot(lst, index, size)[0], typ=PTR)
        tag_access(self.module, obj, ITEM_SLOT)  # type: ignore[attr-defined]
        self.values[op] = self.unbox_item(obj, op.base.type.item)  # type: ignore[attr-defined]

    def unbox_item(self, obj: ir.Value, ty: object) -> ir.Value:
        """The native value of a list item expected to be of type `ty`; any other type deopts."""
        from fastimport.backend.entry import _unbox_int

        bld = self.builder  # type: ignore[attr-defined]
        if ty is Ty.BOOL:  # one of the two bool objects
            true, false = (self.load_object(value) for value in (True, False))  # type: ignore[attr-defined]
            neither = bld.and_(bld.icmp_unsigned("!=", obj, true), bld.icmp_unsigned("!=", obj, false))
            self.deopt_if(neither)  # type: ignore[attr-defined]
            return bld.icmp_unsigned("==", obj, true)
        expected = {Ty.INT: int, Ty.FLOAT: float}.get(ty, list)  # type: ignore[call-overload]
        kind = self._field(obj, TYPE_OFFSET, PTR)
        self.deopt_if(bld.icmp_unsigned("!=", kind, self.load_object(expected)))  # type: ignore[attr-defined]
        if ty is Ty.FLOAT:
            return self._field(obj, FLOAT_VALUE_OFFSET, F64)
        if ty is Ty.INT:
            return _unbox_int(bld, self.module, obj, self.deopt_block)  # type: ignore[attr-defined]
        return obj

    def box_for_list(self, value: ir.Value, ty: object) -> ir.Value:
        """A new reference to the boxed `value`; failure (no memory) deopts."""
        from fastimport.backend.emit import box_value

        bld = self.builder  # type: ignore[attr-defined]
        obj = box_value(bld, self.module, ty, value, self.load_object)  # type: ignore[attr-defined, arg-type]
        self._deopt_if_failed(self._is_null(obj))
        return obj

    def _is_null(self, obj: ir.Value) -> ir.Value:
        return self.builder.icmp_unsigned("==", obj, ir.Constant(PTR, None))  # type: ignore[attr-defined]

    def _deopt_if_failed(self, failed: ir.Value, release: ir.Value | None = None) -> None:
        """If a C-API call `failed` (no memory, say): drop `release`, clear the error, deopt."""
        bld = self.builder  # type: ignore[attr-defined]
        with bld.if_then(failed, likely=False):
            if release is not None:
                bld.call(declare(self.module, "Py_DecRef"), [release])  # type: ignore[attr-defined]
            bld.call(declare(self.module, "PyErr_Clear"), [])  # type: ignore[attr-defined]
            bld.branch(self.deopt_block)  # type: ignore[attr-defined]
            bld.position_at_end(self.func.append_basic_block())  # type: ignore[attr-defined]

    def touch(self, lst: ir.Value) -> None:
        """Make sure this call has a snapshot of `lst` before changing it (else deopt)."""
        bld = self.builder  # type: ignore[attr-defined]
        cache = getattr(self, "_touched", None)
        if cache is None:
            cache = self._touched = self.entry_alloca(PTR, TOUCH_CACHE)  # type: ignore[attr-defined]
            block = bld.block
            bld.position_before(self.func.entry_basic_block.terminator)  # type: ignore[attr-defined]
            for k in range(TOUCH_CACHE):  # empty: nothing touched yet
                bld.store(ir.Constant(PTR, None), bld.gep(cache, [ir.Constant(I64, k)], source_etype=PTR))
            bld.position_at_end(block)
        address = bld.ptrtoint(lst, I64)
        line = bld.and_(bld.lshr(address, ir.Constant(I64, 5)), ir.Constant(I64, TOUCH_CACHE - 1))
        slot = bld.gep(cache, [line], source_etype=PTR)
        with bld.if_then(bld.icmp_unsigned("!=", bld.load(slot, typ=PTR), lst), likely=False):
            emit_call_or(bld, "fi_list_touch", [self.undo, lst], failed=self.deopt_block)  # type: ignore[attr-defined]
            bld.store(lst, slot)

    def visit_set_index(self, op: SetIndex) -> None:
        """lst[i] = v: the slot takes the boxed value; the old item is released."""
        if not isinstance(op.base.type, List):
            super().visit_set_index(op)  # type: ignore[misc]
            return
        lst = self.value(op.base)  # type: ignore[attr-defined]
        slot, _ = self._slot(lst, self.as_int_value(op.indices[0]), self.list_size(lst))  # type: ignore[attr-defined]
        if op.logged or isinstance(op.base.type.item, List):
            # (a list of lists is snapshotted even when this call made it: the snapshot keeps
            # the replaced inner list alive for a local that may still borrow it)
            self.touch(lst)
        if op.value.type is Ty.FLOAT:
            self._store_float(slot, self.value(op.value))  # type: ignore[attr-defined]
            return
        self._replace(slot, self.box_for_list(self.value(op.value), op.value.type))  # type: ignore[attr-defined]

    def _replace(self, slot: ir.Value, new: ir.Value) -> None:
        """The slot takes the new reference `new`; the old item is released."""
        bld = self.builder  # type: ignore[attr-defined]
        old = bld.load(slot, typ=PTR)
        tag_access(self.module, old, ITEM_SLOT)  # type: ignore[attr-defined]
        tag_access(self.module, bld.store(new, slot), ITEM_SLOT)  # type: ignore[attr-defined]
        bld.call(declare(self.module, "Py_DecRef"), [old])  # type: ignore[attr-defined]

    def _store_float(self, slot: ir.Value, value: ir.Value) -> None:
        """A float into a list slot, reusing the old float object when nothing else can see it.

        CPython would box a new float and drop the old one. If the old item is a float that
        only the list references (refcount 1: no snapshot, no local, no other thread has it),
        no Python code can tell it apart from a new one, so its value is overwritten in place:
        no allocation, no deallocation. (Only `id()` could differ, and Python makes no promise
        about the ids of objects whose lifetimes do not overlap.)
        """
        bld = self.builder  # type: ignore[attr-defined]
        old = bld.load(slot, typ=PTR)
        tag_access(self.module, old, ITEM_SLOT)  # type: ignore[attr-defined]
        alone = bld.icmp_unsigned("==", self._field(old, REFCNT_OFFSET, I64), ir.Constant(I64, 1))
        is_float = bld.icmp_unsigned("==", self._field(old, TYPE_OFFSET, PTR), self.load_object(float))  # type: ignore[attr-defined]
        with bld.if_else(bld.and_(alone, is_float), likely=True) as (reuse, box):
            with reuse:
                store = bld.store(value, bld.gep(old, [ir.Constant(I64, FLOAT_VALUE_OFFSET)], source_etype=I8))
                tag_access(self.module, store, FIELDS[FLOAT_VALUE_OFFSET, F64])  # type: ignore[attr-defined]
            with box:
                self._replace(slot, self.box_for_list(value, Ty.FLOAT))

    def visit_array_attr(self, op: ArrayAttr) -> None:
        """len(lst): its current size."""
        if isinstance(op.base.type, List):
            self.values[op] = self.list_size(self.value(op.base))  # type: ignore[attr-defined]
            return
        super().visit_array_attr(op)  # type: ignore[misc]

    def visit_new_list(self, op: NewList) -> None:
        """A new list of the boxed items (repeated `repeat` times), held by the call's arena."""
        bld = self.builder  # type: ignore[attr-defined]
        module = self.module  # type: ignore[attr-defined]
        if op.repeat is not None:
            self.check_overflow()  # type: ignore[attr-defined] # a wrapped count must not size an allocation
        lst = bld.call(declare(module, "PyList_New"), [ir.Constant(I64, len(op.items))])
        self._deopt_if_failed(self._is_null(lst))
        for k, item in enumerate(op.items):
            obj = self._box_or_release(item, lst)
            bld.call(declare(module, "PyList_SetItem"), [lst, ir.Constant(I64, k), obj])  # steals obj
        if op.repeat is not None:
            repeated = bld.call(declare(module, "PySequence_Repeat"), [lst, self.as_int_value(op.repeat)])  # type: ignore[attr-defined]
            bld.call(declare(module, "Py_DecRef"), [lst])
            self._deopt_if_failed(self._is_null(repeated))
            lst = repeated
        nbytes = bld.mul(self.list_size(lst), ir.Constant(I64, 8))
        emit_keep(bld, self.undo, lst, nbytes, full=self.deopt_block)  # type: ignore[attr-defined]
        self.values[op] = lst  # type: ignore[attr-defined]

    def _box_or_release(self, item: object, lst: ir.Value) -> ir.Value:
        """The boxed `item`; if boxing fails, `lst` is released and the call deopts."""
        from fastimport.backend.emit import box_value

        bld = self.builder  # type: ignore[attr-defined]
        obj = box_value(bld, self.module, item.type, self.value(item), self.load_object)  # type: ignore[attr-defined]
        self._deopt_if_failed(self._is_null(obj), release=lst)
        return obj

    def visit_list_append(self, op: ListAppend) -> None:
        """lst.append(v) (a list the caller can see is snapshotted first)."""
        bld = self.builder  # type: ignore[attr-defined]
        lst = self.value(op.lst)  # type: ignore[attr-defined]
        if op.logged:
            self.touch(lst)  # first: a failure here must not leak the boxed value
        obj = self.box_for_list(self.value(op.value), op.value.type)  # type: ignore[attr-defined]
        failed = bld.call(declare(self.module, "PyList_Append"), [lst, obj])  # type: ignore[attr-defined]
        bld.call(declare(self.module, "Py_DecRef"), [obj])  # type: ignore[attr-defined]
        self._deopt_if_failed(bld.icmp_signed("!=", failed, ir.Constant(ir.IntType(32), 0)))
        self.values[op] = ir.Constant(I8, 0)  # type: ignore[attr-defined]
