"""Small loop-free helpers are copied into their callers' IR (frontend/inline.py): same results as CPython.

The copy must behave exactly as the call did: its own locals at each call site, the
helper's exceptions and overflows (the whole call re-runs as bytecode), globals read at
call time, stores into the caller's arrays rolled back on a deopt. Helpers that keep a
run-time "bound" flag (a local that may be read unbound) are not copied.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, call, modules, native, same_outcome, warm_up
from tests.strategies import floats, ints

from fastimport.compiler import front_end
from fastimport.frontend.ir import Call
from fastimport.frontend.types import Array, Ty
from fastimport.runtime.dispatch import state_of
from fastimport.testing import record_of

SRC = """
import numpy as np

SCALE = 3

def weight(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)

def rowsum(v, i):
    s = 0.0
    for j in range(len(v)):
        s += weight(i, j) * v[j]
    return s

def sign(x):
    if x < 0:
        return -1
    elif x > 0:
        return 1.5
    return 0

def signs(a):
    total = 0
    for i in range(len(a)):
        total = total + sign(a[i]) + sign(-a[i])
    return total

def sq(x):
    return x * x

def sumsq(a):
    s = 0
    for i in range(len(a)):
        s += sq(a[i]) + sq(i)
    return s

def scaled(x):
    return x * SCALE

def scale_all(a):
    s = 0
    for i in range(len(a)):
        s += scaled(a[i])
    return s

def ratio(x, y):
    return x // y

def ratios(a, d):
    s = 0
    for i in range(len(a)):
        s += ratio(a[i], d)
    return s

def put(a, i, v):
    a[i] = v

def fill_then_fail(a, k):
    for i in range(len(a)):
        put(a, i, i * 1.5)
    return a[k]

def inner(x):
    return x + 1

def outer(x):
    return inner(x) * inner(x + 1)

def nested(n):
    s = 0
    for i in range(n):
        s += outer(i)
    return s

def maybe_unbound(x):
    if x > 0:
        y = x
    return y

def unbound_in_loop(n):
    s = 0
    for i in range(n, -3, -1):
        s += maybe_unbound(i)
    return s

def offset(x, k=2):
    return x + k

def with_default(n):
    s = 0
    for i in range(n):
        s += offset(i) + offset(i, 10)
    return s
"""


def _same_on_copies(fname: str, *args: object) -> None:
    """Value, type, exception and the arguments afterwards all as under CPython."""
    fast, ref = modules(SRC)
    fast_args, ref_args = copy.deepcopy(args), copy.deepcopy(args)
    with warnings.catch_warnings(record=True) as fast_warnings:
        warnings.simplefilter("always")
        got = call(getattr(fast, fname), *fast_args)
    with warnings.catch_warnings(record=True) as ref_warnings:
        warnings.simplefilter("always")
        want = call(getattr(ref, fname), *ref_args)
    assert same_outcome(got, want), (fname, got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args), (fname, fast_args, ref_args)
    assert [str(w.message) for w in fast_warnings] == [str(w.message) for w in ref_warnings]


def _root_ir(fname: str, *args: object) -> object:
    """The root specialization of `fname` for `args` (called once first, which may raise)."""
    fast = native(SRC)
    call(getattr(fast, fname), *args)
    state = state_of(getattr(fast, fname))
    arg_types = tuple(Array(Ty.F64, 1) if isinstance(a, np.ndarray) and a.dtype == np.float64 else
                      Array(Ty.I64, 1) if isinstance(a, np.ndarray) else Ty.INT for a in args)  # fmt: skip
    _specs, root = front_end(state, getattr(fast, fname), arg_types)  # type: ignore[arg-type]
    return root


def test_helpers_without_loops_are_copied_into_the_loop() -> None:
    """The IR of rowsum calls nothing: weight is copied into its loop (and versioned with it)."""
    root = _root_ir("rowsum", np.ones(4), 1)
    assert not any(isinstance(op, Call) for op in root.ir.all_ops())
    assert any(local.startswith("$inline") for local in root.ir.locals)


def test_recursive_and_looping_helpers_stay_calls() -> None:
    """A helper with a loop of its own (rowsum) and a possibly unbound local stay calls."""
    src = SRC + "\ndef uses_rowsum(v):\n    return rowsum(v, 0) + rowsum(v, 1)\n"
    fast, _ = modules(src)
    fast.uses_rowsum(np.ones(3))
    _specs, root = front_end(state_of(fast.uses_rowsum), fast.uses_rowsum, (Array(Ty.F64, 1),))
    assert [op.callee for op in root.ir.all_ops() if isinstance(op, Call)] == ["rowsum", "rowsum"]
    root = _root_ir("unbound_in_loop", 3)
    assert [op.callee for op in root.ir.all_ops() if isinstance(op, Call)] == ["maybe_unbound"]


@pytest.mark.parametrize(
    ("fname", "args"),
    [
        ("rowsum", (np.linspace(0.5, 2.0, 50), 3)),
        ("rowsum", (np.array([1.0, np.inf, 2.0]), 0)),  # an event in the helper's product: rerun natively
        ("signs", (np.array([3.0, -2.0, 0.0, -0.0, np.nan]),)),  # int|float returns, per call site
        ("sumsq", (np.arange(-5, 6),)),
        ("sumsq", (np.array([2**40, 2**40]),)),  # np.int64 overflow in the helper: wraps with a warning
        ("scale_all", (np.arange(10),)),
        ("ratios", (np.arange(-7, 8), 3)),
        ("ratios", (np.arange(-7, 8), 0)),  # ZeroDivisionError inside the copy
        ("fill_then_fail", (np.zeros(5), 2)),
        ("fill_then_fail", (np.zeros(5), 7)),  # IndexError after the copies stored: rolled back, redone
        ("nested", (50,)),
        ("outer", (3_037_000_499,)),  # the product of two copies overflows int64: CPython's big int
        ("unbound_in_loop", (3,)),  # UnboundLocalError at i = 0, as in CPython
        ("with_default", (20,)),
    ],
)
def test_copied_helpers_like_cpython(fname: str, args: tuple) -> None:
    """Values, types, exceptions, warnings and arrays afterwards match CPython's."""
    _same_on_copies(fname, *args)


