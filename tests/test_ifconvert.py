"""If-conversion (frontend/ifconvert.py, backend/specemit.py): short `if`s in loops become selects.

Which branches are converted (and which must not be: outside loops, arms that call or
divide by a variable or store twice, a kept value that may be unbound), the affine range
test's arithmetic, and, against CPython, loops whose arms overflow: the arm not chosen
(the exact path runs, natively) and the arm chosen (a deopt, and CPython's big int).
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.differential import assert_same_native, native
from tests.strategies import floats, int64s, small_ints

from fastimport.backend.capi import INT64_MAX, INT64_MIN
from fastimport.backend.specemit import affine_interval
from fastimport.compiler import front_end
from fastimport.frontend.ir import Select, Speculated
from fastimport.frontend.types import Ty
from fastimport.runtime.dispatch import state_of
from fastimport.testing import compile_module, record_of

SETTINGS = settings(max_examples=150, deadline=None)


def _converted(source: str, fname: str, *arg_types: object) -> tuple[int, int]:
    """(Selects, Speculated tests) in `fname`'s IR."""
    module = compile_module(source)
    _specs, root = front_end(state_of(getattr(module, fname)), getattr(module, fname), arg_types)
    ops = root.ir.all_ops()
    return sum(isinstance(op, Select) for op in ops), sum(isinstance(op, Speculated) for op in ops)


LOOP = """
import math

def f(n, x, k):
    y = 0
    for i in range(n):
{body}
    return y
"""


def _loop(*lines: str) -> str:
    return LOOP.format(body="\n".join("        " + line for line in lines))


def test_which_branches_are_converted() -> None:
    """Both arms (or one) a few ops that cannot fail, then one store of a number into one local."""
    ints = (Ty.INT, Ty.INT, Ty.INT)
    assert _converted(_loop("if x % 2 == 0:", "    x = x // 2", "else:", "    x = 3 * x + 1"), "f", *ints) == (1, 1)
    assert _converted(_loop("if i > k:", "    y = i"), "f", *ints) == (1, 0)  # nothing can wrap: no exact path
    assert _converted(_loop("if i > k:", "    y = y + i"), "f", *ints) == (1, 1)
    floats_ = (Ty.INT, Ty.FLOAT, Ty.FLOAT)
    assert _converted(_loop("if x > k:", "    k = x * 2.0", "else:", "    k = k - x"), "f", *floats_) == (1, 0)
    assert _converted(_loop("if x > k:", "    k = math.sin(x)"), "f", *floats_) == (0, 0)  # a call
    assert _converted(_loop("if x > 0:", "    y = i // x"), "f", *ints) == (0, 0)  # may divide by zero
    assert _converted(_loop("if x > 0:", "    y = i // 3"), "f", *ints) == (1, 0)
    assert _converted(_loop("if x > 0:", "    y = i", "    k = i"), "f", *ints) == (0, 0)  # two stores
    assert _converted(_loop("if x > 0:", "    y = i", "else:", "    k = i"), "f", *ints) == (0, 0)  # two locals
    assert _converted(_loop("if x > 0:", "    z = i", "y = y + 1"), "f", *ints) == (0, 0)  # z may be unbound
    outside = "def f(x):\n    if x % 2 == 0:\n        x = x // 2\n    else:\n        x = 3 * x + 1\n    return x\n"
    assert _converted(outside, "f", Ty.INT) == (0, 0)  # not in a loop: runs once, the branch is cheap


@given(c=st.integers(-(2**70), 2**70).filter(bool), e=st.integers(-(2**70), 2**70), x=int64s())
@settings(max_examples=1000, deadline=None)
def test_affine_interval(c: int, e: int, x: int) -> None:
    """X is in the interval exactly when c * x + e is an int64."""
    lo, hi = affine_interval(c, e, INT64_MIN, INT64_MAX)
    assert (lo <= x <= hi) == (INT64_MIN <= c * x + e <= INT64_MAX)


SRC = """
def collatz_steps(x, limit):
    steps = 0
    while x != 1 and steps < limit:
        if x % 2 == 0:
            x = x // 2
        else:
            x = 3 * x + 1
        steps += 1
    return x, steps


def pick(n, x, a, b):
    s = 0
    for i in range(n):
        if (x + i) % 3 == 0:
            y = x * a + i
        else:
            y = b - x * 7
        s ^= y
    return s


def keep_best(n, x, k):
    best = -1.0
    v = x
    for i in range(n):
        v = v * k - 1.0
        if v > best:
            best = v
    return best


def flags(n, x):
    on = False
    count = 0
    for i in range(n):
        if (x >> (i % 60)) & 1:
            on = not on
        else:
            on = on and i % 3 == 0
        if on:
            count += 1
    return count, on
"""


