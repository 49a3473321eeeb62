"""Hypothesis strategies for differential tests: numbers with their edges.

    ints()      -> 0, ±1, ±2**31, ±2**62, ±2**63, 2**63-1, -2**63, big ints, random ints
    floats()    -> nan, ±inf, ±0.0, subnormals, huge/tiny, halves, random floats
    bools()     -> True, False
    numbers()   -> any of the three

Edges are drawn often (`sampled_from` first) because that is where native code and
CPython part ways: int64 overflow, float/int conversion, rounding, signed zeros.
"""

from __future__ import annotations

import math
import sys
import textwrap

from hypothesis import strategies as st

INT_EDGES: list[int] = [
    0, 1, -1, 2, -2, 3, -3, 7, -7, 10, -10,
    2**31 - 1, 2**31, -(2**31), -(2**31) - 1,
    2**32, -(2**32),
    2**53, 2**53 + 1, -(2**53) - 1, 2**53 - 1,
    3037000499, 3037000500, -3037000500,  # around sqrt(2**63): squares overflow int64
    2**62, -(2**62), 2**62 - 1,
    2**63 - 1, -(2**63), 2**63, -(2**63) - 1,
    2**64, 2**64 - 1, -(2**64),
    2**100, -(2**100), 10**30 + 7,
    10**400,  # too large for a float: int -> float conversion raises OverflowError
]  # fmt: skip

FLOAT_EDGES: list[float] = [
    0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, 0.1, -0.1,
    1 / 3, 2 / 3, 10.0, 1e16, -1e16, 1e22, 123.456, -123.456,
    float("nan"), float("inf"), float("-inf"),
    5e-324, -5e-324,  # smallest subnormal
    2.2250738585072014e-308, -2.2250738585072014e-308,  # smallest normal
    2.225073858507201e-308,  # largest subnormal
    sys.float_info.max, -sys.float_info.max, 1e308, 1e-308, 1e-300, 1e300,
    2.0**53, 2.0**53 + 2.0, -(2.0**53), 2.0**63, -(2.0**63), 2.0**64,
    9007199254740993.0, 4503599627370496.5 - 0.5, 0.49999999999999994,
    -1e-10, 1e-10, 709.0, 710.0, -745.0, 1e6 + 0.5,
]  # fmt: skip


def ints() -> st.SearchStrategy[int]:
    """Python ints: edges, small values, 64-bit-ish values and big ints beyond 64 bits."""
    return st.one_of(
        st.sampled_from(INT_EDGES),
        st.integers(min_value=-1000, max_value=1000),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.integers(min_value=-(2**130), max_value=2**130),
    )


def small_ints(lo: int = -1000, hi: int = 1000) -> st.SearchStrategy[int]:
    """Ints in [lo, hi] with the interesting small edges first."""
    edges = [v for v in (0, 1, -1, 2, -2, lo, hi) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(min_value=lo, max_value=hi))


def int64s() -> st.SearchStrategy[int]:
    """Ints that fit a signed 64-bit register (results may still overflow)."""
    return st.one_of(
        st.sampled_from([v for v in INT_EDGES if -(2**63) <= v < 2**63]),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
    )


def floats() -> st.SearchStrategy[float]:
    """Python floats: nan, ±inf, ±0.0, subnormals, huge and tiny values, random bits."""
    return st.one_of(
        st.sampled_from(FLOAT_EDGES),
        st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
        st.floats(min_value=-1e6, max_value=1e6),
        st.integers(min_value=-(10**6), max_value=10**6).map(lambda i: i / 2),  # halves
    )


def finite_floats() -> st.SearchStrategy[float]:
    """Finite floats, signed zeros and subnormals included."""
    return floats().filter(math.isfinite)


def bools() -> st.SearchStrategy[bool]:
    """True and False."""
    return st.booleans()


def numbers() -> st.SearchStrategy[int | float | bool]:
    """Any int, float or bool."""
    return st.one_of(ints(), floats(), bools())


BY_TYPE = {"int": ints, "float": floats, "bool": bools}


def of_type(name: str) -> st.SearchStrategy[int | float | bool]:
    """The strategy for a type name: "int", "float" or "bool"."""
    return BY_TYPE[name]()


# A plain value of each type, for the first call (the one that picks a specialization).
TYPICAL: dict[str, int | float | bool] = {"int": 3, "float": 2.5, "bool": True}


@st.composite
def range_loops(
    draw: st.DrawFn, statement: st.SearchStrategy[str], bounds: tuple[list[str], list[str], list[str]]
) -> list[str]:
    """One or two `for i in range(start, stop[, step]):` loops, each over 1-4 drawn statements (the fuzz tests')."""
    starts, stops, steps = bounds
    loops = []
    for _ in range(draw(st.integers(1, 2))):
        header = f"for i in range({draw(st.sampled_from(starts))}, {draw(st.sampled_from(stops))}"
        header += f"{draw(st.sampled_from(steps))}):"
        body = "\n".join(draw(st.lists(statement, min_size=1, max_size=4)))
        loops.append(header + "\n" + textwrap.indent(body, "    "))
    return loops
