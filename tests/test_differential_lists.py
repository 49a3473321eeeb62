"""Python lists in compiled code: reads, stores, append, len, iteration, comprehensions, [x] * n.

The list is the caller's object, mutated in place: after the call Python sees exactly
what CPython would have left, including after a deopt (the mutations are rolled back
before the bytecode re-runs the call). An item of an unexpected type deopts.
"""

from __future__ import annotations

import copy
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, call, modules, native, same_outcome, warm_up
from tests.strategies import floats, ints

from fastimport.testing import record_of

SRC = """
def total(lst):
    s = 0.0
    for x in lst:
        s += x
    return s

def item(lst, i):
    return lst[i]

def scale(lst, k):
    for i in range(len(lst)):
        lst[i] = lst[i] * k
    return lst

def set_item(lst, i, v):
    lst[i] = v

def squares(n):
    return [i * i for i in range(n) if i % 3 != 1]

def pairs(n):
    return [i * 10 + j for i in range(n) for j in range(i)]

def scoped(n):
    i = -1
    out = [i * 2 for i in range(n)]
    return i, out

def grid(n, m):
    g = [[0.0] * m for i in range(n)]
    for i in range(n):
        for j in range(m):
            g[i][j] = i + j * 0.5
    return g

def repeat(n):
    return [1, 2] * n, n * [True]

def display(a, b):
    return [a, b, a + b]

def grow(lst, n):
    for i in range(n):
        lst.append(i * 2)
    return len(lst)

def grow_while_iterating(lst):
    for x in lst:
        if x > 0:
            lst.append(x - 1)
    return len(lst)

def fail_after(lst, n):
    for i in range(n):
        lst.append(i)
        lst[0] = lst[0] + 1
    return lst[n + 100]

def overflow_after(lst, x):
    lst[0] = 1.5
    lst.append(2.5)
    return x * x * x

def nbody_like(bodies, steps, dt):
    for s in range(steps):
        for b in bodies:
            b[0] += dt * b[3]
            b[1] += dt * b[4]
            b[2] += dt * b[5]
    e = 0.0
    for b in bodies:
        e += b[6] * (b[0] * b[0] + b[1] * b[1] + b[2] * b[2])
    return e

def swap_rows(g, i, j):
    g[i], g[j] = g[j], g[i]
    return g[i][0]

def unpack(lst):
    a, b = lst
    return b, a

def enum_list(lst):
    s = 0
    for i, x in enumerate(lst):
        s += i * x
    return s

def same_list(lst):
    lst[0] = 0
    return lst

def evens(n):
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(i * 0.5)
    return out

def table(n, m):
    g = []
    for i in range(n):
        row = []
        for j in range(m):
            row.append(i * j)
        g.append(row)
    return g

def flags(n):
    out = [False] * n
    for i in range(0, n, 3):
        out[i] = True
    return out
"""


@pytest.mark.parametrize(
    ("fname", "args"),
    [
        ("total", ([1.0, 2.5, -3.0],)),
        ("item", ([1, 2, 3], -1)),
        ("item", ([True, False], 1)),
        ("scale", ([1.0, 2.0, 0.1], 3.0)),
        ("squares", (20,)),
        ("squares", (0,)),
        ("pairs", (5,)),
        ("scoped", (4,)),
        ("scoped", (0,)),
        ("grid", (3, 4)),
        ("repeat", (3,)),
        ("repeat", (-2,)),
        ("display", (1.5, 2.25)),
        ("grow", ([1, 2], 5)),
        ("grow_while_iterating", ([3, 0, 2],)),
        ("nbody_like", ([[1.0, 2.0, 3.0, 0.5, 0.25, -1.0, 2.0], [3.0, 1.0, 0.0, -0.5, 1.0, 0.0, 1.0]], 50, 0.01)),
        ("swap_rows", ([[1.0], [2.0], [3.0]], 0, 2)),
        ("unpack", ([1.5, 2.5],)),
        ("enum_list", ([4, 5, 6],)),
        ("flags", (10,)),
        ("evens", (9,)),
        ("evens", (0,)),
        ("table", (3, 4)),
    ],
)
def test_lists_like_cpython(fname: str, args: tuple) -> None:
    """Values, types and the lists' contents afterwards all match CPython's."""
    fast, ref = modules(SRC)
    fast_args, ref_args = copy.deepcopy(args), copy.deepcopy(args)
    got = call(getattr(fast, fname), *fast_args)
    want = call(getattr(ref, fname), *ref_args)
    assert same_outcome(got, want), (fname, got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args), (fname, fast_args, ref_args)  # mutations visible, the same
    assert record_of(getattr(fast, fname)).status == "native", record_of(getattr(fast, fname)).reason


