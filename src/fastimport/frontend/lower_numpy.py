"""Calls of NumPy functions, ndarray methods and dtype queries -> IR.

    np.zeros((n, m), dtype=np.int32)   ->  NewArray(np.zeros, shape=[n, m], tuple_shape, dtype_given=int32)
    np.full(a.shape, 1.5)              ->  NewArray(np.full, shape_of=a, fill=1.5)
    np.empty_like(a)                   ->  NewArray(np.empty_like, like=a)
    np.sqrt(x), np.float32(x), np.sum(a, axis=0)  ->  NumpyCall("function", ..., ref=np.<name>)
    a.sum(), a.max(0)                  ->  NumpyCall("method", "sum", [a])
    a.dtype == np.float64              ->  DtypeQuery(a, (), "eq", numpy.float64)  (folded by inference)

Every name the call reads (the numpy module, the function, a dtype such as
`np.float64` or `float`) becomes a guarded global, so rebinding one is seen at
the next call. A dtype written as a string is fixed at compile time.
"""

from __future__ import annotations

import ast
import sys
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import DtypeQuery, GlobalRef, NewArray, NumpyCall, Value
from fastimport.frontend.numpy_calls import FUNCTIONS, METHODS

if TYPE_CHECKING:
    from fastimport.frontend.builder import Builder
    from fastimport.frontend.types import Ty

# name -> its parameters up to `dtype`, in order, named as NumPy names them (a keyword
# NumPy would refuse must not be accepted here).
ALLOCATORS = {
    "empty": ("shape", "dtype"),
    "zeros": ("shape", "dtype"),
    "ones": ("shape", "dtype"),
    "full": ("shape", "fill_value", "dtype"),
    "empty_like": ("prototype", "dtype"),
    "zeros_like": ("a", "dtype"),
    "ones_like": ("a", "dtype"),
    "full_like": ("a", "fill_value", "dtype"),
}


def numpy_module_ref(b: Builder, node: ast.expr) -> GlobalRef | None:
    """The guarded global naming the numpy module, if `node` is such a name (`np`)."""
    if not isinstance(node, ast.Name) or node.id in b.fn.locals:
        return None
    try:
        resolved = b.resolver.resolve(node.id, node)
    except Unsupported:
        return None
    return b.global_ref(resolved.ref) if resolved.kind == "numpy" else None


def numpy_attribute_ref(b: Builder, node: ast.Attribute) -> GlobalRef:
    """`np.<name>` as a guarded global: the numpy module's attribute, still the object seen now."""
    numpy = sys.modules["numpy"]
    if not hasattr(numpy, node.attr):
        raise Unsupported(node, f"numpy.{node.attr} does not exist")
    return b.global_ref(GlobalRef("module:numpy", node.attr, "callable", getattr(numpy, node.attr)))


def lower_numpy_call(b: Builder, node: ast.Call, name: str, ref: GlobalRef) -> Value:
    """A call of `numpy.<name>` (through `ref`, already guarded)."""
    from fastimport.frontend.lower_expressions import lower_expr  # (it imports this module)

    if name not in ALLOCATORS:
        return _lower_function_call(b, node, name, ref)
    given = _bind(node, name, ALLOCATORS[name])
    # Evaluated in source order, as CPython evaluates the call's arguments.
    op = NewArray(ref)
    for arg in sorted(given, key=lambda p: _position(node, given[p])):
        expr = given[arg]
        if arg == "shape":
            _lower_shape(b, op, expr)
        elif arg in ("a", "prototype"):
            op.like = lower_expr(b, expr)
        elif arg == "fill_value":
            op.fill = lower_expr(b, expr)
        else:
            op.dtype_given = dtype_of_expr(b, expr)
    return b.add(op, node)


def _bind(node: ast.Call, name: str, params: tuple[str, ...]) -> dict[str, ast.expr]:
    """Parameter name -> argument expression; every parameter but `dtype` is required."""
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(k.arg is None for k in node.keywords):
        raise Unsupported(node, "*args or **kwargs in a call")
    if len(node.args) > len(params):
        raise Unsupported(node, f"numpy.{name}() with {len(node.args)} positional arguments")
    given: dict[str, ast.expr] = dict(zip(params, node.args, strict=False))
    for keyword in node.keywords:
        if keyword.arg not in params or keyword.arg in given:
            raise Unsupported(keyword, f"argument '{keyword.arg}' of numpy.{name}()")
        given[keyword.arg] = keyword.value  # type: ignore[index]
    missing = [p for p in params[:-1] if p not in given]
    if missing:
        raise Unsupported(node, f"numpy.{name}() without '{missing[0]}'")
    return given


