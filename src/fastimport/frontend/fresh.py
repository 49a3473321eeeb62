"""Where an array comes from: which stores need the undo log, and whether a view leaves native code.

Stores need the log unless they go into arrays the call made itself (and appends,
unless they go to a list the call made: a comprehension's, `[0.0] * n`).

A deopt rolls back stores into memory the caller can see (backend/callscope.py).
An array allocated in this very kernel (np.zeros ...), or a view of one, is not
visible to the caller until it is returned, and a deopt discards it: stores into
it need no log. A value is *fresh* if it is a NewArray, an array NumPy computed
(`a + b`, `np.sqrt(a)`, `a.cumsum()`: always a new array), a view (Index) of a fresh
array, or a load of a local that only ever holds fresh arrays. Parameters never
are (the caller's arrays), so a callee logs even what its caller made: sound,
merely not minimal.

    out = np.empty(n)        out: fresh
    for i in range(n):
        out[i] = a[i] * k    SetIndex(out, ...).logged = False
        a[i] = 0.0           SetIndex(a, ...).logged = True
"""

from __future__ import annotations

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import (
    Binary,
    Builtin,
    Compare,
    FuncIR,
    Index,
    ListAppend,
    LoadLocal,
    NewArray,
    NewList,
    NumpyCall,
    Return,
    SetIndex,
    StoreLocal,
    Unary,
    Value,
)
from fastimport.frontend.typerules import _node
from fastimport.frontend.types import Array, List


def mark_logged_stores(fn: FuncIR) -> None:
    """Set `logged` on every SetIndex of `fn` (after type inference)."""
    stores = [op for op in fn.all_ops() if isinstance(op, StoreLocal) and isinstance(op.local.type, (Array, List))]
    fresh_locals = {op.local for op in stores}  # optimistic, then narrowed to a fixpoint
    changed = True
    while changed:
        changed = False
        for op in stores:
            if op.local in fresh_locals and not _fresh(op.src, fresh_locals):
                fresh_locals.discard(op.local)
                changed = True
    for op in fn.all_ops():
        if isinstance(op, SetIndex):
            op.logged = not _fresh(op.base, fresh_locals)
        elif isinstance(op, ListAppend):
            op.logged = not _fresh(op.lst, fresh_locals)


def check_no_view_returned(fn: FuncIR) -> None:
    """Unsupported if `fn` may return a view made in native code (`return a[i]` of a 2-D array), or pass one to NumPy.

    A view made natively has no ndarray object; the bytecode would make one, so such a
    function stays bytecode rather than deopt at every return (or NumPy call).
    """
    view_locals: set = set()
    changed = True
    while changed:  # a local copied from one that holds a view holds a view too
        changed = False
        for op in fn.all_ops():
            if isinstance(op, StoreLocal) and op.local not in view_locals and _view(op.src, view_locals):
                view_locals.add(op.local)
                changed = True
    for op in fn.all_ops():
        if isinstance(op, Return) and op.value is not None and _view(op.value, view_locals):
            raise Unsupported(_node(op), "returning a view of an array (the bytecode makes the view object)")
        if isinstance(op, COMPUTED) and any(_view(src, view_locals) for src in op.sources()):
            raise Unsupported(_node(op), "NumPy computing on a view of an array (the bytecode makes the view object)")


def _view(v: Value, view_locals: set) -> bool:
    if isinstance(v, Index):
        return isinstance(v.type, Array)
    return isinstance(v, LoadLocal) and v.local in view_locals


# Ops that compute an array through NumPy when they have an array operand: a new array.
COMPUTED = (NumpyCall, Binary, Unary, Compare, Builtin)


def _fresh(v: Value, fresh_locals: set) -> bool:
    if isinstance(v, (NewArray, NewList)) or (isinstance(v, COMPUTED) and isinstance(v.type, Array)):
        return True
    if isinstance(v, Index):  # a view of a fresh array (not an item of a list: that may be anyone's)
        return isinstance(v.base.type, Array) and _fresh(v.base, fresh_locals)
    if isinstance(v, LoadLocal):
        return v.local in fresh_locals and not v.local.is_param
    return False
