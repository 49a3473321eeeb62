"""Arrays made inside compiled code (np.empty/zeros/ones/full and their `_like` forms): CPython's results.

The array NumPy makes is an ordinary ndarray that owns its memory: the same dtype,
shape, flags and contents as under CPython, and no reference leaks. Allocation in a
long loop leaves native code (the call's arena has limits) and stays correct.
"""

from __future__ import annotations

import gc
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_native, call, modules, same_outcome
from tests.numpy_values import outcome_with_warnings

from fastimport.testing import record_of

SRC = """
import numpy as np
from numpy import zeros, float32

def make(n):
    a = np.zeros(n)
    for i in range(n):
        a[i] = i * 0.5
    return a

def make2(n, m):
    a = np.empty((n, m), dtype=np.int32)
    for i in range(n):
        for j in range(m):
            a[i, j] = i * m + j
    return a

def ones3(n):
    return np.ones((2, n, 3), "uint8")

def filled(n, v):
    return np.full((n, 2), v)

def filled_typed(n, v):
    return np.full(n, v, dtype=np.int8)

def like(a):
    b = np.zeros_like(a)
    for i in range(len(a)):
        b[i] = a[i] * 2
    return b

def like_typed(a):
    return np.full_like(a, 3, float)

def like_shape(a):
    b = np.empty(a.shape, np.float32)
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            b[i, j] = a[i, j] + 1
    return b

def imported(n):
    a = zeros(n, float32)
    a[0] = 1.5
    return a

def temporaries(n):
    s = 0.0
    for k in range(n):
        t = np.ones(3)
        t[1] = k
        s += t[0] + t[1]
    return s

def helper_fill(out, v):
    for i in range(len(out)):
        out[i] = v

def uses_helper(n):
    out = np.empty(n)
    helper_fill(out, 2.5)
    return out

def returns_arg(a):
    a[0] = 9
    return a

def like_keyword(a):
    return np.zeros_like(a=a)

def like_wrong_keyword(a):
    return np.zeros_like(prototype=a)

def empty_like_keyword(a):
    return len(np.empty_like(prototype=a))

def grid(n, m, di, dj):
    out = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            out[i + di, j + dj] = i * 10.0 + j
    return out

def grid_like(a, di):
    out = np.zeros_like(a)
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            out[i, j - di] = a[i, j]
    return out

def full_then_index(n, v):
    a = np.full(3, v, np.int8)
    b = np.full(2, v, np.float32)
    return a[n] + b[n]
"""


def same_array_outcome(got: object, want: object) -> bool:
    """Both raised alike, or both returned equal arrays (dtype, shape, strides, flags, bytes) or values."""
    if isinstance(want.value, np.ndarray) and isinstance(got.value, np.ndarray):
        g, w = got.value, want.value
        return (
            type(g) is type(w)
            and g.dtype == w.dtype
            and g.shape == w.shape
            and g.strides == w.strides
            and g.flags.c_contiguous == w.flags.c_contiguous
            and g.flags.writeable == w.flags.writeable
            and g.flags.owndata == w.flags.owndata
            and g.tobytes() == w.tobytes()
        )
    return same_outcome(got, want)


def assert_same_alloc(fname: str, *args: object, want_native: bool = True) -> None:
    """Same outcome as CPython (arrays compared field by field); the arguments end equal too."""
    fast, ref = modules(SRC)
    fast_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want, want_warnings = outcome_with_warnings(getattr(ref, fname), *ref_args)
    got, got_warnings = outcome_with_warnings(getattr(fast, fname), *fast_args)
    assert same_array_outcome(got, want), f"{fname}{args!r}: fastimport {got.describe()}, CPython {want.describe()}"
    assert got_warnings == want_warnings, f"{fname}{args!r}: warnings {got_warnings} != {want_warnings}"
    for g, w in zip(fast_args, ref_args, strict=True):
        if isinstance(w, np.ndarray):
            assert g.tobytes() == w.tobytes()
    if want_native:
        assert_native(fast, fname)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 6), m=st.integers(0, 4))
