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
from fastimport.frontend.numpy_calls import array_operator_type, involves_array
from fastimport.frontend.types import PYTHON_NUMBERS, Ty, is_scalar, union_of

_BITWISE = frozenset({"lshift", "rshift", "and", "or", "xor"})


def _numeric(op: Value, *types: Ty | None) -> None:
    for ty in types:
        if not is_scalar(ty):
            raise Unsupported(_node(op), f"operand of type {ty}")


def _numpy(*types: Ty) -> bool:
    return any(isinstance(t, Ty) and t.is_numpy for t in types)


def binary_type(op: Value, kind: str, lt: Ty, rt: Ty, rhs: Value) -> Ty:  # noqa: PLR0911 - one return per rule
    """The result type of a binary operation on operands of types `lt` and `rt`."""
    if involves_array(lt, rt):  # NumPy computes it (frontend/numpy_calls.py)
        return array_operator_type(op, kind, [lt, rt], inplace=getattr(op, "inplace", False))  # type: ignore[return-value]
    _numeric(op, lt, rt)
    if _numpy(lt, rt):
        return _numpy_binary_type(op, kind, lt, rt)
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


def _numpy_binary_type(op: Value, kind: str, lt: Ty, rt: Ty) -> Ty:
    """NumPy's answer (frontend/numpy_types.py), within what the emitter implements."""
    from fastimport.frontend import numpy_types

    if kind in ("lshift", "rshift"):
        raise Unsupported(_node(op), f"'{kind}' on a NumPy scalar")
    result = numpy_types.binary(kind, lt, rt)
    if result is None:
        raise Unsupported(_node(op), f"'{kind}' of {lt} and {rt} (NumPy raises)")
    if kind == "pow":  # NumPy's power is not libm's pow bit for bit (SIMD kernels): NumPy computes it
        raise Unsupported(_node(op), f"** on NumPy scalars ({lt}, {rt})")
    if kind in ("floordiv", "mod") and result is Ty.F32:  # only the float64 algorithm is implemented
        raise Unsupported(_node(op), f"'{kind}' of float32 scalars")
    if kind in _BITWISE and result.is_float:  # pragma: no cover - NumPy raises for these
        raise Unsupported(_node(op), f"'{kind}' with a float operand")
    return result


def compare_type(op: Value, lt: Ty, rt: Ty) -> Ty:
    """The result type of a comparison: bool, or numpy.bool when a NumPy scalar takes part."""
    if involves_array(lt, rt):
        return array_operator_type(op, op.kind, [lt, rt])  # type: ignore[attr-defined, return-value]
    _numeric(op, lt, rt)
    if _numpy(lt, rt):
        from fastimport.frontend import numpy_types

        if numpy_types.binary("add", lt, rt) is None and not (lt.is_bool and rt.is_bool):
            raise Unsupported(_node(op), f"comparison of {lt} and {rt} (before NumPy 2)")
        return Ty.B
    return Ty.BOOL


def unary_type(op: Value, kind: str, t: Ty) -> Ty:
    """The result type of a unary operation on an operand of type `t`."""
    if kind != "not" and involves_array(t):
        return array_operator_type(op, kind, [t])  # type: ignore[return-value]
    _numeric(op, t)
    if kind == "not":
        return Ty.BOOL
    if t.is_numpy:
        from fastimport.frontend import numpy_types

        result = numpy_types.unary(kind, t)
        if kind == "invert" and t is Ty.U64:  # ~x is beyond 2**63 for every x native code holds
            raise Unsupported(_node(op), "~ of a uint64")
        if result is None:
            raise Unsupported(_node(op), f"{kind} of a {t} (NumPy raises)")
        return result
    if kind == "invert":
        # ~True is -2 before 3.12; from 3.12 it also warns (DeprecationWarning), an effect.
        if t is Ty.FLOAT or (t is Ty.BOOL and sys.version_info >= (3, 12)):
            raise Unsupported(_node(op), f"~ on {t}")
        return Ty.INT
    return Ty.FLOAT if t is Ty.FLOAT else Ty.INT


def builtin_type(op: Value, name: str, types: list[Ty]) -> Ty:
    """The result type of a call of the builtin `name` with arguments of `types`."""
    if name == "abs" and involves_array(*types):
        return array_operator_type(op, "abs", types)  # type: ignore[return-value]
    _numeric(op, *types)
    if name in ("min", "max"):
        # Python returns one of the arguments itself: with mixed types, which one is
        # known only at run time.
        return union_of(types)  # type: ignore[return-value]
    if _numpy(*types):
        return _numpy_builtin_type(op, name, types[0])
    if name == "abs":
        return Ty.FLOAT if types[0] is Ty.FLOAT else Ty.INT
    if name == "$range_arg":
        if types[0] is Ty.FLOAT:
            raise Unsupported(_node(op), "range() of a float")
        return Ty.INT
    return {"int": Ty.INT, "float": Ty.FLOAT, "bool": Ty.BOOL, "round": Ty.INT}[name]


def _numpy_builtin_type(op: Value, name: str, t: Ty) -> Ty:
    from fastimport.frontend import numpy_types

    if name == "$range_arg":
        if not t.is_int:
            raise Unsupported(_node(op), f"range() of a {t}")
        return Ty.INT
    result = numpy_types.unary("abs", t) if name == "abs" else numpy_types.python_builtin(name, t)
    if result is None:
        raise Unsupported(_node(op), f"{name}() of a {t}")
    if name == "round" and not (t is Ty.F64 and result is Ty.INT):
        raise Unsupported(_node(op), f"round() of a {t}")
    return result


def _python_numbers(op: Value, what: str, types: list[Ty]) -> None:
    """Math functions and round(x, n) take Python numbers and numpy.float64 (a float subclass)."""
    for t in types:
        if t not in PYTHON_NUMBERS and t is not Ty.F64:
            raise Unsupported(_node(op), f"{what} of a {t}")


def pycall_type(op: Value, rule: str, types: list[Ty]) -> Ty:
    """The result type a PyCall must produce (checked at run time: anything else deopts)."""
    _numeric(op, *types)
    for t in types:
        if t not in PYTHON_NUMBERS:
            raise Unsupported(_node(op), f"{rule} of a {t}")
    if rule == "round":  # round(x, n): a float stays a float, an int (or bool) gives an int
        return Ty.FLOAT if types[0] is Ty.FLOAT else Ty.INT
    return {"float": Ty.FLOAT, "int": Ty.INT, "bool": Ty.BOOL}[rule]


def math_type(op: Value, name: str, types: list[Ty]) -> Ty:
    """The result type of a call of `math.<name>` with arguments of `types`."""
    _numeric(op, *types)
    _python_numbers(op, f"math.{name}()", types)
    spec = MATH_FUNCTIONS[name]
    return spec.result


class _Where:
    def __init__(self, op: Value) -> None:
        self.lineno = op.line
        self.col_offset = op.col


def _node(op: Value) -> _Where:
    return _Where(op)
