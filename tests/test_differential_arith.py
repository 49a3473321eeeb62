"""Arithmetic on int, float and bool: fastimport against CPython, edges included.

Each case builds one tiny module per (operator, argument types) so that the first call picks
the specialization under test, then checks every hypothesis example with `assert_same_native`:
same value and type (floats bit for bit), same exception and message, and the function really
runs native code.
"""

from __future__ import annotations

import sys
import warnings

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, native, plain, warm_up
from tests.strategies import TYPICAL, floats, ints, numbers, of_type, small_ints

from fastimport.testing import record_of

SETTINGS = settings(max_examples=120, deadline=None)

ARITH_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod"}
BIT_OPS = {"&": "and", "|": "or", "^": "xor"}
CMP_OPS = {"<": "lt", "<=": "le", "==": "eq", "!=": "ne", ">": "gt", ">=": "ge"}
NUMBER_TYPES = ["int", "float", "bool"]
TYPE_PAIRS = [(a, b) for a in NUMBER_TYPES for b in NUMBER_TYPES]
INT_PAIRS = [("int", "int"), ("int", "bool"), ("bool", "int"), ("bool", "bool")]


def _binop_src(op: str, name: str) -> str:
    return f"def {name}(a, b):\n    return a {op} b\n"


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{a}-{b}" for a, b in pairs]


@pytest.mark.parametrize(("ta", "tb"), TYPE_PAIRS, ids=_ids(TYPE_PAIRS))
@pytest.mark.parametrize("op", list(ARITH_OPS))
@SETTINGS
@given(data=st.data())
def test_arith_binop(op: str, ta: str, tb: str, data: st.DataObject) -> None:
    """`a op b` for + - * / // % agrees with CPython, overflow and zero division included."""
    name = f"{ARITH_OPS[op]}_{ta}_{tb}"
    src = _binop_src(op, name)
    warm_up(src, name, TYPICAL[ta], TYPICAL[tb])
    a, b = data.draw(of_type(ta)), data.draw(of_type(tb))
    assert_same_native(src, name, a, b)


@pytest.mark.parametrize(("ta", "tb"), TYPE_PAIRS, ids=_ids(TYPE_PAIRS))
@pytest.mark.parametrize("op", list(CMP_OPS))
@SETTINGS
@given(data=st.data())
def test_compare(op: str, ta: str, tb: str, data: st.DataObject) -> None:
    """`a op b` for every comparison returns CPython's bool, nan and big ints included."""
    name = f"cmp_{CMP_OPS[op]}_{ta}_{tb}"
    src = _binop_src(op, name)
    warm_up(src, name, TYPICAL[ta], TYPICAL[tb])
    a, b = data.draw(of_type(ta)), data.draw(of_type(tb))
    assert_same_native(src, name, a, b)


EXACT_PAIRS = [
    (2**53 + 1, 2.0**53), (2**53, 2.0**53), (2**53 - 1, 2.0**53), (-(2**53) - 1, -(2.0**53)),
    (2**63 - 1, 2.0**63), (2**63, 2.0**63), (-(2**63), -(2.0**63)), (2**64 + 1, 2.0**64),
    (10**400, float("inf")), (-(10**400), float("-inf")), (10**400, 1e308), (1, float("nan")),
    (9007199254740993, 9007199254740992.0), (0, -0.0), (True, 1.0), (False, -0.0),
]  # fmt: skip


@pytest.mark.parametrize("op", list(CMP_OPS))
@pytest.mark.parametrize(("i", "x"), EXACT_PAIRS)
def test_compare_int_float_exact(op: str, i: int, x: float) -> None:
    """int/float comparisons are exact (2**53+1 != 2.0**53), both ways round, like CPython."""
    name = f"cmpx_{CMP_OPS[op]}"
    src = _binop_src(op, name)
    warm_up(src, name, 3, 2.5)
    assert_same_native(src, name, i, x)
    warm_up(src, name, 2.5, 3)
    assert_same_native(src, name, x, i)


