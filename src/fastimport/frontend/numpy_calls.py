"""NumPy calls and whole-array operations: which are compiled, and their result types, asked of NumPy.

    np.sqrt(x)      x: float   ->  float64    (native: the loop is float64 -> float64)
    np.exp(x)       x: float32 ->  float32    (called through NumPy: its SIMD exp is not libm's)
    np.float32(x)   x: int     ->  float32    (native: NumPy's conversion, events where it raises/warns)
    a + b           a, b: float64[:] -> float64[:]  (called through NumPy: CPython's `a + b`)
    a.sum()         a: int32[:, :] -> int64
    a.dtype == np.float64      -> folded to True/False at compile time

A result type is what NumPy returns when the same operation runs on sample
values of the operand types (scalars of each type, arrays of ones of each dtype and
number of dimensions), so it cannot drift from the installed NumPy. A result NumPy
would give as a type native code does not hold (float16, complex, object, a 0-d array)
keeps the function bytecode.

What is called through NumPy must have no effect but its result and NumPy's
floating-point warnings (governed by np.errstate, which native code turns into a
deopt: see backend/npcalls.py): ufuncs, the reductions below, `np.dot`, and the
operators. Python-level NumPy functions that warn through `warnings.warn`
(`np.mean` of an empty array) are not among them: such a warning, emitted by a
native call that later deopts, would be emitted twice.
"""

from __future__ import annotations

import functools
import operator
import sys
import warnings
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.types import PY_TYPES, Array, Ty, is_scalar

if TYPE_CHECKING:
    from fastimport.frontend.ir import DtypeQuery, NumpyCall, Value

# NumPy functions (not ufuncs) called through NumPy: each returns a new array or a scalar.
# name -> the largest number of positional arguments (`axis` may also be a keyword).
FUNCTIONS = {
    "sum": 2, "prod": 2, "max": 2, "min": 2, "amax": 2, "amin": 2, "all": 2, "any": 2,
    "argmax": 2, "argmin": 2, "cumsum": 2, "cumprod": 2, "dot": 2,
}  # fmt: skip
# ndarray methods called through NumPy: name -> the largest number of positional arguments.
METHODS = {
    "sum": 1, "prod": 1, "max": 1, "min": 1, "all": 1, "any": 1, "argmax": 1, "argmin": 1,
    "cumsum": 1, "cumprod": 1, "copy": 0,
}  # fmt: skip

# ufuncs computed natively on scalars when their loop is one of these types: exact
# operations (correctly rounded or exact by definition), so every NumPy computes the
# same bits. Transcendental functions (exp, log, sin, ...) are not among them: NumPy's
# own SIMD implementations differ from libm in the last bit for some inputs (measured:
# np.exp differs from libm's exp for ~4.5% of random doubles on an AVX-512 machine).
_FLOAT_LOOPS = frozenset({Ty.F64, Ty.F32})
_INT_LOOPS = frozenset({Ty.I64, Ty.I32, Ty.I16, Ty.I8, Ty.U64, Ty.U32, Ty.U16, Ty.U8})
NATIVE_UFUNCS: dict[str, frozenset[Ty]] = {
    **dict.fromkeys(("sqrt", "rint", "fabs", "reciprocal", "signbit", "copysign"), _FLOAT_LOOPS),
    **dict.fromkeys(
        ("floor", "ceil", "trunc", "absolute", "negative", "positive", "square", "sign",
         "minimum", "maximum", "fmin", "fmax", "isnan", "isinf", "isfinite"),
        _FLOAT_LOOPS | _INT_LOOPS,
    ),
}  # fmt: skip

# Binary/Compare kinds -> the operator CPython applies (`a + b` is ndarray.__add__, ...).
OPERATORS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "lshift": operator.lshift, "rshift": operator.rshift,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
    "eq": operator.eq, "ne": operator.ne,
    "neg": operator.neg, "pos": operator.pos, "invert": operator.invert, "abs": abs,
}  # fmt: skip


def _np():  # noqa: ANN202 - numpy, imported by the program already
    return sys.modules["numpy"]


