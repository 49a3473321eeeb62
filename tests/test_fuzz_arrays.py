"""Random loops over NumPy arrays: fastimport against CPython, the arrays' final contents included.

Hypothesis writes one function `f(a, b, c)` per example: a `for` loop over a range whose bounds
and step come from the arrays' lengths, constants and `c`, with reads `a[...]`, stores `b[...]`,
float and int accumulators, conditions and early exits, indexed by `i`, `i + 1`, `n - 1 - i`,
`-1 - i`, `i + c`, `2 * i`... This is the ground of range-loop versioning (frontend/versioning.py):
a guard that proves the indices in bounds, the range split around the values where they are not,
the strips, the undo log of stores and the checks deferred to a strip's end. The arrays are drawn
in several dtypes, lengths (0 included), layouts (strided, read-only) and with edge values (nan,
inf, -0.0, the ints' limits).

Each call must match CPython's: value and type (floats bit for bit), or exception type and message;
the warnings; and both arrays' contents afterwards (a call that raises after some stores leaves
exactly the stores CPython made).

    FUZZ_EXAMPLES=3000 python3 -m pytest -q -p no:cacheprovider tests/test_fuzz_arrays.py
"""

from __future__ import annotations

import os
import textwrap
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.differential import modules, same_outcome, same_value
from tests.numpy_values import array_of, outcome_with_warnings
from tests.strategies import range_loops

from fastimport.testing import record_of

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
PRINT_STATS = bool(os.environ.get("FUZZ_STATS"))
STATS: Counter[str] = Counter()

# Index expressions in the loop variable `i`, the length `n` of the array read, and `c`.
INDICES = ["i", "i", "i + 1", "i - 1", "n - 1 - i", "-1 - i", "i + c", "c - i", "2 * i", "i // 2", "c", "0", "-1"]
# Range bounds and steps (`n` is len(a), `m` is len(b)).
# (`c` may be 2**62, for the index arithmetic; a bound takes it clamped, so every loop stays short.)
STARTS = ["0", "0", "1", "min(c, 12)", "n - 1", "m"]
STOPS = ["n", "n", "m", "n - 1", "min(n, m)", "min(c, 12)", "n + 1", "-1"]
STEPS = ["", "", "", ", 2", ", -1", ", 3", ", -2"]
A_DTYPES = ["float64", "float64", "float32", "int64", "int32", "uint8", "int8"]
B_DTYPES = ["float64", "float64", "int64", "float32", "int32"]


@st.composite
def statements(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """One statement of the loop body, as lines (a nested `if` spans several)."""
    x, y = draw(st.sampled_from(INDICES)), draw(st.sampled_from(INDICES))
    choices = [
        f"s += a[{x}]",
        f"s = s * 0.5 + a[{x}]",
        f"s -= a[{x}] * a[{y}]",
        f"k += a[{x}]",
        "k = k * 3 + i",
        f"b[{x}] = a[{y}] * 2.0",
        f"b[{x}] = a[{y}] + c",
        f"b[{x}] = s",
        f"b[{x}] = i",
        f"b[{x}] += a[{y}]",
        f"b[{x}] = a[{x}] - a[{y}]",
        f"t = a[{x}] * a[{x}]\ns += t",
        f"if s > {draw(st.sampled_from(['1e30', '100', '0']))}:\n    break",
        f"if a[{x}] < 0:\n    continue",
    ]
    if depth == 0:
        inner = draw(statements(depth + 1))
        other = draw(statements(depth + 1))
        choices.append(
            "if i == 0 or i == n - 1:\n" + textwrap.indent(inner, "    ") + "\nelse:\n" + textwrap.indent(other, "    ")
        )
    return draw(st.sampled_from(choices))


@st.composite
def programs(draw: st.DrawFn) -> str:
    """The source of `f(a, b, c)`: one loop (sometimes two in sequence) and a return."""
    loops = draw(range_loops(statements(), (STARTS, STOPS, STEPS)))
    result = draw(st.sampled_from(["s", "k", "(s, k)", "b", "s + k"]))
    init_s = draw(st.sampled_from(["0.0", "0", "a[0] if n else 0.0"]))
    code = "\n".join(["n = len(a)", "m = len(b)", f"s = {init_s}", "k = 0", "t = 0.0", *loops, f"return {result}"])
    return "def f(a, b, c):\n" + textwrap.indent(code, "    ") + "\n"


def draw_array(data: st.DataObject, dtypes: list[str]) -> np.ndarray:
    """A 1-D array with drawn elements, sometimes strided or read-only."""
    dtype = data.draw(st.sampled_from(dtypes))
    a = array_of(dtype, (data.draw(st.integers(0, 9)),), data)
    layout = data.draw(st.sampled_from(["c", "c", "c", "strided", "readonly"]))
    if layout == "strided":
        wide = np.zeros(2 * len(a), dtype=a.dtype)
        wide[::2] = a
        return wide[::2]
    if layout == "readonly":
        a.flags.writeable = False
    return a


def assert_same_call(fast: object, ref: object, source: str, args: tuple) -> None:
    """f(a, b, c) under fastimport and CPython, each on its own copies: outcome, warnings, both arrays after."""
    a, b, c = args
    fa, fb, ra, rb = _copy(a), _copy(b), _copy(a), _copy(b)
    want, want_warnings = outcome_with_warnings(ref.f, ra, rb, c)  # type: ignore[attr-defined]
    got, got_warnings = outcome_with_warnings(fast.f, fa, fb, c)  # type: ignore[attr-defined]
    where = f"f({a!r}, {b!r}, {c!r})\nsource:\n{source}"
    assert same_outcome(got, want), f"fastimport {got.describe()}, CPython {want.describe()}: {where}"
    assert got_warnings == want_warnings, f"warnings {got_warnings} != {want_warnings}: {where}"
    assert same_value(fa, ra), f"a ends {fa!r}, CPython's {ra!r}: {where}"
    assert same_value(fb, rb), f"b ends {fb!r}, CPython's {rb!r}: {where}"


def _count(f: object) -> None:
    """Under FUZZ_STATS: tally and print how the programs ran (some native calls, or why none)."""
    if PRINT_STATS:
        record = record_of(f)
        why = str(record.reason).split(" at ")[0]  # (without the file and line)
        STATS["some calls native" if record.native_calls else f"none native: {why}"] += 1
        print(dict(STATS.most_common(12)))


def _copy(a: np.ndarray) -> np.ndarray:
    """An equal array in the same layout (C, Fortran, every other element of a wider one) and with the same flags."""
    if a.base is not None and not a.flags.c_contiguous and not a.flags.f_contiguous:  # the strided view
        wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    b = np.array(a, order="F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
    b.flags.writeable = a.flags.writeable
    return b


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), data=st.data())
def test_random_array_loops_match_cpython(source: str, data: st.DataObject) -> None:
    """Several calls of one random program, on arrays of drawn dtypes, lengths, layouts and values."""
    fast, ref = modules(source)
    for _ in range(3):
        a = draw_array(data, A_DTYPES)
        b = draw_array(data, B_DTYPES)
        c = data.draw(st.sampled_from([0, 1, 2, -1, 3, 7, -5, 2**62]))
        assert_same_call(fast, ref, source, (a, b, c))
    _count(fast.f)


