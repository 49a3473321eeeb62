"""`math` functions and constants in compiled code: fastimport against CPython.

Results must be bit-identical floats (or the same ints), and domain/range errors must be
CPython's exceptions with CPython's messages ("math domain error", "math range error", ...).
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, warm_up
from tests.strategies import floats, ints, small_ints

SETTINGS = settings(max_examples=150, deadline=None)

UNARY_FLOAT = [
    "sqrt", "exp", "expm1", "log", "log2", "log10", "log1p",
    "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "fabs", "degrees", "radians", "erf", "erfc", "gamma", "lgamma",
]  # fmt: skip
if sys.version_info >= (3, 11):
    UNARY_FLOAT += ["cbrt", "exp2"]
TO_INT = ["floor", "ceil", "trunc"]
PREDICATES = ["isnan", "isinf", "isfinite"]
BINARY_FLOAT = ["copysign", "fmod", "hypot", "atan2", "pow", "remainder"]
CONSTANTS = ["pi", "e", "tau", "inf", "nan"]

UNARY_EDGES = [
    0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-300, 5e-324, 1e300, 709.78, 710.0, -745.2, 1000.0,
    -1000.0, 171.7, 172.0, -2.0, float("inf"), float("-inf"), float("nan"), 1e16, 3.141592653589793,
    sys.float_info.max, -sys.float_info.max,
]  # fmt: skip


def _unary_src(fn: str) -> tuple[str, str]:
    name = f"m_{fn}"
    return f"import math\n\ndef {name}(x):\n    return math.{fn}(x)\n", name


@pytest.mark.parametrize("fn", UNARY_FLOAT + TO_INT + PREDICATES)
@SETTINGS
@given(x=floats())
def test_math_unary_on_floats(fn: str, x: float) -> None:
    """`math.fn(float)` is bit-identical to CPython, domain and range errors included."""
    src, name = _unary_src(fn)
    warm_up(src, name, 0.75)
    assert_same_native(src, name, x)


@pytest.mark.parametrize("x", UNARY_EDGES, ids=repr)
@pytest.mark.parametrize("fn", UNARY_FLOAT + TO_INT + PREDICATES)
def test_math_unary_edges(fn: str, x: float) -> None:
    """Domain and range errors raise CPython's exception with CPython's message.

    `math.sqrt(-1)`, `math.log(0)`, `math.exp(1000)`, `math.floor(nan)`...; edge values give
    CPython's bits.
    """
    src, name = _unary_src(fn)
    warm_up(src, name, 0.75)
    assert_same_native(src, name, x)


@pytest.mark.parametrize("fn", UNARY_FLOAT + TO_INT + PREDICATES)
@SETTINGS
@given(x=ints())
@example(x=10**400)
@example(x=0)
@example(x=-1)
@example(x=2**53 + 1)
def test_math_unary_on_ints(fn: str, x: int) -> None:
    """`math.fn(int)` converts like CPython.

    `math.log(10**400)` works, `math.sqrt(10**400)` raises OverflowError, `math.floor(int)`
    returns the int itself.
    """
    src, name = f"import math\n\ndef mi_{fn}(x):\n    return math.{fn}(x)\n", f"mi_{fn}"
    warm_up(src, name, 3)
    assert_same_native(src, name, x)


@pytest.mark.parametrize("fn", TO_INT)
@pytest.mark.parametrize(
    "x",
    [0.5, -0.5, 2.5, -2.5, 1e20, -1e20, 2.0**63, -(2.0**63), 2.0**63 - 1024.0, 1e308],
    ids=repr,
)
def test_floor_ceil_trunc_return_exact_ints(fn: str, x: float) -> None:
    """`math.floor/ceil/trunc` of a float return an int, exact beyond int64, like CPython."""
    src, name = _unary_src(fn)
    warm_up(src, name, 0.75)
    value = assert_same_native(src, name, x)
    assert type(value) is int


@pytest.mark.parametrize("fn", BINARY_FLOAT)
@SETTINGS
@given(x=floats(), y=floats())
@example(x=1.0, y=-0.0)
@example(x=5.5, y=0.0)
@example(x=float("inf"), y=2.0)
@example(x=0.0, y=-1.0)
@example(x=-2.0, y=0.5)
@example(x=1e308, y=1e308)
@example(x=-0.0, y=-0.0)
def test_math_binary_on_floats(fn: str, x: float, y: float) -> None:
    """`math.copysign/fmod/hypot/atan2/pow/remainder` are bit-identical to CPython, errors included."""
    name = f"m2_{fn}"
    src = f"import math\n\ndef {name}(x, y):\n    return math.{fn}(x, y)\n"
    warm_up(src, name, 0.75, 1.5)
    assert_same_native(src, name, x, y)


@pytest.mark.parametrize("fn", BINARY_FLOAT)
@SETTINGS
@given(x=ints(), y=st.one_of(ints(), floats()))
def test_math_binary_mixed(fn: str, x: int, y: float) -> None:
    """Binary math functions with int and mixed arguments convert like CPython."""
    name = f"m2i_{fn}"
    src = f"import math\n\ndef {name}(x, y):\n    return math.{fn}(x, y)\n"
    warm_up(src, name, 3, 2)
    assert_same(src, name, x, y)
    assert_same_native(src, name, 3, 2)


LOG_BASE_SRC = "import math\n\ndef log_base(x, b):\n    return math.log(x, b)\n"


@SETTINGS
@given(x=floats(), b=floats())
@example(x=8.0, b=2.0)
@example(x=8.0, b=1.0)
@example(x=0.0, b=2.0)
def test_math_log_with_base(x: float, b: float) -> None:
    """`math.log(x, base)` agrees with CPython, ZeroDivisionError for base 1 included."""
    warm_up(LOG_BASE_SRC, "log_base", 8.0, 2.0)
    assert_same_native(LOG_BASE_SRC, "log_base", x, b)


CONST_SRC = (
    "import math\n\n"
    + "".join(f"def c_{c}():\n    return math.{c}\n\n" for c in CONSTANTS)
    + "def circle_area(r):\n    return math.pi * r * r\n\ndef tau_half():\n    return math.tau / 2 == math.pi\n"
)


@pytest.mark.parametrize("const", CONSTANTS)
def test_math_constants(const: str) -> None:
    """`math.pi/e/tau/inf/nan` read inside compiled code are CPython's floats."""
    assert_same_native(CONST_SRC, f"c_{const}")


