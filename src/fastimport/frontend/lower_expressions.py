"""Expressions -> IR values.

`lower_expr(b, node)` returns the Value of an expression; `lower_condition(b,
node, true, false)` branches on its truth without materializing a bool, so
`if a and b:` works whatever the types of `a` and `b`.
"""

from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import (
    ArrayAttr,
    Binary,
    Builtin,
    Call,
    Compare,
    Const,
    GlobalRef,
    Index,
    LoadGlobal,
    LoadLocal,
    MakeTuple,
    MathCall,
    PyCall,
    StoreLocal,
    Truth,
    Unary,
    Value,
)
from fastimport.frontend.lower_lists import lower_append, lower_list_display, lower_list_repeat, lower_listcomp
from fastimport.frontend.lower_numpy import (
    is_dtype_query,
    lower_dtype_attribute,
    lower_dtype_compare,
    lower_method_call,
    lower_numpy_call,
    numpy_attribute_ref,
    numpy_module_ref,
)
from fastimport.frontend.mathlib import MATH_CONSTANTS, MATH_FUNCTIONS, MATH_PYCALLS

if TYPE_CHECKING:
    import types

    from fastimport.frontend.builder import Builder
    from fastimport.frontend.resolve import Resolved

BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow",
    ast.LShift: "lshift", ast.RShift: "rshift",
    ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
}  # fmt: skip
UNARYOPS: dict[type[ast.unaryop], str] = {
    ast.USub: Unary.NEG, ast.UAdd: Unary.POS, ast.Invert: Unary.INVERT, ast.Not: Unary.NOT,
}  # fmt: skip
CMPOPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne",
}  # fmt: skip


def lower_expr(b: Builder, node: ast.expr) -> Value:
    """The value of `node`."""
    lower = _EXPRESSIONS.get(type(node))
    if lower is None:
        raise Unsupported(node, f"expression {type(node).__name__}")
    return lower(b, node)


