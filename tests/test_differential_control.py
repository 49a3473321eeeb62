"""Control flow and calls: fastimport against CPython.

Branches, loops over `range` with every step sign, `break`/`continue`/loop `else`,
`and`/`or` value semantics, chained comparisons, recursion (with big-int results through the
overflow fallback), mutual recursion and calls between module functions.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, plain, warm_up
from tests.strategies import bools, floats, ints, numbers, small_ints

SETTINGS = settings(max_examples=150, deadline=None)

BRANCHES_SRC = """
def classify(x):
    if x < 0:
        return -1
    elif x == 0:
        return 0
    elif x < 10:
        return 1
    else:
        return 2

def sign_float(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x

def ternary(a, b):
    return a if a > b else b

def nested_ternary(x):
    return -1 if x < 0 else (0 if x == 0 else 1)

def mixed_returns(x):
    if x > 100:
        return x * 2
    return x / 2

def no_return(x):
    y = x + 1

def if_no_else(x):
    r = 5
    if x > 3:
        r = x
    return r
"""


@SETTINGS
@given(x=ints())
def test_if_elif_else_ints(x: int) -> None:
    """An if/elif/else chain over ints takes the branch CPython takes."""
    warm_up(BRANCHES_SRC, "classify", 3)
    assert_same_native(BRANCHES_SRC, "classify", x)


@SETTINGS
@given(x=floats())
def test_if_elif_else_floats(x: float) -> None:
    """Branches on floats treat nan and -0.0 like CPython (nan takes no branch, -0.0 returned)."""
    warm_up(BRANCHES_SRC, "classify", 2.5)
    assert_same_native(BRANCHES_SRC, "classify", x)
    warm_up(BRANCHES_SRC, "sign_float", 2.5)
    assert_same_native(BRANCHES_SRC, "sign_float", x)


@SETTINGS
@given(a=numbers(), b=numbers())
def test_ternary(a: float, b: float) -> None:
    """`a if a > b else b` returns the very operand CPython returns, with its type."""
    warm_up(BRANCHES_SRC, "ternary", 1, 2)
    assert_same_native(BRANCHES_SRC, "ternary", a, b)
    warm_up(BRANCHES_SRC, "nested_ternary", 1)
    assert_same_native(BRANCHES_SRC, "nested_ternary", a)


@SETTINGS
@given(x=st.one_of(ints(), floats()))
def test_returns_of_different_types(x: float) -> None:
    """A function returning an int on one branch and a float on another matches CPython's types."""
    warm_up(BRANCHES_SRC, "mixed_returns", 3)
    assert_same_native(BRANCHES_SRC, "mixed_returns", x)
    warm_up(BRANCHES_SRC, "if_no_else", 3)
    assert_same_native(BRANCHES_SRC, "if_no_else", x)


@pytest.mark.parametrize("x", [0, 5, 2.5, True])
def test_implicit_none_return(x: float) -> None:
    """A function that falls off its end returns None, like CPython."""
    assert_same_native(BRANCHES_SRC, "no_return", x)


BOOLOPS_SRC = """
def and2(a, b):
    return a and b

def or2(a, b):
    return a or b

def and_or(a, b, c):
    return a and b or c

def not_and(a, b):
    return not a and b

def or_chain(a, b, c):
    return a or b or c

def guard_div(a, b):
    return b != 0 and a / b > 1

def guard_div_or(a, b):
    return b == 0 or a // b

def cond_and(a, b):
    if a and b:
        return 1
    return 0
"""


@pytest.mark.parametrize("fname", ["and2", "or2", "not_and", "cond_and"])
@SETTINGS
@given(a=numbers(), b=numbers())
def test_and_or_value_semantics(fname: str, a: float, b: float) -> None:
    """`a and b` / `a or b` return one of the operands themselves (value and type), like CPython."""
    warm_up(BOOLOPS_SRC, fname, 1, 2.5)
    assert_same_native(BOOLOPS_SRC, fname, a, b)


@pytest.mark.parametrize("fname", ["and_or", "or_chain"])
@SETTINGS
@given(a=numbers(), b=numbers(), c=numbers())
def test_and_or_three(fname: str, a: float, b: float, c: float) -> None:
    """Chains of `and`/`or` over mixed types return CPython's operand."""
    warm_up(BOOLOPS_SRC, fname, 0, 2.5, 1)
    assert_same_native(BOOLOPS_SRC, fname, a, b, c)


@pytest.mark.parametrize("fname", ["guard_div", "guard_div_or"])
@SETTINGS
@given(a=st.one_of(ints(), floats()), b=st.one_of(small_ints(-3, 3), st.sampled_from([0, 0.0])))
def test_short_circuit_skips_division(fname: str, a: float, b: float) -> None:
    """`b != 0 and a / b` never evaluates the division when `b` is zero, like CPython."""
    warm_up(BOOLOPS_SRC, fname, 6, 2)
    assert_same_native(BOOLOPS_SRC, fname, a, b)


CHAIN_SRC = """
def between(a, b, c):
    return a < b < c

def chain4(a, b, c, d):
    return a <= b < c != d

def eq_chain(a, b, c):
    return a == b == c

def chain_calls(x):
    return lo() < x <= hi()

CALLS = 0

def lo():
    return 0

def hi():
    return 10
"""


@SETTINGS
@given(a=numbers(), b=numbers(), c=numbers())
@example(a=1, b=float("nan"), c=2)
@example(a=2**53 + 1, b=2.0**53, c=2**53)
def test_chained_comparisons(a: float, b: float, c: float) -> None:
    """`a < b < c` and `a == b == c` over mixed types give CPython's bool."""
    warm_up(CHAIN_SRC, "between", 1, 2, 3)
    assert_same_native(CHAIN_SRC, "between", a, b, c)
    warm_up(CHAIN_SRC, "eq_chain", 1, 2, 3)
    assert_same_native(CHAIN_SRC, "eq_chain", a, b, c)


@SETTINGS
@given(a=ints(), b=ints(), c=ints(), d=ints())
def test_chain_of_four(a: int, b: int, c: int, d: int) -> None:
    """A four-operand chained comparison agrees with CPython."""
    warm_up(CHAIN_SRC, "chain4", 1, 2, 3, 4)
    assert_same_native(CHAIN_SRC, "chain4", a, b, c, d)


@SETTINGS
@given(x=small_ints(-5, 15))
def test_chain_with_calls(x: int) -> None:
    """Chained comparisons whose operands are calls to module functions agree with CPython."""
    warm_up(CHAIN_SRC, "chain_calls", 3)
    assert_same_native(CHAIN_SRC, "chain_calls", x)


LOOPS_SRC = """
def sum_range1(n):
    s = 0
    for i in range(n):
        s += i
    return s

def sum_range2(a, b):
    s = 0
    for i in range(a, b):
        s = s + i * i
    return s

def sum_range3(a, b, step):
    s = 0
    count = 0
    for i in range(a, b, step):
        s += i
        count += 1
    return s * 1000 + count

def last_index(a, b, step):
    i = -999
    for i in range(a, b, step):
        pass
    return i

def while_countdown(n):
    steps = 0
    while n > 0:
        n -= 3
        steps += 1
    return steps * 100 + n

def float_loop(n, x):
    acc = 0.0
    for i in range(n):
        acc = acc * 0.5 + x / (i + 1)
    return acc

def find_first_multiple(a, b, k):
    for i in range(a, b):
        if i % k == 0:
            break
    else:
        return -1
    return i

def skip_odds(n):
    s = 0
    for i in range(n):
        if i % 2:
            continue
        s += i
    return s

def while_else(n):
    i = 0
    while i < n:
        if i * i > 50:
            break
        i += 1
    else:
        return -i
    return i

def nested_loops(n):
    total = 0
    for i in range(n):
        for j in range(i, n):
            if j == 7:
                continue
            if i + j > 12:
                break
            total += i * j
    return total

def loop_var_after(n):
    for i in range(n):
        pass
    return i

def while_true(n):
    i = 0
    while True:
        i += 1
        if i >= n:
            return i

def count_down_float(x):
    n = 0
    while x > 1.0:
        x /= 2.0
        n += 1
    return n
"""


@SETTINGS
@given(n=small_ints(-5, 300))
def test_for_range_one_arg(n: int) -> None:
    """`for i in range(n)` sums like CPython, empty for n <= 0."""
    warm_up(LOOPS_SRC, "sum_range1", 10)
    assert_same_native(LOOPS_SRC, "sum_range1", n)


@SETTINGS
@given(a=small_ints(-200, 200), b=small_ints(-200, 200))
def test_for_range_two_args(a: int, b: int) -> None:
    """`for i in range(a, b)` agrees with CPython, empty ranges included."""
    warm_up(LOOPS_SRC, "sum_range2", 1, 10)
    assert_same_native(LOOPS_SRC, "sum_range2", a, b)


@SETTINGS
@given(a=small_ints(-100, 100), b=small_ints(-100, 100), step=small_ints(-7, 7))
@example(a=0, b=10, step=0)
@example(a=10, b=0, step=-1)
@example(a=10, b=0, step=-3)
@example(a=0, b=10, step=-1)
@example(a=-5, b=5, step=10)
@example(a=2**62, b=2**63 + 10, step=2**62)
@example(a=2**63 - 3, b=2**63 + 3, step=1)
@example(a=-(2**63), b=-(2**63) - 5, step=-2)
@example(a=2**63 - 3, b=2**63 - 1, step=2)
@example(a=-(2**63) + 2, b=-(2**63), step=-2)
def test_for_range_three_args(a: int, b: int, step: int) -> None:
    """`range(a, b, step)` with any step sign agrees with CPython.

    This covers negative steps, empty ranges, ValueError for 0, and bounds beyond int64.
    """
    warm_up(LOOPS_SRC, "sum_range3", 0, 10, 2)
    assert_same_native(LOOPS_SRC, "sum_range3", a, b, step)


# Literal steps: 1 (no step argument) and -1 increment unchecked, +-3 may leave int64 after the last value.
EDGE_RANGE_FN = """
def {name}(a, b):
    count = 0
    last = 0
    for i in range({args}):
        count += 1
        last = i
    return last ^ count
"""
EDGE_RANGES = {"up": "a, b", "down": "a, b, -1", "up3": "a, b, 3", "down3": "a, b, -3"}
EDGE_RANGE_SRC = (
    "".join(EDGE_RANGE_FN.format(name=name, args=args) for name, args in EDGE_RANGES.items())
    + """
def walk(lo, hi):
    count = 0
    for x in range(lo, hi):
        for y in range(hi, lo, -1):
            count += (x ^ y) & 1
    return count
"""
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@SETTINGS
@given(edge=st.sampled_from([INT64_MIN, 0, INT64_MAX]), da=small_ints(-8, 8), db=small_ints(-8, 8))
def test_unit_steps_at_the_int64_edges(edge: int, da: int, db: int) -> None:
    """Literal steps at the int64 limits: `i + 1` is emitted unchecked, `i + 3` may leave int64 past the last value."""
    a, b = (min(max(edge + d, INT64_MIN), INT64_MAX) for d in (da, db))
    for fname in (*EDGE_RANGES, "walk"):
        warm_up(EDGE_RANGE_SRC, fname, 0, 3)
        assert_same_native(EDGE_RANGE_SRC, fname, a, b)


@SETTINGS
@given(a=small_ints(-30, 30), b=small_ints(-30, 30), step=small_ints(-4, 4))
def test_loop_variable_after_loop(a: int, b: int, step: int) -> None:
    """After a for loop the loop variable holds its last value (or the old one if empty)."""
    warm_up(LOOPS_SRC, "last_index", 0, 5, 1)
    assert_same_native(LOOPS_SRC, "last_index", a, b, step)


@pytest.mark.parametrize("n", [0, -3, 1, 5])
def test_loop_variable_unbound_after_empty_loop(n: int) -> None:
    """Returning the loop variable of a loop that never ran raises CPython's UnboundLocalError."""
    warm_up(LOOPS_SRC, "loop_var_after", 5)
    assert_same_native(LOOPS_SRC, "loop_var_after", n)


@SETTINGS
@given(n=st.one_of(small_ints(-10, 500), ints()))
def test_while_loop(n: int) -> None:
    """A while loop with augmented assignment ends with CPython's counters."""
    warm_up(LOOPS_SRC, "while_countdown", 10)
    if abs(n) > 10**6:
        n = n % 100_000
    assert_same_native(LOOPS_SRC, "while_countdown", n)


@SETTINGS
@given(n=small_ints(0, 200), x=floats())
def test_float_accumulation_loop(n: int, x: float) -> None:
    """A float accumulation loop is bit-identical to CPython (no reassociation, no FMA)."""
    warm_up(LOOPS_SRC, "float_loop", 10, 1.5)
    assert_same_native(LOOPS_SRC, "float_loop", n, x)


@SETTINGS
@given(x=floats())
def test_while_on_float(x: float) -> None:
    """A while loop halving a float counts CPython's iterations, inf and nan included."""
    if x == float("inf"):
        x = 1e308
    warm_up(LOOPS_SRC, "count_down_float", 10.0)
    assert_same_native(LOOPS_SRC, "count_down_float", x)


@SETTINGS
@given(a=small_ints(-50, 50), b=small_ints(-50, 80), k=small_ints(-9, 9))
def test_break_and_for_else(a: int, b: int, k: int) -> None:
    """`break` skips the loop's `else`, a loop without break runs it; `% 0` raises as in CPython."""
    warm_up(LOOPS_SRC, "find_first_multiple", 1, 20, 7)
    assert_same_native(LOOPS_SRC, "find_first_multiple", a, b, k)


@pytest.mark.parametrize("fname", ["skip_odds", "while_else", "nested_loops", "while_true"])
@SETTINGS
@given(n=small_ints(-3, 40))
def test_continue_break_else(fname: str, n: int) -> None:
    """`continue`, `break` in nested loops, `while ... else` and `while True` agree with CPython."""
    warm_up(LOOPS_SRC, fname, 10)
    assert_same_native(LOOPS_SRC, fname, n)


AUG_SRC = """
def aug(a, b):
    x = a
    x += b
    x *= 3
    x -= a
    x //= 2
    x %= 1000003
    x **= 2
    x <<= 3
    x >>= 1
    x |= 5
    x &= 0xFFFFFFFFFFFF
    x ^= b
    return x

def aug_float(a, b):
    x = a
    x += b
    x *= 1.5
    x -= a
    x /= 3.0
    x //= 0.25
    x %= 7.0
    x **= 2
    return x

def aug_changes_type(a):
    x = 0
    x += a
    x /= 2
    return x
"""


@SETTINGS
@given(a=ints(), b=ints())
def test_augmented_assignment_ints(a: int, b: int) -> None:
    """Every integer augmented assignment matches CPython, big intermediates included."""
    warm_up(AUG_SRC, "aug", 3, 4)
    assert_same_native(AUG_SRC, "aug", a, b)


@SETTINGS
@given(a=floats(), b=floats())
def test_augmented_assignment_floats(a: float, b: float) -> None:
    """Float augmented assignments are bit-identical to CPython, exceptions included."""
    warm_up(AUG_SRC, "aug_float", 1.5, 2.5)
    assert_same_native(AUG_SRC, "aug_float", a, b)


@SETTINGS
@given(a=st.one_of(ints(), floats(), bools()))
def test_augmented_assignment_changes_type(a: float) -> None:
    """A variable that starts as an int and becomes a float ends with CPython's type."""
    warm_up(AUG_SRC, "aug_changes_type", 3)
    assert_same_native(AUG_SRC, "aug_changes_type", a)


RECURSION_SRC = """
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)

def fact_loop(n):
    r = 1
    for i in range(2, n + 1):
        r *= i
    return r

def ack(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ack(m - 1, 1)
    return ack(m - 1, ack(m, n - 1))

def is_even(n):
    if n == 0:
        return True
    return is_odd(n - 1)

def is_odd(n):
    if n == 0:
        return False
    return is_even(n - 1)

def hypot2(x, y):
    return square(x) + square(y)

def square(v):
    return v * v

def scaled(x, factor=2, offset=0.5):
    return x * factor + offset

def use_kwargs(x):
    return scaled(x, offset=1) + scaled(x) + scaled(factor=3, x=x)

def gcd(a, b):
    while b:
        a, b = b, a % b
    return a

def power(base, e):
    result = 1
    while e > 0:
        if e & 1:
            result *= base
        base *= base
        e >>= 1
    return result
"""


@pytest.mark.parametrize("n", [0, 1, 2, 10, 20, 25])
def test_fib_recursive(n: int) -> None:
    """Recursive fib gives CPython's numbers."""
    assert_same_native(RECURSION_SRC, "fib", n)


@pytest.mark.parametrize("n", [0, 1, 5, 20, 21, 25, 30, 60])
def test_factorial_overflows_to_big_int(n: int) -> None:
    """fact(25) overflows int64, so it must give CPython's exact big int, recursively and in a loop."""
    assert_same_native(RECURSION_SRC, "fact", n)
    assert_same_native(RECURSION_SRC, "fact_loop", n)


@pytest.mark.parametrize(("m", "n"), [(0, 0), (1, 2), (2, 3), (3, 3)])
def test_ackermann(m: int, n: int) -> None:
    """Small Ackermann values with deep nested recursion agree with CPython."""
    assert_same_native(RECURSION_SRC, "ack", m, n)


@SETTINGS
@given(n=small_ints(0, 400))
def test_mutual_recursion(n: int) -> None:
    """is_even/is_odd calling each other return CPython's bools."""
    warm_up(RECURSION_SRC, "is_even", 10)
    assert_same_native(RECURSION_SRC, "is_even", n)
    assert_same_native(RECURSION_SRC, "is_odd", n)


def test_recursion_limit_like_cpython() -> None:
    """Recursing beyond the recursion limit raises RecursionError like CPython (never crashes)."""
    assert_same(RECURSION_SRC, "is_even", 10)
    assert_same(RECURSION_SRC, "is_even", 5000)


@SETTINGS
@given(x=numbers(), y=numbers())
def test_calls_between_functions(x: float, y: float) -> None:
    """A function calling another module function agrees with CPython for every type mix."""
    warm_up(RECURSION_SRC, "hypot2", 3, 4)
    assert_same_native(RECURSION_SRC, "hypot2", x, y)


@SETTINGS
@given(x=st.one_of(ints(), floats()))
def test_keyword_arguments_and_defaults(x: float) -> None:
    """Calls with keyword arguments and defaults, inside and from outside, agree with CPython."""
    warm_up(RECURSION_SRC, "use_kwargs", 3)
    assert_same_native(RECURSION_SRC, "use_kwargs", x)
    assert_same_native(RECURSION_SRC, "scaled", x)
    assert_same_native(RECURSION_SRC, "scaled", x, 3)
    assert_same_native(RECURSION_SRC, "scaled", x, offset=-1.0)
    assert_same_native(RECURSION_SRC, "scaled", factor=x, x=2)


@pytest.mark.parametrize("kwargs", [{"y": 1}, {"x": 1, "z": 2}, {}], ids=repr)
def test_bad_call_arguments_raise_like_cpython(kwargs: dict[str, int]) -> None:
    """Wrong keyword arguments raise CPython's TypeError with its message."""
    assert_same(RECURSION_SRC, "scaled", **kwargs)


@SETTINGS
@given(a=ints(), b=ints())
def test_gcd_with_tuple_swap(a: int, b: int) -> None:
    """Euclid's gcd with a swap agrees with CPython (tuple swap may stay bytecode)."""
    assert_same(RECURSION_SRC, "gcd", a, b)


@SETTINGS
@given(base=st.one_of(ints(), floats()), e=small_ints(0, 200))
def test_power_by_squaring(base: float, e: int) -> None:
    """Exponentiation by squaring overflows into big ints or inf exactly like CPython."""
    warm_up(RECURSION_SRC, "power", 3, 5)
    assert_same_native(RECURSION_SRC, "power", base, e)


def test_plain_module_is_reference() -> None:
    """The reference module really is CPython (sanity check of the harness)."""
    assert plain(RECURSION_SRC).fact(25) == math.factorial(25)