def test_callers_and_helpers_are_native() -> None:
    """The callers run native; the report still lists each copied helper's signature."""
    for fname, args in (("rowsum", (np.ones(3), 1)), ("nested", (10,)), ("with_default", (5,))):
        assert_same_native(SRC, fname, *args)
    fast = native(SRC)
    assert any("called from native code" in s for s in record_of(fast.weight).signatures)
    assert any("called from native code" in s for s in record_of(fast.inner).signatures)


def test_global_read_by_a_copy_is_read_at_call_time() -> None:
    """`scaled` reads SCALE; rebinding it between calls changes the caller's result, as in CPython."""
    fast, ref = modules(SRC)
    a = np.arange(6)
    warm_up(SRC, "scale_all", a)
    try:
        for m in (fast, ref):
            m.SCALE = 7
        assert_same(SRC, "scale_all", a)
        for m in (fast, ref):
            m.SCALE = 2.5  # another type: the caller's native code no longer fits
        assert_same(SRC, "scale_all", a)
    finally:
        for m in (fast, ref):
            m.SCALE = 3


@given(st.lists(ints(), min_size=0, max_size=6), ints())
@settings(max_examples=150, deadline=None)
def test_nested_copies_with_any_ints(values: list, d: int) -> None:
    """Two levels of copies and integer edges (overflow, negative floor division, zero)."""
    warm_up(SRC, "nested", 5)
    warm_up(SRC, "ratios", np.arange(3), 2)
    for v in values:
        if -(2**31) < v < 2**31:
            assert_same(SRC, "nested", abs(v) % 2000)
    arr = np.array([v for v in values if -(2**63) <= v < 2**63], dtype=np.int64)
    if -(2**63) <= d < 2**63:
        _same_on_copies("ratios", arr, d)


@given(st.lists(floats(), min_size=1, max_size=8), st.integers(0, 5))
@settings(max_examples=150, deadline=None)
def test_float_helper_in_versioned_loop(values: list, i: int) -> None:
    """nan, inf and -0.0 through a copied helper in a versioned float loop."""
    warm_up(SRC, "rowsum", np.ones(3), 1)
    _same_on_copies("rowsum", np.array(values), i)


def test_rebinding_a_copied_helper_is_seen() -> None:
    """A copied helper, or a helper of a copied helper, rebound to another function: CPython's results."""
    src = SRC + "# fresh modules: the helpers get rebound\n"
    fast, ref = modules(src)
    v = np.linspace(0.5, 2.0, 10)
    assert_same_native(src, "rowsum", v, 1)
    assert_same_native(src, "nested", 10)

    def other_weight(i: int, j: int) -> float:
        return i * 0.5 + j

    for m in (fast, ref):
        m.weight = other_weight
        m.inner = lambda x: x - 1
    assert_same(src, "rowsum", v, 1)
    assert_same(src, "nested", 10)
