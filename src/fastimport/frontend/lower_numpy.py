"""Calls of NumPy functions -> IR: the array allocators, for now.

    np.zeros((n, m), dtype=np.int32)   ->  NewArray(np.zeros, shape=[n, m], tuple_shape, dtype_given=int32)
    np.full(a.shape, 1.5)              ->  NewArray(np.full, shape_of=a, fill=1.5)
    np.empty_like(a)                   ->  NewArray(np.empty_like, like=a)

Every name the call reads (the numpy module, the function, a dtype such as
`np.float64` or `float`) becomes a guarded global, so rebinding one is seen at
the next call. A dtype written as a string is fixed at compile time.
"""

from __future__ import annotations

import ast
import sys
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import GlobalRef, NewArray, Value

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
        raise Unsupported(node, f"numpy.{name}() is not compiled")
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
