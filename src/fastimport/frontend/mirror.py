"""Which list-of-float-lists parameter a call may work on unboxed (backend/mirroremit.py).

A `list[list[float]]` parameter read and written element by element (nbody's
`bodies[i][k]`) costs, at every access, the item's type check, the float's unboxing and,
at every store, the old float's reference count: ~3x the work of a double in memory. A
mirrored parameter is read once per row instead: the first `bodies[i]` of a call copies
that row's floats into a buffer, reads and stores use the buffer, and the changed slots
are written back into the lists when the call leaves (return or exception) and before
any point where other Python code may run (a signal checkpoint, which also offers the
GIL to other threads; the rows are read again after it).

That is exact only if nothing but this call can see the lists between those points, so a
parameter is mirrored only when all of these hold:

    - it is the function's one `list[list[float]]` parameter (two could be one list);
    - every `list[list[float]]` value of the function is that parameter (through locals),
      and every `list[float]` value a row of it (`bodies[i]`, through locals);
    - those values are only indexed (`x[i]`, `x, y = row`), stored into a row
      (`row[k] = v` of a float, never `bodies[i] = row`), measured (`len`) or kept in locals:
      never appended to, passed, returned, compared or put into anything;
    - the function calls nothing that could run Python code: no call of another
      function (it could reach the lists through a global), no builtin called through
      the C API; it makes no list of its own;
    - it has a loop (otherwise copying whole rows costs more than the accesses save).
"""

from __future__ import annotations

from fastimport.frontend.ir import (
    ArrayAttr,
    Call,
    CheckSignals,
    FuncIR,
    Index,
    ListAppend,
    LoadLocal,
    NewList,
    Param,
    PyCall,
    SetIndex,
    StoreLocal,
    Value,
)
from fastimport.frontend.types import List, Ty, Union

ROWS = List(List(Ty.FLOAT))
ROW = List(Ty.FLOAT)
# Ops that could run Python code or make a list this analysis does not follow.
_FORBIDDEN = (Call, PyCall, ListAppend, NewList)


def mark_mirrored(fn: FuncIR) -> None:
    """Set `fn.mirrored` to the index of the parameter a call may mirror (see above), or None."""
    fn.mirrored = mirrored_param(fn)


def mirrored_param(fn: FuncIR) -> int | None:
    """The index of the one parameter `fn` may mirror, or None."""
    candidates = [k for k, ty in enumerate(fn.arg_types) if ty == ROWS]
    if len(candidates) != 1:
        return None
    ops = fn.all_ops()
    if not any(isinstance(op, CheckSignals) for op in ops) or any(isinstance(op, _FORBIDDEN) for op in ops):
        return None
    if any(_mentions_list(local.type) and local.type not in (ROWS, ROW) for local in fn.locals.values()):
        return None
    for op in ops:
        if not _made_right(op, candidates[0]) or not all(_used_right(op, s) for s in op.sources()):
            return None
    return candidates[0]


def _mentions_list(ty: object) -> bool:
    if isinstance(ty, List):
        return True
    return isinstance(ty, Union) and any(_mentions_list(member) for member in ty.members)


def _made_right(op: Value, param: int) -> bool:
    """Whether a list value `op` makes is the parameter or one of its rows (anything else: False)."""
    if op.type == ROWS:
        return (isinstance(op, Param) and op.index == param) or isinstance(op, LoadLocal)
    if op.type == ROW:
        return isinstance(op, LoadLocal) or (isinstance(op, Index) and op.base.type == ROWS and len(op.indices) == 1)
    return not _mentions_list(op.type)


def _used_right(op: Value, source: Value) -> bool:
    """Whether `op` uses the list value `source` only in one of the ways listed above."""
    if not _mentions_list(source.type):
        return True
    if isinstance(op, StoreLocal):
        return op.src is source and op.local.type == source.type
    if isinstance(op, Index):
        return op.base is source and source not in op.indices and len(op.indices) == 1
    if isinstance(op, SetIndex):
        # (a float only: an int stored into a row would be an int object there)
        row_store = op.base is source and source.type == ROW and op.value.type is Ty.FLOAT
        return row_store and source is not op.value and len(op.indices) == 1
    if isinstance(op, ArrayAttr):
        return op.kind == "len"
    return False
