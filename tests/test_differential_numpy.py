"""NumPy scalars and ndarray arguments: fastimport against CPython, warnings included.

NumPy scalar arithmetic must give NumPy's types and values, and warn (or raise, under
np.errstate) exactly when NumPy does: compiled code re-runs such calls as bytecode, so
the comparison here includes the warnings each call emits. Arrays are read through
every layout (C, strided, Fortran order), shape and dtype; indexing errors must be
NumPy's own.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_native, modules, same_outcome
from tests.numpy_values import (
    DTYPES,
    NP_TYPES,
    array_of,
    layouts,
    outcome_with_warnings,
    typical,
    values_of,
)
from tests.strategies import floats

from fastimport.frontend.types import Array, Ty, Union
from fastimport.testing import record_of

SETTINGS = settings(max_examples=60, deadline=None)


def assert_same_np(src: str, fname: str, *args: object, want_native: bool = True) -> None:
    """Same value and type, same exception, same warnings; the arguments are left as they were."""
    fast, ref = modules(src)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want, want_warnings = outcome_with_warnings(getattr(ref, fname), *args)
    got, got_warnings = outcome_with_warnings(getattr(fast, fname), *args)
    assert same_outcome(got, want), f"{fname}{args!r}: fastimport {got.describe()}, CPython {want.describe()}"
    assert got_warnings == want_warnings, f"{fname}{args!r}: warnings {got_warnings} != {want_warnings}"
    for before, after in zip(copies, args, strict=True):
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(before, after)
    if want_native:
        assert_native(fast, fname)


# --- NumPy scalar arithmetic ---------------------------------------------------------------

# Pairs where at least one operand is a NumPy scalar, chosen to cover every promotion rule:
# same type, weak Python operand, widening, int/float mixing, unsigned/signed, bool.
PAIRS = [
    ("float64", "float64"), ("float64", "float"), ("float", "float64"), ("float64", "int"),
    ("int", "float64"), ("float64", "int64"), ("float32", "float32"), ("float32", "float"),
    ("float32", "float64"), ("float32", "int16"), ("int64", "int64"), ("int64", "int"),
    ("int", "int64"), ("int32", "int32"), ("int32", "int"), ("int8", "int8"), ("int8", "int"),
    ("uint8", "uint8"), ("uint8", "int8"), ("uint16", "int"), ("uint32", "uint32"),
    ("uint64", "uint64"), ("int64", "float"), ("int32", "float32"), ("bool", "bool"),
    ("bool", "int64"), ("float64", "bool"), ("pybool", "float64"), ("int16", "pybool"),
]  # fmt: skip
ARITH = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod", "**": "pow"}
COMPARE = {"<": "lt", "<=": "le", "==": "eq", "!=": "ne", ">": "gt", ">=": "ge"}


def _pair_ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{a}-{b}" for a, b in pairs]


def _compiles(src: str, fname: str, a: object, b: object) -> bool:
    """Whether fastimport compiles this operation (NumPy raising TypeError, int ** int...: bytecode)."""
    fast, _ = modules(src)
    outcome_with_warnings(getattr(fast, fname), a, b)
    return record_of(getattr(fast, fname)).status == "native"


@pytest.mark.parametrize(("ta", "tb"), PAIRS, ids=_pair_ids(PAIRS))
@pytest.mark.parametrize("op", list(ARITH))
@SETTINGS
@given(data=st.data())
def test_numpy_scalar_arith(op: str, ta: str, tb: str, data: st.DataObject) -> None:
    """`a op b` with NumPy scalars: NumPy's result type, value and warnings."""
    name = f"{ARITH[op]}_{ta}_{tb}"
    src = f"def {name}(a, b):\n    return a {op} b\n"
    native_expected = _compiles(src, name, typical(ta), typical(tb))
    a, b = data.draw(values_of(ta)), data.draw(values_of(tb))
    assert_same_np(src, name, a, b, want_native=native_expected)


def test_numpy_scalar_arith_mostly_native() -> None:
    """The arithmetic above really is compiled: everything but integer ** and NumPy's TypeErrors."""
    bytecode = []
    for op, kind in ARITH.items():
        for ta, tb in PAIRS:
            name = f"{kind}_{ta}_{tb}"
            if not _compiles(f"def {name}(a, b):\n    return a {op} b\n", name, typical(ta), typical(tb)):
                bytecode.append(name)
    allowed = {f"pow_{a}_{b}" for a, b in PAIRS} | {"sub_bool_bool"}
    allowed |= {f"{k}_float32_{b}" for k in ("floordiv", "mod") for b in ("float", "float32", "int16")}
    allowed |= {f"{k}_int32_float32" for k in ("floordiv", "mod")} - {f"{k}_int32_float32" for k in ("mod",)}
    assert set(bytecode) <= allowed, sorted(set(bytecode) - allowed)
    assert "add_float64_float64" not in bytecode