def involves_array(*types: object) -> bool:
    """Whether an operation takes an array operand (then NumPy computes it)."""
    return any(isinstance(t, Array) for t in types)


def array_operator_type(where: Value, kind: str, types: list, *, inplace: bool = False) -> Ty | Array:
    """The type of `a + b`, `-a`, `a > 0.5`... with an array operand."""
    if inplace:  # `a += b` mutates `a` (the caller's array, or one another name shares)
        raise Unsupported(_where(where), f"in-place '{kind}' on an array")
    return _ask(where, f"'{kind}'", OPERATORS[kind], types)


def numpy_call_type(op: NumpyCall) -> Ty | Array:
    """The type of a NumpyCall (see the module docstring)."""
    types = [a.type for a in op.args]
    if op.kind == "method":
        return _ask(op, f"ndarray.{op.name}()", lambda a, *rest: getattr(a, op.name)(*rest), types)
    if op.kind == "operator":
        return array_operator_type(op, op.name, types)
    obj = op.ref.expected  # type: ignore[union-attr]
    from fastimport.frontend.numpy_types import scalar_types

    if obj in scalar_types():
        if len(types) != 1 or not (isinstance(types[0], Ty) and is_scalar(types[0])):
            raise Unsupported(_where(op), f"numpy.{op.name}() of {', '.join(map(str, types))}")
        return scalar_types()[obj]
    return _ask(op, f"numpy.{op.name}()", obj, types)


def native_loop(name: str, types: tuple[Ty, ...]) -> tuple[Ty, Ty] | None:
    """(input, output) types of ufunc `name`'s loop for scalar `types`, if native code computes it."""
    loops = NATIVE_UFUNCS.get(name)
    if loops is None or not all(isinstance(t, Ty) and is_scalar(t) for t in types):
        return None
    return _native_loop(name, types)


@functools.cache
def _native_loop(name: str, types: tuple[Ty, ...]) -> tuple[Ty, Ty] | None:
    from fastimport.frontend.numpy_types import dtype_of, scalar_types

    np = _np()
    python = {Ty.INT: int, Ty.FLOAT: float, Ty.BOOL: bool}
    try:
        dtypes = getattr(np, name).resolve_dtypes((*(python.get(t) or dtype_of(t) for t in types), None))
    except (TypeError, ValueError):
        return None
    loop = {scalar_types().get(d.type) for d in dtypes[:-1]}
    out = scalar_types().get(dtypes[-1].type)
    if len(loop) != 1 or out is None or any(d is not dtype_of(scalar_types()[d.type]) for d in dtypes):
        return None  # mixed loop types (ldexp), or a type native code does not hold
    (loop_type,) = loop
    return (loop_type, out) if loop_type in NATIVE_UFUNCS[name] else None


def dtype_query_type(op: DtypeQuery) -> Ty:
    """Fold `a.dtype == np.float64`, `a.dtype.itemsize`... to a constant; its Python type."""
    value = _dtype_fact(op, op.base.type, op.attrs)
    if op.compare is not None:
        other = op.other if op.other_value is None else _dtype_fact(op, op.other_value.type, op.other_attrs)
        compare = {
            "eq": operator.eq, "ne": operator.ne,
            "in": lambda a, b: a in b, "notin": lambda a, b: a not in b,
        }[op.compare]  # fmt: skip
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a comparison NumPy warns about stays bytecode
                value = compare(value, other)
        except Exception as e:  # noqa: BLE001 - whatever it raises, the bytecode raises it
            raise Unsupported(_where(op), f"dtype comparison raises {type(e).__name__}") from None
    if type(value) not in PY_TYPES or value is None or (type(value) is int and not -(2**63) <= value < 2**63):
        raise Unsupported(_where(op), f"a dtype's {type(value).__name__} used as a value")
    op.value = value
    return PY_TYPES[type(value)]


