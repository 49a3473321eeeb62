"""Type inference: give every value, local and the return a concrete type.

A forward fixpoint over the ops of one specialization. Locals start unknown
and take the join of everything stored into them; a local that would hold
two different types (say int, then float) makes the function unsupported
for these argument types, never silently converted.

    x = 0            x: int
    x = x + 1.5  ->  conflict: "local 'x' holds int and float"
"""

from __future__ import annotations

from collections.abc import Callable

from fastimport.frontend.dynamic import SPLIT_OPS, result_type
from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import (
    ArrayAttr,
    Binary,
    Builtin,
    Call,
    Compare,
    Const,
    DtypeQuery,
    FuncIR,
    Index,
    ListAppend,
    LoadGlobal,
    LoadLocal,
    MakeTuple,
    MathCall,
    NewArray,
    NewList,
    NumpyCall,
    Op,
    Param,
    PyCall,
    Return,
    SetIndex,
    StoreLocal,
    Truth,
    Unary,
)
from fastimport.frontend.numpy_calls import dtype_query_type, numpy_call_type
from fastimport.frontend.typerules import (
    _node,
    binary_type,
    builtin_type,
    compare_type,
    math_type,
    pycall_type,
    unary_type,
)
from fastimport.frontend.types import (
    LIST_ITEMS,
    MAX_TUPLE,
    Array,
    List,
    Tuple,
    Ty,
    Type,
    TypeConflictError,
    is_scalar,
    join,
    ty_of_value,
)

# (callee name, argument types) -> (the callee's specialization, its return type if known yet)
CallResolver = Callable[[str, tuple[Ty, ...], Op], tuple[object, "Ty | None"]]


def infer_types(fn: FuncIR, resolve_call: CallResolver) -> bool:
    """One round over the function; returns True if any type changed (run to a fixpoint)."""
    changed = False
    for op in fn.all_ops():
        before = op.type
        _infer_op(fn, op, resolve_call)
        changed |= op.type != before
        if isinstance(op, StoreLocal) and op.src.type is not None:
            local_before = op.local.type
            try:
                op.local.type = join(op.local.type, op.src.type)
            except TypeConflictError as e:
                raise Unsupported(_node(op), f"local '{op.local.name.lstrip('$')}' holds {e}") from None
            changed |= op.local.type != local_before
        if isinstance(op, Return):
            ret = Ty.NONE if op.value is None else op.value.type
            if ret is not None:
                before_ret = fn.ret_type
                try:
                    fn.ret_type = join(fn.ret_type, ret)
                except TypeConflictError as e:
                    raise Unsupported(_node(op), f"returns both {e}") from None
                changed |= fn.ret_type != before_ret
    return changed


def concrete_type(op: Op) -> Ty:  # noqa: PLR0911 - one return per op kind
    """The result type of an arithmetic/builtin op whose operands have concrete types."""
    if isinstance(op, Unary):
        return unary_type(op, op.kind, op.src.type)  # type: ignore[arg-type]
    if isinstance(op, Binary):
        return binary_type(op, op.kind, op.lhs.type, op.rhs.type, op.rhs)  # type: ignore[arg-type]
    if isinstance(op, Compare):
        return compare_type(op, op.lhs.type, op.rhs.type)  # type: ignore[arg-type]
    if isinstance(op, Truth):
        _numeric_or_none(op, op.src.type)
        return Ty.BOOL
    if isinstance(op, Builtin):
        return builtin_type(op, op.name, [a.type for a in op.args])  # type: ignore[misc]
    if isinstance(op, MathCall):
        return math_type(op, op.name, [a.type for a in op.args])  # type: ignore[misc]
    if isinstance(op, PyCall):
        return pycall_type(op, op.rule, [a.type for a in op.args])  # type: ignore[misc]
    if isinstance(op, NumpyCall):
        return numpy_call_type(op)  # type: ignore[return-value]
    raise AssertionError(type(op).__name__)


def _numeric_or_none(op: Op, ty: Ty | None) -> None:
    if not (is_scalar(ty) or ty is Ty.NONE):
        raise Unsupported(_node(op), f"truth of a {ty}")


