"""NumPy functions, conversions, dtype queries and whole-array expressions: fastimport against CPython.

Every case compares the value and its exact type (floats bit for bit), the exception, and
the warnings each call emits, under the default error state and under np.errstate: compiled
code computes exact ufuncs and conversions natively and calls NumPy for the rest, and
wherever NumPy would warn or raise the call re-runs as bytecode, so NumPy warns once.
"""

from __future__ import annotations

import gc
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_native, call, modules, same_outcome
from tests.numpy_values import NP_TYPES, array_of, outcome_with_warnings, typical, values_of

from fastimport.testing import record_of

SETTINGS = settings(max_examples=40, deadline=None)
# For the wide matrices (ufunc x type, conversion x type): fewer draws each, edges mixed in.
WIDE = settings(max_examples=12, deadline=None)

UNARY = [
    # computed natively (exact)
    "sqrt", "floor", "ceil", "trunc", "rint", "fabs", "absolute", "negative", "positive",
    "square", "reciprocal", "sign", "isnan", "isinf", "isfinite", "signbit",
    # called through NumPy (its SIMD implementations are not libm's)
    "exp", "log", "log2", "log10", "expm1", "log1p", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "cbrt", "exp2", "deg2rad",
]  # fmt: skip
BINARY = ["minimum", "maximum", "fmin", "fmax", "copysign", "arctan2", "hypot", "power", "add", "floor_divide"]
SCALAR_TYPES = ["float", "int", "pybool", "float64", "float32", "int64", "int32", "int8", "uint8", "uint64"]
CONVERSIONS = ["float64", "float32", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8", "bool_"]

SRC_UNARY = "import numpy as np\n" + "".join(f"def f_{n}(x):\n    return np.{n}(x)\n" for n in UNARY)
SRC_BINARY = "import numpy as np\n" + "".join(f"def f_{n}(x, y):\n    return np.{n}(x, y)\n" for n in BINARY)
SRC_CONVERT = "import numpy as np\n" + "".join(f"def to_{n}(x):\n    return np.{n}(x)\n" for n in CONVERSIONS)

# Edges every scalar strategy is mixed with.
FLOAT_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5, float("nan"), float("inf"), float("-inf"), 1e300, -1e300,
               5e-324, 1e-310, 709.8, 710.0, -745.2, 1e10, 2.0**63, -(2.0**63), 127.5, 255.9, -128.9]  # fmt: skip


def _values(name: str) -> st.SearchStrategy:
    if name in ("float", "float64", "float32"):
        edges = st.sampled_from(FLOAT_EDGES).map(NP_TYPES[name] if name != "float" else float)
        return st.one_of(edges, values_of(name))
    return values_of(name)


def _module_for(src: str, ty: str) -> str:
    """One module per argument type: each function then has one specialization per module."""
    return f"{src}# {ty}\n"


def assert_same_np(src: str, fname: str, *args: object, want_native: bool | None = True) -> None:
    """Same value and exact type, same exception, same warnings (want_native None: whatever it compiled to)."""
    fast, ref = modules(src)
    want, want_warnings = outcome_with_warnings(getattr(ref, fname), *args)
    got, got_warnings = outcome_with_warnings(getattr(fast, fname), *args)
    assert same_outcome(got, want), f"{fname}{args!r}: fastimport {got.describe()}, CPython {want.describe()}"
    assert got_warnings == want_warnings, f"{fname}{args!r}: warnings {got_warnings} != {want_warnings}"
    if want_native:
        assert_native(fast, fname)


def _compiles(src: str, fname: str, *args: object) -> bool:
    """Call once with ordinary values; whether the function went native (float16 results stay bytecode)."""
    fast, ref = modules(src)
    outcome_with_warnings(getattr(ref, fname), *args)
    outcome_with_warnings(getattr(fast, fname), *args)
    return record_of(getattr(fast, fname)).status == "native"


# --- ufuncs on scalars ---------------------------------------------------------------------------