@pytest.mark.parametrize("op", ["//", "%"])
@pytest.mark.parametrize("a", [0, 1, -1, 7, -7, 2**62, 2**63 - 1, -(2**63) + 1, -(2**63)])
def test_division_by_minus_one(op: str, a: int) -> None:
    """`a // -1` and `a % -1` (the divisor x86 cannot take for INT64_MIN): -a and 0, as in CPython.

    -(2**63) // -1 leaves int64: the bytecode gives CPython's big int.
    """
    name = f"{ARITH_OPS[op]}_by_minus_one"
    src = f"def {name}(a, b):\n    return a {op} b\n"
    warm_up(src, name, 5, 3)
    assert_same(src, name, a, -1)
    if op == "%" or a != -(2**63):
        assert_same_native(src, name, a, -1)


@pytest.mark.parametrize(("ta", "tb"), INT_PAIRS, ids=_ids(INT_PAIRS))
@pytest.mark.parametrize("op", list(BIT_OPS))
@SETTINGS
@given(data=st.data())
def test_bitwise(op: str, ta: str, tb: str, data: st.DataObject) -> None:
    """`& | ^` on ints and bools agree with CPython (`True & False` is the bool False)."""
    name = f"bit_{BIT_OPS[op]}_{ta}_{tb}"
    src = _binop_src(op, name)
    warm_up(src, name, TYPICAL[ta], TYPICAL[tb])
    a, b = data.draw(of_type(ta)), data.draw(of_type(tb))
    assert_same_native(src, name, a, b)


@pytest.mark.parametrize("op", [*BIT_OPS, "<<", ">>"])
@pytest.mark.parametrize(("a", "b"), [(1.5, 2), (2, 1.5), (1.0, 1.0)])
def test_bitwise_on_float_raises_like_cpython(op: str, a: float, b: float) -> None:
    """Bitwise operators and shifts on floats raise CPython's TypeError."""
    assert_same(_binop_src(op, "bitf"), "bitf", a, b)


SHIFT_SRC = "def shl(a, n):\n    return a << n\n\ndef shr(a, n):\n    return a >> n\n"


@SETTINGS
@given(a=ints(), n=small_ints(-5, 130))
@example(a=1, n=63)
@example(a=1, n=64)
@example(a=-1, n=63)
@example(a=2**62, n=1)
@example(a=3, n=-1)
def test_shift_left(a: int, n: int) -> None:
    """`a << n` gives the exact big int on overflow and ValueError for negative counts."""
    warm_up(SHIFT_SRC, "shl", 3, 2)
    assert_same_native(SHIFT_SRC, "shl", a, n)


@SETTINGS
@given(a=ints(), n=st.one_of(small_ints(-5, 130), ints()))
@example(a=-1, n=2**70)
@example(a=2**100, n=64)
@example(a=5, n=-3)
def test_shift_right(a: int, n: int) -> None:
    """`a >> n` floors toward -inf, accepts huge counts and rejects negative ones like CPython."""
    warm_up(SHIFT_SRC, "shr", 3, 2)
    assert_same_native(SHIFT_SRC, "shr", a, n)


@SETTINGS
@given(a=st.one_of(ints(), st.booleans()), n=st.booleans())
def test_shift_bool(a: int, n: bool) -> None:
    """Shifts with bool operands give ints, like CPython."""
    warm_up(SHIFT_SRC, "shl", True, True)
    assert_same(SHIFT_SRC, "shl", a, n)
    assert_same(SHIFT_SRC, "shr", a, n)


POW_INT_SRC = "def pow_ii(a, b):\n    return a ** b\n"
POW_FLOAT_SRC = "def pow_ff(a, b):\n    return a ** b\n"
POW_INT_FLOAT_SRC = "def pow_if(a, b):\n    return a ** b\n"
POW_FLOAT_INT_SRC = "def pow_fi(a, b):\n    return a ** b\n"


@SETTINGS
@given(a=ints(), b=small_ints(-10, 70))
@example(a=2, b=63)
@example(a=2, b=64)
@example(a=-2, b=63)
@example(a=3, b=40)
@example(a=0, b=-1)
@example(a=2, b=-2)
@example(a=-1, b=-3)
def test_pow_int_int(a: int, b: int) -> None:
    """`int ** int` matches CPython.

    It is the exact big int on overflow, a float for negative exponents, and raises CPython's
    ZeroDivisionError for `0 ** -1`.
    """
    warm_up(POW_INT_SRC, "pow_ii", 3, 2)
    assert_same_native(POW_INT_SRC, "pow_ii", a, b)


