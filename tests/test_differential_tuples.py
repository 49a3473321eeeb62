"""Tuples, unpacking, and for loops over tuples, arrays, enumerate and zip: CPython's results.

Tuples are built, indexed (a literal index gives that item's own type; a run-time one
the item chosen then), unpacked, passed and returned (a new Python tuple). Loops walk
arrays, tuples and ranges by index; enumerate and zip (nested too) stop where
CPython's do.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, native, warm_up
from tests.strategies import floats, ints, numbers

from fastimport.testing import record_of

SRC = """
import numpy as np

def swap(t):
    a, b = t
    return b, a

def stats(n):
    s = 0
    q = 0.0
    for i in range(n):
        s += i
        q += i * 0.5
    return s, q, (s > 3, n)

def item(t, i):
    return t[i]

def last(t):
    return t[-1], t[0]

def nested(t):
    (a, b), c = t
    return a + b * c

def total(t):
    s = 0.0
    for x in t:
        s += x
    return s

def literal_loop():
    s = 0
    for x in (1, 2, 3, -4):
        s = s * 10 + x
    return s

def mixed_loop():
    out = 0.0
    for x in (1, 2.5, True):
        out = out * 2 + x
    return out

def joined(flag):
    t = (1, 2)
    if flag:
        t = (1.5, 2)
    return t

def one():
    return (7,)

def empty_len():
    return len(())

def length(t):
    return len(t)

def rotate(a, b, c):
    a, b, c = b, c, a
    return a, b, c

def min_max(a):
    lo = a[0]
    hi = a[0]
    for x in a:
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    return lo, hi

def product(t):
    x, y = t
    return x * y

def call_with_tuple(n):
    s = 0
    for i in range(n):
        s += product((i, i + 1))
    return s

def enum(a):
    s = 0.0
    for i, x in enumerate(a):
        s += i * x
    return s

def enum_start(a, k):
    s = 0
    for i, x in enumerate(a, k):
        s += i
    return s

def enum_pair(a):
    last = (0, 0.0)
    for pair in enumerate(a):
        last = pair
    return last

def zipped(a, b):
    s = 0.0
    for x, y in zip(a, b):
        s += x * y
    return s

def zip3(a, b, c):
    s = 0.0
    for x, y, z in zip(a, b, c):
        s += x * y - z
    return s

def zip_range(a, start, stop, step):
    s = 0.0
    for i, x in zip(range(start, stop, step), a):
        s += i * x
    return s

def enum_zip(a):
    t = 0
    for k, (i, x) in enumerate(zip(range(3, 100), a), 5):
        t += k * i
    return t

def rows(m):
    s = 0.0
    for row in m:
        for x in row:
            s += x
    return s

def loop_else(a, v):
    for i, x in enumerate(a):
        if x == v:
            break
    else:
        return -1
    return i

def swap_items(a, i, j):
    a[i], a[j] = a[j], a[i]
    return a

def unpack_into(a, t):
    a[0], a[1] = t
    return a

def for_into(a, n):
    for a[0] in range(n):
        pass
    return a
"""


@pytest.mark.parametrize(
    ("fname", "args"),
    [
        ("swap", ((1, 2.5),)),
        ("swap", ((True, 2**40),)),
        ("stats", (10,)),
        ("stats", (0,)),
        ("item", ((1, 2, 3), -1)),
        ("item", ((1, 2.0, True), 1)),
        ("last", ((1.5, 2, False),)),
        ("nested", (((1, 2), 3),)),
        ("nested", (((1.5, 2), 3),)),
        ("total", ((1.0, 2.5, 3.25),)),
        ("total", ((1, 2.5, True),)),
        ("literal_loop", ()),
        ("mixed_loop", ()),
        ("joined", (True,)),
        ("joined", (False,)),
        ("one", ()),
        ("empty_len", ()),
        ("length", ((1, 2, 3, 4),)),
        ("rotate", (1, 2.0, True)),
        ("min_max", ((3, -1, 7, 2),)),
        ("call_with_tuple", (100,)),
    ],
)
def test_tuples_like_cpython(fname: str, args: tuple) -> None:
    """Built, indexed, unpacked, looped over, passed and returned: same values and types."""
    assert_same_native(SRC, fname, *args)


@pytest.mark.parametrize(
    ("fname", "args"),
    [
        ("item", ((1, 2, 3), 3)),  # IndexError: tuple index out of range
        ("item", ((1, 2, 3), -4)),
        ("swap", ((1, 2, 3),)),  # ValueError: too many values to unpack
        ("swap", ((1,),)),  # ValueError: not enough values
        ("swap", ((1, "x"),)),  # an item of another type: not this specialization
        ("swap", ([1, 2],)),  # a list is not a tuple
        ("swap", ((2**70, 1),)),  # an item beyond int64
        ("length", ((1, 2),)),  # another length: another specialization
        ("item", ((1, 2.5, None), 0)),
    ],
)
def test_tuple_edges_like_cpython(fname: str, args: tuple) -> None:
    """Out of range, wrong lengths and item types: CPython's errors and results."""
    warm_up(SRC, fname, *{"item": ((1, 2, 3), 0), "swap": ((1, 2),), "length": ((1, 2, 3, 4),)}[fname])
    assert_same(SRC, fname, *args)


@given(st.tuples(numbers(), numbers()))
@settings(max_examples=200, deadline=None)
def test_swap_any_numbers(t: tuple) -> None:
    """Guards on every item: each mix of int/float/bool (big ints too) gets CPython's answer."""
    assert_same(SRC, "swap", t)