def _position(call: ast.Call, expr: ast.expr) -> int:
    order = [*call.args, *(k.value for k in call.keywords)]
    return next(i for i, e in enumerate(order) if e is expr)


def _lower_shape(b: Builder, op: NewArray, expr: ast.expr) -> None:
    from fastimport.frontend.lower_expressions import lower_expr

    if isinstance(expr, (ast.Tuple, ast.List)):
        if any(isinstance(e, ast.Starred) for e in expr.elts):
            raise Unsupported(expr, "a starred shape")
        op.shape = [lower_expr(b, e) for e in expr.elts]
        op.tuple_shape = True
    elif isinstance(expr, ast.Attribute) and expr.attr == "shape":
        op.shape_of = lower_expr(b, expr.value)
        op.tuple_shape = True
    else:
        op.shape = [lower_expr(b, expr)]


def dtype_of_expr(b: Builder, expr: ast.expr) -> Ty | None:
    """The dtype an expression names: `np.float64`, `float`, `"int32"`, `None` (the default)."""
    import numpy as np

    from fastimport.frontend.numpy_types import scalar_types

    if isinstance(expr, ast.Constant) and expr.value is None:
        return None
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        try:
            obj: object = np.dtype(expr.value)
        except TypeError:
            raise Unsupported(expr, f"dtype {expr.value!r}") from None
    elif isinstance(expr, ast.Attribute) and numpy_module_ref(b, expr.value) is not None:
        obj = numpy_attribute_ref(b, expr).expected
    elif isinstance(expr, ast.Name) and expr.id not in b.fn.locals:
        resolved = b.resolver.resolve(expr.id, expr)
        if resolved.kind not in ("builtin", "numpyfunc") or resolved.name in ("abs", "min", "max", "round", "len"):
            raise Unsupported(expr, f"dtype '{expr.id}'")
        b.global_ref(resolved.ref)
        obj = resolved.ref.expected
    else:
        raise Unsupported(expr, "a dtype other than a NumPy type, int, float, bool or a string")
    try:
        dtype = np.dtype(obj)  # type: ignore[call-overload]
    except TypeError:
        raise Unsupported(expr, f"dtype {obj!r}") from None
    ty = scalar_types().get(dtype.type)
    if ty is None or dtype.byteorder not in "=|":
        raise Unsupported(expr, f"arrays of dtype {dtype}")
    return ty


def _lower_function_call(b: Builder, node: ast.Call, name: str, ref: GlobalRef) -> Value:
    """A ufunc, a NumPy scalar type (a conversion) or one of FUNCTIONS, called with numbers and arrays."""
    from fastimport.frontend.lower_expressions import lower_expr
    from fastimport.frontend.numpy_types import scalar_types

    numpy = sys.modules["numpy"]
    obj = ref.expected
    if isinstance(obj, numpy.ufunc):
        if obj.nout != 1 or len(node.args) != obj.nin or node.keywords:
            raise Unsupported(node, f"numpy.{name}() with other than its {obj.nin} input argument(s)")
        name = obj.__name__  # np.abs is np.absolute
    elif obj in scalar_types():
        if len(node.args) != 1 or node.keywords:
            raise Unsupported(node, f"numpy.{name}() with other than one argument")
        name = scalar_types()[obj].value
    elif FUNCTIONS.get(name) is not None and getattr(numpy, name, None) is obj:
        keywords = () if name == "dot" else ("axis",)  # np.dot has no axis
        if len(node.args) > FUNCTIONS[name] or any(k.arg not in keywords for k in node.keywords) or not node.args:
            raise Unsupported(node, f"numpy.{name}() with these arguments")
        if node.keywords and len(node.args) != 1:
            raise Unsupported(node, f"numpy.{name}() with axis given twice")
        args = [lower_expr(b, arg) for arg in [*node.args, *(k.value for k in node.keywords)]]
        return b.add(NumpyCall(NumpyCall.FUNCTION, name, args, ref), node)
    else:
        raise Unsupported(node, f"numpy.{name}() is not compiled")
    args = [lower_expr(b, arg) for arg in node.args]
    return b.add(NumpyCall(NumpyCall.FUNCTION, name, args, ref), node)


