"""Result types of operations, given operand types (Python's rules, restricted).

    add(int, int) -> int      add(int, float) -> float     truediv(int, int) -> float
    and(bool, bool) -> bool   lshift(float, int) -> not compiled (TypeError in CPython)

A rule that would raise TypeError in CPython raises Unsupported: the function
stays bytecode, where CPython raises the error itself.
"""

from __future__ import annotations

import sys

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import Const, Value
from fastimport.frontend.mathlib import MATH_FUNCTIONS
from fastimport.frontend.types import NUMERIC, Ty

_BITWISE = frozenset({"lshift", "rshift", "and", "or", "xor"})


def _numeric(op: Value, *types: Ty | None) -> None:
    for ty in types:
        if ty not in NUMERIC:
            raise Unsupported(_node(op), f"operand of type {ty}")


def binary_type(op: Value, kind: str, lt: Ty, rt: Ty, rhs: Value) -> Ty:
    """The result type of a binary operation on operands of types `lt` and `rt`."""
    _numeric(op, lt, rt)
    if Ty.FLOAT in (lt, rt):
        if kind in _BITWISE:
            raise Unsupported(_node(op), f"'{kind}' with a float operand")
        return Ty.FLOAT
    if kind == "truediv":
        return Ty.FLOAT
    if lt is Ty.BOOL and rt is Ty.BOOL and kind in ("and", "or", "xor"):
        return Ty.BOOL
    if kind == "pow" and isinstance(rhs, Const) and rhs.value < 0:
        return Ty.FLOAT  # int ** negative int is a float in Python
    return Ty.INT


def unary_type(op: Value, kind: str, t: Ty) -> Ty:
    """The result type of a unary operation on an operand of type `t`."""
    _numeric(op, t)
    if kind == "not":
        return Ty.BOOL
    if kind == "invert":
        # ~True is -2 before 3.12; from 3.12 it also warns (DeprecationWarning), an effect.
        if t is Ty.FLOAT or (t is Ty.BOOL and sys.version_info >= (3, 12)):
            raise Unsupported(_node(op), f"~ on {t}")
        return Ty.INT
    return Ty.FLOAT if t is Ty.FLOAT else Ty.INT


def builtin_type(op: Value, name: str, types: list[Ty]) -> Ty:
    """The result type of a call of the builtin `name` with arguments of `types`."""
    _numeric(op, *types)
    if name in ("min", "max"):
        # Python returns one of the arguments itself: with mixed types, which one is
        # known only at run time.
        return types[0] if len(set(types)) == 1 else Ty.NUM
    if name == "abs":
        return Ty.FLOAT if types[0] is Ty.FLOAT else Ty.INT
    if name == "$range_arg":
        if types[0] is Ty.FLOAT:
            raise Unsupported(_node(op), "range() of a float")
        return Ty.INT
    return {"int": Ty.INT, "float": Ty.FLOAT, "bool": Ty.BOOL, "round": Ty.INT}[name]


def pycall_type(op: Value, rule: str, types: list[Ty]) -> Ty:
    """The result type a PyCall must produce (checked at run time: anything else deopts)."""
    _numeric(op, *types)
    if rule == "round":  # round(x, n): a float stays a float, an int (or bool) gives an int
        return Ty.FLOAT if types[0] is Ty.FLOAT else Ty.INT
    return {"float": Ty.FLOAT, "int": Ty.INT, "bool": Ty.BOOL}[rule]


def math_type(op: Value, name: str, types: list[Ty]) -> Ty:
    """The result type of a call of `math.<name>` with arguments of `types`."""
    _numeric(op, *types)
    spec = MATH_FUNCTIONS[name]
    return spec.result


class _Where:
    def __init__(self, op: Value) -> None:
        self.lineno = op.line
        self.col_offset = op.col


def _node(op: Value) -> _Where:
    return _Where(op)