@given(st.lists(ints(), min_size=1, max_size=6), st.integers(-8, 8))
@settings(max_examples=200, deadline=None)
def test_item_at_run_time_index(items: list, i: int) -> None:
    """t[i] with i known only at run time: the item, or CPython's IndexError."""
    warm_up(SRC, "item", tuple(items), 0)
    assert_same(SRC, "item", tuple(items), i)


def _arrays() -> list[np.ndarray]:
    a = np.arange(7.0) * 0.5 - 1
    return [a, a[::2], a[::-1], np.zeros(0), a.astype(np.float32)]


@pytest.mark.parametrize("a", _arrays(), ids=["c", "strided", "reversed", "empty", "f32"])
def test_enumerate_and_zip_like_cpython(a: np.ndarray) -> None:
    """enumerate/zip over arrays of any layout, nested, with ranges of any step: CPython's sums."""
    b = np.linspace(-2, 3, 5)
    assert_same_native(SRC, "enum", a)
    assert_same_native(SRC, "enum_start", a, -3)
    assert_same_native(SRC, "zipped", a, b)
    assert_same_native(SRC, "zip3", a, b, a)
    assert_same_native(SRC, "enum_zip", a)
    assert_same_native(SRC, "loop_else", a, 0.0)
    for start, stop, step in ((0, 10, 1), (10, -3, -2), (5, 5, 1), (-4, 20, 3), (3, 0, 1)):
        assert_same_native(SRC, "zip_range", a, start, stop, step)


def test_enumerate_pair_and_rows() -> None:
    """A loop target that is one name gets the (index, item) tuple; 2-d arrays loop over rows."""
    assert_same_native(SRC, "enum_pair", np.arange(3.0))
    assert_same_native(SRC, "enum_pair", np.arange(0.0))  # never assigned in the loop: the initial tuple
    assert_same_native(SRC, "rows", np.arange(12.0).reshape(3, 4))
    assert_same_native(SRC, "rows", np.asfortranarray(np.arange(12.0).reshape(3, 4)))


def test_zip_range_step_zero_and_start_type() -> None:
    """range(..., 0) inside zip raises CPython's ValueError; enumerate with a float start raises TypeError."""
    a = np.arange(3.0)
    warm_up(SRC, "zip_range", a, 0, 3, 1)
    assert_same(SRC, "zip_range", a, 0, 3, 0)
    assert_same(SRC, "enum_start", a, 1.5)


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1), st.sampled_from([1, -1, 2, -3, 2**62]))
@settings(max_examples=100, deadline=None)
def test_zip_range_extremes(start: int, stop: int, step: int) -> None:
    """Range lengths near int64's ends (the length arithmetic may overflow: then bytecode answers)."""
    warm_up(SRC, "zip_range", np.arange(3.0), 0, 3, 1)
    assert_same(SRC, "zip_range", np.arange(4.0), start, stop, step)


def test_targets_that_store_into_arrays() -> None:
    """a[i], a[j] = a[j], a[i] swaps; unpacking and for loops can store into elements."""
    a = np.arange(5)
    assert_same_native(SRC, "swap_items", a.copy(), 0, 4)
    assert_same(SRC, "swap_items", a.copy(), 0, 9)  # IndexError after nothing was stored
    assert_same_native(SRC, "unpack_into", np.zeros(3), (1.5, 2))
    assert_same_native(SRC, "for_into", np.zeros(2), 5)


@given(st.tuples(floats(), ints()))
@settings(max_examples=100, deadline=None)
def test_unpack_into_array_casts(t: tuple) -> None:
    """Unpacked items are stored with NumPy's casts (an int too big for float64 is exact or raises)."""
    warm_up(SRC, "unpack_into", np.zeros(3), (1.5, 2))
    assert_same(SRC, "unpack_into", np.zeros(3), t)


def test_tuple_signatures_in_report() -> None:
    """The report shows tuple types item by item."""
    m = native(SRC)
    m.swap((1, 2.5))
    assert "(tuple[int, float]) -> tuple[float, int]" in record_of(m.swap).signatures


SHAPES = """
def shape_of(a):
    return a.shape

def dims(a, k):
    s = a.shape
    return s[k] * len(s)

def size_by_shape(a):
    n = 1
    for d in a.shape:
        n *= d
    return n
"""


@pytest.mark.parametrize("shape", [(3,), (2, 5), (0, 4, 1)])
def test_shape_as_a_tuple(shape: tuple) -> None:
    """a.shape is a tuple of ints: returned, indexed at run time, looped over."""
    a = np.zeros(shape)
    assert_same_native(SHAPES, "shape_of", a)
    assert_same_native(SHAPES, "size_by_shape", a)
    for k in range(-len(shape) - 1, len(shape) + 1):
        assert_same(SHAPES, "dims", a, k)
    assert_same_native(SHAPES, "dims", a, 0)


def test_rebinding_enumerate_is_seen() -> None:
    """A module that shadows `enumerate` after the compile gets its own: builtins are checked at each call."""
    src = "def f(a):\n    s = 0\n    for i, x in enumerate(a):\n        s += i\n    return s\n"
    m = native(src + "\n")
    a = np.arange(4.0)
    assert m.f(a) == 6
    assert record_of(m.f).status == "native"
    m.enumerate = lambda seq: [(10, x) for x in seq]
    try:
        assert m.f(a) == 40
    finally:
        del m.enumerate
    assert m.f(a) == 6
