"""Stores into arrays: fastimport against CPython, the arrays' final contents included.

`a[i] = v` must cast as NumPy's assignment casts (and raise or warn where NumPy
does); a call that leaves native code after it has stored must leave the arrays
exactly as CPython's run of the whole call leaves them (the undo log); read-only
arrays raise NumPy's ValueError; views write through to their base.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_native, call, modules, same_outcome
from tests.numpy_values import DTYPES, NP_TYPES, PY_TYPES, array_of, layouts, typical, values_of

from fastimport.testing import record_of

SRC = """
def put(a, i, v):
    a[i] = v
    return a[i]

def put2(a, i, j, v):
    a[i, j] = v
    a[i][j] = a[i, j]

def bump(a, k):
    for i in range(len(a)):
        a[i] += k

def bump2(a, k):
    n, m = a.shape
    for i in range(n):
        row = a[i]
        for j in range(m):
            row[j] = row[j] * k
            a[i, j] -= 1

def scale_into(a, out, k):
    for i in range(len(a)):
        out[i] = a[i] * k

def prefix(a, b):
    for i in range(1, len(a)):
        b[i] = a[i - 1] + b[i - 1]

def bump_then_index(a, n):
    for i in range(n):
        a[i] += 1
    return n

def store_then_overflow(a, x):
    for i in range(len(a)):
        a[i] = i
        x = x * x
    return x

def store_then_warn(a, x):
    for i in range(len(a)):
        a[i] = a[i] + 1.0
    return a[0] / x

def set_one(a, i, v):
    a[i] = v

def calls_setter(a, n):
    for i in range(n):
        set_one(a, i, 7)
    return a[n]

def chain(a, b, v):
    a[0] = b[0] = v
"""


def outcome_and_arrays(func: object, args: list[object]) -> tuple[object, list[str], list[object]]:
    """The call's outcome, the warnings it emitted, and every array argument afterwards."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = call(func, *args)
    after = [(a.dtype.str, a.shape, a.tobytes()) if isinstance(a, np.ndarray) else None for a in args]
    return outcome, [f"{w.category.__name__}: {w.message}" for w in caught], after


def assert_same_store(fname: str, *args: object, want_native: bool = True, src: str = SRC) -> None:
    """Same outcome and warnings, and every array argument ends with the same bytes as under CPython."""
    fast, ref = modules(src)
    fresh = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # noqa: E731
    ref_args, fast_args = fresh(), fresh()
    for copied, original in zip(fast_args, args, strict=True):
        if isinstance(original, np.ndarray) and not original.flags.writeable:
            copied.flags.writeable = False
    for copied, original in zip(ref_args, args, strict=True):
        if isinstance(original, np.ndarray) and not original.flags.writeable:
            copied.flags.writeable = False
    want, want_warnings, want_arrays = outcome_and_arrays(getattr(ref, fname), ref_args)
    got, got_warnings, got_arrays = outcome_and_arrays(getattr(fast, fname), fast_args)
    assert same_outcome(got, want), f"{fname}{args!r}: fastimport {got.describe()}, CPython {want.describe()}"
    assert got_warnings == want_warnings, f"{fname}{args!r}: warnings {got_warnings} != {want_warnings}"
    assert got_arrays == want_arrays, f"{fname}{args!r}: arrays {fast_args} != {ref_args}"
    if want_native:
        assert_native(fast, fname)


# --- casting on store ----------------------------------------------------------------------

VALUE_TYPES = [*sorted(NP_TYPES), *sorted(PY_TYPES)]


@pytest.mark.parametrize("vtype", VALUE_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_store_casts_like_numpy(dtype: str, vtype: str, data: st.DataObject) -> None:
    """`a[i] = v` for every dtype and value type: NumPy's stored value, exception or warning."""
    src = SRC + f"# cast {dtype} {vtype}\n"
    a = np.zeros(3, dtype=NP_TYPES[dtype])
    assert_same_store("put", a, 1, typical(vtype), src=src, want_native=False)
    assert_same_store("put", a, -1, data.draw(values_of(vtype)), src=src, want_native=False)
    fast, _ = modules(src)
    assert record_of(fast.put).native_calls > 0


def test_store_casts_edges() -> None:
    """The values where NumPy's assignment raises, warns or wraps, each against CPython."""
    edges = [3.7, -3.7, -0.5, 255.9, 1e30, float("nan"), float("inf"), -0.0, 300, -1, 2**40, True,
             np.float64(-1.0), np.float64(1e30), np.float64(np.nan), np.int64(300), np.int64(-1),
             np.float32(1e30), np.uint64(2**63 - 1), np.int8(-1), np.uint32(4_000_000_000), 1e300,
             np.float64(-1e300), 3.4028235677973366e38]  # fmt: skip
    for dtype in DTYPES:
        src = SRC + f"# edges {dtype}\n"
        a = np.zeros(3, dtype=NP_TYPES[dtype])
        for v in edges:
            assert_same_store("put", a, 0, v, src=src, want_native=False)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), i=st.integers(-4, 4), j=st.integers(-3, 3))
def test_store_2d_indices_and_bounds(data: st.DataObject, i: int, j: int) -> None:
    """a[i, j] = v and a[i][j] = ... with negative and out-of-range indices, in every layout."""
    for dtype in ("float64", "int16", "uint8", "bool"):
        src = SRC + f"# 2d {dtype}\n"
        base = array_of(dtype, (3, 2), data)
        value = data.draw(values_of(dtype))
        for arr in layouts(base):
            assert_same_store("put2", arr, i, j, value, src=src, want_native=False)