def index_type(op: Index | SetIndex) -> Type:
    """An element (all indices given) or a view (fewer) of an array; an item of a tuple."""
    base = op.base.type
    if isinstance(base, Tuple) and isinstance(op, Index):
        return tuple_index_type(op, base)
    if isinstance(base, List):
        if len(op.indices) != 1 or not (isinstance(op.indices[0].type, Ty) and op.indices[0].type.is_int):
            raise Unsupported(_node(op), "a list index that is not an int")
        return base.item
    if isinstance(op, Index) and op.unpack is not None:
        raise Unsupported(_node(op), f"unpacking a {base}")
    if not isinstance(base, Array):
        raise Unsupported(_node(op), f"indexing a {base}")
    if len(op.indices) > base.ndim:
        raise Unsupported(_node(op), f"{len(op.indices)} indices for a {base.ndim}-d array")
    for index in op.indices:
        if not (isinstance(index.type, Ty) and index.type.is_int):
            raise Unsupported(_node(op), f"array index of type {index.type}")
    if len(op.indices) == base.ndim:
        return base.dtype
    return Array(base.dtype, base.ndim - len(op.indices), base.layout, readonly=base.readonly)


def tuple_index_type(op: Index, base: Tuple) -> Type:
    """t[k] with a literal k: that item's type; t[i]: any item's (their join); `x, y = t`: checked length."""
    count = len(base.items)
    if op.unpack is not None and op.unpack != count:
        raise Unsupported(_node(op), f"unpacking a tuple of {count} items into {op.unpack} targets")
    if len(op.indices) != 1 or not (isinstance(op.indices[0].type, Ty) and op.indices[0].type.is_int):
        raise Unsupported(_node(op), "a tuple index that is not an int")
    if op.const_index is not None:
        if not -count <= op.const_index < count:
            raise Unsupported(_node(op), "tuple index out of range")
        return base.items[op.const_index]
    if not count:
        raise Unsupported(_node(op), "indexing an empty tuple")
    try:
        item = None
        for ty in base.items:
            item = join(item, ty)
    except TypeConflictError as e:
        raise Unsupported(_node(op), f"indexing a tuple of {e} with an index known only at run time") from None
    return item  # type: ignore[return-value]


def _boxable(op: Op, ty: Type | None) -> None:
    """Unsupported unless a value of type `ty` can be put into a list (a number, tuple or list)."""
    if not (is_scalar(ty) or isinstance(ty, (Tuple, List))):
        raise Unsupported(_node(op), f"putting a {ty} into a list")


def new_list_type(op: NewList) -> List | None:
    """[a, b], [a] * n: items of one type (int, float, bool or a list); a comprehension: its element's."""
    values = [op.element] if op.element is not None else op.items
    if not values:
        raise Unsupported(_node(op), "an empty list that nothing is appended to (its item type is unknown)")
    if any(v.type is None for v in values):
        return None  # a comprehension's element, or the first value appended: not known yet
    types = {v.type for v in values}
    if len(types) != 1:
        raise Unsupported(_node(op), f"a list holding {' and '.join(sorted(map(str, types)))}")
    (item,) = types
    if item not in LIST_ITEMS and not isinstance(item, List):
        raise Unsupported(_node(op), f"a list of {item}")
    if op.repeat is not None and not (isinstance(op.repeat.type, Ty) and op.repeat.type.is_int):
        raise Unsupported(_node(op), f"repeating a list {op.repeat.type} times")
    return List(item)


def list_append_type(op: ListAppend) -> Ty:
    """lst.append(value) returns None."""
    if not isinstance(op.lst.type, List):
        raise Unsupported(_node(op), f"append() of a {op.lst.type}")
    _boxable(op, op.value.type)
    return Ty.NONE


def make_tuple_type(op: MakeTuple) -> Tuple:
    """(a, b, ...): numbers, tuples and lists."""
    for item in op.items:
        if not (is_scalar(item.type) or isinstance(item.type, (Tuple, List))):
            raise Unsupported(_node(op), f"a tuple holding a {item.type}")
    if len(op.items) > MAX_TUPLE:
        raise Unsupported(_node(op), f"a tuple of more than {MAX_TUPLE} items")
    return Tuple(tuple(item.type for item in op.items))  # type: ignore[misc]


def set_index_type(op: SetIndex) -> Ty:
    """`a[i, j] = value` stores one element: every index given, a number to store."""
    element = index_type(op)
    if isinstance(op.base.type, List):
        _boxable(op, op.value.type)
        return Ty.NONE
    if op.base.type.readonly:  # type: ignore[union-attr]
        raise Unsupported(_node(op), "storing into a read-only array (NumPy raises ValueError)")
    if isinstance(element, Array):
        raise Unsupported(_node(op), f"assigning to a {element.ndim}-d slice of an array")
    if not is_scalar(op.value.type):  # a number, or a Union of numbers (one cast per run-time type)
        raise Unsupported(_node(op), f"storing a {op.value.type} into a {element} array")
    return Ty.NONE