# 2-D: nested loops over rows and columns (the inner loop is the one versioned).
ROWS = ["i", "i", "i + 1", "i - 1", "n - 1 - i", "-1 - i", "c"]
COLS = ["j", "j", "j + 1", "j - 1", "m - 1 - j", "-1 - j", "c"]
STOPS_2D = [("n", "m"), ("n", "m"), ("p", "q"), ("n - 1", "m + 1"), ("min(n, p)", "min(m, q)"), ("c", "m")]


@st.composite
def statements_2d(draw: st.DrawFn) -> str:
    """One statement of the inner loop's body."""
    r, k = draw(st.sampled_from(ROWS)), draw(st.sampled_from(COLS))
    r2, k2 = draw(st.sampled_from(ROWS)), draw(st.sampled_from(COLS))
    return draw(
        st.sampled_from(
            [
                f"s += a[{r}, {k}]",
                f"s += a[{r}][{k}] * 0.5",
                f"b[{r}, {k}] = a[{r2}, {k2}] * 0.25 + a[{r}, {k}]",
                f"b[{r}, {k}] += s",
                f"b[{r}][{k}] = i * m + j",
                (
                    f"if i == 0 or j == 0 or i == n - 1 or j == m - 1:\n    b[{r}, {k}] = a[{r}, {k}]\n"
                    f"else:\n    b[{r}, {k}] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1]"
                ),
                f"if a[{r}, {k}] > c:\n    break",
            ]
        )
    )


@st.composite
def programs_2d(draw: st.DrawFn) -> str:
    """The source of `f(a, b, c)` over 2-D arrays: a loop nest and a return."""
    rows, cols = draw(st.sampled_from(STOPS_2D))
    body = "\n".join(draw(st.lists(statements_2d(), min_size=1, max_size=3)))
    nest = f"for i in range({rows}):\n    for j in range({cols}):\n" + textwrap.indent(body, "        ")
    result = draw(st.sampled_from(["s", "b"]))
    code = "\n".join(["n, m = a.shape", "p, q = b.shape", "s = 0.0", nest, f"return {result}"])
    return "def f(a, b, c):\n" + textwrap.indent(code, "    ") + "\n"


def draw_array_2d(data: st.DataObject, dtypes: list[str]) -> np.ndarray:
    """A 2-D array with drawn elements: C or Fortran order, a strided view, or read-only."""
    dtype = data.draw(st.sampled_from(dtypes))
    a = array_of(dtype, (data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5))), data)
    layout = data.draw(st.sampled_from(["c", "c", "fortran", "strided", "readonly"]))
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
        wide[:, ::2] = a
        return wide[:, ::2]
    if layout == "readonly":
        a.flags.writeable = False
    return a


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs_2d(), data=st.data())
def test_random_2d_loop_nests_match_cpython(source: str, data: st.DataObject) -> None:
    """Several calls of one random loop nest, on 2-D arrays of drawn dtypes, shapes, layouts and values."""
    fast, ref = modules(source)
    for _ in range(3):
        a = draw_array_2d(data, A_DTYPES)
        b = draw_array_2d(data, B_DTYPES)
        c = data.draw(st.sampled_from([0, 1, 2, -1, 3, -5]))
        assert_same_call(fast, ref, source, (a, b, c))
    _count(fast.f)
