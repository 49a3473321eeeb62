"""Self tail calls become jumps (frontend/tailcalls.py): same results, errors and limits as CPython."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, native, plain

from fastimport.compiler import front_end
from fastimport.frontend.ir import Call, Reenter
from fastimport.frontend.types import Array, Ty
from fastimport.runtime.dispatch import state_of

SRC = """
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def gcd(a, b):
    if b == 0:
        return a
    return gcd(b, a % b)

def total(n, step):
    if n <= 0:
        return step
    return n * step + total(n - 1, step)

def halves(x, n):
    if n == 0:
        return x
    return 0.1 + halves(x * 0.5, n - 1)

def mixed(n):
    if n == 0:
        return 0.5
    return 1 + mixed(n - 1)

def maybe_unbound(n, flag):
    if flag:
        k = n
    if n <= 0:
        return k
    return maybe_unbound(n - 1, False)

def fill(a, i, w):
    if i == len(a):
        return 0
    a[i] = i
    return i * w + fill(a, i + 1, w)

def odd_args(n, x):
    if n == 0:
        return 0
    return 1 + odd_args(n - 1, x + 0.5)
"""


def _root(fname: str, *args: object) -> object:
    f = getattr(native(SRC), fname)
    f(*args)
    types_ = tuple(
        Array(Ty.I64, 1) if isinstance(a, np.ndarray) else {int: Ty.INT, float: Ty.FLOAT, bool: Ty.BOOL}[type(a)]
        for a in args
    )
    return front_end(state_of(f), f, types_)[1]


@pytest.mark.parametrize(
    ("fname", "args", "calls", "reenters"),
    [
        ("fib", (5,), 1, 1),  # one call of two left
        ("gcd", (12, 8), 0, 1),  # a pure tail call: a loop
        ("total", (4, 3), 0, 1),
        ("odd_args", (4, 0.5), 0, 1),  # an int sum; the float is an argument
        ("halves", (1.0, 3), 1, 0),  # a float sum would round differently: stays a call
        ("mixed", (3,), 1, 0),  # int|float results: likewise
    ],
)
def test_tail_calls_become_jumps(fname: str, args: tuple, calls: int, reenters: int) -> None:
    """Which self tail calls become jumps."""
    ops = _root(fname, *args).ir.all_ops()
    assert sum(isinstance(op, Call) for op in ops) == calls
    assert sum(isinstance(op, Reenter) for op in ops) == reenters


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 24])
def test_fib(n: int) -> None:
    """Half the calls are jumps: CPython's numbers."""
    assert_same_native(SRC, "fib", n)


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_gcd_over_int64(a: int, b: int) -> None:
    """A pure tail call: int64 edges, negative operands (Python's modulo), zero."""
    assert_same(SRC, "gcd", 12, 18)
    assert_same(SRC, "gcd", a, b)


@pytest.mark.parametrize(
    ("n", "step"),
    [(0, 5), (10, 3), (200, -7), (100, 2**56), (100, -(2**56)), (3, 2**62), (50, 2**63 - 1)],
)
def test_int_accumulation_is_exact(n: int, step: int) -> None:
    """Summed in another grouping, but exactly: a sum past int64 anywhere gives CPython's big int."""
    assert_same_native(SRC, "total", 3, 1)
    assert_same(SRC, "total", n, step)


@pytest.mark.parametrize("n", [0, 1, 7, 40])
def test_floats_and_mixed_returns_keep_their_grouping(n: int) -> None:
    """0.1 + (0.1 + ...) is not (0.1 + 0.1) + ...: float results bit for bit; int|float returns too."""
    assert_same_native(SRC, "halves", 1.0, n)
    assert_same_native(SRC, "mixed", n)
    assert_same_native(SRC, "odd_args", n, 0.25)


@pytest.mark.parametrize(("n", "flag"), [(3, True), (0, True), (3, False), (0, False)])
def test_a_local_read_before_its_store_keeps_the_call(n: int, flag: bool) -> None:
    """UnboundLocalError at a fresh call: no jump, which would carry the last round's value over."""
    assert_same(SRC, "maybe_unbound", 3, True)
    assert_same(SRC, "maybe_unbound", n, flag)
    assert sum(isinstance(op, Reenter) for op in _root("maybe_unbound", 0, True).ir.all_ops()) == 0


@pytest.mark.parametrize("size", [0, 1, 5, 300])
@pytest.mark.parametrize("w", [1, 2**60])
def test_stores_before_the_jumps_are_kept(size: int, w: int) -> None:
    """Array stores between jumps; with w = 2**60 the sum leaves int64: the call deopts (stores rolled back, redone)."""
    native(SRC).fill(np.zeros(3, dtype=np.int64), 0, 1)
    a, b = np.full(size, -1, dtype=np.int64), np.full(size, -1, dtype=np.int64)
    got, want = native(SRC).fill(a, 0, w), plain(SRC).fill(b, 0, w)
    assert got == want
    assert type(got) is type(want)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("n", [500, 900, 990, 1200, 5000])
def test_jumps_count_toward_the_recursion_limit(n: int) -> None:
    """Each jump stands for a frame: RecursionError exactly where CPython raises it."""
    assert_same(SRC, "gcd", 1, 1)
    assert_same(SRC, "total", n, 1)


REBIND_SRC = """
def gcd(a, b):
    if b == 0:
        return a
    return gcd(b, a % b)

def total(n):
    if n <= 0:
        return 0
    return n + total(n - 1)

def other(a, b):
    return -1

def other_total(n):
    return 1000
"""


def test_a_rebound_global_is_called_not_jumped_to() -> None:
    """The jump stands for a call of the global `f`: rebind the name and the old function calls the new one."""
    from fastimport.testing import compile_module, plain_module

    results = []
    for module in (plain_module(REBIND_SRC), compile_module(REBIND_SRC)):
        gcd, total = module.gcd, module.total
        before = (gcd(12, 18), total(10))
        module.gcd, module.total = module.other, module.other_total
        results.append((before, gcd(12, 18), total(10)))
    assert results[0] == results[1] == ((6, 55), -1, 1010)