def array_attr_type(op: ArrayAttr) -> Ty | Tuple:
    """`a.shape[k]`, `a.ndim`, `a.size`, `len(a)`: Python ints; `a.shape`: a tuple of them."""
    base = op.base.type
    if isinstance(base, (Tuple, List)) and op.kind == "len":
        return Ty.INT
    if not isinstance(base, Array):
        raise Unsupported(_node(op), f"{op.kind} of a {base}")
    if op.kind == "shape_tuple":
        return Tuple((Ty.INT,) * base.ndim)
    if op.kind == "shape":
        if op.unpack is not None and op.unpack != base.ndim:
            raise Unsupported(_node(op), f"unpacking the shape of a {base.ndim}-d array into {op.unpack} names")
        if not -base.ndim <= op.axis < base.ndim:
            raise Unsupported(_node(op), f"shape[{op.axis}] of a {base.ndim}-d array")
    return Ty.INT


def new_array_type(op: NewArray) -> Array:
    """np.zeros(...) and friends: a C-contiguous, writeable array of the dtype NumPy would pick."""
    name = op.ref.name
    for dim in op.shape:
        if not (isinstance(dim.type, Ty) and dim.type.is_int):
            raise Unsupported(_node(op), f"a dimension of type {dim.type} in numpy.{name}()")
    if op.fill is not None and not (isinstance(op.fill.type, Ty) and op.fill.type is not Ty.NONE):
        raise Unsupported(_node(op), f"a fill value of type {op.fill.type} in numpy.{name}()")
    for source in (op.shape_of, op.like):
        if source is not None and not isinstance(source.type, Array):
            raise Unsupported(_node(op), f"numpy.{name}() of a {source.type}")
    if op.like is not None:
        like: Array = op.like.type  # type: ignore[assignment]
        if like.layout != "C" and like.ndim > 1:  # NumPy would keep its order (say Fortran's)
            raise Unsupported(_node(op), f"numpy.{name}() of a strided {like.ndim}-d array")
        ndim, default = like.ndim, like.dtype
    else:
        ndim = op.shape_of.type.ndim if op.shape_of is not None else len(op.shape)  # type: ignore[union-attr]
        default = Ty.F64 if op.fill is None else _dtype_of_fill(op.fill.type)  # type: ignore[arg-type]
    if ndim == 0:
        raise Unsupported(_node(op), f"a 0-d array from numpy.{name}()")
    dtype = op.dtype_given or default
    if op.fill is not None and _fill_may_warn(op.fill.type, dtype):  # type: ignore[arg-type]
        # NumPy would warn (an out-of-range float cast); were the call to deopt later,
        # the bytecode re-run would warn a second time.
        raise Unsupported(_node(op), f"numpy.{name}() casting a {op.fill.type} fill value to {dtype}")
    return Array(dtype, ndim, "C")


def _fill_may_warn(fill: Ty, dtype: Ty) -> bool:
    """Whether NumPy's (unsafe) cast of `fill` into `dtype` can warn: a float narrowed, or made an int."""
    if not fill.is_float or dtype.is_bool:
        return False  # ints wrap or raise, silently; anything becomes a bool silently
    return not dtype.is_float or (dtype is Ty.F32 and fill is not Ty.F32)


def _dtype_of_fill(ty: Ty) -> Ty:
    """The dtype np.full picks for a fill value (that of np.array(fill_value))."""
    return {Ty.INT: Ty.I64, Ty.FLOAT: Ty.F64, Ty.BOOL: Ty.B}.get(ty, ty)


_ARRAY_RULES: dict[type, Callable] = {
    Index: index_type,
    SetIndex: set_index_type,
    ArrayAttr: array_attr_type,
    NewArray: new_array_type,
    MakeTuple: make_tuple_type,
    NewList: new_list_type,
    ListAppend: list_append_type,
    DtypeQuery: dtype_query_type,
}


def _infer_op(fn: FuncIR, op: Op, resolve_call: CallResolver) -> None:
    if any(src.type is None for src in op.sources()):
        return  # not yet known: a later round will see it
    if isinstance(op, Const):
        op.type = ty_of_value(op.value)
    elif isinstance(op, Param):
        op.type = fn.arg_types[op.index]
    elif isinstance(op, LoadLocal):
        op.type = op.local.type
    elif isinstance(op, LoadGlobal):
        op.type = op.ref.type if op.ref.type is not None else Ty.FLOAT
        op.ref.type = op.type
    elif isinstance(op, SPLIT_OPS):
        op.type = result_type(op, concrete_type)
    elif type(op) in _ARRAY_RULES:
        op.type = _ARRAY_RULES[type(op)](op)
    elif isinstance(op, Call):
        target, ret = resolve_call(op.callee, tuple(a.type for a in op.args), op)  # type: ignore[misc]
        op.target = target
        op.type = ret