@pytest.mark.parametrize("ty", SCALAR_TYPES)
@pytest.mark.parametrize("name", UNARY)
@WIDE
@given(data=st.data())
def test_unary_ufunc_matches_numpy(name: str, ty: str, data: st.DataObject) -> None:
    """np.<ufunc>(x): NumPy's result type and bits, its warnings (invalid, divide, overflow) exactly."""
    src = _module_for(SRC_UNARY, ty)
    fname = f"f_{name}"
    native = _compiles(src, fname, typical(ty))
    x = data.draw(_values(ty))
    assert_same_np(src, fname, x, want_native=native)


def test_unary_ufuncs_compile() -> None:
    """Every listed ufunc compiles for float64 and Python float arguments (the common case)."""
    for ty in ("float", "float64", "float32", "int"):
        src = _module_for(SRC_UNARY, ty)
        for name in UNARY:
            if name == "signbit" and ty == "int":
                continue  # NumPy: no integer loop, float64 via a cast it does not do for signbit
            assert _compiles(src, f"f_{name}", typical(ty)), (
                name,
                ty,
                record_of(getattr(modules(src)[0], f"f_{name}")),
            )


BINARY_PAIRS = [
    ("float", "float"), ("float64", "float64"), ("float32", "float32"), ("float64", "int"), ("int", "float"),
    ("int", "int"), ("int64", "int64"), ("int8", "int8"), ("uint8", "int"), ("float32", "float"),
    ("int32", "float32"), ("uint64", "int64"), ("pybool", "float64"),
]  # fmt: skip


@pytest.mark.parametrize(("ta", "tb"), BINARY_PAIRS, ids=[f"{a}-{b}" for a, b in BINARY_PAIRS])
@pytest.mark.parametrize("name", BINARY)
@WIDE
@given(data=st.data())
def test_binary_ufunc_matches_numpy(name: str, ta: str, tb: str, data: st.DataObject) -> None:
    """np.minimum/maximum/fmin/fmax (nan and signed-zero rules), arctan2, hypot, power...: NumPy's results."""
    src = _module_for(SRC_BINARY, f"{ta}-{tb}")
    fname = f"f_{name}"
    native = _compiles(src, fname, typical(ta), typical(tb))
    assert_same_np(src, fname, data.draw(_values(ta)), data.draw(_values(tb)), want_native=native)


@pytest.mark.parametrize(
    ("x", "y"),
    [(0.0, -0.0), (-0.0, 0.0), (float("nan"), 1.0), (1.0, float("nan")), (-0.0, -0.0), (np.float32(0), -0.0)],
)
@pytest.mark.parametrize("name", ["minimum", "maximum", "fmin", "fmax"])
def test_min_max_signed_zeros_and_nans(name: str, x: object, y: object) -> None:
    """Which zero or nan np.minimum & co. return is NumPy's (native code leaves the ±0 choice to NumPy)."""
    src = _module_for(SRC_BINARY, "zeros")
    assert_same_np(src, f"f_{name}", 1.0, 2.0)
    assert_same_np(src, f"f_{name}", x, y)


# --- conversions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ty", [*SCALAR_TYPES, "int16", "uint32", "bool"])
@pytest.mark.parametrize("target", CONVERSIONS)
@WIDE
@given(data=st.data())
def test_conversion_matches_numpy(target: str, ty: str, data: st.DataObject) -> None:
    """np.float64(x), np.int8(x), np.bool_(x)...: NumPy's value, OverflowError/ValueError and cast warnings."""
    src = _module_for(SRC_CONVERT, ty)
    fname = f"to_{target}"
    assert_same_np(src, fname, typical(ty))
    assert_same_np(src, fname, data.draw(_values(ty)))


