"""NumPy's typing rules, asked of NumPy itself: arrays, scalars and their promotion.

What `a[i] + 1` is (numpy.float64 for a float64 array, numpy.int32 for an int32
one under NEP 50...) is decided by running the same operation on sample scalars
of the operand types, once, at compile time: our rules cannot drift from the
NumPy that is installed.

    binary("add", I32, INT)  -> I32      (a Python int is "weak")
    binary("truediv", I64, I64) -> F64
    binary("add", I32, F32)  -> F64
    compare loop type of (I64, FLOAT) -> F64  (both converted, then compared)

Only imported when an argument is an ndarray or a NumPy scalar (so NumPy is
already imported by the program).
"""

from __future__ import annotations

import functools
import operator
import sys
import warnings

from fastimport.frontend.types import Array, Ty

_NP = None


def _np():  # noqa: ANN202 - numpy, imported by the program already
    global _NP  # noqa: PLW0603 - resolved once
    if _NP is None:
        import numpy as np

        _NP = np
    return _NP


@functools.cache
def scalar_types() -> dict[type, Ty]:
    """NumPy scalar type objects -> our types."""
    np = _np()
    return {
        np.float64: Ty.F64,
        np.float32: Ty.F32,
        np.int64: Ty.I64,
        np.int32: Ty.I32,
        np.int16: Ty.I16,
        np.int8: Ty.I8,
        np.uint64: Ty.U64,
        np.uint32: Ty.U32,
        np.uint16: Ty.U16,
        np.uint8: Ty.U8,
        np.bool_: Ty.B,
    }


@functools.cache
def type_object(ty: Ty) -> type:
    """The Python type object of a scalar type (numpy.float64 for F64, float for FLOAT)."""
    python = {Ty.INT: int, Ty.FLOAT: float, Ty.BOOL: bool, Ty.NONE: type(None)}
    if ty in python:
        return python[ty]
    return {v: k for k, v in scalar_types().items()}[ty]


@functools.cache
def dtype_of(ty: Ty) -> object:
    """The canonical numpy.dtype of a NumPy scalar type (a singleton in NumPy)."""
    return _np().dtype(type_object(ty))


# Bit widths and ranges of NumPy integer types (values are always held in an int64;
# a NumPy uint64 beyond 2**63 - 1 leaves native code).
INT_RANGES = {
    Ty.I64: (-(2**63), 2**63 - 1),
    Ty.I32: (-(2**31), 2**31 - 1),
    Ty.I16: (-(2**15), 2**15 - 1),
    Ty.I8: (-(2**7), 2**7 - 1),
    Ty.U64: (0, 2**63 - 1),
    Ty.U32: (0, 2**32 - 1),
    Ty.U16: (0, 2**16 - 1),
    Ty.U8: (0, 2**8 - 1),
}
ITEM_BITS = {
    Ty.F64: 64, Ty.F32: 32, Ty.I64: 64, Ty.I32: 32, Ty.I16: 16, Ty.I8: 8,
    Ty.U64: 64, Ty.U32: 32, Ty.U16: 16, Ty.U8: 8, Ty.B: 8,
}  # fmt: skip
SIGNED = frozenset({Ty.I64, Ty.I32, Ty.I16, Ty.I8})


def array_type(value: object) -> Array | None:
    """The Array type of an exact numpy.ndarray native code can read, else None."""
    np = sys.modules.get("numpy")
    if np is None or type(value) is not np.ndarray:
        return None
    dtype = value.dtype  # type: ignore[attr-defined]
    ty = scalar_types().get(dtype.type)
    if ty is None or dtype is not dtype_of(ty) or value.ndim == 0:  # type: ignore[attr-defined]
        return None  # another byte order, a structured or object dtype, a 0-d array
    flags = value.flags  # type: ignore[attr-defined]
    return Array(ty, value.ndim, "C" if flags.c_contiguous else "A", readonly=not flags.writeable)  # type: ignore[attr-defined]


def numpy_scalar_type(value: object) -> Ty | None:
    """The type of an exact NumPy scalar (numpy.float64(1.0) -> F64), else None."""
    if "numpy" not in sys.modules:
        return None
    return scalar_types().get(type(value))


def sample(ty: Ty) -> object:
    """A value of scalar type `ty` (1, 1.0, True, numpy.int8(1), ...)."""
    python = {Ty.INT: 1, Ty.FLOAT: 1.0, Ty.BOOL: True}
    if ty in python:
        return python[ty]
    return type_object(ty)(1)


_OPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "lshift": operator.lshift, "rshift": operator.rshift,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "neg": operator.neg, "pos": operator.pos, "invert": operator.invert, "abs": abs,
}  # fmt: skip


def _result(value: object) -> Ty | None:
    from fastimport.frontend.types import PY_TYPES

    return PY_TYPES.get(type(value)) or scalar_types().get(type(value))


@functools.cache
def nep50() -> bool:
    """Whether NumPy's result types depend on types only (NumPy 2: NEP 50), not on values."""
    return int(_np().__version__.split(".")[0]) >= 2  # noqa: PLR2004


@functools.cache
def binary(kind: str, lt: Ty, rt: Ty) -> Ty | None:
    """The type of `lhs <kind> rhs` when one side is a NumPy scalar; None if NumPy raises.

    None too before NumPy 2, where `int8(1) + 300` is an int16 (value-based casting):
    asking with sample values would not answer for every value.
    """
    if not nep50():
        return None
    try:
        with warnings.catch_warnings(), _np().errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _result(_OPS[kind](sample(lt), sample(rt)))
    except (TypeError, ValueError, OverflowError):
        return None


@functools.cache
def unary(kind: str, t: Ty) -> Ty | None:
    """The type of `-x`, `+x`, `~x` or `abs(x)` for a NumPy scalar x; None if NumPy raises."""
    try:
        with warnings.catch_warnings(), _np().errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _result(_OPS[kind](sample(t)))
    except (TypeError, ValueError, OverflowError):
        return None


@functools.cache
def loop_type(lt: Ty, rt: Ty) -> Ty:
    """The type both operands of a comparison are converted to (NumPy's common type)."""
    if lt.is_bool and rt.is_bool:
        return Ty.B
    common = binary("add", lt, rt)
    if common is None or common is Ty.B:  # pragma: no cover - every numeric pair adds
        raise AssertionError((lt, rt))
    return common


@functools.cache
def python_builtin(name: str, t: Ty) -> Ty | None:
    """The type of `int(x)`, `float(x)`, `bool(x)`, `round(x)` for a NumPy scalar x."""
    fn = {"int": int, "float": float, "bool": bool, "round": round}[name]
    try:
        return _result(fn(sample(t)))
    except (TypeError, ValueError, OverflowError):
        return None