def test_allocators_give_numpys_arrays(n: int, m: int) -> None:
    """Every allocator, with shapes as ints, tuples and another array's shape, and dtypes written every way."""
    assert_same_alloc("make", n)
    assert_same_alloc("make2", n, m)
    assert_same_alloc("ones3", n)
    assert_same_alloc("imported", max(n, 1))
    a = np.arange(float(n * m)).reshape(n, m)
    assert_same_alloc("like_shape", a)
    assert_same_alloc("like", np.arange(n, dtype=np.int16))
    assert_same_alloc("like", np.arange(2.0 * n)[::2], want_native=False)  # a strided 1-D prototype
    assert_same_alloc("like_typed", np.arange(n, dtype=np.uint8))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 4), m=st.integers(0, 4), di=st.integers(-5, 2), dj=st.integers(-5, 2))
def test_loops_over_a_new_array_check_its_bounds(n: int, m: int, di: int, dj: int) -> None:
    """The loops' limits bound a new array's dimensions (the bounds checks they imply go); any other index is checked.

    Off by one past either end, negative indices that wrap, far out of range: CPython's stores, then its IndexError.
    """
    assert_same_alloc("grid", n, m, di, dj, want_native=False)
    assert_same_alloc("grid_like", np.arange(float(n * m)).reshape(n, m), di, want_native=False)
    assert_same_alloc("grid", n, m, 0, 0)


@pytest.mark.parametrize("v", [7, 2.5, True, np.float32(1.5), np.int16(-3), np.uint8(200), 2**40])
def test_full_picks_numpys_dtype(v: object) -> None:
    """np.full without a dtype takes the fill value's (np.array(v).dtype); with one, NumPy's cast."""
    assert_same_alloc("filled", 3, v)
    assert_same_alloc("filled_typed", 3, v, want_native=False)


def test_numpy_errors_come_from_numpy() -> None:
    """A negative dimension, or a fill value int8 cannot hold: NumPy's exception, from the bytecode re-run."""
    assert_same_alloc("make", 4)
    assert_same_alloc("make", -1)
    assert_same_alloc("make2", -2, 3)
    assert_same_alloc("filled_typed", 2, 1)
    assert_same_alloc("filled_typed", 2, 300)


def test_keywords_are_numpys_own() -> None:
    """NumPy's own keyword names compile (`a=`, `prototype=` of empty_like); others raise NumPy's TypeError."""
    a = np.arange(3.0)
    assert_same_alloc("like_keyword", a)
    assert_same_alloc("like_wrong_keyword", a, want_native=False)
    assert_same_alloc("empty_like_keyword", a)


@pytest.mark.parametrize("v", [2.5, 1e30, np.float64(1e300), 7, np.int64(300), float("nan")])
def test_fill_casts_warn_once(v: object) -> None:
    """A fill value NumPy casts with a warning, then an IndexError: the warning comes once, as in CPython."""
    assert_same_alloc("full_then_index", 1, v, want_native=False)
    assert_same_alloc("full_then_index", 5, v, want_native=False)


def test_arrays_passed_to_compiled_helpers_and_returned() -> None:
    """A new array handed to a compiled helper that fills it; an argument returned as itself."""
    assert_same_alloc("uses_helper", 5)
    fast, _ = modules(SRC)
    a = np.zeros(3, dtype=np.int64)
    assert fast.returns_arg(a) is a
    assert a[0] == 9
    assert_native(fast, "returns_arg")


def test_temporaries_in_loops_are_released() -> None:
    """Short loops allocate natively; a long one outgrows the arena and deopts; nothing leaks."""
    assert_same_alloc("temporaries", 10)
    assert_same_alloc("temporaries", 20_000, want_native=False)
    fast, _ = modules(SRC)
    assert record_of(fast.temporaries).deopts >= 1
    a = np.arange(5.0)
    before = sys.getrefcount(a)
    for _ in range(200):
        fast.like(a)
        fast.make2(3, 3)
    gc.collect()
    assert sys.getrefcount(a) == before
    r = fast.make(4)
    assert sys.getrefcount(r) == 2
    assert r.flags.owndata


def test_rebinding_numpy_names_is_seen() -> None:
    """np.zeros or np.int32 rebound in the module: the next call sees it (the guards fail, bytecode runs)."""
    fast, ref = modules(SRC + "# rebind\n")
    np.testing.assert_array_equal(fast.make2(2, 2), ref.make2(2, 2))
    assert_native(fast, "make2")
    for m in (fast, ref):
        m.np = type("FakeNumpy", (), {"empty": staticmethod(lambda shape, **_kw: np.ones(shape)), "int32": None})
    got, want = call(fast.make2, 2, 2), call(ref.make2, 2, 2)
    assert same_array_outcome(got, want), (got.describe(), want.describe())
    assert got.value.dtype == np.float64