# Comparisons also meet integers of mixed signedness, which NumPy 2 compares by value even
# where the common type is float64 (int64 against uint64).
COMPARE_PAIRS = [*PAIRS, ("int64", "uint64"), ("uint64", "int64"), ("uint64", "int"), ("int32", "uint32")]


@pytest.mark.parametrize(("ta", "tb"), COMPARE_PAIRS, ids=_pair_ids(COMPARE_PAIRS))
@pytest.mark.parametrize("op", list(COMPARE))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_numpy_scalar_compare(op: str, ta: str, tb: str, data: st.DataObject) -> None:
    """Comparisons give numpy.bool, with NumPy's conversions."""
    name = f"cmp_{COMPARE[op]}_{ta}_{tb}"
    src = f"def {name}(a, b):\n    return a {op} b\n"
    a, b = data.draw(values_of(ta)), data.draw(values_of(tb))
    assert_same_np(src, name, typical(ta), typical(tb))
    assert_same_np(src, name, a, b)


UNARY_SRC = """
def neg(a):
    return -a
def pos(a):
    return +a
def inv(a):
    return ~a
def absolute(a):
    return abs(a)
def to_int(a):
    return int(a)
def to_float(a):
    return float(a)
def truth(a):
    return 1 if a else 0
def negate(a):
    return not a
"""


@pytest.mark.parametrize("ta", sorted(NP_TYPES))
@pytest.mark.parametrize("fname", ["neg", "pos", "inv", "absolute", "to_int", "to_float", "truth", "negate"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_numpy_scalar_unary(fname: str, ta: str, data: st.DataObject) -> None:
    """Unary operators and conversions of NumPy scalars."""
    src = UNARY_SRC + f"# {ta}\n"  # one module per type: the first call picks the specialization
    fast, _ = modules(src)
    outcome_with_warnings(getattr(fast, fname), typical(ta))
    native_expected = record_of(getattr(fast, fname)).status == "native"
    assert_same_np(src, fname, data.draw(values_of(ta)), want_native=native_expected)


def test_numpy_mixed_signedness_compares_by_value() -> None:
    """int64(2**53 + 1) == uint64(2**53) is False in NumPy: no rounding through float64."""
    src = "def eq(a, b):\n    return a == b\ndef gt(a, b):\n    return a > b\n"
    for fname in ("eq", "gt"):
        assert_same_np(src, fname, np.int64(2**53 + 1), np.uint64(2**53))
        assert_same_np(src, fname, np.uint64(2**63 - 1), np.int64(2**63 - 2))


def test_numpy_int64_min_divided_by_minus_one() -> None:
    """int64 min // -1 wraps with a warning in NumPy; % -1 is 0."""
    src = "def fdiv(a, b):\n    return a // b\ndef fmod(a, b):\n    return a % b\n"
    for fname in ("fdiv", "fmod"):
        assert_same_np(src, fname, np.int64(7), np.int64(2))
        assert_same_np(src, fname, np.int64(-(2**63)), np.int64(-1))
        assert_same_np(src, fname, np.int64(-(2**63)), -1)
        assert_same_np(src, fname, np.int32(5), np.int32(0))


MIXED_SRC = """
import math

def smallest(a, x):
    best = x
    for i in range(len(a)):
        best = min(best, a[i])
    return best

def largest(a, x):
    return max(a[0], x, a[-1])

def first_true(a, x):
    return a[0] or x

def norm(a):
    s = 0.0
    for v in a:
        s += v * v
    return math.sqrt(s)

def rounded(a):
    return round(a[0]) + int(a[-1])

def helper(a, i):
    return a[i] * 2

def calls_helper(a):
    t = 0.0
    for i in range(a.shape[0]):
        t += helper(a, i)
    return t
"""


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(floats(), min_size=1, max_size=6),
    x=st.one_of(floats(), st.integers(-5, 5)),
)
def test_numpy_scalars_meet_python_builtins(values: list[float], x: float) -> None:
    """min/max keep the first extreme (nan included), `or` returns an operand, math.sqrt gives a float."""
    a = np.array(values)
    assert_same_np(MIXED_SRC, "smallest", a, x, want_native=False)
    assert_same_np(MIXED_SRC, "largest", a, x, want_native=False)
    assert_same_np(MIXED_SRC, "first_true", a, x, want_native=False)
    assert_same_np(MIXED_SRC, "norm", a, want_native=False)
    assert_same_np(MIXED_SRC, "rounded", a, want_native=False)
    fast, _ = modules(MIXED_SRC)
    for fname in ("smallest", "largest", "first_true", "norm", "rounded"):
        assert record_of(getattr(fast, fname)).native_calls > 0, fname


def test_arrays_passed_to_compiled_helpers() -> None:
    """An array argument goes on natively to another compiled function of the module."""
    fast, _ = modules(MIXED_SRC)
    a = np.arange(5.0)
    assert_same_np(MIXED_SRC, "calls_helper", a)
    assert_same_np(MIXED_SRC, "calls_helper", np.arange(6, dtype=np.int8))
    assert any("called from native code" in s for s in record_of(fast.helper).signatures)


def test_numpy_float_overflow_warns_and_errstate_raises() -> None:
    """An overflow to inf warns like NumPy, and np.errstate(over='raise') raises like NumPy."""
    src = "def mul(a, b):\n    return a * b\n"
    assert_same_np(src, "mul", np.float64(2.0), np.float64(3.0))
    assert_same_np(src, "mul", np.float64(1e308), np.float64(10.0))
    with np.errstate(over="raise"):
        assert_same_np(src, "mul", np.float64(1e308), np.float64(10.0))
    with np.errstate(all="ignore"):
        assert_same_np(src, "mul", np.float64(1e308), np.float64(10.0))
    assert_same_np(src, "mul", np.int64(2**62), np.int64(4))  # int64 wraps, with a warning


# --- arrays ------------------------------------------------------------------------------

ARRAY_SRC = """
def total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s

def total_each(a):
    s = 0
    for x in a:
        s = s + x
    return s

def total2(a):
    n, m = a.shape
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += a[i, j] * 2
    return s

def chained(a):
    s = 0.0
    for i in range(len(a)):
        row = a[i]
        for j in range(a.shape[1]):
            s += row[j] - a[i][j - 1]
    return s

def total3(a):
    s = 0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[-1]):
                s += a[i, j, k]
    return s

def props(a):
    return a.ndim * 1000000 + a.size * 1000 + len(a)

def at(a, i):
    return a[i]

def at2(a, i, j):
    return a[i, j]

def count_positive(a):
    c = 0
    for x in a:
        if x > 0:
            c += 1
    return c
"""


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), n=st.integers(0, 7), m=st.integers(1, 5))
def test_array_reductions(dtype: str, data: st.DataObject, n: int, m: int) -> None:
    """Loops over 1-D, 2-D and 3-D arrays of every dtype, in every layout, give CPython's result."""
    src = ARRAY_SRC + f"# {dtype}\n"
    one = array_of(dtype, (n,), data)
    two = array_of(dtype, (n, m), data)
    three = array_of(dtype, (2, n, m), data)
    for arr in layouts(one):
        assert_same_np(src, "total", arr, want_native=False)
        assert_same_np(src, "total_each", arr, want_native=False)
        assert_same_np(src, "count_positive", arr, want_native=False)
        assert_same_np(src, "props", arr, want_native=False)
    for arr in layouts(two):
        assert_same_np(src, "total2", arr, want_native=False)
        assert_same_np(src, "chained", arr, want_native=False)
        assert_same_np(src, "props", arr, want_native=False)
    for arr in layouts(three):
        assert_same_np(src, "total3", arr, want_native=False)
    fast, _ = modules(src)
    compiled = ["total", "total_each", "total2", "total3", "props", "count_positive"]
    if dtype != "bool":  # bool - bool raises TypeError in NumPy: `chained` stays bytecode
        compiled.append("chained")
    for fname in compiled:
        assert record_of(getattr(fast, fname)).native_calls > 0, fname


