"""The `math` functions compiled natively, and how each keeps CPython's behaviour.

Each entry names the function's arity, its result type and its `kind`, the
emitter's recipe:

    libm1   r = f(x) through the same libm as CPython's math module; where CPython
            raises (nan from non-nan, inf from finite: math_1's checks) we deopt
    log     log/log2/log10: deopt for x <= 0, as m_log raises
    round   floor/ceil/trunc: float -> int, deopt on nan/inf/out of int64
    pred    isnan/isinf/isfinite -> bool
    libm2   r = f(x, y) with math_2's checks (atan2, copysign, pow, fmod)
    scale   degrees/radians: x * constant, as CPython computes them
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from fastimport.frontend.types import Ty


@dataclass(frozen=True)
class MathSpec:
    """How one `math` function is compiled: arity, result type, `kind` (see above) and its parameters."""

    arity: int
    result: Ty
    kind: str
    symbol: str = ""
    factor: float = 0.0


_LIBM1 = [
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "asinh", "acosh", "atanh", "exp", "expm1", "log1p", "sqrt", "fabs",
]  # fmt: skip
if sys.version_info >= (3, 11):
    _LIBM1 += ["cbrt", "exp2"]

# libm1 functions for which a check of math_1's cannot fail, so none is emitted (each
# one is a compare and a branch in every loop that calls them):
# - never inf from a finite argument: bounded (sin, cos, asin, acos, atan, tanh), or
#   growing slowly (sqrt(DBL_MAX) ~ 1.3e154, asinh and acosh of DBL_MAX ~ 710, cbrt), or fabs;
FINITE_FROM_FINITE = frozenset({"sin", "cos", "asin", "acos", "atan", "tanh", "sqrt", "asinh", "acosh", "cbrt", "fabs"})
# - never nan from a non-nan argument: defined on the whole line, infinities included
#   (atan(inf) = pi/2, tanh(inf) = 1, asinh and cbrt of inf are inf).
NUMBER_FROM_NUMBER = frozenset({"atan", "tanh", "asinh", "cbrt", "fabs"})

MATH_FUNCTIONS: dict[str, MathSpec] = {name: MathSpec(1, Ty.FLOAT, "libm1", name) for name in _LIBM1}
MATH_FUNCTIONS.update(
    {
        "log": MathSpec(1, Ty.FLOAT, "log", "log"),
        "log2": MathSpec(1, Ty.FLOAT, "log", "log2"),
        "log10": MathSpec(1, Ty.FLOAT, "log", "log10"),
        "floor": MathSpec(1, Ty.INT, "round", "floor"),
        "ceil": MathSpec(1, Ty.INT, "round", "ceil"),
        "trunc": MathSpec(1, Ty.INT, "round", "trunc"),
        "isnan": MathSpec(1, Ty.BOOL, "pred", "isnan"),
        "isinf": MathSpec(1, Ty.BOOL, "pred", "isinf"),
        "isfinite": MathSpec(1, Ty.BOOL, "pred", "isfinite"),
        "atan2": MathSpec(2, Ty.FLOAT, "libm2", "atan2"),
        "copysign": MathSpec(2, Ty.FLOAT, "libm2", "copysign"),
        "pow": MathSpec(2, Ty.FLOAT, "libm2", "pow"),
        "fmod": MathSpec(2, Ty.FLOAT, "libm2", "fmod"),
        # CPython: degToRad = Py_MATH_PI / 180.0, radToDeg = 180.0 / Py_MATH_PI.
        "radians": MathSpec(1, Ty.FLOAT, "scale", factor=math.pi / 180.0),
        "degrees": MathSpec(1, Ty.FLOAT, "scale", factor=180.0 / math.pi),
    }
)

# math functions with an algorithm of CPython's own (or argument handling too rich to
# copy): called through CPython, boxed. name -> result-type rule (typerules.pycall_type).
MATH_PYCALLS: dict[str, str] = {
    "hypot": "float", "erf": "float", "erfc": "float", "gamma": "float", "lgamma": "float",
    "remainder": "float", "ldexp": "float", "nextafter": "float", "ulp": "float",
    "dist": "float", "gcd": "int", "lcm": "int", "factorial": "int", "comb": "int",
    "perm": "int", "isqrt": "int", "isclose": "bool",
}  # fmt: skip

# Float constants of the math module; read from the module at call time.
MATH_CONSTANTS = frozenset({"pi", "e", "tau", "inf", "nan"})


def math_function_name(obj: object) -> str | None:
    """If `obj` is one of math's compiled functions (e.g. after `from math import sqrt`), its name."""
    name = getattr(obj, "__name__", None)
    if (name in MATH_FUNCTIONS or name in MATH_PYCALLS) and getattr(math, name, None) is obj:
        return name
    return None