@pytest.mark.parametrize(
    ("target", "x"),
    [
        ("int8", 300), ("int8", -129), ("uint8", -1), ("uint8", -1.5), ("uint8", -0.5), ("int64", float("nan")),
        ("int64", float("inf")), ("int64", 1e300), ("int32", np.float64(1e10)), ("int8", np.float64(300.5)),
        ("int8", np.int64(300)), ("uint8", np.int64(-1)), ("int16", np.uint16(65535)), ("float32", 1e300),
        ("float32", np.float64(-1e300)), ("float32", 2**60 + 2**36 + 1), ("float32", np.int64(2**60 + 2**36 + 1)),
        ("float64", 2**63 - 1), ("uint64", np.int64(-1)), ("uint64", 2**63 - 1), ("bool_", float("nan")),
        ("bool_", -0.0), ("int64", True), ("float32", np.float32(0.1)), ("int64", np.float64(-2.0**63)),
    ],
)  # fmt: skip
def test_conversion_edges(target: str, x: object) -> None:
    """Out of range, nan and inf, double rounding of a big Python int into float32: as NumPy does them."""
    src = _module_for(SRC_CONVERT, type(x).__name__)
    assert_same_np(src, f"to_{target}", typical(type(x).__name__ if type(x) is not bool else "pybool"))
    assert_same_np(src, f"to_{target}", x)


def test_big_python_int_meets_float32_through_a_double() -> None:
    """`np.float32(0) + n` for an int NumPy rounds twice (int -> double -> float32): the same bits."""
    src = "def add(x, n):\n    return x + n\n"
    n = 2**60 + 2**36 + 1
    assert_same_np(src, "add", np.float32(0), 3)
    assert_same_np(src, "add", np.float32(0), n)
    assert_same_np(src, "add", np.float32(1.5), -n)


# --- error state and warnings -------------------------------------------------------------------------

SRC_ERRORS = """
import numpy as np

def log_then_index(x, a):
    y = np.log(x)
    return y + a[3]

def sqrt_then_index(x, a):
    y = np.sqrt(x)
    return y + a[3]

def many(x):
    s = 0.0
    for k in range(5):
        s += np.exp(x * k) + np.sqrt(x - k)
    return s
"""


@pytest.mark.parametrize("mode", ["warn", "raise", "ignore", "print"])
@pytest.mark.parametrize("fname", ["log_then_index", "sqrt_then_index"])
@pytest.mark.parametrize("x", [0.0, -1.0, 2.0])
def test_errstate_is_honoured_and_warnings_come_once(mode: str, fname: str, x: float) -> None:
    """Under each np.errstate: NumPy's warning, error or silence, never twice (not even when an IndexError deopts)."""
    fast, ref = modules(SRC_ERRORS)
    short, long_ = np.arange(2.0), np.arange(5.0)
    for a in (long_, short):
        with np.errstate(all=mode):
            want, want_warnings = outcome_with_warnings(getattr(ref, fname), x, a)
            got, got_warnings = outcome_with_warnings(getattr(fast, fname), x, a)
        assert same_outcome(got, want), (got.describe(), want.describe())
        assert got_warnings == want_warnings
    assert_native(fast, fname)


def test_errstate_in_a_loop() -> None:
    """Overflow and invalid values inside a loop: the same warnings in the same order as CPython."""
    for x in (1.0, 200.0, 3.5, -1.0):
        for mode in ("warn", "raise"):
            with np.errstate(all=mode):
                assert_same_np(SRC_ERRORS, "many", x)


def test_changed_bufsize_goes_to_numpy() -> None:
    """A program that changed NumPy's buffer size: calls through NumPy deopt (the bytecode uses its buffer)."""
    fast, ref = modules(SRC_ERRORS + "# bufsize\n")
    assert_same_np(SRC_ERRORS + "# bufsize\n", "many", 2.0)
    old = np.getbufsize()
    try:
        np.setbufsize(old * 2)
        deopts = record_of(fast.many).deopts
        assert same_outcome(call(fast.many, 2.0), call(ref.many, 2.0))
        assert record_of(fast.many).deopts == deopts + 1
    finally:
        np.setbufsize(old)