@pytest.mark.parametrize("dtype", ["float64", "int32", "uint8", "bool"])
@settings(max_examples=40, deadline=None)
@given(data=st.data(), i=st.integers(-9, 9), j=st.integers(-5, 5))
def test_array_indexing_and_bounds(dtype: str, data: st.DataObject, i: int, j: int) -> None:
    """a[i] and a[i, j] with negative and out-of-range indices: NumPy's values and IndexErrors."""
    src = ARRAY_SRC + f"# index {dtype}\n"
    one = array_of(dtype, (6,), data)
    two = array_of(dtype, (6, 3), data)
    assert_same_np(src, "at", one, 0)
    assert_same_np(src, "at2", two, 0, 0)
    for arr in layouts(one):
        assert_same_np(src, "at", arr, i, want_native=False)
        assert_same_np(src, "at", arr, np.int32(i), want_native=False)
    for arr in layouts(two):
        assert_same_np(src, "at2", arr, i, j, want_native=False)


def test_array_guards_specialize_and_fall_back() -> None:
    """Another dtype, ndim or layout gets its own specialization; what cannot be compiled runs as bytecode."""
    src = ARRAY_SRC + "# guards\n"
    fast, _ = modules(src)
    a = np.arange(10.0)
    assert_same_np(src, "total", a)
    assert_same_np(src, "total", np.arange(10, dtype=np.int32))
    assert_same_np(src, "total", a[::3])
    assert_same_np(src, "total", a.astype(">f8"))  # non-native byte order: bytecode, same result
    rows = np.arange(6.0).reshape(2, 3)  # a[i] is a row: `return a[i]` returns a view, not compiled
    row = fast.at(rows, 1)
    np.testing.assert_array_equal(row, rows[1])
    assert np.shares_memory(row, rows)
    rec = record_of(fast.at)
    assert rec.status == "bytecode", rec
    assert "returning a view" in rec.reason, rec.reason
    assert_same_np(src, "total", [1.0, 2.0])  # a list: bytecode
    sigs = record_of(fast.total).signatures
    assert any("float64[:]" in s for s in sigs), sigs
    assert any("int32[:]" in s for s in sigs), sigs
    assert any("strided" in s for s in sigs), sigs