def _after(fname: str, *args: object) -> tuple:
    """(fastimport outcome, its arguments after), (CPython's, its arguments after)."""
    fast, ref = modules(SRC)
    fast_args, ref_args = copy.deepcopy(args), copy.deepcopy(args)
    got = call(getattr(fast, fname), *fast_args)
    want = call(getattr(ref, fname), *ref_args)
    return (got, fast_args), (want, ref_args)


@pytest.mark.parametrize(
    ("fname", "warm", "args"),
    [
        ("fail_after", ([5, 6], 1), ([5, 6], 3)),  # IndexError after appends and stores: rolled back, redone
        ("overflow_after", ([0.5], 3), ([0.5], 2**30)),  # int overflow after a store and an append
        ("total", ([1.0, 2.0],), ([1.0, 2, 3.0],)),  # an int among floats: deopt, CPython's sum
        ("total", ([1.0, 2.0],), ([1.0, "x"],)),  # TypeError from the bytecode
        ("item", ([1, 2, 3], 0), ([1, 2, 3], 3)),  # IndexError
        ("item", ([1, 2, 3], 0), ([1, 2**70, 3], 1)),  # an int beyond int64
        ("item", ([1, 2, 3], 0), ([1, True, 3], 1)),  # a bool in a list of ints: deopt, CPython's True
        ("scale", ([1.0, 2.0], 2.0), ([1.0, None, 3.0], 2.0)),  # TypeError half-way: the first store undone
        ("unpack", ([1.5, 2.5],), ([1.5, 2.5, 3.5],)),  # ValueError: too many values
        ("set_item", ([1.0, 2.0], 0, 5.0), ([1.0, 2.0], -3, 5.0)),  # IndexError
        ("nbody_like", ([[1.0] * 7], 2, 0.1), ([[1.0] * 7, [1.0] * 6], 2, 0.1)),  # IndexError in the 2nd body
    ],
)
def test_deopts_leave_lists_as_cpython_does(fname: str, warm: tuple, args: tuple) -> None:
    """Whatever the native code did before leaving is undone: the bytecode re-run leaves CPython's state."""
    _after(fname, *warm)
    (got, fast_args), (want, ref_args) = _after(fname, *args)
    assert same_outcome(got, want), (fname, got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args), (fname, fast_args, ref_args)


def test_rollback_keeps_reference_counts() -> None:
    """Replaced and appended items are released exactly once, on commit and on rollback."""
    m = native(SRC)
    m.set_item([1.0, 2.0], 0, 1.0)  # compiled for (list[float], int, float)
    old = 10.0**10 + 0.5  # a float object of our own, to watch its count
    box = [old, 2.0]
    before = sys.getrefcount(old)
    m.set_item(box, 0, 1.5)  # commit: the list's reference to `old` is gone
    assert sys.getrefcount(old) == before - 1
    box = [old, 2.0]
    before = sys.getrefcount(old)
    with pytest.raises(IndexError):
        m.set_item(box, 5, 1.5)
    assert sys.getrefcount(old) == before
    assert box == [old, 2.0]


def test_returned_list_is_the_same_object() -> None:
    """A list passed in and returned is the caller's object, not a copy."""
    lst = [1, 2]
    assert native(SRC).same_list(lst) is lst
    assert lst == [0, 2]


@given(st.lists(floats(), min_size=1, max_size=8), floats())
@settings(max_examples=200, deadline=None)
def test_scale_floats(lst: list, k: float) -> None:
    """Float lists scaled in place: bit-identical items (nan, -0.0, inf included)."""
    warm_up(SRC, "scale", [1.0, 2.0], 2.0)
    (got, fast_args), (want, ref_args) = _after("scale", lst, k)
    assert same_outcome(got, want)
    assert same_outcome(call(lambda: fast_args[0]), call(lambda: ref_args[0]))