# --- dtype queries ---------------------------------------------------------------------------------

SRC_DTYPE = """
import numpy as np
from numpy import float32

def is_f64(a):
    return a.dtype == np.float64

def not_i32(a):
    return a.dtype != np.int32

def same(a, b):
    return a.dtype == b.dtype

def kind(a):
    if a.dtype.kind == "f":
        return 1
    elif a.dtype.kind in "iu":
        return 2
    return 3

def size(a):
    return a.dtype.itemsize * len(a) + a.itemsize

def by_name(a):
    return a.dtype == np.dtype("float32") or a.dtype == "int16" or float32 == a.dtype

def among(a):
    return a.dtype in (np.float32, np.float64, float)

def scalar(x):
    return x.dtype == np.float64
"""


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "int16", "uint8", "bool"])
def test_dtype_queries_fold(dtype: str) -> None:
    """`a.dtype == np.float64`, `a.dtype.kind`, `a.dtype.itemsize`, `in` a tuple: CPython's answers, natively."""
    a = np.ones(3, dtype=dtype)
    b = np.ones(2, dtype="float64")
    for fname in ("is_f64", "not_i32", "kind", "size", "by_name", "among"):
        assert_same_np(SRC_DTYPE, fname, a)
    assert_same_np(SRC_DTYPE, "same", a, b)
    assert_same_np(SRC_DTYPE, "scalar", np.dtype(dtype).type(1))


def test_dtype_query_globals_are_guarded() -> None:
    """Rebinding np.float64 (or the module's float32) after compiling: the next call sees the new object."""
    src = SRC_DTYPE + "# rebind\n"
    fast, ref = modules(src)
    a = np.ones(3)
    assert_same_np(src, "is_f64", a)
    assert_same_np(src, "by_name", np.ones(3, np.float32))
    for m in (fast, ref):
        m.float32 = np.float64
    assert_same_np(src, "by_name", np.ones(3, np.float32), want_native=False)
    assert_same_np(src, "by_name", np.ones(3, np.float64), want_native=False)


def test_rebinding_numpy_functions_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """np.sqrt and np.exp monkeypatched after compiling: the patched functions run, as under CPython."""
    src = _module_for(SRC_UNARY, "patched")
    fast, _ = modules(src)
    assert fast.f_sqrt(4.0) == 2.0
    assert fast.f_exp(0.0) == 1.0
    assert_native(fast, "f_sqrt")
    monkeypatch.setattr(np, "sqrt", lambda x: f"patched sqrt of {x}")
    monkeypatch.setattr(np, "exp", lambda x: f"patched exp of {x}")
    assert fast.f_sqrt(4.0) == "patched sqrt of 4.0"
    assert fast.f_exp(0.0) == "patched exp of 0.0"
    monkeypatch.undo()
    assert fast.f_sqrt(9.0) == 3.0


# --- whole-array expressions -----------------------------------------------------------------------

SRC_ARRAYS = """
import numpy as np

def arith(a, b):
    return a + b * 2.0 - a / 3

def neg(a):
    return -a

def cmp(a):
    return a > 0.5

def logic(a, b):
    return (a > 0.5) & (b < 0.5) | ~(a == b)

def ufuncs(a):
    return np.sqrt(np.abs(a)) + np.exp(-a)

def reductions(a):
    return a.sum() + a.max() - a.min() + np.sum(a) + np.prod(a) * 0

def dot(a, b):
    return np.dot(a, b)

def int_ops(a, k):
    return a * k + a // 3

def axis_sum(m):
    return m.sum(axis=0) + np.max(m, 1).sum() + np.sum(m, axis=1).max()

def dot_axis(a):
    return np.dot(a, axis=0)

def scaled_into(a):
    b = a * 2.0
    for i in range(len(b)):
        b[i] += a[i]
    return b

def then_index(a, i):
    b = np.sqrt(a)
    b[0] = 99.0
    return b[i]

def mean_loop(a):
    s = 0.0
    for k in range(len(a)):
        s += np.sqrt(a[k]) + np.float32(a[k])
    return s

def count(a):
    return (a > 0).sum()

def copy_and_cumsum(a):
    c = a.copy()
    c[0] = 5
    return c.cumsum()

def power(a):
    return a ** 2 + abs(a)
"""