# --- loops that store ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=20, deadline=None)
@given(data=st.data(), n=st.integers(0, 6), m=st.integers(1, 4))
def test_store_loops_in_every_layout(dtype: str, data: st.DataObject, n: int, m: int) -> None:
    """Augmented stores over 1-D and 2-D arrays, through views too; NumPy's wrapping and warnings."""
    src = SRC + f"# loops {dtype}\n"
    one = array_of(dtype, (n,), data)
    two = array_of(dtype, (n, m), data)
    k = data.draw(st.sampled_from([typical(dtype), 2, 3.5, True]))
    for arr in layouts(one):
        assert_same_store("bump", arr, k, src=src, want_native=False)
    for arr in layouts(two):
        assert_same_store("bump2", arr, k, src=src, want_native=False)
    # Every call above may deopt (int32 max + 2 warns in NumPy): a call that cannot, natively.
    assert_same_store("bump", np.ones(4, dtype=NP_TYPES[dtype]), True, src=src, want_native=False)
    fast, _ = modules(src)
    assert record_of(fast.bump).native_calls > 0


def test_stores_through_aliases_and_views() -> None:
    """Reads see earlier stores when two arguments are one array, or overlap."""
    a = np.arange(8.0)
    assert_same_store("prefix", a, a.copy())
    assert_same_store("scale_into", a, np.zeros(8), 3.0)
    fast, ref = modules(SRC)
    x, y = np.arange(8.0), np.arange(8.0)
    fast.prefix(x, x)
    ref.prefix(y, y)
    np.testing.assert_array_equal(x, y)
    x, y = np.arange(10.0), np.arange(10.0)
    fast.scale_into(x[1:], x[:-1], 2.0)  # overlapping views of one buffer
    ref.scale_into(y[1:], y[:-1], 2.0)
    np.testing.assert_array_equal(x, y)
    assert_same_store("chain", np.zeros(2), np.zeros(2), 5)


# --- leaving native code after a store: the undo log ------------------------------------------


def test_index_error_after_stores_leaves_cpythons_state() -> None:
    """The bytecode re-run starts from the caller's array, so each element is bumped once, as in CPython."""
    a = np.arange(5, dtype=np.int64)
    assert_same_store("bump_then_index", a, 3)
    assert_same_store("bump_then_index", a, 9)  # IndexError at i == 5, after five stores
    fast, _ = modules(SRC)
    assert record_of(fast.bump_then_index).deopts >= 1


def test_int_overflow_after_stores_leaves_cpythons_state() -> None:
    """A Python int outgrows 64 bits after stores: the call re-runs as bytecode from the caller's state."""
    assert_same_store("store_then_overflow", np.full(3, -1, dtype=np.int32), 3)
    assert_same_store("store_then_overflow", np.full(9, -1, dtype=np.int32), 3)  # 3**256 overflows


def test_numpy_warning_after_stores_is_emitted_once() -> None:
    """A division by zero after stores warns once (the native run's stores are undone, NumPy warns)."""
    assert_same_store("store_then_warn", np.zeros(4), 2.0)
    assert_same_store("store_then_warn", np.zeros(4), np.float64(0.0))
    with np.errstate(divide="raise"):
        assert_same_store("store_then_warn", np.zeros(4), np.float64(0.0))


def test_stores_in_a_native_callee_are_undone_too() -> None:
    """A compiled helper stores; its caller then fails: the helper's stores are rolled back as well."""
    a = np.zeros(4, dtype=np.int64)
    assert_same_store("calls_setter", a, 2)
    assert_same_store("calls_setter", a, 4)  # IndexError in the caller, after four stores by the callee
    fast, _ = modules(SRC)
    assert record_of(fast.set_one).status in ("native", "bytecode")


def test_large_undo_logs_grow() -> None:
    """Far more stores than the log's first buffer holds, then a deopt: everything is put back."""
    a = np.arange(100_000, dtype=np.float64)
    assert_same_store("bump_then_index", a, 50_000)
    assert_same_store("bump_then_index", a, 100_001)


# --- read-only arrays ---------------------------------------------------------------------------


def test_read_only_arrays_raise_numpys_error() -> None:
    """Storing into a read-only array raises NumPy's ValueError and changes nothing."""
    a = np.arange(4.0)
    assert_same_store("bump", a, 1.0)
    ro = np.arange(4.0)
    ro.flags.writeable = False
    assert_same_store("bump", ro, 1.0, want_native=False)
    fast, _ = modules(SRC)
    rejected = record_of(fast.bump).rejected
    assert any("(read-only)" in r and "storing into a read-only array" in r for r in rejected), rejected
    assert_same_store("scale_into", ro, np.zeros(4), 2.0)  # reading a read-only array is fine, natively


UNION_STORES = """
import numpy as np

def accumulate_rows(m):
    n, k = m.shape
    out = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(k):
            s += m[i, j]
        out[i] = s
    return out

def maybe_int(a, flag):
    for i in range(len(a)):
        v = 1
        if flag:
            v = 2.5
        a[i] = v
    return a
"""


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8, np.bool_])
def test_store_a_union_value(dtype: type) -> None:
    """A value whose type is known only at run time (`float|float64`, `int|float`) is cast as NumPy casts it."""
    m = (np.arange(12.0).reshape(3, 4) * 1.25).astype(dtype)
    fast, ref = modules(UNION_STORES)
    got, want = fast.accumulate_rows(m), ref.accumulate_rows(m)
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()
    for flag in (False, True):
        a, b = np.zeros(4, dtype), np.zeros(4, dtype)
        got, want = call(fast.maybe_int, a, flag), call(ref.maybe_int, b, flag)
        assert same_outcome(got, want), (got.describe(), want.describe())
        assert a.tobytes() == b.tobytes()
    assert record_of(fast.accumulate_rows).status == "native", record_of(fast.accumulate_rows).reason