@SETTINGS
@given(a=floats(), b=floats())
@example(a=0.0, b=-1.0)
@example(a=-0.0, b=-1.0)
@example(a=-8.0, b=1 / 3)
@example(a=-1.0, b=float("inf"))
@example(a=float("nan"), b=0.0)
@example(a=1.0, b=float("nan"))
@example(a=10.0, b=400.0)
def test_pow_float_float(a: float, b: float) -> None:
    """`float ** float` matches CPython.

    Complex for negative base with fractional exponent, ZeroDivisionError for `0.0 ** -1`,
    OverflowError on overflow.
    """
    warm_up(POW_FLOAT_SRC, "pow_ff", 2.5, 1.5)
    assert_same_native(POW_FLOAT_SRC, "pow_ff", a, b)


@SETTINGS
@given(a=ints(), b=floats())
@example(a=-8, b=1 / 3)
@example(a=0, b=-1.0)
@example(a=10**400, b=0.5)
def test_pow_int_float(a: int, b: float) -> None:
    """`int ** float` converts exactly like CPython, complex and OverflowError included."""
    warm_up(POW_INT_FLOAT_SRC, "pow_if", 3, 1.5)
    assert_same_native(POW_INT_FLOAT_SRC, "pow_if", a, b)


@SETTINGS
@given(a=floats(), b=st.one_of(small_ints(-1100, 1100), ints()))
@example(a=0.0, b=-1)
@example(a=-0.0, b=-3)
@example(a=2.0, b=1024)
@example(a=-2.0, b=1023)
@example(a=2.0, b=10**400)
def test_pow_float_int(a: float, b: int) -> None:
    """`float ** int` agrees with CPython, huge exponents and zero bases included."""
    warm_up(POW_FLOAT_INT_SRC, "pow_fi", 2.5, 3)
    assert_same_native(POW_FLOAT_INT_SRC, "pow_fi", a, b)


def test_complex_power_falls_back() -> None:
    """`(-8.0) ** (1/3)` is complex in CPython, so native code must leave for bytecode."""
    assert_same_native(POW_FLOAT_SRC, "pow_ff", 2.0, 0.5)
    assert isinstance(assert_same_native(POW_FLOAT_SRC, "pow_ff", -8.0, 1 / 3), complex)


ZERO_DIV_OPS = {"/": "truediv", "//": "floordiv", "%": "mod"}
ZEROS = [0, 0.0, -0.0, False]
DIVIDENDS = [7, -7, 0, 2**70, 7.5, -0.0, float("nan"), float("inf"), True]


@pytest.mark.parametrize("zero", ZEROS, ids=repr)
@pytest.mark.parametrize("x", DIVIDENDS, ids=repr)
@pytest.mark.parametrize("op", list(ZERO_DIV_OPS))
def test_division_by_zero(op: str, x: float, zero: float) -> None:
    """`/`, `//` and `%` by zero raise CPython's exact ZeroDivisionError message per type pair."""
    tx, tz = type(x).__name__, type(zero).__name__
    name = f"zdiv_{ZERO_DIV_OPS[op]}_{tx}_{tz}"
    src = _binop_src(op, name)
    warm_up(src, name, TYPICAL[tx], TYPICAL[tz])
    assert_same_native(src, name, x, zero)


@pytest.mark.parametrize("zero", ZEROS, ids=repr)
@pytest.mark.parametrize("exponent", [-1, -2, -(2**70), -1.0, -0.5, -float("inf")], ids=repr)
def test_zero_to_negative_power(zero: float, exponent: float) -> None:
    """`0 ** -1`, `0.0 ** -1` and friends raise CPython's ZeroDivisionError (or give inf)."""
    tz, te = type(zero).__name__, type(exponent).__name__
    name = f"zpow_{tz}_{te}"
    src = _binop_src("**", name)
    warm_up(src, name, TYPICAL[tz], TYPICAL[te])
    assert_same_native(src, name, zero, exponent)


UNARY = {"-": "neg", "+": "pos", "not ": "not", "~": "inv"}