ONE_ARRAY = ["neg", "cmp", "ufuncs", "reductions", "count", "copy_and_cumsum", "power"]
TWO_ARRAYS = ["arith", "logic"]


def same_array_outcome(got: object, want: object) -> bool:
    """Both raised alike, or returned the same array (type, dtype, shape, C order, bytes) or value."""
    if isinstance(want.value, np.ndarray) and isinstance(got.value, np.ndarray):  # type: ignore[attr-defined]
        g, w = got.value, want.value  # type: ignore[attr-defined]
        return (
            type(g) is type(w)
            and g.dtype == w.dtype
            and g.shape == w.shape
            and g.flags.c_contiguous == w.flags.c_contiguous
            and g.tobytes() == w.tobytes()
        )
    return same_outcome(got, want)  # type: ignore[arg-type]


def assert_same_arrays(fname: str, *args: object, want_native: bool = True, src: str = SRC_ARRAYS) -> None:
    """Same result (arrays compared byte for byte), same warnings, arguments left as CPython leaves them."""
    fast, ref = modules(src)
    fast_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want, want_warnings = outcome_with_warnings(getattr(ref, fname), *ref_args)
    got, got_warnings = outcome_with_warnings(getattr(fast, fname), *fast_args)
    assert same_array_outcome(got, want), f"{fname}{args!r}: fastimport {got.describe()}, CPython {want.describe()}"
    assert got_warnings == want_warnings, f"{fname}{args!r}: {got_warnings} != {want_warnings}"
    for g, w in zip(fast_args, ref_args, strict=True):
        if isinstance(w, np.ndarray):
            assert g.tobytes() == w.tobytes()
    if want_native:
        assert_native(fast, fname)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int8", "uint8"])
@SETTINGS
@given(data=st.data(), n=st.integers(0, 6))
def test_array_expressions_match_numpy(dtype: str, n: int, data: st.DataObject) -> None:
    """Operators, ufuncs and reductions on whole arrays: NumPy's arrays, scalars, warnings and errors."""
    a = array_of(dtype, (n,), data)
    b = array_of(dtype, (n,), data)
    for fname in ONE_ARRAY + TWO_ARRAYS:
        args = (a, b) if fname in TWO_ARRAYS else (a,)
        assert_same_arrays(fname, *(np.ones(3, dtype=dtype) for _ in args), want_native=False)  # specializes
        native = record_of(getattr(modules(SRC_ARRAYS)[0], fname)).status == "native"
        assert_same_arrays(fname, *args, want_native=native)
    assert_same_arrays("dot", a, b, want_native=False)
    assert_same_arrays("int_ops", a, 3, want_native=False)
    assert_same_arrays("scaled_into", a, want_native=False)


def test_array_expressions_compile() -> None:
    """The common float64 forms all run natively."""
    a, b = np.linspace(0.0, 1.0, 5), np.linspace(1.0, 2.0, 5)
    for fname in ONE_ARRAY + TWO_ARRAYS:
        assert_same_arrays(fname, *((a, b) if fname in TWO_ARRAYS else (a,)))
    assert_same_arrays("dot", a, b)
    assert_same_arrays("dot", a.reshape(5, 1), b.reshape(1, 5))
    assert_same_arrays("int_ops", np.arange(6), 3)
    assert_same_arrays("axis_sum", np.arange(12.0).reshape(3, 4))
    assert_same_arrays("axis_sum", np.asfortranarray(np.arange(12.0).reshape(3, 4)))
    assert_same_arrays("scaled_into", a)
    assert_same_arrays("mean_loop", a)


