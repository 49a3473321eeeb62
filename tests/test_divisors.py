"""Int `//` and `%` by a divisor the loop does not change (frontend/divisors.py, backend/divemit.py).

The divisions are made by multiplying with a reciprocal kept beside its divisor; these
tests check the arithmetic itself (a model of it, every 64-bit edge), that the marks fall
where the loop really leaves the divisor alone, and, against CPython, loops whose divisor
is a parameter, a global rebound between calls, an outer loop's variable and an inlined
helper's parameter, with dividends and divisors of every sign and size.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.differential import assert_same_native, call, modules, same_outcome
from tests.strategies import int64s, small_ints

from fastimport.compiler import front_end
from fastimport.frontend.ir import Binary
from fastimport.frontend.types import Ty
from fastimport.runtime.dispatch import state_of
from fastimport.testing import compile_module, record_of

SETTINGS = settings(max_examples=200, deadline=None)
INT64_MAX = 2**63 - 1


def _reciprocal_divmod(a: int, d: int) -> tuple[int, int]:
    """backend/divemit.py's arithmetic, in Python ints held to 64 bits."""
    m = (2**64 - 1) // d
    q = (a * m) >> 64
    r = a - q * d
    assert 0 <= r < 2 * d  # the one correction below is enough
    return (q + 1, r - d) if r >= d else (q, r)


@given(a=st.integers(0, INT64_MAX), d=st.integers(1, INT64_MAX))
@example(a=INT64_MAX, d=1)
@example(a=INT64_MAX, d=INT64_MAX)
@example(a=INT64_MAX - 1, d=INT64_MAX)
@example(a=INT64_MAX, d=3)
@example(a=2**62, d=2**31 + 1)
@example(a=0, d=1)
@settings(max_examples=2000, deadline=None)
def test_reciprocal_arithmetic(a: int, d: int) -> None:
    """Q = (a * M) >> 64 with one correction is divmod for 0 <= a < 2**63, 0 < d."""
    assert _reciprocal_divmod(a, d) == divmod(a, d)