def lower_method_call(b: Builder, node: ast.Call, func: ast.Attribute) -> Value | None:
    """`a.sum()`, `a.max(0)`, `a.copy()`: an ndarray method (None if `func` names no such method)."""
    from fastimport.frontend.lower_expressions import lower_expr

    if func.attr not in METHODS or _names_module(b, func.value):
        return None
    if len(node.args) > METHODS[func.attr] or any(k.arg != "axis" for k in node.keywords):
        raise Unsupported(node, f"ndarray.{func.attr}() with these arguments")
    if node.keywords and (node.args or METHODS[func.attr] == 0):
        raise Unsupported(node, f"ndarray.{func.attr}() with these arguments")
    args = [lower_expr(b, e) for e in [func.value, *node.args, *(k.value for k in node.keywords)]]
    return b.add(NumpyCall(NumpyCall.METHOD, func.attr, args), node)


def _names_module(b: Builder, node: ast.expr) -> bool:
    """Whether `node` is a global name (a module such as math or numpy; never an array)."""
    return isinstance(node, ast.Name) and node.id not in b.fn.locals


# --- dtype queries, folded at compile time --------------------------------------------------


def dtype_path(node: ast.expr) -> tuple[ast.expr, tuple[str, ...]] | None:
    """`a.dtype.kind` -> (a, ("kind",)); None unless `node` is `<value>.dtype[.attr...]`."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute) and node.attr != "dtype":
        attrs.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Attribute):
        return None
    return node.value, tuple(attrs)


def is_dtype_query(node: ast.expr) -> bool:
    """Whether `node` reads an array's dtype (`a.dtype`, `a.dtype.itemsize`) or `a.itemsize`."""
    return dtype_path(node) is not None or (isinstance(node, ast.Attribute) and node.attr == "itemsize")


_DTYPE_COMPARISONS = {ast.Eq: "eq", ast.NotEq: "ne", ast.In: "in", ast.NotIn: "notin"}


def lower_dtype_attribute(b: Builder, node: ast.Attribute) -> Value:
    """`a.dtype.itemsize`, `a.itemsize`: a number fixed by the specialization."""
    from fastimport.frontend.lower_expressions import lower_expr

    path = dtype_path(node)
    base, attrs = path if path is not None else (node.value, ("itemsize",))
    return b.add(DtypeQuery(lower_expr(b, base), attrs), node)


def lower_dtype_compare(b: Builder, node: ast.Compare) -> Value:
    """`a.dtype == np.float64`, `a.dtype != b.dtype`, `a.dtype.kind in "fc"`: folded at compile time."""
    from fastimport.frontend.lower_expressions import lower_expr

    if len(node.ops) != 1 or type(node.ops[0]) not in _DTYPE_COMPARISONS:
        raise Unsupported(node, "a dtype comparison other than ==, !=, in, not in")
    compare = _DTYPE_COMPARISONS[type(node.ops[0])]
    left, right = node.left, node.comparators[0]
    if dtype_path(left) is None:
        if compare not in ("eq", "ne"):
            raise Unsupported(node, "a dtype on the right of 'in'")
        left, right = right, left  # `np.float64 == a.dtype`: equality is symmetric for dtypes
    base, attrs = dtype_path(left)  # type: ignore[misc]
    base_value = lower_expr(b, base)
    other_path = dtype_path(right)
    if other_path is not None:
        other_value = lower_expr(b, other_path[0])
        query = DtypeQuery(base_value, attrs, compare, other_value=other_value, other_attrs=other_path[1])
    else:
        query = DtypeQuery(base_value, attrs, compare, other=static_value(b, right))
    return b.add(query, node)


def static_value(b: Builder, expr: ast.expr) -> object:
    """What a constant-like expression is at compile time (the globals it reads are guarded).

    A literal, a tuple of them, `np.<name>`, the builtins int/float/bool, a name imported
    from NumPy, or `np.dtype(<static value>)`.
    """
    import numpy as np

    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Tuple):
        return tuple(static_value(b, e) for e in expr.elts)
    if isinstance(expr, ast.Attribute) and numpy_module_ref(b, expr.value) is not None:
        return numpy_attribute_ref(b, expr).expected
    if isinstance(expr, ast.Name) and expr.id not in b.fn.locals:
        resolved = b.resolver.resolve(expr.id, expr)
        if resolved.kind == "numpyfunc" or (resolved.kind == "builtin" and resolved.name in ("int", "float", "bool")):
            b.global_ref(resolved.ref)
            return resolved.ref.expected
    if (
        isinstance(expr, ast.Call)
        and len(expr.args) == 1
        and not expr.keywords
        and static_value(b, expr.func) is np.dtype
    ):
        try:
            return np.dtype(static_value(b, expr.args[0]))  # type: ignore[call-overload]
        except TypeError:
            raise Unsupported(expr, "np.dtype() of that") from None
    raise Unsupported(expr, "compared with a dtype: not a constant, a NumPy type or np.dtype(...)")