@pytest.mark.parametrize("t", NUMBER_TYPES)
@pytest.mark.parametrize("op", list(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary(op: str, t: str, data: st.DataObject) -> None:
    """Unary `- + not ~` agree with CPython.

    `-True` is -1, `~True` is -2, `-0.0` keeps its sign, `~1.5` raises TypeError.
    """
    name = f"un_{UNARY[op]}_{t}"
    src = f"def {name}(a):\n    return {op}a\n"
    x = data.draw(of_type(t))
    if op == "~" and t == "float":
        assert_same(src, name, x)
        return
    if op == "~" and t == "bool" and sys.version_info >= (3, 12):
        _assert_invert_bool_stays_bytecode(src, name, x)
        return
    warm_up(src, name, TYPICAL[t])
    assert_same_native(src, name, x)


def _assert_invert_bool_stays_bytecode(src: str, name: str, x: bool) -> None:
    """From 3.12, `~True` warns (DeprecationWarning): an effect, so the function stays bytecode.

    The value and the warning are CPython's own, and the report says why.
    """
    caught = []
    for module in (plain(src), native(src)):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            getattr(module, name)(x)
        caught.append([(w.category, str(w.message)) for w in seen])
    assert caught[0] == caught[1]
    assert caught[0], "CPython warns about ~bool from 3.12"
    assert_same(src, name, x)
    record = record_of(getattr(native(src), name))
    assert record.status == "bytecode"
    assert "~ on bool" in (record.reason or "")


BUILTIN1 = {
    "abs": "abs(a)",
    "int": "int(a)",
    "float": "float(a)",
    "bool": "bool(a)",
    "round": "round(a)",
}


@pytest.mark.parametrize("t", NUMBER_TYPES)
@pytest.mark.parametrize("fn", list(BUILTIN1))
@SETTINGS
@given(data=st.data())
def test_builtin_unary(fn: str, t: str, data: st.DataObject) -> None:
    """`abs int float bool round` of one number agree with CPython on random values."""
    name = f"b_{fn}_{t}"
    src = f"def {name}(a):\n    return {BUILTIN1[fn]}\n"
    warm_up(src, name, TYPICAL[t])
    assert_same_native(src, name, data.draw(of_type(t)))


BUILTIN1_EDGES = [
    0.5, 1.5, 2.5, -2.5, -0.5, -0.0, float("nan"), float("inf"), float("-inf"),
    2.0**63, -(2.0**63), 1e300, 4503599627370497.0, 0.49999999999999994,
    0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**53 + 1, 10**400, True, False,
]  # fmt: skip


@pytest.mark.parametrize("x", BUILTIN1_EDGES, ids=repr)
@pytest.mark.parametrize("fn", list(BUILTIN1))
def test_builtin_unary_edges(fn: str, x: float) -> None:
    """Every edge of the one-argument builtins matches CPython's value, type or message.

    `int(nan)` ValueError, `int(inf)`/`round(inf)` OverflowError, `float(10**400)` OverflowError,
    `round(2.5)` is 2.
    """
    t = type(x).__name__
    name = f"b_{fn}_{t}"
    src = f"def {name}(a):\n    return {BUILTIN1[fn]}\n"
    warm_up(src, name, TYPICAL[t])
    assert_same_native(src, name, x)


ROUND2_SRC = "def round2(x, n):\n    return round(x, n)\n"
ROUND2_INT_SRC = "def round2i(x, n):\n    return round(x, n)\n"


@SETTINGS
@given(x=floats(), n=st.one_of(small_ints(-20, 20), small_ints(-400, 400)))
@example(x=2.675, n=2)
@example(x=0.125, n=2)
@example(x=0.375, n=2)
@example(x=-0.5, n=0)
@example(x=2.5, n=0)
@example(x=1e300, n=-300)
@example(x=5e-324, n=323)
@example(x=float("inf"), n=2)
@example(x=float("nan"), n=-1)
@example(x=123.456, n=-1)
def test_round_ndigits_float(x: float, n: int) -> None:
    """`round(float, n)` is correctly rounded half-to-even and stays a float, like CPython."""
    warm_up(ROUND2_SRC, "round2", 2.5, 1)
    assert_same_native(ROUND2_SRC, "round2", x, n)


@SETTINGS
@given(x=ints(), n=small_ints(-40, 40))
@example(x=25, n=-1)
@example(x=35, n=-1)
@example(x=-25, n=-1)
@example(x=2**63 - 1, n=-1)
@example(x=10**400, n=-399)
def test_round_ndigits_int(x: int, n: int) -> None:
    """`round(int, n)` is an exact int rounded half-to-even, like CPython."""
    warm_up(ROUND2_INT_SRC, "round2i", 3, -1)
    assert_same_native(ROUND2_INT_SRC, "round2i", x, n)


MINMAX = {
    "min2": "min(a, b)",
    "max2": "max(a, b)",
}
MINMAX3 = {
    "min3": "min(a, b, c)",
    "max3": "max(a, b, c)",
}


@pytest.mark.parametrize(("ta", "tb"), TYPE_PAIRS, ids=_ids(TYPE_PAIRS))
@pytest.mark.parametrize("fn", list(MINMAX))
@SETTINGS
@given(data=st.data())
def test_min_max_two(fn: str, ta: str, tb: str, data: st.DataObject) -> None:
    """`min(a, b)`/`max(a, b)` return the same object type CPython picks.

    First of equals, nan ordering, `min(1, 1.0)` is the int 1, `min(0.0, -0.0)` is 0.0.
    """
    name = f"{fn}_{ta}_{tb}"
    src = f"def {name}(a, b):\n    return {MINMAX[fn]}\n"
    warm_up(src, name, TYPICAL[ta], TYPICAL[tb])
    assert_same_native(src, name, data.draw(of_type(ta)), data.draw(of_type(tb)))


@pytest.mark.parametrize("fn", list(MINMAX3))
@SETTINGS
@given(a=numbers(), b=numbers(), c=numbers())
@example(a=1, b=1.0, c=True)
@example(a=0.0, b=-0.0, c=0)
@example(a=float("nan"), b=1.0, c=2)
@example(a=1.0, b=float("nan"), c=0)
def test_min_max_three(fn: str, a: float, b: float, c: float) -> None:
    """Three-argument `min`/`max` over mixed int/float/bool return CPython's pick and type."""
    name = f"{fn}_mixed"
    src = f"def {name}(a, b, c):\n    return {MINMAX3[fn]}\n"
    warm_up(src, name, 1.5, 2.5, 0.5)
    assert_same_native(src, name, a, b, c)


MIXED_SRC = """
def poly(x, y):
    return 3 * x * x - 2 * x * y + y / 7 - (x - y) // 3 + (x % 5) * 2
"""


@pytest.mark.parametrize(("ta", "tb"), TYPE_PAIRS, ids=_ids(TYPE_PAIRS))
@SETTINGS
@given(data=st.data())
def test_expression_mixing_types(ta: str, tb: str, data: st.DataObject) -> None:
    """A compound expression mixing every operator gives CPython's value and type."""
    name = f"poly_{ta}_{tb}"
    src = MIXED_SRC.replace("poly", name)
    warm_up(src, name, TYPICAL[ta], TYPICAL[tb])
    assert_same_native(src, name, data.draw(of_type(ta)), data.draw(of_type(tb)))


BOOL_ARITH_SRC = """
def bool_ops(a, b):
    return (a + b, a - b, a * b, a & b, a | b, a ^ b, -a, ~a, a // 1, a % 2)

def bool_add(a, b):
    return a + b

def bool_and(a, b):
    return a & b
"""


@pytest.mark.parametrize("a", [True, False])
@pytest.mark.parametrize("b", [True, False])
def test_bool_arithmetic_types(a: bool, b: bool) -> None:
    """`True + 1`-style arithmetic on bools gives ints while `&`, `|`, `^` of bools stay bools."""
    assert_same(BOOL_ARITH_SRC, "bool_ops", a, b)
    assert_same_native(BOOL_ARITH_SRC, "bool_add", a, b)
    assert_same_native(BOOL_ARITH_SRC, "bool_and", a, b)
    assert type(native(BOOL_ARITH_SRC).bool_and(a, b)) is bool