def test_numpy_scalar_union_accumulator() -> None:
    """`s = 0.0; s += a[i]` holds a float, then a numpy.float64: a Union, boxed as the right type."""
    src = ARRAY_SRC + "# union\n"
    fast, _ = modules(src)
    assert_same_np(src, "total", np.arange(5.0))
    assert_same_np(src, "total", np.zeros(0))  # the loop never runs: a Python float comes back
    assert type(fast.total(np.zeros(0))) is float
    assert type(fast.total(np.ones(3))) is np.float64


TREES = """
def tree(a):
    return (a[0] * a[1] + a[2]) - a[3] * a[4]

def stencil_like(a, out):
    for i in range(1, len(a) - 1):
        out[i] = 0.25 * (a[i - 1] + a[i + 1] + a[i] + a[i])
    return out

def tree32(a):
    return a[0] * a[1] - (a[2] + a[3]) * a[4]
"""

_TREE_EDGES = [0.0, -0.0, 1.0, -2.5, 1e200, -1e200, 1e-300, float("inf"), float("-inf"), float("nan"), 3.0e38, -3.0e38]


@given(st.lists(st.sampled_from(_TREE_EDGES) | st.floats(), min_size=5, max_size=5))
@settings(max_examples=300, deadline=None)
def test_float_trees_warn_like_numpy(values: list) -> None:
    """A `+ - *` tree is tested for NumPy's warnings at its root only; what warns, and how often, is NumPy's.

    An overflow hidden under a nan from another leaf (`1e200 * 1e200 + nan`) still warns.
    """
    fast, ref = modules(TREES)
    for dtype, fname in ((np.float64, "tree"), (np.float32, "tree32")):
        a = np.array(values, dtype=dtype) if dtype is np.float64 else np.array(values).astype(dtype)
        got = outcome_with_warnings(getattr(fast, fname), a)
        want = outcome_with_warnings(getattr(ref, fname), a)
        assert same_outcome(got[0], want[0]), (fname, values, got[0].describe(), want[0].describe())
        assert got[1] == want[1], (fname, values, got[1], want[1])
    a = np.array(values * 3)
    got = outcome_with_warnings(fast.stencil_like, a, np.zeros_like(a))
    want = outcome_with_warnings(ref.stencil_like, a, np.zeros_like(a))
    assert same_outcome(got[0], want[0]), (values, got[0].describe(), want[0].describe())
    assert got[1] == want[1], (values, got[1], want[1])


def test_float_trees_are_native() -> None:
    """The trees above run natively (so the test above exercises the deferred checks)."""
    fast, _ = modules(TREES)
    fast.tree(np.arange(5.0))
    fast.tree32(np.arange(5.0, dtype=np.float32))
    fast.stencil_like(np.arange(9.0), np.zeros(9))
    for fname in ("tree", "tree32", "stencil_like"):
        assert record_of(getattr(fast, fname)).status == "native", record_of(getattr(fast, fname)).reason


SHAPES = """
def get(a, k):
    return a[k]

def total(a):
    s = 0
    for x in a:
        s += x
    return s
"""


def test_shapes_with_unions_keep_their_own_entry_code() -> None:
    """`(int64[:], int) -> int64` and `(int64[:]) -> int|int64` share no entry code (their names once did).

    The second compiled used to find the first's code under the same symbol, whose guard wants two
    arguments: every call missed, and the function ran as bytecode for good.
    """
    from fastimport.backend.entry import Shape

    i64 = Array(Ty.I64, 1)
    assert Shape((i64, Ty.INT), Ty.I64).name != Shape((i64,), Union((Ty.INT, Ty.I64))).name
    src = SHAPES
    fast, _ = modules(src)
    a = np.arange(10, dtype=np.int64)
    for _ in range(2):
        assert_same_np(src, "get", a, 3)
        assert_same_np(src, "total", a)
    assert record_of(fast.get).native_calls > 0
    assert record_of(fast.total).native_calls > 0
    assert record_of(fast.total).deopts == 0