def test_reciprocal_arithmetic_near_multiples() -> None:
    """Dividends one below, at and one above multiples of divisors near powers of two and of three."""
    divisors = {v + e for k in range(1, 63) for v in (2**k, 3**k if 3**k < 2**63 else 7) for e in (-1, 0, 1)}
    for d in sorted(v for v in divisors if 0 < v <= INT64_MAX):
        for q in (1, 2, 3, INT64_MAX // d - 1, INT64_MAX // d):
            for a in (q * d - 1, q * d, q * d + 1, INT64_MAX):
                if 0 <= a <= INT64_MAX:
                    assert _reciprocal_divmod(a, d) == divmod(a, d), (a, d)


def _marks(source: str, fname: str, *arg_types: object) -> list[tuple[str, bool]]:
    """(kind, invariant_divisor) of each int `//` and `%` of `fname`'s IR, in order."""
    module = compile_module(source)
    _specs, root = front_end(state_of(getattr(module, fname)), getattr(module, fname), arg_types)
    return [
        (op.kind, op.invariant_divisor)
        for op in root.ir.all_ops()
        if isinstance(op, Binary) and op.kind in ("floordiv", "mod")
    ]


def test_which_divisions_are_marked() -> None:
    """Int divisions in a loop that leaves the divisor alone, and only those."""
    loop = "def f(n, m):\n    s = 0\n    for i in range(n):\n        {body}\n    return s\n"
    assert _marks(loop.format(body="s = (s + i) % m"), "f", Ty.INT, Ty.INT) == [("mod", True)]
    assert _marks(loop.format(body="s += i // m"), "f", Ty.INT, Ty.INT) == [("floordiv", True)]
    assert _marks(loop.format(body="s += i % 7"), "f", Ty.INT, Ty.INT) == [("mod", False)]  # a constant: LLVM's
    assert _marks(loop.format(body="m += 1\n        s += i % m"), "f", Ty.INT, Ty.INT) == [("mod", False)]
    assert _marks(loop.format(body="s += i % m"), "f", Ty.INT, Ty.FLOAT) == [("mod", False)]  # a float %
    assert _marks("def f(a, m):\n    return a % m\n", "f", Ty.INT, Ty.INT) == [("mod", False)]  # no loop
    primes = (
        "def f(k):\n    d = 3\n    while d * d <= k:\n"
        "        if k % d == 0:\n            return d\n        d += 2\n    return 0\n"
    )
    assert _marks(primes, "f", Ty.INT) == [("mod", False)]  # d changes every iteration
    nested = (
        "def f(n, ms):\n    s = 0\n    for m in range(1, ms):\n"
        "        for i in range(n):\n            s += i % m\n    return s\n"
    )
    assert _marks(nested, "f", Ty.INT, Ty.INT) == [("mod", True)]  # the inner loop leaves m alone
    helper = "def g(x, m):\n    return x % m\n\n" + loop.format(body="s += g(i, m)")
    assert _marks(helper, "f", Ty.INT, Ty.INT) == [("mod", True)]  # inlined: its m is a copy of f's


SRC = """
M = 7


def sums(n, a, step, m):
    q = 0
    r = 0
    for i in range(n):
        x = a + i * step
        q += x // m
        r += x % m
    return q, r


def chain(n, m):
    total = 0
    for i in range(n):
        total = (total + i * i) % m
    return total


def by_global(n, a):
    r = 0
    for i in range(n):
        r += (a + i) % M
    return r


def nested(n, a, ms):
    r = 0
    for m in ms:
        for i in range(n):
            r += (a + i) % m * 3 + (a - i) // m
    return r


def mod(x, m):
    return x % m


def bool_dividends(n, m):
    r = 0
    for i in range(n):
        r += (i % 3 == 0) % m + (i > 5) // m
    return r


def helper(n, a, m):
    r = 0
    for i in range(n):
        r += mod(a + i, m)
    return r
"""


@SETTINGS
@given(n=small_ints(0, 40), a=int64s(), step=small_ints(-(10**6), 10**6), m=int64s())
@example(n=5, a=INT64_MAX - 10, step=1, m=INT64_MAX)
@example(n=5, a=-(2**63), step=1, m=-1)
@example(n=5, a=-(2**63), step=1, m=1)
@example(n=5, a=100, step=-30, m=7)
@example(n=5, a=100, step=3, m=0)
@example(n=5, a=-100, step=3, m=-7)
def test_sums_like_cpython(n: int, a: int, step: int, m: int) -> None:
    """`//` and `%` by a parameter, every sign and size, zero and INT64_MIN // -1 included."""
    assert_same_native(SRC, "sums", n, a, step, m)


@SETTINGS
@given(n=small_ints(0, 300), m=st.one_of(small_ints(-50, 50), int64s()))
def test_chain_like_cpython(n: int, m: int) -> None:
    """The remainder on the loop's chain (`sum_squares_mod`)."""
    assert_same_native(SRC, "chain", n, m)


@pytest.mark.parametrize("divisor", [7, 1, -3, 2**40 + 1, -(2**62), 0, 10**30, 8])
def test_a_global_divisor_rebound_between_calls(divisor: int) -> None:
    """A global divisor is read at each use, as CPython does: each value it is given divides right."""
    fast, ref = modules(SRC)
    fast.M = ref.M = divisor
    for a in (0, 12345, -12345, 2**62):
        got, want = call(fast.by_global, 50, a), call(ref.by_global, 50, a)
        assert same_outcome(got, want), (divisor, a, got.describe(), want.describe())


def test_outer_loop_and_inlined_divisors_like_cpython() -> None:
    """A divisor the outer loop changes (a new reciprocal per value) and an inlined helper's."""
    for ms in ([1, 2, 3, 1000003], [5, -5, 5], [2**62 + 3, 7, 2**62 + 3]):
        for a in (0, 99, -99, INT64_MAX - 100):
            assert_same_native(SRC, "nested", 30, a, ms)
    for m in (3, -3, 1, 2**61 + 1):
        for a in (0, 10**12, -(10**12)):
            assert_same_native(SRC, "helper", 40, a, m)


def test_ordinary_calls_stay_native() -> None:
    """Positive dividends and divisors are the fast path's: no call of them leaves native code."""
    fast, ref = modules(SRC)
    fast.chain(10, 7)
    before = record_of(fast.chain).deopts
    for n, m in ((1000, 1000003), (1000, 3), (1000, 2**62 + 1), (1000, 1)):
        assert fast.chain(n, m) == ref.chain(n, m)
    assert record_of(fast.chain).deopts == before


def test_bool_dividends_like_cpython() -> None:
    """`True % m`, `False // m`: a bool dividend divides as the int it is."""
    assert _marks(SRC, "bool_dividends", Ty.INT, Ty.INT) == [("mod", False), ("mod", True), ("floordiv", True)]
    for m in (1, 2, 7, -1, -3, 2**62, 0):
        assert_same_native(SRC, "bool_dividends", 20, m)