@SETTINGS
@given(r=st.one_of(floats(), ints()))
def test_math_constant_in_expression(r: float) -> None:
    """`math.pi * r * r` is bit-identical to CPython."""
    warm_up(CONST_SRC, "circle_area", 1.5)
    assert_same_native(CONST_SRC, "circle_area", r)
    assert_same_native(CONST_SRC, "tau_half")


GCD_SRC = "import math\n\ndef gcd2(a, b):\n    return math.gcd(a, b)\n"
FACT_SRC = "import math\n\ndef mfact(n):\n    return math.factorial(n)\n"


@SETTINGS
@given(a=ints(), b=ints())
@example(a=-(2**63), b=0)
@example(a=-(2**63), b=-(2**63))
@example(a=0, b=0)
def test_math_gcd(a: int, b: int) -> None:
    """`math.gcd` of ints, negatives and big ints included, agrees with CPython."""
    warm_up(GCD_SRC, "gcd2", 12, 18)
    assert_same_native(GCD_SRC, "gcd2", a, b)


@pytest.mark.parametrize("n", [0, 1, 5, 20, 21, 25, 100, -1])
def test_math_factorial(n: int) -> None:
    """`math.factorial` gives CPython's exact big ints and its ValueError for negatives."""
    warm_up(FACT_SRC, "mfact", 5)
    assert_same_native(FACT_SRC, "mfact", n)


@pytest.mark.parametrize("x", [5.0, 2.5, True])
def test_math_factorial_non_int(x: float) -> None:
    """`math.factorial` of a float raises CPython's TypeError; of a bool it works."""
    assert_same(FACT_SRC, "mfact", x)


FROM_IMPORT_SRC = """
from math import sqrt, floor, pi, hypot
import math

def norm(x, y):
    return sqrt(x * x + y * y)

def floor_pi(x):
    return floor(x * pi)

def both(x, y):
    return hypot(x, y) - math.sqrt(x * x + y * y)
"""


@SETTINGS
@given(x=floats(), y=floats())
def test_from_math_import(x: float, y: float) -> None:
    """Functions and constants imported with `from math import ...` behave like CPython."""
    for fname, args in (("norm", (x, y)), ("floor_pi", (x,)), ("both", (x, y))):
        warm_up(FROM_IMPORT_SRC, fname, *(1.5 for _ in args))
        assert_same_native(FROM_IMPORT_SRC, fname, *args)


NUMERIC_SRC = """
import math

def newton_sqrt(x):
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    g = x
    for i in range(60):
        g = 0.5 * (g + x / g)
    return g

def sin_series(x, n):
    term = x
    total = x
    for k in range(1, n):
        term = -term * x * x / ((2 * k) * (2 * k + 1))
        total += term
    return total - math.sin(x)
"""


@SETTINGS
@given(x=floats())
def test_newton_iteration(x: float) -> None:
    """A Newton iteration is bit-identical to CPython, inf and nan included."""
    warm_up(NUMERIC_SRC, "newton_sqrt", 2.0)
    assert_same_native(NUMERIC_SRC, "newton_sqrt", x)


@SETTINGS
@given(x=st.floats(min_value=-10, max_value=10), n=small_ints(1, 30))
def test_series_against_math_sin(x: float, n: int) -> None:
    """A Taylor series minus `math.sin` is bit-identical to CPython."""
    warm_up(NUMERIC_SRC, "sin_series", 0.5, 10)
    assert_same_native(NUMERIC_SRC, "sin_series", x, n)