@SETTINGS
@given(x=st.one_of(st.integers(1, 10**6), int64s()), limit=small_ints(0, 400))
@example(x=2**62 + 1, limit=10)  # 3x + 1 leaves int64 at the first odd step
@example(x=(2**63 - 2) // 3 - 1, limit=1)  # the largest odd x whose 3x + 1 fits
@example(x=(2**63 - 2) // 3 + 1, limit=1)  # the smallest odd x whose 3x + 1 does not
@example(x=-3074457345618258601, limit=1)  # the smallest odd x whose 3x fits
@example(x=-3074457345618258603, limit=1)  # odd: 3x + 1 is INT64_MIN, but 3x does not fit (a deopt)
def test_collatz_like_cpython(x: int, limit: int) -> None:
    """The chosen arm leaving int64 deopts, and the bytecode gives CPython's big int."""
    assert_same_native(SRC, "collatz_steps", x, limit)


@SETTINGS
@given(n=small_ints(0, 30), x=int64s(), a=int64s(), b=int64s())
@example(n=5, x=2**62, a=3, b=0)  # x * 7 and x * a both wrap
def test_pick_like_cpython(n: int, x: int, a: int, b: int) -> None:
    """Either arm may wrap: only the chosen one's wrapping may show (as CPython's big int)."""
    assert_same_native(SRC, "pick", n, x, a, b)


@SETTINGS
@given(n=small_ints(0, 50), x=floats(), k=floats())
def test_keep_best_like_cpython(n: int, x: float, k: float) -> None:
    """A float select: nan, inf and -0.0 compared as CPython compares them."""
    assert_same_native(SRC, "keep_best", n, x, k)


@SETTINGS
@given(n=small_ints(0, 200), x=int64s())
def test_bool_selects_like_cpython(n: int, x: int) -> None:
    """Bool locals picked by selects, and a counter stepped under an `if`."""
    assert_same_native(SRC, "flags", n, x)


def test_the_other_arm_wrapping_stays_native() -> None:
    """An arm that would leave int64 but is not chosen costs the exact path, never a deopt."""
    fast = native(SRC)
    fast.pick(3, 5, 2, 1)
    before = record_of(fast.pick).deopts
    # (x + i) % 3 != 0 for both i: `b - x * 7` is chosen (and fits), `x * a + i` never is (and would wrap).
    x, a = 10**17, 2**50
    assert all((x + i) % 3 for i in range(2))
    assert_same_native(SRC, "pick", 2, x, a, 0)
    assert record_of(fast.pick).deopts == before


ARM_FORMS = [
    "x * {a} + {b}",
    "{b} - x * {a}",
    "x + {b}",
    "{a} - x",
    "x * z",
    "x - z",
    "(x * {a} + {b}) * {c}",
    "{c} * ({b} - {a} * x) - z",
    "x // {a} + z",
    "(x >> 3) * {b}",
]
COEFFICIENTS = st.one_of(  # (not -2**63: its literal, -(2**63), is beyond 64 bits, and leaves f uncompiled)
    small_ints(-9, 9).filter(bool),
    st.sampled_from([2**31, -(2**31), 2**62, 3074457345618258602]),
    int64s().filter(lambda v: v > -(2**63)),
)


@settings(max_examples=200, deadline=None)
@given(
    forms=st.tuples(st.sampled_from(ARM_FORMS), st.sampled_from(ARM_FORMS)),
    abc=st.tuples(COEFFICIENTS, COEFFICIENTS, COEFFICIENTS),
    x=int64s(),
    z=int64s(),
    n=small_ints(1, 6),
)
@example(forms=("{a} - x", "x + {b}"), abc=(2**62, 1, 1), x=-(2**62) - 10, z=0, n=1)  # k - x, x < 0: past MAX
@example(forms=("{b} - x * {a}", "x + {b}"), abc=(3, 2**62, 1), x=-(2**61) - 2, z=0, n=1)
@example(forms=("{a} - x", "x + {b}"), abc=(-(2**62), 1, 1), x=2**62 + 10, z=0, n=1)  # past MIN
def test_random_arms_like_cpython(forms: tuple[str, str], abc: tuple[int, int, int], x: int, z: int, n: int) -> None:
    """Arms of affine chains with coefficients of every size: each step's value or big int is CPython's."""
    a, b, c = abc
    left, right = (form.format(a=a, b=b, c=c) for form in forms)
    src = (
        "def f(n, x, z):\n    y = 0\n    for i in range(n):\n"
        f"        if (x + i) % 2 == 0:\n            y = {left}\n        else:\n            y = {right}\n"
        "        x = x // 2 + i\n    return y\n"
    )
    assert_same_native(src, "f", n, x, z)


def test_sequential_ifs_are_all_converted() -> None:
    """Each `if`'s join is the next one's head: one sweep converts them all, and they compute as CPython."""
    lines = ["def f(n, x):", "    s = 0", "    for i in range(n):"]
    for k in range(12):
        lines += [
            f"        if (x + i) % {k + 2} == 0:",
            f"            x = x * 3 + {k}",
            "        else:",
            f"            x = x // 2 + {k}",
        ]
    lines += ["        s += x % 7", "    return s"]
    src = "\n".join(lines) + "\n"
    assert _converted(src, "f", Ty.INT, Ty.INT) == (12, 12)
    for x in (5, -5, 2**40, 2**62 + 7):
        assert_same_native(src, "f", 50, x)