@given(st.lists(ints(), min_size=1, max_size=8), st.integers(-10, 10))
@settings(max_examples=200, deadline=None)
def test_int_list_reads(lst: list, i: int) -> None:
    """Int lists with big ints and any index: CPython's item or error."""
    warm_up(SRC, "item", [1, 2, 3], 0)
    assert_same(SRC, "item", lst, i)


@given(st.integers(-5, 40))
@settings(max_examples=50, deadline=None)
def test_comprehensions(n: int) -> None:
    """Comprehensions with conditions and nested loops, and [x] * n for any n."""
    for fname in ("squares", "pairs", "scoped", "repeat", "flags"):
        assert_same(SRC, fname, n)
    assert_same_native(SRC, "squares", 3)


def test_empty_list_nothing_appends_to_stays_bytecode() -> None:
    """`x = []` with no append has no item type: not compiled, with that reason."""
    src = "def f():\n    x = []\n    return len(x)\n"
    assert_same(src, "f")
    rec = record_of(native(src).f)
    assert rec.status == "bytecode"
    assert "empty list" in (rec.reason or "")


def test_list_signatures() -> None:
    """The report shows list types; an empty list is not typed (no specialization for it)."""
    m = native(SRC)
    m.total([1.0])
    assert "(list[float]) -> float" in record_of(m.total).signatures
    assert m.total([]) == 0.0


def test_repeat_count_that_overflowed() -> None:
    """`[0.0] * (n * n)` with n * n beyond int64: CPython's OverflowError, and no list sized by a wrapped count.

    (2**32 + 1)**2 wraps to about 8.6e9: were the wrapped count used, the native code would
    try to fill a 69 GB list before leaving.
    """
    src = "def rep(n):\n    return [0.0] * (n * n)\n"
    assert_same_native(src, "rep", 3)
    assert_same(src, "rep", 2**32 + 1)
    assert_same(src, "rep", 2**31)


SHARED = """
def bump(lst, k):
    for r in range(k):
        for i in range(len(lst)):
            lst[i] += 1.0
    return lst[0]

def bump_then_fail(lst, k):
    for r in range(k):
        for i in range(len(lst)):
            lst[i] += 1.0
    return lst[k]
"""


def test_float_stores_never_change_a_float_someone_else_holds() -> None:
    """A float stored into a list may reuse the old item's object, but only one the list alone holds.

    The caller's own references (a local, the same object in two slots, another list)
    keep their values, as after CPython's new float.
    """
    m = native(SHARED)
    m.bump([1.0, 2.0], 1)
    mine = 10.0**10 + 0.5  # not a constant of any code object
    other = [mine]
    lst = [mine, mine, float(3)]
    assert m.bump(lst, 3) == mine + 3.0
    assert mine == 10.0**10 + 0.5
    assert other == [10.0**10 + 0.5]
    assert lst == [mine + 3.0, mine + 3.0, 6.0]
    assert lst[0] is not lst[1]  # two stores, two objects, as in CPython
    assert record_of(m.bump).deopts == 0


def test_float_stores_rolled_back_whole() -> None:
    """Stores that reused objects are undone before the bytecode re-runs a call: each store happens once.

    The native run adds 1.0 four times per item (the later times in place), then deopts at
    `lst[4]`; the bytecode must start from the caller's values, or the items would end up 8.0 higher.
    """
    fast, ref = modules(SHARED)
    fast.bump_then_fail([1.0, 2.0, 3.0, 4.0], 1)
    first, second = 10.0**10 + 0.5, 10.0**10 + 1.5
    for m in (fast, ref):
        lst = [first, second]
        with pytest.raises(IndexError):
            m.bump_then_fail(lst, 4)
        assert lst == [first + 4.0, second + 4.0]
    assert (first, second) == (10.0**10 + 0.5, 10.0**10 + 1.5)
    assert record_of(fast.bump_then_fail).deopts == 1