def lower_condition(b: Builder, node: ast.expr, true: object, false: object) -> None:
    """Branch to `true` or `false` on the truth of `node` (short-circuiting and/or/not)."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        b.goto(true if node.value else false)  # `while True:` has no exit through its test
        b.activate(b.new_block())  # code after it is dead; keep it somewhere
    elif isinstance(node, ast.BoolOp):
        for value in node.values[:-1]:
            rest = b.new_block()
            if isinstance(node.op, ast.And):
                lower_condition(b, value, rest, false)
            else:
                lower_condition(b, value, true, rest)
            b.activate(rest)
        lower_condition(b, node.values[-1], true, false)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        lower_condition(b, node.operand, false, true)
    elif isinstance(node, ast.Compare) and len(node.ops) > 1:
        _lower_chain(b, node, true, false)
    else:
        b.branch(b.add(Truth(lower_expr(b, node)), node), true, false)  # type: ignore[arg-type]


def lower_constant(b: Builder, node: ast.Constant) -> Value:
    """An int, float or bool literal (ints must fit in 64 bits)."""
    value = node.value
    if type(value) is int and not -(2**63) <= value < 2**63:
        raise Unsupported(node, "int literal beyond 64 bits")
    if type(value) not in (int, float, bool):
        raise Unsupported(node, f"{type(value).__name__} literal")
    return b.add(Const(value), node)


def lower_name(b: Builder, node: ast.Name) -> Value:
    """A local variable read, or a global read re-checked at every call."""
    if node.id in b.fn.locals:
        return b.add(LoadLocal(b.fn.locals[node.id]), node)
    resolved = b.resolver.resolve(node.id, node)
    if resolved.kind != "value":
        raise Unsupported(node, f"'{node.id}' used as a value")
    return b.add(LoadGlobal(b.global_ref(resolved.ref)), node)


ARRAY_ATTRIBUTES = frozenset({"ndim", "size", "shape"})  # a.shape: a tuple of ints


def lower_attribute(b: Builder, node: ast.Attribute) -> Value:
    """A `math` constant such as `math.pi`, or `a.ndim` / `a.size` / `a.shape` / `a.dtype.itemsize` of an array."""
    if is_dtype_query(node):
        return lower_dtype_attribute(b, node)
    if not (isinstance(node.value, ast.Name) and node.value.id not in b.fn.locals):
        if node.attr not in ARRAY_ATTRIBUTES:
            raise Unsupported(node, f"attribute '{node.attr}' of a value")
        kind = "shape_tuple" if node.attr == "shape" else node.attr
        return b.add(ArrayAttr(kind, lower_expr(b, node.value)), node)
    module_ref = _math_module(b, node.value)
    if node.attr not in MATH_CONSTANTS:
        raise Unsupported(node, f"math.{node.attr} used as a value")
    b.global_ref(module_ref)
    ref = b.global_ref(GlobalRef("module:math", node.attr, "value"))
    return b.add(LoadGlobal(ref), node)


def lower_subscript(b: Builder, node: ast.Subscript) -> Value:
    """`a[i]`, `a[i, j]` (an element or a view of an array), or `a.shape[k]`."""
    if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
        axis = _constant_int(node.slice)
        if axis is not None:  # else an item of the tuple a.shape, chosen at run time
            return b.add(ArrayAttr("shape", lower_expr(b, node.value.value), axis), node)
    base = lower_expr(b, node.value)
    parts = index_parts(node)
    const_index = _constant_int(parts[0]) if len(parts) == 1 else None
    return b.add(Index(base, [lower_expr(b, part) for part in parts], const_index=const_index), node)


def index_parts(node: ast.Subscript) -> list[ast.expr]:
    """The index expressions of `a[i, j]`; slices, `...` and `None` are not compiled."""
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    for part in parts:
        if isinstance(part, (ast.Slice, ast.Starred)) or (isinstance(part, ast.Constant) and part.value in (None, ...)):
            raise Unsupported(part, "slicing (only integer indices are compiled)")
    return parts


def _constant_int(node: ast.expr) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant_int(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def lower_binop(b: Builder, node: ast.BinOp) -> Value:
    """A binary arithmetic or bitwise operation."""
    kind = BINOPS.get(type(node.op))
    if kind is None:
        raise Unsupported(node, f"operator {type(node.op).__name__}")
    repeated = lower_list_repeat(b, node)
    if repeated is not None:
        return repeated
    lhs = lower_expr(b, node.left)
    rhs = lower_expr(b, node.right)
    return b.add(Binary(kind, lhs, rhs), node)


def lower_unaryop(b: Builder, node: ast.UnaryOp) -> Value:
    """A unary operation (`-x`, `+x`, `not x`, `~x`)."""
    return b.add(Unary(UNARYOPS[type(node.op)], lower_expr(b, node.operand)), node)


def lower_compare(b: Builder, node: ast.Compare) -> Value:
    """A comparison; a chained one becomes branches, materialized as a bool."""
    if is_dtype_query(node.left) or any(is_dtype_query(c) for c in node.comparators):
        return lower_dtype_compare(b, node)
    for op in node.ops:
        if type(op) not in CMPOPS:
            raise Unsupported(node, f"comparison {type(op).__name__}")
    if len(node.ops) == 1:
        lhs = lower_expr(b, node.left)
        rhs = lower_expr(b, node.comparators[0])
        return b.add(Compare(CMPOPS[type(node.ops[0])], lhs, rhs), node)
    return _materialize_condition(b, node)


def lower_boolop(b: Builder, node: ast.BoolOp) -> Value:
    """`a or b` is a if a is truthy else b: the value itself, not a bool."""
    result = b.temp("boolop")
    done = b.new_block()
    for value in node.values[:-1]:
        v = lower_expr(b, value)
        b.add(StoreLocal(result, v), value)
        rest = b.new_block()
        truth = b.add(Truth(v), value)
        if isinstance(node.op, ast.And):
            b.branch(truth, rest, done)
        else:
            b.branch(truth, done, rest)
        b.activate(rest)
    b.add(StoreLocal(result, lower_expr(b, node.values[-1])), node.values[-1])
    b.goto_and_activate(done)
    return b.add(LoadLocal(result), node)


def lower_ifexp(b: Builder, node: ast.IfExp) -> Value:
    """`a if cond else b`: only the chosen side is evaluated."""
    result = b.temp("ifexp")
    true, false, done = b.new_block(), b.new_block(), b.new_block()
    lower_condition(b, node.test, true, false)
    for block, expr in ((true, node.body), (false, node.orelse)):
        b.activate(block)
        b.add(StoreLocal(result, lower_expr(b, expr)), expr)
        b.goto(done)
    b.activate(done)
    return b.add(LoadLocal(result), node)


def lower_call(b: Builder, node: ast.Call) -> Value:
    """A call of a `math` function, a supported builtin or another compiled function."""
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(k.arg is None for k in node.keywords):
        raise Unsupported(node, "*args or **kwargs in a call")
    func = node.func
    if isinstance(func, ast.Attribute):
        return _lower_attribute_call(b, node, func)
    if not isinstance(func, ast.Name):
        raise Unsupported(node, "call of a computed callee")
    if func.id in b.fn.locals:
        raise Unsupported(node, f"call of local '{func.id}'")
    resolved = b.resolver.resolve(func.id, func)
    b.global_ref(resolved.ref)
    if resolved.kind == "mathfunc":
        return _math_call(b, node, resolved.name, resolved.ref)
    if resolved.kind == "builtin":
        return _builtin_call(b, node, resolved)
    if resolved.kind == "numpyfunc":
        return lower_numpy_call(b, node, resolved.name, resolved.ref)
    if resolved.kind == "function":
        return b.add(Call(func.id, _bind_arguments(b, node, resolved.target)), node)  # type: ignore[arg-type]
    if node.keywords:
        raise Unsupported(node, f"keyword arguments in a call of '{func.id}'")
    raise Unsupported(node, f"call of '{func.id}'")


def _lower_attribute_call(b: Builder, node: ast.Call, func: ast.Attribute) -> Value:
    """`lst.append(x)` (a method of a value), or `np.zeros(...)` / `math.sqrt(...)` (a module's function)."""
    names_a_global = isinstance(func.value, ast.Name) and func.value.id not in b.fn.locals
    if func.attr == "append" and not names_a_global:  # a global is a module, never a list
        return lower_append(b, node, func.value)
    return _lower_module_function_call(b, node, func)


def _lower_module_function_call(b: Builder, node: ast.Call, func: ast.Attribute) -> Value:
    """`np.zeros(...)` or `math.sqrt(...)`: a function reached through a guarded module."""
    if numpy_module_ref(b, func.value) is not None:
        return lower_numpy_call(b, node, func.attr, numpy_attribute_ref(b, func))
    method = lower_method_call(b, node, func)  # a.sum(), a.max(0)
    if method is not None:
        return method
    b.global_ref(_math_module(b, func.value))
    if func.attr not in MATH_FUNCTIONS and func.attr not in MATH_PYCALLS:
        raise Unsupported(node, f"math.{func.attr} is not compiled")
    ref = b.global_ref(GlobalRef("module:math", func.attr, "callable", getattr(math, func.attr)))
    return _math_call(b, node, func.attr, ref)


def _bind_arguments(b: Builder, node: ast.Call, target: types.FunctionType) -> list[Value]:
    """Positional and keyword arguments, then defaults, in parameter order (as CPython binds them).

    Defaults come from the callee's `__defaults__` as it is now; the entry point checks
    at each call that the function still has that very tuple (a tuple is immutable).
    Argument expressions are evaluated in source order, as in CPython.
    """
    code = target.__code__
    if code.co_kwonlyargcount:
        raise Unsupported(node, f"call of '{target.__name__}', which has keyword-only parameters")
    names = code.co_varnames[: code.co_argcount]
    if len(node.args) > len(names):
        raise Unsupported(node, f"call of '{target.__name__}' with too many arguments")
    bound: dict[str, Value] = {}
    for name, arg in zip(names, node.args, strict=False):
        bound[name] = lower_expr(b, arg)
    for keyword in node.keywords:
        if keyword.arg not in names[code.co_posonlyargcount :] or keyword.arg in bound:
            raise Unsupported(keyword, f"bad keyword argument '{keyword.arg}' in a call of '{target.__name__}'")
        bound[keyword.arg] = lower_expr(b, keyword.value)
    defaults = target.__defaults__ or ()
    first_default = len(names) - len(defaults)
    missing = [name for name in names if name not in bound]
    if missing:
        # (named by module too: the unit may call functions of several modules)
        b.global_ref(GlobalRef("defaults", f"{target.__module__}.{target.__name__}", "defaults", (target, defaults)))
    for name in missing:
        index = names.index(name)
        if index < first_default:
            raise Unsupported(node, f"call of '{target.__name__}' without argument '{name}'")
        value = defaults[index - first_default]
        if type(value) not in (int, float, bool) or (type(value) is int and not -(2**63) <= value < 2**63):
            raise Unsupported(node, f"default of '{name}' is a {type(value).__name__}")
        bound[name] = b.add(Const(value), node)
    return [bound[name] for name in names]


def _builtin_call(b: Builder, node: ast.Call, resolved: Resolved) -> Value:
    name = resolved.name
    if name == "range":
        raise Unsupported(node, "range() outside a for loop")
    if name == "len":
        if len(node.args) != 1 or node.keywords:
            raise Unsupported(node, "len() with other than one argument")
        return b.add(ArrayAttr("len", lower_expr(b, node.args[0])), node)
    if name == "round" and len(node.args) == 2:  # noqa: PLR2004
        # round(x, n) goes through a correctly rounded decimal conversion in CPython.
        args = [lower_expr(b, arg) for arg in node.args]
        return b.add(PyCall(b.global_ref(resolved.ref), "round", args), node)
    nargs = len(node.args)
    arity_ok = {
        "abs": nargs == 1,
        "min": nargs >= 2,  # noqa: PLR2004 - min() and max() of one argument iterate over it
        "max": nargs >= 2,  # noqa: PLR2004
        "int": nargs == 1,
        "float": nargs == 1,
        "bool": nargs == 1,
        "round": nargs == 1,
    }
    if not arity_ok.get(name, False):
        raise Unsupported(node, f"{name}() with {nargs} argument(s)")
    args = [lower_expr(b, arg) for arg in node.args]
    return b.add(Builtin(name, args), node)


def _math_call(b: Builder, node: ast.Call, name: str, ref: GlobalRef) -> Value:
    if name in MATH_PYCALLS:
        args = [lower_expr(b, arg) for arg in node.args]
        return b.add(PyCall(b.global_ref(ref), MATH_PYCALLS[name], args), node)
    spec = MATH_FUNCTIONS[name]
    if len(node.args) != spec.arity and not (name == "log" and len(node.args) == 2):  # noqa: PLR2004
        raise Unsupported(node, f"math.{name}() with {len(node.args)} argument(s)")
    args = [lower_expr(b, arg) for arg in node.args]
    return b.add(MathCall(name, args), node)


def _math_module(b: Builder, node: ast.expr) -> GlobalRef:
    if not isinstance(node, ast.Name) or node.id in b.fn.locals:
        raise Unsupported(node, "attribute of a value")
    resolved = b.resolver.resolve(node.id, node)
    if resolved.kind != "math":
        raise Unsupported(node, f"attribute of '{node.id}'")
    return resolved.ref


def _lower_chain(b: Builder, node: ast.Compare, true: object, false: object) -> None:
    """A chained comparison `a < b < c`: each middle operand evaluated once, stop at the first false."""
    lhs = lower_expr(b, node.left)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        rhs = lower_expr(b, comparator)
        cmp = b.add(Compare(CMPOPS[type(op)], lhs, rhs), node)
        if comparator is node.comparators[-1]:
            b.branch(cmp, true, false)  # type: ignore[arg-type]
        else:
            rest = b.new_block()
            b.branch(cmp, rest, false)  # type: ignore[arg-type]
            b.activate(rest)
        lhs = rhs


def _materialize_condition(b: Builder, node: ast.expr) -> Value:
    result = b.temp("cond")
    true, false, done = b.new_block(), b.new_block(), b.new_block()
    lower_condition(b, node, true, false)
    for block, value in ((true, True), (false, False)):
        b.activate(block)
        b.add(StoreLocal(result, b.add(Const(value), node)), node)
        b.goto(done)
    b.activate(done)
    return b.add(LoadLocal(result), node)


def lower_tuple(b: Builder, node: ast.Tuple) -> Value:
    """`(a, b)`: the items left to right, as one tuple value."""
    if any(isinstance(item, ast.Starred) for item in node.elts):
        raise Unsupported(node, "*unpacking in a tuple display")
    return b.add(MakeTuple([lower_expr(b, item) for item in node.elts]), node)


_EXPRESSIONS = {
    ast.Constant: lower_constant,
    ast.Name: lower_name,
    ast.Attribute: lower_attribute,
    ast.Subscript: lower_subscript,
    ast.BinOp: lower_binop,
    ast.UnaryOp: lower_unaryop,
    ast.Compare: lower_compare,
    ast.BoolOp: lower_boolop,
    ast.IfExp: lower_ifexp,
    ast.Call: lower_call,
    ast.Tuple: lower_tuple,
    ast.List: lower_list_display,
    ast.ListComp: lower_listcomp,
}