def test_array_errors_come_from_numpy() -> None:
    """Shape mismatches, an empty max(), division by zero: NumPy's exceptions and warnings, once."""
    assert_same_arrays("arith", np.arange(3.0), np.arange(4.0), want_native=False)
    assert_same_arrays("reductions", np.arange(0.0), want_native=False)  # max() of an empty array
    assert_same_arrays("dot", np.arange(3.0), np.arange(2.0), want_native=False)
    assert_same_arrays("int_ops", np.arange(4), 0, want_native=False)
    assert_same_arrays("dot_axis", np.arange(4.0), want_native=False)  # TypeError: np.dot has no axis
    assert_same_arrays("ufuncs", np.array([1.0, -800.0]))
    assert_same_arrays("arith", np.array([1e308, np.nan]), np.array([1e308, 1.0]))
    with np.errstate(all="raise"):
        assert_same_arrays("arith", np.array([1e308, np.nan]), np.array([1e308, 1.0]))
        assert_same_arrays("ufuncs", np.array([1.0, -800.0]))


def test_fresh_arrays_are_not_logged_and_deopt_is_exact() -> None:
    """Stores into an array NumPy made need no undo; a later IndexError still leaves the caller's array intact."""
    a = np.arange(4.0)
    assert_same_arrays("then_index", a, 1)
    assert_same_arrays("then_index", a, 7)
    assert_same_arrays("then_index", a, -1)


def test_views_and_in_place_operators_stay_bytecode() -> None:
    """`a += b` mutates the caller's array and a row of a 2-D array has no object: both stay bytecode, correctly."""
    src = """
import numpy as np

def inplace(a, b):
    a += b
    return a

def row_sum(m):
    return m[0].sum()
"""
    assert_same_arrays("inplace", np.arange(3.0), np.ones(3), want_native=False, src=src)
    assert_same_arrays("row_sum", np.arange(6.0).reshape(2, 3), want_native=False, src=src)
    fast, _ = modules(src)
    assert "in-place" in record_of(fast.inplace).reason
    assert "view" in record_of(fast.row_sum).reason


def test_no_reference_leaks() -> None:
    """Thousands of NumPy calls from native code leave every refcount as it was."""
    fast, _ = modules(SRC_ARRAYS)
    a, b = np.linspace(0.0, 1.0, 8), np.linspace(1.0, 2.0, 8)
    for fname, args in (("arith", (a, b)), ("reductions", (a,)), ("ufuncs", (a,)), ("then_index", (a, 1))):
        getattr(fast, fname)(*args)
        gc.collect()
        before = [sys.getrefcount(x) for x in args]
        for _ in range(2000):
            getattr(fast, fname)(*args)
        gc.collect()
        assert [sys.getrefcount(x) for x in args] == before, fname
        assert_native(fast, fname)
    r = fast.arith(a, b)
    assert sys.getrefcount(r) == 2


def test_many_temporaries_outgrow_the_arena() -> None:
    """A long loop of array expressions exceeds the arena's limits: the call deopts and the result is CPython's."""
    src = """
import numpy as np

def accumulate(a, n):
    s = 0.0
    for k in range(n):
        s += (a * k).sum()
    return s
"""
    fast, _ = modules(src)
    assert_same_arrays("accumulate", np.arange(3.0), 10, src=src)
    assert_same_arrays("accumulate", np.arange(3.0), 20_000, want_native=False, src=src)
    assert record_of(fast.accumulate).deopts >= 1


def test_warnings_filter_error_is_an_exception() -> None:
    """Under warnings.simplefilter("error") NumPy's warning becomes the exception, as under CPython."""
    fast, ref = modules(SRC_ERRORS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, want = call(fast.log_then_index, 0.0, np.arange(5.0)), call(ref.log_then_index, 0.0, np.arange(5.0))
    assert same_outcome(got, want), (got.describe(), want.describe())