def _dtype_fact(op: DtypeQuery, ty: object, attrs: tuple[str, ...]) -> object:
    from fastimport.frontend.numpy_types import dtype_of

    element = ty.dtype if isinstance(ty, Array) else ty
    if not (isinstance(element, Ty) and element.is_numpy):
        raise Unsupported(_where(op), f".dtype of a {ty}")
    value = dtype_of(element)
    for attr in attrs:
        if attr.startswith("_") or not hasattr(value, attr):
            raise Unsupported(_where(op), f"dtype attribute '{attr}'")
        value = getattr(value, attr)
        if callable(value):
            raise Unsupported(_where(op), f"dtype method '{attr}'")
    return value


@functools.cache
def errstate_override() -> tuple[object, object, int] | None:
    """(NumPy's error-state context variable, a state raising on every error, the default buffer size).

    None if this NumPy keeps its error state otherwise (then nothing is called through
    NumPy). The state's layout ({int errmask; npy_intp bufsize; ...} in a capsule) is
    probed, as runtime/ndarray.py probes the array struct.
    """
    import ctypes

    try:
        from numpy._core import umath
        from numpy._core._multiarray_umath import _extobj_contextvar, _make_extobj

        bufsize = int(umath.UFUNC_BUFSIZE_DEFAULT)
        raising = _make_extobj(all="raise", bufsize=bufsize)
        probe = _make_extobj(all="ignore", bufsize=2 * bufsize)
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    try:
        fields = [
            (ctypes.c_int.from_address(p).value, ctypes.c_ssize_t.from_address(p + 8).value)
            for p in (get(raising, b"numpy.ufunc.extobj"), get(probe, b"numpy.ufunc.extobj"))
        ]
    except ValueError:  # another capsule name
        return None
    all_raise = sum(2 << shift for shift in (0, 3, 6, 9))  # UFUNC_ERR_RAISE in each 3-bit field
    if fields != [(all_raise, bufsize), (0, 2 * bufsize)]:
        return None
    return _extobj_contextvar, raising, bufsize


def _ask(where: Value, what: str, fn: object, types: list) -> Ty | Array:
    """Run `fn` on samples of `types`; the type of what NumPy returns."""
    from fastimport.frontend.numpy_types import scalar_types

    if errstate_override() is None:
        raise Unsupported(_where(where), f"{what} (this NumPy keeps its error state in an unknown way)")

    for t in types:
        if not (isinstance(t, Array) or (isinstance(t, Ty) and is_scalar(t))):
            raise Unsupported(_where(where), f"{what} of a {t}")
    try:
        with warnings.catch_warnings(), _np().errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = fn(*(_sample(t) for t in types))  # type: ignore[operator]
    except Exception as e:  # noqa: BLE001 - NumPy refuses these types: the bytecode raises it
        raise Unsupported(_where(where), f"{what} of {', '.join(map(str, types))} ({type(e).__name__})") from None
    if isinstance(result, _np().ndarray):
        ty = scalar_types().get(result.dtype.type)
        if type(result) is not _np().ndarray or ty is None or result.ndim == 0:
            raise Unsupported(_where(where), f"{what} gives a {result.dtype} array")
        # A new array is C-contiguous when its operands are; otherwise NumPy may keep
        # their order (Fortran's, say). Either way the entry's check decides at run time.
        c_order = result.ndim == 1 or all(t.layout == "C" for t in types if isinstance(t, Array))
        return Array(ty, result.ndim, "C" if c_order else "A")
    ty = PY_TYPES.get(type(result)) or scalar_types().get(type(result))
    if ty is None or ty is Ty.NONE:
        raise Unsupported(_where(where), f"{what} gives a {type(result).__name__}")
    return ty


def _sample(t: Ty | Array) -> object:
    from fastimport.frontend.numpy_types import sample, type_object

    if isinstance(t, Array):
        return _np().ones((1,) * t.ndim, dtype=type_object(t.dtype))
    return sample(t)


class _Where:
    def __init__(self, op: Value) -> None:
        self.lineno = op.line
        self.col_offset = op.col


def _where(op: Value) -> _Where:
    return _Where(op)
